//! `verifyCertificate`: what anyone holding a certificate number may learn about it, for
//! an employer checking a certificate. The status, the course, the dates and the holder's
//! name with the first name reduced to its initial; never an email or an id.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::enums::{CertificateStatus, CourseType};
use crate::entities::{booking_attendee, certificate, course};
use crate::error::AppResult;

/// The longest certificate number there is (the column's width).
const NUMBER_MAX_CHARS: usize = 30;

/// Whether a certificate can be relied on today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Issued, not revoked, and not past its expiry date.
    Valid,
    /// Past its expiry date.
    Expired,
    /// Withdrawn.
    Revoked,
}

/// What the public learns of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub certificate_number: String,
    pub validity: Validity,
    pub course_name: String,
    pub course_type: CourseType,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    /// "J. Smith".
    pub holder: String,
}

/// The certificate with this number (case and surrounding spaces ignored), as the public
/// sees it on `today`; `None` when there is none.
#[tracing::instrument(skip_all)]
pub async fn verify(
    conn: &impl ConnectionTrait,
    number: &str,
    today: NaiveDate,
) -> AppResult<Option<Verified>> {
    let number = number.trim().to_uppercase();
    if number.is_empty() || number.chars().count() > NUMBER_MAX_CHARS {
        return Ok(None);
    }
    let Some((cert, Some(course))) = certificate::Entity::find()
        .filter(certificate::Column::CertificateNumber.eq(number.as_str()))
        .find_also_related(course::Entity)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let attendee = match cert.attendee_id {
        Some(id) => booking_attendee::Entity::find_by_id(id).one(conn).await?,
        None => None,
    };
    let validity = match cert.status {
        CertificateStatus::Revoked => Validity::Revoked,
        CertificateStatus::Expired => Validity::Expired,
        CertificateStatus::Active if cert.expires_on < today => Validity::Expired,
        CertificateStatus::Active => Validity::Valid,
    };
    let holder = initialled(
        &cert.holder_name,
        attendee
            .as_ref()
            .map(|a| (a.first_name.as_str(), a.last_name.as_str())),
    );
    Ok(Some(Verified {
        certificate_number: cert.certificate_number,
        validity,
        course_name: course.name,
        course_type: course.course_type,
        issued_on: cert.issued_on,
        expires_on: cert.expires_on,
        holder,
    }))
}

/// The holder's name with the first name as its initial: "Jo Bloggs" is "J. Bloggs". The
/// attendee's own first and last names say where the first name ends ("Mary Ann" of "Mary
/// Ann Smith") when they still spell the name on the certificate; otherwise the first word
/// is taken as the first name.
pub fn initialled(holder_name: &str, attendee: Option<(&str, &str)>) -> String {
    let holder_name = holder_name.trim();
    let (first, last) = attendee
        .map(|(f, l)| (f.trim(), l.trim()))
        .filter(|(f, l)| !f.is_empty() && format!("{f} {l}") == holder_name)
        .or_else(|| holder_name.split_once(char::is_whitespace))
        .unwrap_or((holder_name, ""));
    let initial: String = first.chars().take(1).flat_map(char::to_uppercase).collect();
    match (initial.is_empty(), last.trim().is_empty()) {
        (true, _) => last.trim().to_string(),
        (false, true) => format!("{initial}."),
        (false, false) => format!("{initial}. {}", last.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::initialled;

    #[test]
    fn the_first_name_becomes_its_initial() {
        assert_eq!(initialled("Jo Bloggs", None), "J. Bloggs");
        assert_eq!(initialled("siân  ap Dafydd", None), "S. ap Dafydd");
        assert_eq!(
            initialled("Mary Ann Smith", Some(("Mary Ann", "Smith"))),
            "M. Smith"
        );
        // A renamed attendee no longer spells the certificate's name: its first word counts.
        assert_eq!(
            initialled("Mary Ann Smith", Some(("Mary", "Jones"))),
            "M. Ann Smith"
        );
        assert_eq!(initialled("Cher", None), "C.");
    }
}
