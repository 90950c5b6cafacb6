//! `GET /certificates/{id}.pdf`: who may download a certificate, and the download itself,
//! which is logged on the holder's activity (`certificate_downloaded`).

use sea_orm::{DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::pdf::{self, CertificateDocument};
use crate::auth::Caller;
use crate::db::begin_write;
use crate::entities::enums::{CertificateStatus, Role};
use crate::entities::{certificate, course};
use crate::error::AppResult;
use crate::services::audit::{self, Activity, Actor};

/// Whether a caller may have a certificate's PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Refuse(Refusal),
}

/// Why a download is refused; each is one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token, or one that is invalid or expired (401).
    Unauthenticated,
    /// Staff who may not have certificates (403).
    Forbidden,
    /// No such certificate, or another customer's: they are not told it exists (404).
    NotFound,
    /// The certificate was revoked (410).
    Revoked,
}

/// Who may download a certificate: an admin, or its holder (logged in, or through a portal
/// session). Instructors may not (they see
/// no customer's certificates in the API either); another customer is told it does not
/// exist.
pub fn may_download(caller: &Caller, certificate: &certificate::Model) -> Decision {
    match caller {
        Caller::Anonymous | Caller::InvalidToken => Decision::Refuse(Refusal::Unauthenticated),
        Caller::User(p) => match p.role {
            Role::Admin => Decision::Allow,
            Role::Customer if p.user_id == certificate.user_id => Decision::Allow,
            Role::Customer => Decision::Refuse(Refusal::NotFound),
            Role::Instructor => Decision::Refuse(Refusal::Forbidden),
        },
        // A portal session: the same rule as a customer's login.
        Caller::Customer(c) if c.user_id == certificate.user_id => Decision::Allow,
        Caller::Customer(_) => Decision::Refuse(Refusal::NotFound),
    }
}

/// A rendered certificate.
#[derive(Debug, Clone)]
pub struct Download {
    pub certificate_number: String,
    pub pdf: Vec<u8>,
}

/// The certificate's PDF for `caller`, with a `certificate_downloaded` activity on the
/// holder; or why not. A revoked certificate is refused only to callers who may see it.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), certificate_id = %id))]
pub async fn download(
    db: &DatabaseConnection,
    caller: &Caller,
    actor: &Actor,
    id: Uuid,
    public_url: &str,
) -> AppResult<Result<Download, Refusal>> {
    let Some((cert, Some(course))) = certificate::Entity::find_by_id(id)
        .find_also_related(course::Entity)
        .one(db)
        .await?
    else {
        return Ok(Err(Refusal::NotFound));
    };
    if let Decision::Refuse(refusal) = may_download(caller, &cert) {
        return Ok(Err(refusal));
    }
    if cert.status == CertificateStatus::Revoked {
        return Ok(Err(Refusal::Revoked));
    }
    let pdf = pdf::render(&document(&cert, &course, public_url));
    let txn = begin_write(db).await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: cert.user_id,
            activity_type: "certificate_downloaded",
            description: Some(format!(
                "Certificate {} downloaded as a PDF",
                cert.certificate_number
            )),
            related: Some(("certificate", cert.id)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(Download {
        certificate_number: cert.certificate_number,
        pdf,
    }))
}

/// What the PDF of a certificate shows.
pub fn document(
    cert: &certificate::Model,
    course: &course::Model,
    public_url: &str,
) -> CertificateDocument {
    CertificateDocument {
        holder_name: cert.holder_name.clone(),
        course_name: course.name.clone(),
        course_type: course.course_type,
        issued_on: cert.issued_on,
        expires_on: cert.expires_on,
        certificate_number: cert.certificate_number.clone(),
        verification_url: pdf::verification_url(public_url, &cert.certificate_number),
    }
}
