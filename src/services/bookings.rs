//! Bookings: the one-transaction booking flow (find or create the customer, enrich their
//! profile, take places without overbooking, price, reference, stats, log) and cancelling.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, IntoActiveModel, QueryFilter, Statement,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::booking::BookingKeys;
use crate::entities::encrypted;
use crate::entities::enums::{BookingStatus, ConsentSource, PaymentStatus, SessionStatus};
use crate::entities::partial::KeysOf;
use crate::entities::{booking, booking_attendee, course, course_session, user};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Activity, Actor};
use crate::services::consents::{self, Consents};
use crate::services::customers::{self, Contact};
use crate::services::email::{self, Outbox};
use crate::services::{customer_stats, duplicates, references, users, validate};

/// Most attendees on one booking.
pub const MAX_ATTENDEES: usize = 20;

/// A booking by id.
#[tracing::instrument(level = "debug", skip_all, fields(booking_id = %id))]
pub async fn find(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<booking::Model> {
    booking::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("booking"))
}

/// A booking as the client asked for it, for [`create`]; checked by [`create`] before
/// anything is written.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub session_id: Uuid,
    pub contact: BookingContact,
    /// 1 to [`MAX_ATTENDEES`] people.
    pub attendees: Vec<NewAttendee>,
    pub special_requirements: Option<String>,
}

/// Who is booking: the customer, found (or created) by email. The consents are a new
/// customer's first choices; a known customer's are left as they are.
#[derive(Debug, Clone)]
pub struct BookingContact {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub consents: Consents,
}

/// A person attending the session.
#[derive(Debug, Clone)]
pub struct NewAttendee {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
}

struct CleanBooking {
    contact: Contact,
    attendees: Vec<(String, String, Option<String>)>,
    special_requirements: Option<String>,
}

fn clean(input: &NewBooking) -> AppResult<CleanBooking> {
    let c = &input.contact;
    let mut contact = Contact::clean(
        &c.first_name,
        &c.last_name,
        &c.email,
        c.phone.as_deref(),
        c.company.as_deref(),
    )?;
    contact.consents = c.consents;
    if input.attendees.is_empty() {
        return Err(AppError::bad_input(
            "attendees",
            "a booking needs at least one attendee",
        ));
    }
    if input.attendees.len() > MAX_ATTENDEES {
        return Err(AppError::bad_input(
            "attendees",
            format!(
                "a booking can have at most {MAX_ATTENDEES} attendees; call us for larger groups"
            ),
        ));
    }
    let attendees = input
        .attendees
        .iter()
        .enumerate()
        .map(|(i, a)| {
            Ok((
                validate::required(&format!("attendees.{i}.firstName"), &a.first_name, 100)?,
                validate::required(&format!("attendees.{i}.lastName"), &a.last_name, 100)?,
                match a.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                    Some(e) => Some(validate::email(&format!("attendees.{i}.email"), e)?),
                    None => None,
                },
            ))
        })
        .collect::<AppResult<Vec<_>>>()?;
    let special_requirements = validate::optional(
        "specialRequirements",
        input.special_requirements.as_deref(),
        2000,
    )?;
    Ok(CleanBooking {
        contact,
        attendees,
        special_requirements,
    })
}

/// Whether an attendee is the customer who booked: they share the contact's email, or
/// (with no email given) the contact's name.
pub fn attendee_is_customer(
    contact: &Contact,
    first_name: &str,
    last_name: &str,
    email: Option<&str>,
) -> bool {
    match email {
        Some(e) => e == contact.email,
        None => first_name == contact.first_name && last_name == contact.last_name,
    }
}

/// Reads the session to book and checks it is open with `places` free, so a booking that
/// cannot succeed fails before it writes anything. Not the authoritative check: that is
/// [`take_places`], just before commit.
async fn open_session(
    conn: &impl ConnectionTrait,
    session_id: Uuid,
    places: i32,
    now: DateTime<Utc>,
) -> AppResult<course_session::Model> {
    let session = course_session::Entity::find_by_id(session_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("course session"))?;
    why_not_bookable(&session, places, now).map(|()| session)
}

/// Why `places` cannot be booked on `session` now, if they cannot.
fn why_not_bookable(
    session: &course_session::Model,
    places: i32,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if session.status == SessionStatus::Cancelled {
        return Err(AppError::bad_input(
            "sessionId",
            "this session has been cancelled",
        ));
    }
    if session.starts_at <= now
        || !matches!(
            session.status,
            SessionStatus::Scheduled | SessionStatus::Confirmed
        )
    {
        return Err(AppError::bad_input(
            "sessionId",
            "this session is no longer open for booking",
        ));
    }
    let left = std::cmp::max(session.capacity - session.booked_places, 0);
    if places > left {
        return Err(AppError::Conflict(if left == 0 {
            "this session is full".into()
        } else {
            format!("only {left} place(s) left on this session")
        }));
    }
    Ok(())
}

/// Takes `places` on a session in one conditional UPDATE, so concurrent bookings can never
/// overbook: the row lock serialises them and the condition is checked against the
/// latest count. It runs last in `createBooking`, so the session's row stays locked only
/// from here to commit. On failure, says why.
async fn take_places(
    conn: &impl ConnectionTrait,
    session_id: Uuid,
    places: i32,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let res = course_session::Entity::update_many()
        .col_expr(
            course_session::Column::BookedPlaces,
            Expr::col(course_session::Column::BookedPlaces).add(places),
        )
        .col_expr(course_session::Column::UpdatedAt, Expr::value(now))
        .filter(course_session::Column::Id.eq(session_id))
        .filter(
            course_session::Column::Status
                .is_in([SessionStatus::Scheduled, SessionStatus::Confirmed]),
        )
        .filter(course_session::Column::StartsAt.gt(now))
        .filter(
            Expr::col(course_session::Column::BookedPlaces)
                .add(places)
                .lte(Expr::col(course_session::Column::Capacity)),
        )
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        return Ok(());
    }
    let session = course_session::Entity::find_by_id(session_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("course session"))?;
    why_not_bookable(&session, places, now)?;
    Err(AppError::Conflict("this session is full".into()))
}

/// Finds the customer by normalised email (for a merged profile's email, the survivor it
/// was merged into), creating them (role customer, no password, customer_since today)
/// when new. Safe when two bookings create the same customer at once.
async fn find_or_create_customer(
    conn: &impl ConnectionTrait,
    contact: &Contact,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<(user::Model, bool)> {
    let fresh = customers::new_customer(contact, actor.id, now.date_naive(), now);
    // Holds the customer's row until commit on PostgreSQL: enrichment reads then writes it.
    let (found, created) = customers::insert_or_find(conn, vec![fresh])
        .await?
        .pop()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("customer vanished")))?;
    if created {
        // Matching keys and candidate pairs, after the customer's row (lock order kept:
        // they touch only user_match_keys and duplicate_pairs).
        duplicates::refresh(conn, None, &found).await?;
        // The consents the booking chose, as the first entries of the consent history.
        consents::record(
            conn,
            actor,
            ConsentSource::Booking,
            found.id,
            &Consents::default(),
            &contact.consents,
        )
        .await?;
    }
    // The email of a merged profile books for its survivor (docs/ARCHITECTURE.md, "Merged
    // users"), whose row is locked in turn.
    let customer = users::follow_merges(conn, found, true).await?;
    Ok((customer, created))
}

/// Fills blank profile fields from the booking; never overwrites what is there.
async fn enrich(
    conn: &impl ConnectionTrait,
    customer: &user::Model,
    contact: &Contact,
) -> AppResult<Vec<&'static str>> {
    let mut after = customer.clone();
    let filled = customers::fill_blanks(&mut after, contact);
    if !filled.is_empty() {
        customers::save(conn, customer, after).await?;
    }
    Ok(filled)
}

/// `createBooking`, in one transaction, with the confirmation email to the contact queued
/// in it (the mail worker is woken after the commit).
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), session_id = %input.session_id, places = input.attendees.len(), booking_id = tracing::field::Empty, user_id = tracing::field::Empty))]
pub async fn create(
    db: &DatabaseConnection,
    outbox: &Outbox,
    actor: &Actor,
    input: NewBooking,
) -> AppResult<booking::Model> {
    let b = clean(&input)?;
    let places = b.attendees.len() as i32;
    let now = Utc::now();
    // Lock order, kept by every writer: the customer's row, then the session's. The
    // session's row is locked last (by `take_places`, just before commit), so bookings for
    // one session queue on it only for that update and the commit.
    let txn = begin_write(db).await?;
    let session = open_session(&txn, input.session_id, places, now).await?;
    let course = course::Entity::find_by_id(session.course_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("course"))?;
    let (customer, created) = find_or_create_customer(&txn, &b.contact, actor, now).await?;
    tracing::Span::current().record("user_id", tracing::field::display(customer.id));
    let filled = if created {
        Vec::new()
    } else {
        enrich(&txn, &customer, &b.contact).await?
    };

    let total = course.price_pence * i64::from(places);
    let booking = booking::Model {
        id: Uuid::now_v7(),
        user_id: customer.id,
        session_id: session.id,
        reference: references::booking_reference(),
        status: BookingStatus::Pending,
        payment_status: if total == 0 {
            PaymentStatus::Paid
        } else {
            PaymentStatus::Pending
        },
        unit_price_pence: course.price_pence,
        discount_pence: 0,
        total_amount_pence: total,
        amount_paid_pence: 0,
        amount_refunded_pence: 0,
        number_of_attendees: places,
        special_requirements: encrypted::seal(b.special_requirements.clone()),
        contact_details: Some(json!({
            "firstName": b.contact.first_name, "lastName": b.contact.last_name,
            "email": b.contact.email, "phone": b.contact.phone, "company": b.contact.company,
        })),
        legacy_id: None,
        legacy_reference: None,
        confirmation_sent: false,
        reminder_sent: false,
        certificate_issued: false,
        cancelled_at: None,
        cancellation_reason: None,
        created_by_id: actor.id,
        updated_by_id: actor.id,
        created_at: now,
        updated_at: now,
    };
    tracing::Span::current().record("booking_id", tracing::field::display(booking.id));
    let booking = booking.into_active_model().reset_all().insert(&txn).await?;
    let mut rows = Vec::with_capacity(b.attendees.len());
    for (first, last, email) in &b.attendees {
        let is_customer = attendee_is_customer(&b.contact, first, last, email.as_deref());
        rows.push(
            booking_attendee::Model {
                id: Uuid::now_v7(),
                booking_id: booking.id,
                user_id: is_customer.then_some(customer.id),
                first_name: first.clone(),
                last_name: last.clone(),
                email: email.clone(),
                phone: None,
                special_requirements: None,
                created_at: now,
            }
            .into_active_model()
            .reset_all(),
        );
    }
    booking_attendee::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await?;
    customer_stats::on_booking_created(&txn, customer.id, now).await?;

    let mut changes = audit::changes(None, Some(&booking));
    if let Some(obj) = changes.as_object_mut() {
        obj.insert("customerCreated".into(), json!(created));
        obj.insert("profileFieldsFilled".into(), json!(filled));
    }
    audit::record(
        &txn,
        actor,
        "booking.create",
        "booking",
        Some(booking.id),
        Some(changes),
    )
    .await?;
    if created {
        audit::record(
            &txn,
            actor,
            "user.create",
            "user",
            Some(customer.id),
            Some(json!({"source": "booking"})),
        )
        .await?;
    }
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: customer.id,
            activity_type: "booking_created",
            description: Some(format!(
                "Booked {} on {} for {} attendee(s): {}",
                course.name,
                session.starts_at.format("%d %b %Y"),
                places,
                booking.reference
            )),
            related: Some(("booking", booking.id)),
        },
    )
    .await?;
    email::kinds::booking_confirmation(&txn, outbox, &b.contact, &booking, &course, &session)
        .await?;
    take_places(&txn, session.id, places, now).await?;
    txn.commit().await?;
    outbox.wake();
    Ok(booking)
}

/// Marks a live booking cancelled, takes it off the customer's count and frees its places,
/// locking rows in the order every writer keeps: booking, customer, session.
/// Runs inside the caller's transaction; the caller writes the audit row.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), booking_id = %b.id))]
pub async fn mark_cancelled(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    b: &booking::Model,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<booking::Model> {
    let claimed = booking::Entity::update_many()
        .col_expr(
            booking::Column::Status,
            Expr::value(BookingStatus::Cancelled),
        )
        .col_expr(booking::Column::CancelledAt, Expr::value(now))
        .col_expr(booking::Column::CancellationReason, Expr::value(reason))
        .col_expr(booking::Column::UpdatedById, Expr::value(actor.id))
        .col_expr(booking::Column::UpdatedAt, Expr::value(now))
        .filter(booking::Column::Id.eq(b.id))
        .filter(booking::Column::Status.ne(BookingStatus::Cancelled))
        .exec(conn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::Conflict(
            "this booking is already cancelled".into(),
        ));
    }
    customer_stats::on_booking_cancelled(conn, b.user_id).await?;
    course_session::Entity::update_many()
        .col_expr(
            course_session::Column::BookedPlaces,
            Expr::col(course_session::Column::BookedPlaces).sub(b.number_of_attendees),
        )
        .filter(course_session::Column::Id.eq(b.session_id))
        .filter(course_session::Column::Status.ne(SessionStatus::Cancelled))
        .exec(conn)
        .await?;
    find(conn, b.id).await
}

/// `cancelBooking`: frees the places and keeps the customer's stats right. Money already
/// paid stays recorded until a refund is completed.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), booking_id = %id))]
pub async fn cancel(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> AppResult<booking::Model> {
    let reason = validate::required("reason", reason, 2000)?;
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let before = find(&txn, id).await?;
    let after = mark_cancelled(&txn, actor, &before, &reason, now).await?;
    audit::record(
        &txn,
        actor,
        "booking.cancel",
        "booking",
        Some(id),
        Some(audit::changes(Some(&before), Some(&after))),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: before.user_id,
            activity_type: "booking_cancelled",
            description: Some(format!("Booking {} cancelled: {reason}", before.reference)),
            related: Some(("booking", id)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// A row shape a page of bookings can be read as.
pub trait BookingPageRow: FromQueryResult + Send + Sync {
    /// The select list, over the bookings table aliased `b`.
    const COLUMNS: &'static str;
    /// Whether the row also holds its session's course and venue, joined on as `s`.
    const WITH_SESSION: bool = false;
    /// Where the row sits in a user's bookings.
    fn keys(&self) -> BookingKeys;
}

impl BookingPageRow for BookingKeys {
    const COLUMNS: &'static str = "b.id, b.user_id, b.session_id, b.created_at";
    fn keys(&self) -> BookingKeys {
        *self
    }
}

impl BookingPageRow for booking::Model {
    const COLUMNS: &'static str = "b.*";
    fn keys(&self) -> BookingKeys {
        BookingKeys::of(self)
    }
}

/// A booking row together with its session's course and venue, read in the same
/// statement: all a page needs of a session whose selection reads only those.
#[derive(Debug, Clone)]
pub struct WithSession<R> {
    pub row: R,
    pub course_id: Uuid,
    pub venue_id: Uuid,
}

impl<R: FromQueryResult> FromQueryResult for WithSession<R> {
    fn from_query_result(res: &sea_orm::QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self {
            row: R::from_query_result(res, pre)?,
            course_id: res.try_get(pre, "session_course_id")?,
            venue_id: res.try_get(pre, "session_venue_id")?,
        })
    }
}

impl<R: BookingPageRow> BookingPageRow for WithSession<R> {
    const COLUMNS: &'static str = R::COLUMNS;
    const WITH_SESSION: bool = true;
    fn keys(&self) -> BookingKeys {
        self.row.keys()
    }
}

/// The newest `limit + 1` bookings of each user, in one statement, newest first (by
/// creation time, then id): what `User.bookings(first)` needs for a whole page of users
/// at once. With `before_id`, only bookings older than that booking count. `R` says which
/// columns to read: every one, or only the keys, and whether the session's course and
/// venue come with them ([`WithSession`]).
///
/// Both plans walk each user's entries of the `(user_id, created_at, id)` index and then
/// read only the rows wanted: PostgreSQL with a `LATERAL` join per user, SQLite (which
/// has no `LATERAL`) with a correlated `rowid IN (... LIMIT n)` per user.
#[tracing::instrument(level = "debug", skip_all, fields(users = user_ids.len(), limit = limit, before_id = ?before_id))]
pub async fn newest_per_user<R: BookingPageRow>(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
    limit: u64,
    before_id: Option<Uuid>,
) -> Result<Vec<R>, sea_orm::DbErr> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    // Every booking has a session (a non-null foreign key), so the join drops no row.
    let (columns, join) = match R::WITH_SESSION {
        true => (
            format!(
                "{}, s.course_id AS session_course_id, s.venue_id AS session_venue_id",
                R::COLUMNS
            ),
            " JOIN course_sessions s ON s.id = b.session_id",
        ),
        false => (R::COLUMNS.to_string(), ""),
    };
    let cursor = |p: &str| {
        format!(
            " AND (x.created_at, x.id) < (SELECT c.created_at, c.id FROM bookings c WHERE c.id = {p})"
        )
    };
    let take = (limit + 1) as i64;
    let (sql, values): (String, Vec<sea_orm::Value>) = if backend == DbBackend::Postgres {
        let mut values: Vec<sea_orm::Value> = vec![user_ids.to_vec().into(), take.into()];
        let cursor_clause = match before_id {
            Some(before) => {
                values.push(before.into());
                cursor("$3")
            }
            None => String::new(),
        };
        let sql = format!(
            "SELECT {columns} FROM unnest($1::uuid[]) AS u(id) CROSS JOIN LATERAL (\
               SELECT x.* FROM bookings x WHERE x.user_id = u.id{cursor_clause} \
               ORDER BY x.created_at DESC, x.id DESC LIMIT $2\
             ) b{join}"
        );
        (sql, values)
    } else {
        let mut values: Vec<sea_orm::Value> = user_ids.iter().map(|id| (*id).into()).collect();
        let users = vec!["(?)"; user_ids.len()].join(", ");
        let cursor_clause = match before_id {
            Some(before) => {
                values.push(before.into());
                cursor("?")
            }
            None => String::new(),
        };
        values.push(take.into());
        let sql = format!(
            "SELECT {columns} FROM (VALUES {users}) AS u JOIN bookings b ON b.rowid IN (\
               SELECT x.rowid FROM bookings x WHERE x.user_id = u.column1{cursor_clause} \
               ORDER BY x.created_at DESC, x.id DESC LIMIT ?\
             ){join}"
        );
        (sql, values)
    };
    let mut rows = R::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(conn)
        .await?;
    rows.sort_unstable_by_key(|r| {
        let k = r.keys();
        (k.user_id, std::cmp::Reverse((k.created_at, k.id)))
    });
    Ok(rows)
}
