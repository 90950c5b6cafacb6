//! Applying one chunk of rows inside its transaction: what each row becomes, written a
//! statement per table rather than a statement per row.
//!
//! In the order every writer locks them (docs/ARCHITECTURE.md, "Lock order"): the chunk's
//! existing bookings (those a changed row updates), then its customers (found or created by
//! email, as `createBooking` does, their blank profile fields filled), then, last, the
//! sessions whose booked places change. New venues and sessions are new rows, locked by no
//! one else. The customers' counters are then set by `customer_stats::recompute`, never by
//! hand.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    Iterable, ModelTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
    sea_query::OnConflict,
};
use serde_json::json;
use uuid::Uuid;

use super::ledger::{Counts, Seen};
use super::row::{Attendee, LegacyBooking, LegacyPayment, Prepared};
use crate::auth::rate_limit::RateLimiter;
use crate::entities::encrypted::{self, Revealed as _};
use crate::entities::enums::{
    BookingStatus, ConsentSource, CourseType, ImportRowStatus, PaymentMethod, PaymentRecordStatus,
    PaymentStatus, RefundStatus, SessionStatus,
};
use crate::entities::{
    booking, booking_attendee, course, course_session, erasure, import_row, payment, refund, user,
    venue,
};
use crate::error::{AppError, AppResult};
use crate::services::audit::Actor;
use crate::services::consents::{self, Consents};
use crate::services::{bookings, customer_stats, customers, keys, privacy, references};

/// Most bound parameters in one statement: under SQLite's limit (32,766) and PostgreSQL's
/// (65,535).
const MAX_PARAMS: usize = 30_000;

/// When an imported session starts, on its date (the export has no time of day).
const SESSION_START: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// Why a cancelled legacy booking was cancelled, and why a refunded one was refunded: the
/// export does not say.
const LEGACY_CANCELLATION: &str = "Cancelled in the legacy booking system";
const LEGACY_REFUND: &str = "Refunded in the legacy booking system";

/// Inserts rows, as many per statement as the bound-parameter limit allows.
pub(super) async fn insert_all<A, M>(conn: &impl ConnectionTrait, rows: Vec<M>) -> AppResult<()>
where
    A: ActiveModelTrait + Send,
    M: IntoActiveModel<A>,
{
    let columns = <A::Entity as EntityTrait>::Column::iter().count().max(1);
    let per_statement = (MAX_PARAMS / columns).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<A> = rows
            .by_ref()
            .take(per_statement)
            .map(|m| m.into_active_model().reset_all())
            .collect();
        <A::Entity as EntityTrait>::insert_many(batch)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// A session is found or created per course, venue and date.
type SessionKey = (Uuid, Uuid, NaiveDate);

/// The catalogue as committed: courses, venues by name and sessions by course, venue and
/// day, read once per run and extended by each committed chunk.
pub(super) struct Catalogue {
    courses: Vec<course::Model>,
    venues: HashMap<String, Uuid>,
    sessions: HashMap<SessionKey, Uuid>,
}

/// Venues are matched on their trimmed, lowercased name.
fn venue_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Catalogue {
    /// Reads the catalogue.
    pub async fn load(conn: &impl ConnectionTrait) -> AppResult<Self> {
        let courses = course::Entity::find()
            .order_by_asc(course::Column::CreatedAt)
            .order_by_asc(course::Column::Id)
            .all(conn)
            .await?;
        let venues: Vec<(Uuid, String)> = venue::Entity::find()
            .select_only()
            .column(venue::Column::Id)
            .column(venue::Column::Name)
            .order_by_asc(venue::Column::Id)
            .into_tuple()
            .all(conn)
            .await?;
        let sessions: Vec<(Uuid, Uuid, Uuid, DateTime<Utc>)> = course_session::Entity::find()
            .select_only()
            .column(course_session::Column::Id)
            .column(course_session::Column::CourseId)
            .column(course_session::Column::VenueId)
            .column(course_session::Column::StartsAt)
            .filter(course_session::Column::Status.ne(SessionStatus::Cancelled))
            .order_by_asc(course_session::Column::Id)
            .into_tuple()
            .all(conn)
            .await?;
        let mut catalogue = Self {
            courses,
            venues: HashMap::new(),
            sessions: HashMap::new(),
        };
        for (id, name) in venues {
            catalogue.venues.entry(venue_key(&name)).or_insert(id);
        }
        for (id, course_id, venue_id, starts_at) in sessions {
            catalogue
                .sessions
                .entry((course_id, venue_id, starts_at.date_naive()))
                .or_insert(id);
        }
        Ok(catalogue)
    }

    /// The course a row of this type is for: one of that name if there is one, else the
    /// active one first made.
    fn course(&self, course_type: CourseType, name: Option<&str>) -> Option<&course::Model> {
        let of_type = || self.courses.iter().filter(|c| c.course_type == course_type);
        name.and_then(|n| of_type().find(|c| c.name.eq_ignore_ascii_case(n)))
            .or_else(|| of_type().find(|c| c.is_active))
            .or_else(|| of_type().next())
    }

    /// Adds what a committed chunk created.
    pub fn extend(&mut self, created: NewCatalogue) {
        self.venues.extend(created.venues);
        self.sessions.extend(created.sessions);
    }
}

/// Venues and sessions a chunk created, to remember once it is committed.
#[derive(Default)]
pub(super) struct NewCatalogue {
    venues: Vec<(String, Uuid)>,
    sessions: Vec<(SessionKey, Uuid)>,
}

/// What the run remembers from chunk to chunk.
pub(super) struct RunState {
    pub job_id: Uuid,
    pub source: String,
    /// The first row of each legacy id met in this run (and in the run it resumes).
    pub seen: HashMap<String, Seen>,
    pub catalogue: Catalogue,
    /// What this run created, counted once each even when a dry run's chunks, rolled back,
    /// create them again: customers by email, venues by name, sessions by course, venue
    /// name and day.
    customers_created: HashSet<String>,
    venues_created: HashSet<String>,
    sessions_created: HashSet<(Uuid, String, NaiveDate)>,
    /// Names of the venues this run created, for the summary.
    pub venue_names: Vec<String>,
    /// Customers erased on request, whose rows are skipped.
    erased: Erased,
}

/// The keyed hashes of the emails of customers erased on request.
pub(super) struct Erased {
    hasher: RateLimiter,
    hashes: HashSet<String>,
}

impl Erased {
    /// Every erased email's hash (one short row per erased profile).
    pub async fn load(conn: &impl ConnectionTrait, hasher: RateLimiter) -> AppResult<Self> {
        let hashes = erasure::Entity::find()
            .select_only()
            .column(erasure::Column::EmailHash)
            .into_tuple::<String>()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        Ok(Self { hasher, hashes })
    }

    /// Whether `email` belongs to an erased customer.
    fn contains(&self, email: &str) -> bool {
        !self.hashes.is_empty()
            && self
                .hashes
                .contains(&privacy::erased_email_hash(&self.hasher, email))
    }
}

impl RunState {
    pub fn new(
        job_id: Uuid,
        source: String,
        seen: HashMap<String, Seen>,
        catalogue: Catalogue,
        erased: Erased,
    ) -> Self {
        Self {
            erased,
            job_id,
            source,
            seen,
            catalogue,
            customers_created: HashSet::new(),
            venues_created: HashSet::new(),
            sessions_created: HashSet::new(),
            venue_names: Vec::new(),
        }
    }
}

/// What a chunk did.
pub(super) struct ChunkResult {
    /// One ledger row per row of the chunk, in file order.
    pub ledger: Vec<import_row::Model>,
    pub counts: Counts,
    pub new_catalogue: NewCatalogue,
    /// Ids of the customers and venues created, for the audit row.
    pub customers_created: Vec<Uuid>,
    pub venues_created: Vec<Uuid>,
}

/// What became of one row.
#[derive(Clone)]
struct Decision {
    status: ImportRowStatus,
    reason: Option<String>,
    user_id: Option<Uuid>,
    booking_id: Option<Uuid>,
}

impl Decision {
    fn new(
        status: ImportRowStatus,
        reason: Option<String>,
        user_id: Option<Uuid>,
        booking_id: Option<Uuid>,
    ) -> Self {
        Self {
            status,
            reason,
            user_id,
            booking_id,
        }
    }
}

/// A row the chunk writes.
struct Planned<'a> {
    index: usize,
    row: &'a LegacyBooking,
    /// The booking it updates, if it was imported before.
    existing: Option<booking::Model>,
    venue_id: Uuid,
    session_id: Uuid,
    user_id: Uuid,
}

/// Applies a chunk inside `conn`'s transaction, leaving the ledger rows to the caller.
pub(super) async fn apply(
    conn: &impl ConnectionTrait,
    st: &mut RunState,
    rows: &[Prepared],
) -> AppResult<ChunkResult> {
    let now = Utc::now();
    let mut outcome: Vec<Option<Decision>> = vec![None; rows.len()];
    let mut counts = Counts::default();

    // 1. Duplicates of an earlier row of this run, and rows that cannot be read.
    let mut candidates = Vec::new();
    for (i, p) in rows.iter().enumerate() {
        if let Some(id) = &p.legacy_id {
            match st.seen.get(id) {
                Some(first) if first.hash == p.hash => {
                    outcome[i] = Some(Decision::new(
                        ImportRowStatus::Skipped,
                        Some(format!("duplicate of line {}", first.line)),
                        None,
                        None,
                    ));
                    continue;
                }
                Some(first) => {
                    outcome[i] = Some(Decision::new(
                        ImportRowStatus::Failed,
                        Some(format!(
                            "legacy id {id} is also on line {}, with different content",
                            first.line
                        )),
                        None,
                        None,
                    ));
                    continue;
                }
                None => {
                    st.seen.insert(
                        id.clone(),
                        Seen {
                            line: p.line,
                            hash: p.hash.clone(),
                        },
                    );
                }
            }
        }
        match &p.parsed {
            Err(reason) => {
                outcome[i] = Some(Decision::new(
                    ImportRowStatus::Failed,
                    Some(reason.clone()),
                    None,
                    None,
                ))
            }
            // A customer erased on request is not brought back.
            Ok(row) if st.erased.contains(&row.contact.email) => {
                outcome[i] = Some(Decision::new(
                    ImportRowStatus::Skipped,
                    Some("erased".into()),
                    None,
                    None,
                ))
            }
            Ok(row) => candidates.push((i, row)),
        }
    }

    // 2. What earlier runs imported: the existing bookings are locked first.
    let ids: Vec<String> = candidates
        .iter()
        .map(|(_, r)| r.legacy_id.clone())
        .collect();
    let prior = super::ledger::prior_hashes(conn, &st.source, &ids).await?;
    let existing = lock_bookings(conn, &ids).await?;
    let mut to_write = Vec::new();
    for (i, row) in candidates {
        match (existing.get(&row.legacy_id), prior.get(&row.legacy_id)) {
            (Some(b), Some(hash)) if *hash == rows[i].hash => {
                outcome[i] = Some(Decision::new(
                    ImportRowStatus::Unchanged,
                    None,
                    Some(b.user_id),
                    Some(b.id),
                ));
            }
            (Some(b), Some(_)) => to_write.push((i, row, Some(b.clone()))),
            (Some(_), None) => {
                outcome[i] = Some(Decision::new(
                    ImportRowStatus::Failed,
                    Some(format!(
                        "a booking with legacy id {} already exists, not imported from source {:?}",
                        row.legacy_id, st.source
                    )),
                    None,
                    None,
                ))
            }
            (None, _) => to_write.push((i, row, None)),
        }
    }

    // 3. The catalogue: course by type, venue by name (a new one inactive), session by
    //    course, venue and day (a new one a past session).
    let mut new_catalogue = NewCatalogue::default();
    let mut new_venues: Vec<venue::Model> = Vec::new();
    let mut new_sessions: Vec<course_session::Model> = Vec::new();
    let mut chunk_venues: HashMap<String, Uuid> = HashMap::new();
    let mut chunk_sessions: HashMap<SessionKey, usize> = HashMap::new();
    let mut planned: Vec<Planned> = Vec::new();
    for (i, row, existing) in to_write {
        let Some(course) = st
            .catalogue
            .course(row.course_type, row.course_name.as_deref())
            .cloned()
        else {
            outcome[i] = Some(Decision::new(
                ImportRowStatus::Failed,
                Some(format!(
                    "unknown course: no {} course in the catalogue",
                    crate::services::catalogue::course_code(row.course_type)
                )),
                None,
                None,
            ));
            continue;
        };
        let vkey = venue_key(&row.venue);
        let venue_id = match st.catalogue.venues.get(&vkey).or(chunk_venues.get(&vkey)) {
            Some(id) => *id,
            None => {
                let v = inactive_venue(&row.venue, now);
                let id = v.id;
                chunk_venues.insert(vkey.clone(), id);
                new_venues.push(v);
                id
            }
        };
        let skey = (course.id, venue_id, row.session_date);
        let session_id = match st.catalogue.sessions.get(&skey) {
            Some(id) => *id,
            None => match chunk_sessions.get(&skey) {
                Some(&n) => {
                    let s: &mut course_session::Model = &mut new_sessions[n];
                    s.capacity = s.capacity.max(row.attendees.len() as i32);
                    s.id
                }
                None => {
                    let s = past_session(&course, venue_id, row, now);
                    if st
                        .sessions_created
                        .insert((course.id, vkey.clone(), row.session_date))
                    {
                        counts.sessions_created += 1;
                    }
                    chunk_sessions.insert(skey, new_sessions.len());
                    let id = s.id;
                    new_sessions.push(s);
                    id
                }
            },
        };
        planned.push(Planned {
            index: i,
            row,
            existing,
            venue_id,
            session_id,
            user_id: Uuid::nil(),
        });
    }
    let mut venues_created = Vec::new();
    if !new_venues.is_empty() {
        let names: Vec<String> = new_venues.iter().map(|v| v.name.clone()).collect();
        let fresh: HashMap<String, Uuid> = new_venues
            .iter()
            .map(|v| (venue_key(&v.name), v.id))
            .collect();
        venue::Entity::insert_many(
            new_venues
                .into_iter()
                .map(|v| v.into_active_model().reset_all()),
        )
        .on_conflict(
            OnConflict::column(venue::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        // A venue of that exact name made meanwhile by someone else is used instead.
        let stored: Vec<(Uuid, String)> = venue::Entity::find()
            .select_only()
            .column(venue::Column::Id)
            .column(venue::Column::Name)
            .filter(venue::Column::Name.is_in(names))
            .into_tuple()
            .all(conn)
            .await?;
        let mut moved: HashMap<Uuid, Uuid> = HashMap::new();
        for (id, name) in stored {
            let key = venue_key(&name);
            if fresh.get(&key) == Some(&id) {
                venues_created.push(id);
                if st.venues_created.insert(key.clone()) {
                    counts.venues_created += 1;
                    st.venue_names.push(name.clone());
                }
            } else if let Some(&planned_id) = fresh.get(&key) {
                moved.insert(planned_id, id);
            }
            new_catalogue.venues.push((key, id));
        }
        if !moved.is_empty() {
            for s in &mut new_sessions {
                if let Some(id) = moved.get(&s.venue_id) {
                    s.venue_id = *id;
                }
            }
            for p in &mut planned {
                if let Some(id) = moved.get(&p.venue_id) {
                    p.venue_id = *id;
                }
            }
        }
    }
    for s in &new_sessions {
        new_catalogue
            .sessions
            .push(((s.course_id, s.venue_id, s.starts_at.date_naive()), s.id));
    }
    insert_all(conn, new_sessions).await?;

    // 4. Customers, found by email (following merged customers to the survivor) or created
    //    as `createBooking` creates them, customer since their earliest booking; blank
    //    profile fields filled from the rows in file order, never overwritten.
    let mut first_contact: Vec<(String, usize)> = Vec::new();
    // Per email: the earliest and the latest booking of the chunk.
    let mut span: HashMap<String, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for (n, p) in planned.iter().enumerate() {
        let email = &p.row.contact.email;
        let at = p.row.created_at;
        match span.get_mut(email) {
            Some((first, last)) => {
                *first = (*first).min(at);
                *last = (*last).max(at);
            }
            None => {
                span.insert(email.clone(), (at, at));
                first_contact.push((email.clone(), n));
            }
        }
    }
    let mut by_email = super::find_customers_by_email(
        conn,
        first_contact.iter().map(|(e, _)| e.clone()).collect(),
    )
    .await?;
    let fresh: Vec<user::Model> = first_contact
        .iter()
        .filter(|(e, _)| !by_email.contains_key(e))
        .map(|(e, n)| {
            let (first, last) = span[e];
            let mut fresh =
                customers::new_customer(&planned[*n].row.contact, None, first.date_naive(), now);
            // Their activity is their bookings', not the import's.
            fresh.last_activity_at = last;
            fresh
        })
        .collect();
    // The consents each new customer's first row chose, for their consent history.
    let chosen: HashMap<&str, Consents> = first_contact
        .iter()
        .map(|(e, n)| (e.as_str(), planned[*n].row.contact.consents))
        .collect();
    let mut customers_created = Vec::new();
    for (customer, created) in customers::insert_or_find(conn, fresh).await? {
        if created {
            customers_created.push(customer.id);
            if let Some(c) = chosen.get(customer.email.as_str()) {
                consents::record(
                    conn,
                    &Actor::system(),
                    ConsentSource::Import,
                    customer.id,
                    &Consents::default(),
                    c,
                )
                .await?;
            }
            if st.customers_created.insert(customer.email.clone()) {
                counts.customers_created += 1;
            }
        }
        by_email.insert(customer.email.clone(), customer);
    }
    let mut working: HashMap<Uuid, (user::Model, user::Model)> = HashMap::new();
    // Per customer: the chunk's earliest and latest booking.
    let mut activity: HashMap<Uuid, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for p in &mut planned {
        let customer = by_email
            .get(&p.row.contact.email)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("customer vanished")))?;
        p.user_id = customer.id;
        let (_, after) = working
            .entry(customer.id)
            .or_insert_with(|| (customer.clone(), customer.clone()));
        customers::fill_blanks(after, &p.row.contact);
        let at = p.row.created_at;
        let (first, last) = activity.entry(customer.id).or_insert((at, at));
        *first = (*first).min(at);
        *last = (*last).max(at);
    }
    let mut ids: Vec<Uuid> = working.keys().copied().collect();
    ids.sort_unstable();
    for id in &ids {
        let (before, after) = &working[id];
        let mut after = after.clone();
        crate::services::users::refresh_derived(&mut after);
        if &after != before {
            customers::save(conn, before, after).await?;
        }
    }
    // Customer since their earliest booking, active at their latest: one statement.
    let mut spans: Vec<(Uuid, NaiveDate, DateTime<Utc>)> = activity
        .into_iter()
        .map(|(id, (first, last))| (id, first.date_naive(), last))
        .collect();
    spans.sort_unstable_by_key(|s| s.0);
    widen_activity(conn, &spans).await?;
    for id in customers_created.iter().copied() {
        super::after_customer_created(conn, id).await?;
    }

    // 5. The bookings, their attendees and their money.
    let mut touched_customers: BTreeSet<Uuid> = BTreeSet::new();
    // Per session: attendees of live bookings gained (or lost).
    let mut places: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut new_bookings = Vec::new();
    let mut new_attendees = Vec::new();
    let mut new_payments = Vec::new();
    let mut new_refunds = Vec::new();
    for p in &planned {
        touched_customers.insert(p.user_id);
        if p.row.status != BookingStatus::Cancelled {
            *places.entry(p.session_id).or_default() += p.row.attendees.len() as i64;
        }
        let money = legacy_money(p.row);
        match &p.existing {
            None => {
                let b = booking_row(p, &money, None, now);
                for a in &p.row.attendees {
                    new_attendees.push(attendee_row(b.id, p, a, now));
                }
                let (pay, refund) = money_rows(&b, &money, now);
                new_payments.extend(pay);
                new_refunds.extend(refund);
                outcome[p.index] = Some(Decision::new(
                    ImportRowStatus::Created,
                    warnings(p.row),
                    Some(p.user_id),
                    Some(b.id),
                ));
                new_bookings.push(b);
            }
            Some(before) => {
                touched_customers.insert(before.user_id);
                if before.status != BookingStatus::Cancelled {
                    *places.entry(before.session_id).or_default() -=
                        i64::from(before.number_of_attendees);
                }
                update_booking(conn, p, before, &money, now).await?;
                outcome[p.index] = Some(Decision::new(
                    ImportRowStatus::Updated,
                    warnings(p.row),
                    Some(p.user_id),
                    Some(before.id),
                ));
            }
        }
    }
    insert_all(conn, new_bookings).await?;
    insert_all(conn, new_attendees).await?;
    insert_all(conn, new_payments).await?;
    insert_all(conn, new_refunds).await?;

    // 6. Counters from the facts, then the sessions' places, last.
    let touched: Vec<Uuid> = touched_customers.into_iter().collect();
    customer_stats::recompute(conn, &touched).await?;
    crate::services::places::add_places(conn, &places).await?;

    let mut ledger = Vec::with_capacity(rows.len());
    for (p, o) in rows.iter().zip(outcome) {
        let Decision {
            status,
            reason,
            user_id,
            booking_id,
        } = o.unwrap_or_else(|| {
            Decision::new(
                ImportRowStatus::Failed,
                Some("not accounted for".into()),
                None,
                None,
            )
        });
        counts.add(status);
        ledger.push(import_row::Model {
            id: Uuid::now_v7(),
            job_id: st.job_id,
            source: st.source.clone(),
            ordinal: p.ordinal,
            line: p.line,
            legacy_id: p.legacy_id.clone(),
            reference: p.reference.clone(),
            status,
            reason,
            content_hash: p.hash.clone(),
            raw_json: (status == ImportRowStatus::Failed).then(|| p.raw.get().to_string()),
            user_id,
            booking_id,
            created_at: now,
        });
    }
    Ok(ChunkResult {
        ledger,
        counts,
        new_catalogue,
        customers_created,
        venues_created,
    })
}

fn warnings(row: &LegacyBooking) -> Option<String> {
    (!row.warnings.is_empty()).then(|| row.warnings.join("; "))
}

/// The bookings already imported with these legacy ids, locked first on PostgreSQL (the
/// lock order: booking, customer, session).
async fn lock_bookings(
    conn: &impl ConnectionTrait,
    legacy_ids: &[String],
) -> AppResult<HashMap<String, booking::Model>> {
    let mut out = HashMap::new();
    let mut ids = legacy_ids.to_vec();
    ids.sort_unstable();
    for chunk in ids.chunks(500) {
        let mut q = booking::Entity::find()
            .filter(keys::any_of(
                conn.get_database_backend(),
                booking::Column::LegacyId,
                chunk,
            ))
            .order_by_asc(booking::Column::Id);
        if conn.get_database_backend() == DbBackend::Postgres {
            q = q.lock_exclusive();
        }
        for b in q.all(conn).await? {
            if let Some(id) = b.legacy_id.clone() {
                out.insert(id, b);
            }
        }
    }
    Ok(out)
}

fn inactive_venue(name: &str, now: DateTime<Utc>) -> venue::Model {
    venue::Model {
        id: Uuid::now_v7(),
        name: name.trim().to_string(),
        address_line_1: None,
        address_line_2: None,
        city: None,
        postcode: None,
        capacity: None,
        facilities: None,
        parking_info: None,
        is_active: false,
        created_at: now,
        updated_at: now,
    }
}

/// A session for a legacy booking: on its date at 09:00 UTC, as long as the course, with
/// room for the booking, completed once it is over.
fn past_session(
    course: &course::Model,
    venue_id: Uuid,
    row: &LegacyBooking,
    now: DateTime<Utc>,
) -> course_session::Model {
    let starts_at = row.session_date.and_time(SESSION_START).and_utc();
    let ends_at = starts_at + Duration::hours(i64::from(course.duration_hours.max(1)));
    course_session::Model {
        id: Uuid::now_v7(),
        course_id: course.id,
        venue_id,
        instructor_id: None,
        starts_at,
        ends_at,
        capacity: course.max_capacity.max(row.attendees.len() as i32).max(1),
        booked_places: 0,
        status: if ends_at <= now {
            SessionStatus::Completed
        } else {
            SessionStatus::Scheduled
        },
        cancelled_at: None,
        cancellation_reason: None,
        created_by_id: None,
        updated_by_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// The money of a legacy booking, in pence.
struct Money {
    status: PaymentStatus,
    paid: i64,
    refunded: i64,
    payment: Option<PaymentRecordStatus>,
}

fn legacy_money(row: &LegacyBooking) -> Money {
    let amount = row.amount_pence;
    let some = |s| (amount > 0).then_some(s);
    match row.payment {
        LegacyPayment::Paid => Money {
            status: PaymentStatus::Paid,
            paid: amount,
            refunded: 0,
            payment: some(PaymentRecordStatus::Succeeded),
        },
        LegacyPayment::Refunded => Money {
            status: PaymentStatus::Refunded,
            paid: amount,
            refunded: amount,
            payment: some(PaymentRecordStatus::Refunded),
        },
        LegacyPayment::Failed => Money {
            status: PaymentStatus::Failed,
            paid: 0,
            refunded: 0,
            payment: some(PaymentRecordStatus::Failed),
        },
        LegacyPayment::Pending => Money {
            status: PaymentStatus::Pending,
            paid: 0,
            refunded: 0,
            payment: None,
        },
    }
}

/// The booking a planned row becomes: `keep` carries what an update does not change (id,
/// reference, who made it, what was sent).
fn booking_row(
    p: &Planned<'_>,
    money: &Money,
    keep: Option<&booking::Model>,
    now: DateTime<Utc>,
) -> booking::Model {
    let row = p.row;
    let places = row.attendees.len() as i64;
    // The total is what was charged; the unit price is it shared out, rounded up, with
    // the rounding as a discount, so unit × places − discount is exactly the total.
    let unit = (row.amount_pence + places - 1) / places;
    let id = keep.map_or_else(Uuid::now_v7, |k| k.id);
    booking::Model {
        id,
        user_id: p.user_id,
        session_id: p.session_id,
        reference: keep.map_or_else(references::booking_reference, |k| k.reference.clone()),
        status: row.status,
        payment_status: money.status,
        unit_price_pence: unit,
        discount_pence: unit * places - row.amount_pence,
        total_amount_pence: row.amount_pence,
        amount_paid_pence: money.paid,
        amount_refunded_pence: money.refunded,
        number_of_attendees: places as i32,
        // Unchanged, it stays as stored.
        special_requirements: match keep {
            Some(k) if k.special_requirements.plain() == row.special_requirements.as_ref() => {
                k.special_requirements.clone()
            }
            _ => encrypted::seal_at(row.special_requirements.clone(), id),
        },
        contact_details: Some(row.contact_json.clone()),
        legacy_id: Some(row.legacy_id.clone()),
        legacy_reference: row.reference.clone(),
        // The old service dealt with its own emails.
        confirmation_sent: keep.is_none_or(|k| k.confirmation_sent),
        reminder_sent: keep.is_none_or(|k| k.reminder_sent),
        certificate_issued: keep.is_some_and(|k| k.certificate_issued),
        cancelled_at: keep
            .and_then(|k| k.cancelled_at)
            .filter(|_| row.status == BookingStatus::Cancelled),
        cancellation_reason: (row.status == BookingStatus::Cancelled).then(|| {
            keep.and_then(|k| k.cancellation_reason.clone())
                .unwrap_or_else(|| LEGACY_CANCELLATION.to_string())
        }),
        created_by_id: keep.and_then(|k| k.created_by_id),
        updated_by_id: None,
        created_at: row.created_at,
        updated_at: now,
    }
}

fn attendee_row(
    booking_id: Uuid,
    p: &Planned<'_>,
    a: &Attendee,
    now: DateTime<Utc>,
) -> booking_attendee::Model {
    let is_customer = bookings::attendee_is_customer(
        &p.row.contact,
        &a.first_name,
        &a.last_name,
        a.email.as_deref(),
    );
    booking_attendee::Model {
        id: Uuid::now_v7(),
        booking_id,
        user_id: is_customer.then_some(p.user_id),
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        email: a.email.clone(),
        phone: None,
        special_requirements: None,
        created_at: now,
    }
}

/// The payment (method LEGACY, paid when the booking was made) and refund (completed) a
/// legacy booking's money status stands for.
fn money_rows(
    b: &booking::Model,
    money: &Money,
    now: DateTime<Utc>,
) -> (Option<payment::Model>, Option<refund::Model>) {
    let Some(status) = money.payment else {
        return (None, None);
    };
    let at = b.created_at;
    let pay = payment::Model {
        id: Uuid::now_v7(),
        booking_id: b.id,
        user_id: b.user_id,
        stripe_payment_intent_id: None,
        amount_pence: b.total_amount_pence,
        currency: "GBP".into(),
        status,
        method: PaymentMethod::Legacy,
        recorded_by_id: None,
        paid_at: (status != PaymentRecordStatus::Failed).then_some(at),
        created_at: at,
        updated_at: now,
    };
    let refund = (money.refunded > 0).then(|| refund::Model {
        id: Uuid::now_v7(),
        booking_id: b.id,
        payment_id: Some(pay.id),
        user_id: b.user_id,
        reference: references::refund_reference(),
        amount_pence: money.refunded,
        processing_fee_pence: 0,
        status: RefundStatus::Completed,
        reason: LEGACY_REFUND.into(),
        stripe_refund_id: None,
        requested_by_id: None,
        processed_by_id: None,
        requested_at: at,
        approved_at: Some(at),
        rejected_at: None,
        completed_at: Some(at),
        created_at: at,
        updated_at: now,
    });
    (Some(pay), refund)
}

/// A row changed since it was imported: the booking takes the row's fields (status, money,
/// session, customer, attendees, contact details, requirements), keeping its id, its
/// reference and anything recorded since; it is never a second booking. The legacy
/// payment and refund are replaced by the ones the row now stands for; payments recorded
/// here since the import stay, and the paid and refunded totals count them.
async fn update_booking(
    conn: &impl ConnectionTrait,
    p: &Planned<'_>,
    before: &booking::Model,
    money: &Money,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut after = booking_row(p, money, Some(before), now);

    // Attendees, place by place, so the ids of those unchanged stay.
    let old = booking_attendee::Entity::find()
        .filter(booking_attendee::Column::BookingId.eq(before.id))
        .order_by_asc(booking_attendee::Column::CreatedAt)
        .order_by_asc(booking_attendee::Column::Id)
        .all(conn)
        .await?;
    let wanted: Vec<booking_attendee::Model> = p
        .row
        .attendees
        .iter()
        .map(|a| attendee_row(before.id, p, a, now))
        .collect();
    let mut extra = Vec::new();
    for (n, w) in wanted.iter().enumerate() {
        match old.get(n) {
            Some(o)
                if (&o.first_name, &o.last_name, &o.email, o.user_id)
                    == (&w.first_name, &w.last_name, &w.email, w.user_id) => {}
            Some(o) => {
                let mut am = o.clone().into_active_model();
                am.first_name = sea_orm::Set(w.first_name.clone());
                am.last_name = sea_orm::Set(w.last_name.clone());
                am.email = sea_orm::Set(w.email.clone());
                am.user_id = sea_orm::Set(w.user_id);
                am.update(conn).await?;
            }
            None => extra.push(w.clone()),
        }
    }
    if old.len() > wanted.len() {
        booking_attendee::Entity::delete_many()
            .filter(booking_attendee::Column::Id.is_in(old[wanted.len()..].iter().map(|o| o.id)))
            .exec(conn)
            .await?;
    }
    insert_all(conn, extra).await?;

    // The legacy money, replaced.
    let legacy_payments: Vec<Uuid> = payment::Entity::find()
        .select_only()
        .column(payment::Column::Id)
        .filter(payment::Column::BookingId.eq(before.id))
        .filter(payment::Column::Method.eq(PaymentMethod::Legacy))
        .into_tuple()
        .all(conn)
        .await?;
    if !legacy_payments.is_empty() {
        refund::Entity::delete_many()
            .filter(refund::Column::PaymentId.is_in(legacy_payments.clone()))
            .exec(conn)
            .await?;
        payment::Entity::delete_many()
            .filter(payment::Column::Id.is_in(legacy_payments))
            .exec(conn)
            .await?;
    }
    // Money recorded here since the import moves with the booking to its customer.
    payment::Entity::update_many()
        .col_expr(
            payment::Column::UserId,
            sea_orm::sea_query::Expr::value(p.user_id),
        )
        .filter(payment::Column::BookingId.eq(before.id))
        .exec(conn)
        .await?;
    refund::Entity::update_many()
        .col_expr(
            refund::Column::UserId,
            sea_orm::sea_query::Expr::value(p.user_id),
        )
        .filter(refund::Column::BookingId.eq(before.id))
        .exec(conn)
        .await?;
    let (pay, refund) = money_rows(&after, money, now);
    insert_all(conn, pay.into_iter().collect()).await?;
    insert_all(conn, refund.into_iter().collect()).await?;
    let (paid, refunded) = booking_money(conn, before.id).await?;
    after.amount_paid_pence = paid;
    after.amount_refunded_pence = refunded;

    // The columns that differ, written.
    let mut am = after.clone().into_active_model();
    for col in booking::Column::iter() {
        if before.get(col) != after.get(col) {
            am.reset(col);
        }
    }
    am.update(conn).await?;
    Ok(())
}

/// Pence paid (payments succeeded, or later refunded) and refunded (refunds completed) on
/// a booking, from its payment and refund rows.
async fn booking_money(conn: &impl ConnectionTrait, booking_id: Uuid) -> AppResult<(i64, i64)> {
    let paid: Vec<i64> = payment::Entity::find()
        .select_only()
        .column(payment::Column::AmountPence)
        .filter(payment::Column::BookingId.eq(booking_id))
        .filter(payment::Column::Status.is_in([
            PaymentRecordStatus::Succeeded,
            PaymentRecordStatus::Refunded,
        ]))
        .into_tuple()
        .all(conn)
        .await?;
    let refunded: Vec<i64> = refund::Entity::find()
        .select_only()
        .column(refund::Column::AmountPence)
        .filter(refund::Column::BookingId.eq(booking_id))
        .filter(refund::Column::Status.eq(RefundStatus::Completed))
        .into_tuple()
        .all(conn)
        .await?;
    Ok((paid.iter().sum(), refunded.iter().sum()))
}

/// Moves each customer's `customer_since` back to the day of their earliest booking here and
/// their `last_activity_at` on to their latest, when those are further out: one statement
/// for the whole chunk (these are not counters; a customer's profile keeps them).
async fn widen_activity(
    conn: &impl ConnectionTrait,
    spans: &[(Uuid, NaiveDate, DateTime<Utc>)],
) -> AppResult<()> {
    let backend = conn.get_database_backend();
    for chunk in spans.chunks(500) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        let rows: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, (id, since, last))| {
                values.extend([(*id).into(), (*since).into(), (*last).into()]);
                match backend {
                    DbBackend::Postgres => format!(
                        "(${}::uuid, ${}::date, ${}::timestamptz)",
                        3 * i + 1,
                        3 * i + 2,
                        3 * i + 3
                    ),
                    _ => "(?, ?, ?)".to_string(),
                }
            })
            .collect();
        let alias = match backend {
            DbBackend::Postgres => "v(column1, column2, column3)",
            _ => "v",
        };
        let sql = format!(
            "UPDATE users SET \
               customer_since = CASE WHEN users.customer_since IS NULL \
                 OR v.column2 < users.customer_since THEN v.column2 ELSE users.customer_since END, \
               last_activity_at = CASE WHEN v.column3 > users.last_activity_at \
                 THEN v.column3 ELSE users.last_activity_at END \
             FROM (VALUES {}) AS {alias} \
             WHERE users.id = v.column1 AND (users.customer_since IS NULL \
               OR v.column2 < users.customer_since OR v.column3 > users.last_activity_at)",
            rows.join(", ")
        );
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// The audit row's summary of a chunk.
pub(super) fn audit_summary(rows: &[Prepared], result: &ChunkResult) -> serde_json::Value {
    let c = &result.counts;
    json!({
        "rows": {
            "from": rows.first().map(|r| r.ordinal),
            "to": rows.last().map(|r| r.ordinal),
        },
        "created": c.created, "updated": c.updated, "unchanged": c.unchanged,
        "skipped": c.skipped, "failed": c.failed,
        "customersCreated": result.customers_created,
        "venuesCreated": result.venues_created,
        "sessionsCreated": c.sessions_created,
    })
}
