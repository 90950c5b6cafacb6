//! Loaders for every relation of the booking graph. Each batches its keys into one
//! `IN (...)` query; per-parent lists come back in a stable order.

use std::{collections::HashMap, sync::Arc};

use foldhash::HashMapExt;

use async_graphql::dataloader::Loader;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::SimpleExpr,
};
use uuid::Uuid;

use crate::entities::booking::BookingKeys;
use crate::entities::certificate::CertificateExpiry;
use crate::entities::course_session::SessionKeys;
use crate::entities::partial::{Partial, Prefetched};
use crate::entities::payment::PaymentAmount;
use crate::entities::{
    attendance_record, booking, booking_attendee, certificate, course, course_session, payment,
    refund, venue,
};
use crate::services::bookings::{BookingPageRow, WithSession, newest_per_user};

/// The maps rows are grouped and joined in while a request is answered. Their keys are
/// ids read from the database, not chosen by callers, so they use foldhash rather than the
/// standard library's slower, flood-resistant SipHash (a page of bookings hashes a few
/// thousand keys). DataLoaders still hand their results over in a standard `HashMap`.
pub type Map<K, V> = foldhash::HashMap<K, V>;

/// A `Map` as a DataLoader returns it.
fn into_std<K: std::hash::Hash + Eq, V>(map: Map<K, V>) -> HashMap<K, V> {
    map.into_iter().collect()
}

/// `column IN (keys)` for a loader's connection: [`crate::services::keys::any_of`].
pub fn key_in<C: ColumnTrait>(db: &DatabaseConnection, column: C, keys: &[Uuid]) -> SimpleExpr {
    crate::services::keys::any_of(db.get_database_backend(), column, keys)
}

/// A loader of rows by primary key.
macro_rules! by_id_loader {
    ($(#[$doc:meta])* $name:ident, $entity:ident) => {
        $(#[$doc])*
        pub struct $name(pub DatabaseConnection);

        impl $name {
            /// The rows with these ids.
            pub async fn fetch(&self, keys: &[Uuid]) -> Result<Map<Uuid, $entity::Model>, Arc<DbErr>> {
                let rows = $entity::Entity::find()
                    .filter(key_in(&self.0, $entity::Column::Id, keys))
                    .all(&self.0)
                    .await
                    .map_err(Arc::new)?;
                Ok(rows.into_iter().map(|m| (m.id, m)).collect())
            }
        }

        impl Loader<Uuid> for $name {
            type Value = $entity::Model;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                self.fetch(keys).await.map(into_std)
            }
        }
    };
}

/// A loader of child rows grouped by a foreign key, in creation order.
macro_rules! has_many_loader {
    ($(#[$doc:meta])* $name:ident, $entity:ident, $fk:ident, $fk_field:ident) => {
        $(#[$doc])*
        pub struct $name(pub DatabaseConnection);

        impl $name {
            /// The rows of each of these parents.
            pub async fn fetch(
                &self,
                keys: &[Uuid],
            ) -> Result<Map<Uuid, Vec<$entity::Model>>, Arc<DbErr>> {
                let rows = $entity::Entity::find()
                    .filter(key_in(&self.0, $entity::Column::$fk, keys))
                    .order_by_asc($entity::Column::Id)
                    .all(&self.0)
                    .await
                    .map_err(Arc::new)?;
                Ok(group_by(rows, |row| row.$fk_field))
            }
        }

        impl Loader<Uuid> for $name {
            type Value = Vec<$entity::Model>;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                self.fetch(keys).await.map(into_std)
            }
        }
    };
}

by_id_loader!(
    /// Courses by id.
    CourseLoader,
    course
);
by_id_loader!(
    /// Venues by id.
    VenueLoader,
    venue
);
by_id_loader!(
    /// Course sessions by id.
    SessionLoader,
    course_session
);
by_id_loader!(
    /// Bookings by id.
    BookingLoader,
    booking
);
by_id_loader!(
    /// Payments by id.
    PaymentLoader,
    payment
);
by_id_loader!(
    /// Certificates by id.
    CertificateLoader,
    certificate
);
has_many_loader!(
    /// A booking's attendees.
    AttendeesByBooking,
    booking_attendee,
    BookingId,
    booking_id
);
has_many_loader!(
    /// A booking's payments.
    PaymentsByBooking,
    payment,
    BookingId,
    booking_id
);
has_many_loader!(
    /// A booking's refunds.
    RefundsByBooking,
    refund,
    BookingId,
    booking_id
);
has_many_loader!(
    /// A user's payments.
    PaymentsByUser,
    payment,
    UserId,
    user_id
);
has_many_loader!(
    /// A user's certificates.
    CertificatesByUser,
    certificate,
    UserId,
    user_id
);
has_many_loader!(
    /// A session's attendance records.
    AttendanceBySession,
    attendance_record,
    SessionId,
    session_id
);
has_many_loader!(
    /// A booking's certificates.
    CertificatesByBooking,
    certificate,
    BookingId,
    booking_id
);

/// What a page of bookings brings along with each booking, decided by the query's
/// look-ahead. Fetched with the page, a relation costs no more statements, and spares
/// every booking a keyed load and the wake-up that goes with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BookingExtras {
    /// The booked session.
    pub session: bool,
    /// Every column of that session; without it, only its id, course and venue.
    pub session_full: bool,
    /// The session's course (only with `session`).
    pub course: bool,
    /// The session's venue (only with `session`).
    pub venue: bool,
    /// The booking's payments.
    pub payments: bool,
    /// Every column of those payments; without it, only their keys and amount.
    pub payments_full: bool,
    /// Every column of the booking; without it, only its keys (id, customer, session and
    /// creation time) are read, and any other field loads the whole row by id.
    pub full: bool,
}

/// A session, with its course and venue when they were fetched alongside.
#[derive(Debug)]
pub struct SessionBundle {
    pub session: Partial<SessionKeys, course_session::Model>,
    pub course: Prefetched<Option<Arc<course::Model>>>,
    pub venue: Prefetched<Option<Arc<venue::Model>>>,
}

/// Users' certificates, oldest first, reading only what their expiry needs.
pub async fn certificate_expiries(
    db: &DatabaseConnection,
    user_ids: &[Uuid],
) -> Result<Map<Uuid, Vec<Partial<CertificateExpiry, certificate::Model>>>, Arc<DbErr>> {
    let rows = certificate::Entity::find()
        .select_only()
        .columns([
            certificate::Column::Id,
            certificate::Column::UserId,
            certificate::Column::ExpiresOn,
            certificate::Column::Status,
        ])
        .filter(key_in(db, certificate::Column::UserId, user_ids))
        .order_by_asc(certificate::Column::Id)
        .into_model::<CertificateExpiry>()
        .all(db)
        .await
        .map_err(Arc::new)?;
    let rows = group_by(rows, |row| row.user_id);
    Ok(rows
        .into_iter()
        .map(|(user, list)| (user, list.into_iter().map(Partial::from_keys).collect()))
        .collect())
}

/// Rows grouped by a key (a parent's id), each group in the rows' order.
fn group_by<T>(rows: impl IntoIterator<Item = T>, key: impl Fn(&T) -> Uuid) -> Map<Uuid, Vec<T>> {
    let mut out: Map<Uuid, Vec<T>> = Map::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}

/// A booking's payments, oldest first, as a page read them (whole, or only their keys and
/// amount).
pub type BookingPayments = Arc<Vec<Partial<PaymentAmount, payment::Model>>>;

/// A booking, with the relations that were fetched alongside it.
#[derive(Debug, Clone)]
pub struct BookingBundle {
    /// The booking: every column, or only its keys when the page's selection reads
    /// nothing else.
    pub booking: Partial<BookingKeys, booking::Model>,
    /// The booked session, with what was fetched of it.
    pub session: Prefetched<Option<Arc<SessionBundle>>>,
    /// The booking's payments, oldest first.
    pub payments: Prefetched<BookingPayments>,
}

/// One page of a user's bookings, newest first: `limit + 1` rows (the extra one says
/// whether another page follows), after the booking `after` if given, with `extras`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BookingsPageKey {
    pub user_id: Uuid,
    pub limit: u64,
    pub after: Option<Uuid>,
    pub extras: BookingExtras,
}

impl BookingExtras {
    /// Whether rows fetched with these extras hold everything `needed` asks for.
    pub fn covers(&self, needed: &BookingExtras) -> bool {
        (self.session || !needed.session)
            && (self.course || !needed.course)
            && (self.venue || !needed.venue)
            && (self.payments || !needed.payments)
            && (self.payments_full || !needed.payments_full)
            && (self.full || !needed.full)
    }
}

impl BookingsPageKey {
    /// Whether the page fetched for this key can answer `wanted`: the same user and page,
    /// with at least the relations and columns `wanted` reads.
    pub fn answers(&self, wanted: &BookingsPageKey) -> bool {
        self.user_id == wanted.user_id
            && self.limit == wanted.limit
            && self.after == wanted.after
            && self.extras.covers(&wanted.extras)
    }
}

/// Which page of a list: its size and the cursor it starts after.
type PageSpec = (u64, Option<Uuid>);

/// Users' booking pages: one statement for every user asking for the same page, then,
/// over every booking of every page, one each for the sessions, their courses, their
/// venues and the payments, as the look-ahead asks. When a session's selection reads
/// only its id, course and venue, those come joined onto the bookings instead.
pub struct BookingsByUser(pub DatabaseConnection);

impl BookingsByUser {
    /// The page each key asks for, in the keys' order.
    pub async fn fetch(
        &self,
        keys: &[BookingsPageKey],
    ) -> Result<Vec<Vec<BookingBundle>>, Arc<DbErr>> {
        let mut groups: Map<PageSpec, Vec<Uuid>> = Map::new();
        // The keys asking for each (user, page), by index; several may differ only in
        // extras.
        let mut askers: Map<(Uuid, PageSpec), Vec<usize>> = Map::with_capacity(keys.len());
        let mut extras = BookingExtras::default();
        for (i, k) in keys.iter().enumerate() {
            let spec = (k.limit, k.after);
            let asking = askers.entry((k.user_id, spec)).or_default();
            if asking.is_empty() {
                groups.entry(spec).or_default().push(k.user_id);
            }
            asking.push(i);
            extras.session |= k.extras.session;
            extras.session_full |= k.extras.session_full;
            extras.course |= k.extras.course;
            extras.venue |= k.extras.venue;
            extras.payments |= k.extras.payments;
            extras.payments_full |= k.extras.payments_full;
            extras.full |= k.extras.full;
        }
        // A session whose selection reads only its course and venue comes with the
        // bookings, joined on, rather than in a statement of its own.
        let mut sessions = (extras.session && !extras.session_full).then(Map::new);
        let mut pages: Vec<(PageSpec, Vec<Partial<BookingKeys, booking::Model>>)> = Vec::new();
        for ((limit, after), user_ids) in groups {
            let page = (user_ids.as_slice(), limit, after);
            let sessions = sessions.as_mut();
            let rows = match extras.full {
                true => {
                    let wrap = |m: booking::Model| Partial::from_full(m);
                    read_page(&self.0, page, sessions, wrap).await
                }
                false => {
                    read_page::<BookingKeys>(&self.0, page, sessions, Partial::from_keys).await
                }
            }
            .map_err(Arc::new)?;
            pages.push(((limit, after), rows));
        }
        let all: Vec<BookingKeys> = pages
            .iter()
            .flat_map(|(_, rows)| rows.iter().map(|row| *row.keys()))
            .collect();
        let related = Related::fetch(&self.0, &all, extras, sessions).await?;

        let mut out: Vec<Vec<BookingBundle>> = vec![Vec::new(); keys.len()];
        for (spec, rows) in pages {
            for row in rows {
                let bundle = related.bundle(row);
                let asking = askers.get(&(bundle.booking.keys().user_id, spec));
                for &i in asking.into_iter().flatten() {
                    out[i].push(bundle.clone());
                }
            }
        }
        Ok(out)
    }
}

impl Loader<BookingsPageKey> for BookingsByUser {
    type Value = Vec<BookingBundle>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[BookingsPageKey],
    ) -> Result<HashMap<BookingsPageKey, Self::Value>, Self::Error> {
        let pages = self.fetch(keys).await?;
        Ok(keys.iter().copied().zip(pages).collect())
    }
}

/// One page (`limit`, `after`) of bookings for a set of users, as rows of shape `R` (the
/// whole row or its keys), each wrapped by `wrap`. With `sessions`, each booking's session
/// keys are read with it and put there.
async fn read_page<R: BookingPageRow>(
    db: &DatabaseConnection,
    (user_ids, limit, after): (&[Uuid], u64, Option<Uuid>),
    sessions: Option<&mut Map<Uuid, SessionKeys>>,
    wrap: impl Fn(R) -> Partial<BookingKeys, booking::Model>,
) -> Result<Vec<Partial<BookingKeys, booking::Model>>, DbErr> {
    let Some(sessions) = sessions else {
        let rows = newest_per_user::<R>(db, user_ids, limit, after).await?;
        return Ok(rows.into_iter().map(wrap).collect());
    };
    let rows = newest_per_user::<WithSession<R>>(db, user_ids, limit, after).await?;
    Ok(rows
        .into_iter()
        .map(|w| {
            let id = w.keys().session_id;
            let (course_id, venue_id) = (w.course_id, w.venue_id);
            sessions.insert(
                id,
                SessionKeys {
                    id,
                    course_id,
                    venue_id,
                },
            );
            wrap(w.row)
        })
        .collect())
}

/// The relations of a set of bookings, fetched in one statement each.
#[derive(Default)]
struct Related {
    sessions: Prefetched<Map<Uuid, Arc<SessionBundle>>>,
    payments: Prefetched<Map<Uuid, BookingPayments>>,
}

impl Related {
    /// `sessions`: the bookings' session keys, if they were read with the bookings.
    async fn fetch(
        db: &DatabaseConnection,
        bookings: &[BookingKeys],
        extras: BookingExtras,
        sessions: Option<Map<Uuid, SessionKeys>>,
    ) -> Result<Self, Arc<DbErr>> {
        let mut related = Self::default();
        if bookings.is_empty() {
            return Ok(related);
        }
        if extras.session {
            let ids = distinct(bookings.iter().map(|b| b.session_id));
            related.sessions =
                Prefetched::Fetched(sessions_with_catalogue(db, ids, extras, sessions).await?);
        }
        if extras.payments {
            let ids: Vec<Uuid> = bookings.iter().map(|b| b.id).collect();
            let payments: Map<Uuid, Vec<Partial<PaymentAmount, payment::Model>>> =
                match extras.payments_full {
                    true => PaymentsByBooking(db.clone())
                        .fetch(&ids)
                        .await?
                        .into_iter()
                        .map(|(booking, list)| {
                            (booking, list.into_iter().map(Partial::from_full).collect())
                        })
                        .collect(),
                    false => group_by(
                        payment::Entity::find()
                            .select_only()
                            .columns([
                                payment::Column::Id,
                                payment::Column::BookingId,
                                payment::Column::UserId,
                                payment::Column::AmountPence,
                            ])
                            .filter(key_in(db, payment::Column::BookingId, &ids))
                            .order_by_asc(payment::Column::Id)
                            .into_model::<PaymentAmount>()
                            .all(db)
                            .await
                            .map_err(Arc::new)?
                            .into_iter()
                            .map(Partial::from_keys),
                        |payment| payment.keys().booking_id,
                    ),
                };
            related.payments = Prefetched::Fetched(shared(payments));
        }
        Ok(related)
    }

    fn bundle(&self, booking: Partial<BookingKeys, booking::Model>) -> BookingBundle {
        let keys = *booking.keys();
        BookingBundle {
            session: self
                .sessions
                .as_ref()
                .map(|s| s.get(&keys.session_id).cloned()),
            payments: self.payments.as_ref().map(|p| {
                p.get(&keys.id)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Vec::new()))
            }),
            booking,
        }
    }
}

/// Sessions by id, each with its course and venue if `extras` asks for them: one
/// statement for the sessions (none if `known` already holds the keys it needs), and one
/// each for their (few, distinct) courses and venues. Joining the catalogue on instead
/// would decode a course and a venue per session.
async fn sessions_with_catalogue(
    db: &DatabaseConnection,
    ids: Vec<Uuid>,
    extras: BookingExtras,
    known: Option<Map<Uuid, SessionKeys>>,
) -> Result<Map<Uuid, Arc<SessionBundle>>, Arc<DbErr>> {
    let sessions: Map<Uuid, Partial<SessionKeys, course_session::Model>> =
        match (extras.session_full, known) {
            (false, Some(known)) => known
                .into_iter()
                .map(|(id, k)| (id, Partial::from_keys(k)))
                .collect(),
            (true, _) => SessionLoader(db.clone())
                .fetch(&ids)
                .await?
                .into_iter()
                .map(|(id, m)| (id, Partial::from_full(m)))
                .collect(),
            (false, None) => course_session::Entity::find()
                .select_only()
                .columns([
                    course_session::Column::Id,
                    course_session::Column::CourseId,
                    course_session::Column::VenueId,
                ])
                .filter(key_in(db, course_session::Column::Id, &ids))
                .into_model::<SessionKeys>()
                .all(db)
                .await
                .map_err(Arc::new)?
                .into_iter()
                .map(|k| (k.id, Partial::from_keys(k)))
                .collect(),
        };
    let courses = match extras.course {
        true => {
            let ids = distinct(sessions.values().map(|s| s.keys().course_id));
            Prefetched::Fetched(shared(CourseLoader(db.clone()).fetch(&ids).await?))
        }
        false => Prefetched::NotFetched,
    };
    let venues = match extras.venue {
        true => {
            let ids = distinct(sessions.values().map(|s| s.keys().venue_id));
            Prefetched::Fetched(shared(VenueLoader(db.clone()).fetch(&ids).await?))
        }
        false => Prefetched::NotFetched,
    };
    Ok(sessions
        .into_iter()
        .map(|(id, session)| {
            let keys = *session.keys();
            let bundle = SessionBundle {
                course: courses.as_ref().map(|c| c.get(&keys.course_id).cloned()),
                venue: venues.as_ref().map(|v| v.get(&keys.venue_id).cloned()),
                session,
            };
            (id, Arc::new(bundle))
        })
        .collect())
}

/// Each id once, so an `IN (...)` list stays as short as it can.
fn distinct(ids: impl Iterator<Item = Uuid>) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn shared<T>(map: Map<Uuid, T>) -> Map<Uuid, Arc<T>> {
    map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}
