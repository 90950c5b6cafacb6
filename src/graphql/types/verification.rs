//! What `verifyCertificate` tells anyone holding a certificate number: enough for an
//! employer to rely on it, nothing that identifies or reaches the holder.

use async_graphql::{Enum, Object};
use chrono::NaiveDate;

use super::enums::CourseType;
use crate::services::certificates::verify::{Validity, Verified};

/// Whether a certificate can be relied on today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum CertificateValidity {
    /// Issued, not revoked, and not past its expiry date.
    Valid,
    /// Past its expiry date.
    Expired,
    /// Withdrawn by the training provider.
    Revoked,
    /// No certificate has this number.
    NotFound,
}

impl From<Validity> for CertificateValidity {
    fn from(v: Validity) -> Self {
        match v {
            Validity::Valid => Self::Valid,
            Validity::Expired => Self::Expired,
            Validity::Revoked => Self::Revoked,
        }
    }
}

/// The public check of a certificate number. Every field but `status` and
/// `certificateNumber` is null when the status is `NOT_FOUND`.
pub struct CertificateVerification {
    /// The number asked about, as given.
    pub number: String,
    pub found: Option<Verified>,
}

/// The public check of a certificate number. Every field but `status` and
/// `certificateNumber` is null when the status is `NOT_FOUND`.
#[Object]
impl CertificateVerification {
    /// The certificate's number (as asked for, when there is no such certificate).
    async fn certificate_number(&self) -> &str {
        self.found
            .as_ref()
            .map_or(self.number.as_str(), |v| v.certificate_number.as_str())
    }
    /// Valid, expired, revoked, or not found.
    async fn status(&self) -> CertificateValidity {
        self.found
            .as_ref()
            .map_or(CertificateValidity::NotFound, |v| v.validity.into())
    }
    /// The holder's name with the first name as its initial ("J. Smith").
    async fn holder_name(&self) -> Option<&str> {
        self.found.as_ref().map(|v| v.holder.as_str())
    }
    /// The course certified.
    async fn course_name(&self) -> Option<&str> {
        self.found.as_ref().map(|v| v.course_name.as_str())
    }
    /// The kind of course certified.
    async fn course_type(&self) -> Option<CourseType> {
        self.found.as_ref().map(|v| v.course_type.into())
    }
    /// The day it was issued.
    async fn issued_on(&self) -> Option<NaiveDate> {
        self.found.as_ref().map(|v| v.issued_on)
    }
    /// The day it expires (it is valid up to and including this day).
    async fn expires_on(&self) -> Option<NaiveDate> {
        self.found.as_ref().map(|v| v.expires_on)
    }
}
