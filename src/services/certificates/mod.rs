//! Certificates: issued to attendees who were present (or late) and passed, numbered
//! uniquely, valid for the course's validity; a renewal taken before the old certificate
//! expires runs on from the old expiry date. Issuing twice issues nothing new.
//!
//! The certificate as a PDF is in `pdf`, who may download it in `download`, and what the
//! public may check of it in `verify`.

pub mod download;
pub mod pdf;
pub mod verify;

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set, sea_query::Expr,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::begin_write;
use crate::entities::enums::{AttendanceStatus, CertificateStatus, SessionStatus};
use crate::entities::{attendance_record, booking, booking_attendee, certificate, course};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Activity, Actor};
use crate::services::demo::add_years;
use crate::services::email::{self, Outbox};
use crate::services::{attendance, catalogue, validate};

fn certificate_number(code: &str, on: NaiveDate) -> String {
    crate::services::references::certificate_number(code, &on.format("%Y").to_string())
}

/// When a new certificate for this holder and course should expire: the validity from
/// today, or from the expiry of a still-valid earlier certificate (an early renewal).
async fn expiry_for(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    course: &course::Model,
    holder_name: &str,
    issued_on: NaiveDate,
) -> AppResult<NaiveDate> {
    let current = certificate::Entity::find()
        .filter(certificate::Column::UserId.eq(user_id))
        .filter(certificate::Column::CourseId.eq(course.id))
        .filter(certificate::Column::Status.eq(CertificateStatus::Active))
        .filter(certificate::Column::ExpiresOn.gt(issued_on))
        .order_by_desc(certificate::Column::ExpiresOn)
        .all(conn)
        .await?
        .into_iter()
        .find(|c| c.holder_name.to_lowercase() == holder_name.to_lowercase());
    let from = current.map_or(issued_on, |c| c.expires_on);
    Ok(add_years(from, course.certification_validity_years))
}

/// `issueCertificates`: returns the certificates newly issued. Each new certificate's
/// email is queued in the same transaction (the mail worker is woken after the commit).
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), %session_id))]
pub async fn issue_for_session(
    db: &DatabaseConnection,
    outbox: &Outbox,
    principal: &Principal,
    actor: &Actor,
    session_id: Uuid,
) -> AppResult<Vec<certificate::Model>> {
    let txn = begin_write(db).await?;
    let session = catalogue::find_session(&txn, session_id).await?;
    attendance::ensure_can_run(principal, &session)?;
    if session.status == SessionStatus::Cancelled {
        return Err(AppError::Conflict("this session was cancelled".into()));
    }
    let course = catalogue::find_course(&txn, session.course_id).await?;
    let passed = attendance_record::Entity::find()
        .filter(attendance_record::Column::SessionId.eq(session_id))
        .filter(
            attendance_record::Column::Status
                .is_in([AttendanceStatus::Present, AttendanceStatus::Late]),
        )
        .filter(attendance_record::Column::PassedAssessment.eq(true))
        .order_by_asc(attendance_record::Column::Id)
        .all(&txn)
        .await?;
    let issued_on = Utc::now().date_naive();
    let now = Utc::now();
    let mut issued = Vec::new();
    for rec in passed {
        let already = certificate::Entity::find()
            .filter(certificate::Column::AttendeeId.eq(rec.attendee_id))
            .one(&txn)
            .await?;
        if already.is_some() {
            continue;
        }
        let Some((attendee, Some(bk))) = booking_attendee::Entity::find_by_id(rec.attendee_id)
            .find_also_related(booking::Entity)
            .one(&txn)
            .await?
        else {
            continue;
        };
        let holder_user = attendee.user_id.unwrap_or(bk.user_id);
        let holder_name = format!("{} {}", attendee.first_name, attendee.last_name);
        let expires_on = expiry_for(&txn, holder_user, &course, &holder_name, issued_on).await?;
        let cert = certificate::Model {
            id: Uuid::now_v7(),
            booking_id: bk.id,
            attendee_id: Some(attendee.id),
            user_id: holder_user,
            course_id: course.id,
            session_id: Some(session_id),
            certificate_number: certificate_number(
                catalogue::course_code(course.course_type),
                issued_on,
            ),
            holder_name: holder_name.clone(),
            issued_on,
            expires_on,
            status: CertificateStatus::Active,
            revoked_at: None,
            revocation_reason: None,
            issued_by_id: actor.id,
            pdf_url: None,
            created_at: now,
            updated_at: now,
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await?;
        booking::Entity::update_many()
            .col_expr(booking::Column::CertificateIssued, Expr::value(true))
            .filter(booking::Column::Id.eq(bk.id))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            actor,
            "certificate.issue",
            "certificate",
            Some(cert.id),
            Some(audit::changes(None, Some(&cert))),
        )
        .await?;
        audit::log_activity(
            &txn,
            actor,
            Activity {
                user_id: holder_user,
                activity_type: "certificate_issued",
                description: Some(format!(
                    "{} certificate {} issued to {holder_name}, valid until {}",
                    course.name, cert.certificate_number, cert.expires_on
                )),
                related: Some(("certificate", cert.id)),
            },
        )
        .await?;
        email::kinds::certificate_ready(&txn, outbox, &cert, &course, &bk).await?;
        issued.push(cert);
    }
    txn.commit().await?;
    if !issued.is_empty() {
        outbox.wake();
    }
    Ok(issued)
}

/// `revokeCertificate`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), certificate_id = %id))]
pub async fn revoke(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> AppResult<certificate::Model> {
    let reason = validate::required("reason", reason, 2000)?;
    let txn = begin_write(db).await?;
    let before = certificate::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("certificate"))?;
    if before.status == CertificateStatus::Revoked {
        return Err(AppError::Conflict(
            "this certificate is already revoked".into(),
        ));
    }
    let now = Utc::now();
    let mut am = before.clone().into_active_model();
    am.status = Set(CertificateStatus::Revoked);
    am.revoked_at = Set(Some(now));
    am.revocation_reason = Set(Some(reason.clone()));
    am.updated_at = Set(now);
    let after = am.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "certificate.revoke",
        "certificate",
        Some(id),
        Some(audit::changes(Some(&before), Some(&after))),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: after.user_id,
            activity_type: "certificate_revoked",
            description: Some(format!(
                "Certificate {} revoked: {reason}",
                after.certificate_number
            )),
            related: Some(("certificate", id)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}
