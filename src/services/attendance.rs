//! The instructor's day: who is attending a session, marking attendance, session notes.
//! Instructors act only on sessions they teach; admins on every session.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::begin_write;
use crate::entities::encrypted;
use crate::entities::enums::{AttendanceStatus, BookingStatus, Role};
use crate::entities::{attendance_record, booking, booking_attendee, course_session, session_note};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::{catalogue, validate};

/// Fails with FORBIDDEN unless the principal is an admin or teaches the session.
pub fn ensure_can_run(principal: &Principal, session: &course_session::Model) -> AppResult<()> {
    match principal.role {
        Role::Admin => Ok(()),
        Role::Instructor if session.instructor_id == Some(principal.user_id) => Ok(()),
        _ => Err(AppError::Forbidden),
    }
}

/// The attendees of a session's live bookings, with their bookings, in booking order.
#[tracing::instrument(level = "debug", skip_all, fields(%session_id))]
pub async fn attendees(
    conn: &impl ConnectionTrait,
    session_id: Uuid,
) -> AppResult<Vec<(booking_attendee::Model, booking::Model)>> {
    let rows = booking_attendee::Entity::find()
        .find_also_related(booking::Entity)
        .filter(booking::Column::SessionId.eq(session_id))
        .filter(booking::Column::Status.ne(BookingStatus::Cancelled))
        .order_by_asc(booking_attendee::Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(a, b)| b.map(|b| (a, b)))
        .collect())
}

/// One attendee's attendance, as marked by the instructor.
pub struct Marking {
    pub session_id: Uuid,
    pub attendee_id: Uuid,
    pub status: AttendanceStatus,
    pub passed_assessment: Option<bool>,
    pub feedback: Option<String>,
}

/// `markAttendance`: records (or corrects) one attendee's attendance.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), session_id = %marking.session_id, attendee_id = %marking.attendee_id))]
pub async fn mark(
    db: &DatabaseConnection,
    principal: &Principal,
    actor: &Actor,
    marking: Marking,
) -> AppResult<attendance_record::Model> {
    let Marking {
        session_id,
        attendee_id,
        status,
        passed_assessment,
        feedback,
    } = marking;
    let feedback = validate::optional("feedback", feedback.as_deref(), 5000)?;
    let txn = begin_write(db).await?;
    let session = catalogue::find_session(&txn, session_id).await?;
    ensure_can_run(principal, &session)?;
    let (attendee, bk) = booking_attendee::Entity::find_by_id(attendee_id)
        .find_also_related(booking::Entity)
        .one(&txn)
        .await?
        .and_then(|(a, b)| b.map(|b| (a, b)))
        .filter(|(_, b)| b.session_id == session_id && b.status != BookingStatus::Cancelled)
        .ok_or(AppError::NotFound("attendee on this session"))?;
    let now = Utc::now();
    let eligible = matches!(status, AttendanceStatus::Present | AttendanceStatus::Late)
        && passed_assessment == Some(true);
    let existing = attendance_record::Entity::find()
        .filter(attendance_record::Column::AttendeeId.eq(attendee.id))
        .one(&txn)
        .await?;
    let (before, after) = match existing {
        Some(rec) => {
            let mut am = rec.clone().into_active_model();
            am.status = Set(status);
            am.passed_assessment = Set(passed_assessment);
            am.certificate_eligible = Set(eligible);
            am.trainer_feedback = Set(encrypted::seal(feedback));
            am.marked_by_id = Set(actor.id);
            am.updated_at = Set(now);
            (Some(rec), am.update(&txn).await?)
        }
        None => {
            let rec = attendance_record::Model {
                id: Uuid::now_v7(),
                session_id,
                booking_id: bk.id,
                attendee_id: attendee.id,
                user_id: attendee.user_id,
                marked_by_id: actor.id,
                status,
                check_in_at: matches!(
                    status,
                    AttendanceStatus::Present | AttendanceStatus::Late | AttendanceStatus::Partial
                )
                .then_some(now),
                check_out_at: None,
                passed_assessment,
                certificate_eligible: eligible,
                participation_score: None,
                trainer_feedback: encrypted::seal(feedback),
                created_at: now,
                updated_at: now,
            };
            (
                None,
                rec.into_active_model().reset_all().insert(&txn).await?,
            )
        }
    };
    audit::record(
        &txn,
        actor,
        "attendance.mark",
        "attendance_record",
        Some(after.id),
        Some(audit::changes(before.as_ref(), Some(&after))),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// `addSessionNote`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), %session_id))]
pub async fn add_note(
    db: &DatabaseConnection,
    principal: &Principal,
    actor: &Actor,
    session_id: Uuid,
    text: &str,
) -> AppResult<session_note::Model> {
    let content = validate::required("text", text, 5000)?;
    let txn = begin_write(db).await?;
    let session = catalogue::find_session(&txn, session_id).await?;
    ensure_can_run(principal, &session)?;
    let note = session_note::Model {
        id: Uuid::now_v7(),
        session_id,
        author_id: actor.id,
        content,
        created_at: Utc::now(),
    }
    .into_active_model()
    .reset_all()
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "session_note.create",
        "session_note",
        Some(note.id),
        Some(audit::changes(None, Some(&note))),
    )
    .await?;
    txn.commit().await?;
    Ok(note)
}

/// A session's notes, oldest first.
#[tracing::instrument(level = "debug", skip_all, fields(%session_id))]
pub async fn notes(
    conn: &impl ConnectionTrait,
    session_id: Uuid,
) -> AppResult<Vec<session_note::Model>> {
    Ok(session_note::Entity::find()
        .filter(session_note::Column::SessionId.eq(session_id))
        .order_by_asc(session_note::Column::Id)
        .all(conn)
        .await?)
}
