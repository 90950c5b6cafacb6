//! The catalogue: courses, venues and scheduled sessions.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, LockType},
};
use serde_json::json;
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::{BookingStatus, CourseType, Role, SessionStatus};
use crate::entities::{booking, course, course_session, user, venue};
use crate::error::{AppError, AppResult};
use crate::money;
use crate::services::audit::{self, Activity, Actor};
use crate::services::patch::Patch;
use crate::services::validate;

/// A new course, for [`create_course`]; checked there.
#[derive(Debug, Clone)]
pub struct NewCourse {
    pub name: String,
    pub description: Option<String>,
    pub course_type: CourseType,
    pub duration_hours: i32,
    /// Per attendee, in pounds.
    pub price: Decimal,
    pub max_capacity: i32,
    pub certification_validity_years: i32,
}

/// Changes to a course, for [`update_course`]; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct CourseChanges {
    pub name: Option<String>,
    pub description: Patch<String>,
    pub duration_hours: Option<i32>,
    pub price: Option<Decimal>,
    pub max_capacity: Option<i32>,
    pub certification_validity_years: Option<i32>,
    pub is_active: Option<bool>,
}

/// A new venue, for [`create_venue`]; checked there.
#[derive(Debug, Clone)]
pub struct NewVenue {
    pub name: String,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub capacity: Option<i32>,
    pub facilities: Option<Vec<String>>,
    pub parking_info: Option<String>,
}

/// Changes to a venue, for [`update_venue`]; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct VenueChanges {
    pub name: Option<String>,
    pub address_line1: Patch<String>,
    pub address_line2: Patch<String>,
    pub city: Patch<String>,
    pub postcode: Patch<String>,
    pub capacity: Patch<i32>,
    pub facilities: Patch<Vec<String>>,
    pub parking_info: Patch<String>,
    pub is_active: Option<bool>,
}

/// A new scheduled session, for [`create_session`]; checked there.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub course_id: Uuid,
    pub venue_id: Uuid,
    pub instructor_id: Option<Uuid>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Defaults to the course's capacity.
    pub capacity: Option<i32>,
}

/// Changes to a session, for [`update_session`]; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct SessionChanges {
    pub venue_id: Option<Uuid>,
    pub instructor_id: Patch<Uuid>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub capacity: Option<i32>,
    pub status: Option<SessionStatus>,
}

/// Which sessions [`sessions`] lists.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub course_type: Option<CourseType>,
    pub venue_id: Option<Uuid>,
    /// Only sessions with a place left (true) or only full ones (false).
    pub has_space: Option<bool>,
    /// Include cancelled sessions; defaults to false.
    pub include_cancelled: Option<bool>,
}

fn positive(field: &str, value: i32, max: i32) -> AppResult<i32> {
    if value < 1 || value > max {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be between 1 and {max}"),
        ));
    }
    Ok(value)
}

fn price(field: &str, amount: rust_decimal::Decimal) -> AppResult<i64> {
    let pence = money::to_pence(field, amount)?;
    if pence < 0 {
        return Err(AppError::bad_input(
            field,
            format!("{field} must not be negative"),
        ));
    }
    Ok(pence)
}

fn bad_name_conflict(e: AppError, what: &str) -> AppError {
    match e {
        AppError::Conflict(_) => {
            AppError::bad_input("name", format!("a {what} with this name already exists"))
        }
        other => other,
    }
}

/// Inserts a new row and records its creation (`<entity_type>.create`) in the audit trail.
async fn insert_audited<A>(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    entity_type: &str,
    row: A,
    id_of: impl Fn(&<A::Entity as EntityTrait>::Model) -> Uuid,
) -> AppResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let created = row.reset_all().insert(conn).await?;
    audit::record(
        conn,
        actor,
        &format!("{entity_type}.create"),
        entity_type,
        Some(id_of(&created)),
        Some(audit::changes(None, Some(&created))),
    )
    .await?;
    Ok(created)
}

/// A course by id.
#[tracing::instrument(level = "debug", skip_all, fields(course_id = %id))]
pub async fn find_course(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<course::Model> {
    course::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("course"))
}

/// A venue by id.
#[tracing::instrument(level = "debug", skip_all, fields(venue_id = %id))]
pub async fn find_venue(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<venue::Model> {
    venue::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("venue"))
}

/// A session by id.
#[tracing::instrument(level = "debug", skip_all, fields(session_id = %id))]
pub async fn find_session(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> AppResult<course_session::Model> {
    course_session::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("course session"))
}

/// Every course, active ones first by name.
#[tracing::instrument(level = "debug", skip_all, fields(include_inactive = include_inactive))]
pub async fn courses(
    conn: &impl ConnectionTrait,
    include_inactive: bool,
) -> AppResult<Vec<course::Model>> {
    let mut q = course::Entity::find();
    if !include_inactive {
        q = q.filter(course::Column::IsActive.eq(true));
    }
    Ok(q.order_by_asc(course::Column::Name).all(conn).await?)
}

/// Every venue by name.
#[tracing::instrument(level = "debug", skip_all, fields(include_inactive = include_inactive))]
pub async fn venues(
    conn: &impl ConnectionTrait,
    include_inactive: bool,
) -> AppResult<Vec<venue::Model>> {
    let mut q = venue::Entity::find();
    if !include_inactive {
        q = q.filter(venue::Column::IsActive.eq(true));
    }
    Ok(q.order_by_asc(venue::Column::Name).all(conn).await?)
}

/// Sessions matching a filter, soonest first (at most 500).
#[tracing::instrument(level = "debug", skip_all, fields(instructor_id = ?instructor))]
pub async fn sessions(
    conn: &impl ConnectionTrait,
    filter: &SessionFilter,
    instructor: Option<Uuid>,
) -> AppResult<Vec<course_session::Model>> {
    let mut q = course_session::Entity::find();
    if let Some(from) = filter.from {
        q = q.filter(course_session::Column::StartsAt.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(course_session::Column::StartsAt.lte(to));
    }
    if let Some(venue_id) = filter.venue_id {
        q = q.filter(course_session::Column::VenueId.eq(venue_id));
    }
    if let Some(course_type) = filter.course_type {
        let course_ids: Vec<Uuid> = course::Entity::find()
            .filter(course::Column::CourseType.eq(course_type))
            .all(conn)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        q = q.filter(course_session::Column::CourseId.is_in(course_ids));
    }
    if let Some(has_space) = filter.has_space {
        let booked = Expr::col(course_session::Column::BookedPlaces);
        let capacity = Expr::col(course_session::Column::Capacity);
        q = q.filter(if has_space {
            booked.lt(capacity)
        } else {
            booked.gte(capacity)
        });
    }
    if !filter.include_cancelled.unwrap_or(false) {
        q = q.filter(course_session::Column::Status.ne(SessionStatus::Cancelled));
    }
    if let Some(instructor) = instructor {
        q = q.filter(course_session::Column::InstructorId.eq(instructor));
    }
    Ok(q.order_by_asc(course_session::Column::StartsAt)
        .order_by_asc(course_session::Column::Id)
        .limit(500)
        .all(conn)
        .await?)
}

/// `createCourse`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), course_id = tracing::field::Empty))]
pub async fn create_course(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewCourse,
) -> AppResult<course::Model> {
    let now = Utc::now();
    let m = course::Model {
        id: Uuid::now_v7(),
        name: validate::required("name", &input.name, 255)?,
        description: validate::optional("description", input.description.as_deref(), 5000)?,
        course_type: input.course_type,
        duration_hours: positive("durationHours", input.duration_hours, 200)?,
        price_pence: price("price", input.price)?,
        max_capacity: positive("maxCapacity", input.max_capacity, 500)?,
        certification_validity_years: positive(
            "certificationValidityYears",
            input.certification_validity_years,
            10,
        )?,
        is_active: true,
        created_by_id: actor.id,
        updated_by_id: actor.id,
        created_at: now,
        updated_at: now,
    };
    tracing::Span::current().record("course_id", tracing::field::display(m.id));
    let txn = begin_write(db).await?;
    let created = insert_audited(&txn, actor, "course", m.into_active_model(), |c| c.id)
        .await
        .map_err(|e| bad_name_conflict(e, "course"))?;
    txn.commit().await?;
    Ok(created)
}

/// `updateCourse`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), course_id = %id))]
pub async fn update_course(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: CourseChanges,
) -> AppResult<course::Model> {
    let txn = begin_write(db).await?;
    let before = find_course(&txn, id).await?;
    let mut am = before.clone().into_active_model();
    if let Some(v) = input.name {
        am.name = Set(validate::required("name", &v, 255)?);
    }
    match input.description {
        Patch::Unchanged => {}
        Patch::Clear => am.description = Set(None),
        Patch::Set(v) => am.description = Set(validate::optional("description", Some(&v), 5000)?),
    }
    if let Some(v) = input.duration_hours {
        am.duration_hours = Set(positive("durationHours", v, 200)?);
    }
    if let Some(v) = input.price {
        am.price_pence = Set(price("price", v)?);
    }
    if let Some(v) = input.max_capacity {
        am.max_capacity = Set(positive("maxCapacity", v, 500)?);
    }
    if let Some(v) = input.certification_validity_years {
        am.certification_validity_years = Set(positive("certificationValidityYears", v, 10)?);
    }
    if let Some(v) = input.is_active {
        am.is_active = Set(v);
    }
    am.updated_by_id = Set(actor.id);
    am.updated_at = Set(Utc::now());
    let updated = am
        .update(&txn)
        .await
        .map_err(|e| bad_name_conflict(e.into(), "course"))?;
    audit::record(
        &txn,
        actor,
        "course.update",
        "course",
        Some(id),
        Some(audit::changes(Some(&before), Some(&updated))),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

fn facilities_json(v: Option<Vec<String>>) -> AppResult<Option<serde_json::Value>> {
    match v {
        None => Ok(None),
        Some(list) => {
            let cleaned = list
                .iter()
                .map(|f| validate::required("facilities", f, 100))
                .collect::<AppResult<Vec<_>>>()?;
            Ok(Some(json!(cleaned)))
        }
    }
}

/// `createVenue`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), venue_id = tracing::field::Empty))]
pub async fn create_venue(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewVenue,
) -> AppResult<venue::Model> {
    let now = Utc::now();
    let m = venue::Model {
        id: Uuid::now_v7(),
        name: validate::required("name", &input.name, 255)?,
        address_line_1: validate::optional("addressLine1", input.address_line1.as_deref(), 255)?,
        address_line_2: validate::optional("addressLine2", input.address_line2.as_deref(), 255)?,
        city: validate::optional("city", input.city.as_deref(), 100)?,
        postcode: validate::postcode("postcode", input.postcode.as_deref())?,
        capacity: input
            .capacity
            .map(|c| positive("capacity", c, 1000))
            .transpose()?,
        facilities: facilities_json(input.facilities)?,
        parking_info: validate::optional("parkingInfo", input.parking_info.as_deref(), 2000)?,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    tracing::Span::current().record("venue_id", tracing::field::display(m.id));
    let txn = begin_write(db).await?;
    let created = insert_audited(&txn, actor, "venue", m.into_active_model(), |v| v.id)
        .await
        .map_err(|e| bad_name_conflict(e, "venue"))?;
    txn.commit().await?;
    Ok(created)
}

fn opt_text(field: &str, v: Patch<String>, max: usize) -> AppResult<Option<Option<String>>> {
    Ok(match v {
        Patch::Unchanged => None,
        Patch::Clear => Some(None),
        Patch::Set(s) => Some(validate::optional(field, Some(&s), max)?),
    })
}

/// `updateVenue`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), venue_id = %id))]
pub async fn update_venue(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: VenueChanges,
) -> AppResult<venue::Model> {
    let txn = begin_write(db).await?;
    let before = find_venue(&txn, id).await?;
    let mut am = before.clone().into_active_model();
    if let Some(v) = input.name {
        am.name = Set(validate::required("name", &v, 255)?);
    }
    if let Some(v) = opt_text("addressLine1", input.address_line1, 255)? {
        am.address_line_1 = Set(v);
    }
    if let Some(v) = opt_text("addressLine2", input.address_line2, 255)? {
        am.address_line_2 = Set(v);
    }
    if let Some(v) = opt_text("city", input.city, 100)? {
        am.city = Set(v);
    }
    if let Some(v) = opt_text("postcode", input.postcode, 10)? {
        am.postcode = Set(v.map(|p| p.to_uppercase()));
    }
    match input.capacity {
        Patch::Unchanged => {}
        Patch::Clear => am.capacity = Set(None),
        Patch::Set(c) => am.capacity = Set(Some(positive("capacity", c, 1000)?)),
    }
    match input.facilities {
        Patch::Unchanged => {}
        Patch::Clear => am.facilities = Set(None),
        Patch::Set(f) => am.facilities = Set(facilities_json(Some(f))?),
    }
    if let Some(v) = opt_text("parkingInfo", input.parking_info, 2000)? {
        am.parking_info = Set(v);
    }
    if let Some(v) = input.is_active {
        am.is_active = Set(v);
    }
    am.updated_at = Set(Utc::now());
    let updated = am
        .update(&txn)
        .await
        .map_err(|e| bad_name_conflict(e.into(), "venue"))?;
    audit::record(
        &txn,
        actor,
        "venue.update",
        "venue",
        Some(id),
        Some(audit::changes(Some(&before), Some(&updated))),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

async fn check_instructor(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<()> {
    let found = user::Entity::find_by_id(id).one(conn).await?;
    match found {
        Some(u) if u.role == Role::Instructor => Ok(()),
        Some(_) => Err(AppError::bad_input(
            "instructorId",
            "that user is not an instructor",
        )),
        None => Err(AppError::bad_input("instructorId", "no such instructor")),
    }
}

fn check_times(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> AppResult<()> {
    if ends_at <= starts_at {
        return Err(AppError::bad_input(
            "endsAt",
            "endsAt must be after startsAt",
        ));
    }
    Ok(())
}

/// `createCourseSession`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), course_id = %input.course_id, venue_id = %input.venue_id, session_id = tracing::field::Empty))]
pub async fn create_session(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewSession,
) -> AppResult<course_session::Model> {
    check_times(input.starts_at, input.ends_at)?;
    let txn = begin_write(db).await?;
    let course = course::Entity::find_by_id(input.course_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::bad_input("courseId", "no such course"))?;
    if venue::Entity::find_by_id(input.venue_id)
        .one(&txn)
        .await?
        .is_none()
    {
        return Err(AppError::bad_input("venueId", "no such venue"));
    }
    if let Some(id) = input.instructor_id {
        check_instructor(&txn, id).await?;
    }
    let now = Utc::now();
    let m = course_session::Model {
        id: Uuid::now_v7(),
        course_id: course.id,
        venue_id: input.venue_id,
        instructor_id: input.instructor_id,
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        capacity: positive(
            "capacity",
            input.capacity.unwrap_or(course.max_capacity),
            500,
        )?,
        booked_places: 0,
        status: SessionStatus::Scheduled,
        cancelled_at: None,
        cancellation_reason: None,
        created_by_id: actor.id,
        updated_by_id: actor.id,
        created_at: now,
        updated_at: now,
    };
    tracing::Span::current().record("session_id", tracing::field::display(m.id));
    let created = insert_audited(&txn, actor, "course_session", m.into_active_model(), |s| {
        s.id
    })
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// `updateCourseSession`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), session_id = %id))]
pub async fn update_session(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: SessionChanges,
) -> AppResult<course_session::Model> {
    let txn = begin_write(db).await?;
    let before = find_session(&txn, id).await?;
    if before.status == SessionStatus::Cancelled {
        return Err(AppError::Conflict("this session is cancelled".into()));
    }
    let mut am = before.clone().into_active_model();
    if let Some(venue_id) = input.venue_id {
        if venue::Entity::find_by_id(venue_id)
            .one(&txn)
            .await?
            .is_none()
        {
            return Err(AppError::bad_input("venueId", "no such venue"));
        }
        am.venue_id = Set(venue_id);
    }
    match input.instructor_id {
        Patch::Unchanged => {}
        Patch::Clear => am.instructor_id = Set(None),
        Patch::Set(i) => {
            check_instructor(&txn, i).await?;
            am.instructor_id = Set(Some(i));
        }
    }
    let starts_at = input.starts_at.unwrap_or(before.starts_at);
    let ends_at = input.ends_at.unwrap_or(before.ends_at);
    check_times(starts_at, ends_at)?;
    am.starts_at = Set(starts_at);
    am.ends_at = Set(ends_at);
    if let Some(capacity) = input.capacity {
        let capacity = positive("capacity", capacity, 500)?;
        if capacity < before.booked_places {
            return Err(AppError::bad_input(
                "capacity",
                format!("{} places are already booked", before.booked_places),
            ));
        }
        am.capacity = Set(capacity);
    }
    if let Some(status) = input.status {
        if status == SessionStatus::Cancelled {
            return Err(AppError::bad_input(
                "status",
                "use cancelCourseSession to cancel a session",
            ));
        }
        am.status = Set(status);
    }
    am.updated_by_id = Set(actor.id);
    am.updated_at = Set(Utc::now());
    let updated = am.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "course_session.update",
        "course_session",
        Some(id),
        Some(audit::changes(Some(&before), Some(&updated))),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// `cancelCourseSession`: cancels the session and every live booking on it, freeing the
/// places and keeping each customer's booking count right. Refunds are requested separately.
/// A session's bookings that are not cancelled. On PostgreSQL they stay locked until
/// commit (in id order), so the session's cancellation takes its locks in the order every
/// writer keeps: booking, then customer, then session.
async fn live_bookings(
    conn: &impl ConnectionTrait,
    session_id: Uuid,
) -> AppResult<Vec<booking::Model>> {
    let mut q = booking::Entity::find()
        .filter(booking::Column::SessionId.eq(session_id))
        .filter(booking::Column::Status.ne(BookingStatus::Cancelled))
        .order_by_asc(booking::Column::Id);
    if conn.get_database_backend() == DbBackend::Postgres {
        // FOR NO KEY UPDATE: the lock `mark_cancelled`'s UPDATE takes, taken earlier.
        q = q.lock(LockType::NoKeyUpdate);
    }
    Ok(q.all(conn).await?)
}

/// On PostgreSQL, locks these customers' rows until commit, in id order. (SQLite write
/// transactions are already serial.)
async fn lock_customers(
    conn: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> AppResult<()> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Id.is_in(ids))
        .order_by_asc(user::Column::Id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), session_id = %id))]
pub async fn cancel_session(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> AppResult<course_session::Model> {
    let reason = validate::required("reason", reason, 2000)?;
    let txn = begin_write(db).await?;
    let before = find_session(&txn, id).await?;
    if before.status == SessionStatus::Cancelled {
        return Err(AppError::Conflict(
            "this session is already cancelled".into(),
        ));
    }
    let now = Utc::now();
    let cancel_reason = format!("Session cancelled: {reason}");
    let mut live = live_bookings(&txn, id).await?;
    // Writers lock the booking, then the customer, then the session (see `createBooking`
    // and `bookings::mark_cancelled`): the bookings are locked above, the customers next,
    // in id order, and the session's row last.
    lock_customers(&txn, live.iter().map(|b| b.user_id)).await?;
    for b in &live {
        crate::services::bookings::mark_cancelled(&txn, actor, b, &cancel_reason, now).await?;
    }
    // A booking committed after the list was read, but before the session's row was
    // locked, is cancelled too: none can follow once the row is held.
    if txn.get_database_backend() == DbBackend::Postgres {
        // FOR NO KEY UPDATE, like the UPDATEs on the row: bookings being written hold
        // the row FOR KEY SHARE (their foreign key), which FOR UPDATE would wait on.
        course_session::Entity::find_by_id(id)
            .lock(LockType::NoKeyUpdate)
            .one(&txn)
            .await?;
    }
    let late = live_bookings(&txn, id).await?;
    for b in &late {
        crate::services::bookings::mark_cancelled(&txn, actor, b, &cancel_reason, now).await?;
    }
    live.extend(late);
    let mut am = before.clone().into_active_model();
    am.status = Set(SessionStatus::Cancelled);
    am.cancelled_at = Set(Some(now));
    am.cancellation_reason = Set(Some(reason));
    am.booked_places = Set(0);
    am.updated_by_id = Set(actor.id);
    am.updated_at = Set(now);
    let updated = am.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "course_session.cancel",
        "course_session",
        Some(id),
        Some(audit::changes(Some(&before), Some(&updated))),
    )
    .await?;
    for b in &live {
        audit::log_activity(
            &txn,
            actor,
            Activity {
                user_id: b.user_id,
                activity_type: "booking_cancelled",
                description: Some(format!(
                    "Booking {} cancelled: the session was cancelled",
                    b.reference
                )),
                related: Some(("booking", b.id)),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(updated)
}

/// The course type of a course (for certificate numbers).
pub fn course_code(t: CourseType) -> &'static str {
    match t {
        CourseType::Efaw => "EFAW",
        CourseType::Faw => "FAW",
        CourseType::Paediatric => "PFA",
    }
}
