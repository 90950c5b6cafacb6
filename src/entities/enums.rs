//! Enum-like columns. Each enum is stored as a lowercase snake_case string
//! (`VARCHAR(20)`). The API layer mirrors each as a GraphQL enum of its own.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What a user is allowed to do in the system.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A customer who books courses.
    #[sea_orm(string_value = "customer")]
    Customer,
    /// Staff with full administrative access.
    #[sea_orm(string_value = "admin")]
    Admin,
    /// A trainer who delivers course sessions.
    #[sea_orm(string_value = "instructor")]
    Instructor,
}

/// Whether a user account is usable.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// The account is in normal use.
    #[sea_orm(string_value = "active")]
    Active,
    /// The account has been deactivated.
    #[sea_orm(string_value = "inactive")]
    Inactive,
    /// The account has been suspended and cannot sign in.
    #[sea_orm(string_value = "suspended")]
    Suspended,
}

/// Whether a customer books as an individual or on behalf of a company.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum CustomerType {
    /// A private individual.
    #[sea_orm(string_value = "individual")]
    Individual,
    /// A company or organisation.
    #[sea_orm(string_value = "corporate")]
    Corporate,
}

/// How a user prefers to be contacted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ContactMethod {
    /// By e-mail.
    #[sea_orm(string_value = "email")]
    Email,
    /// By phone call.
    #[sea_orm(string_value = "phone")]
    Phone,
    /// By SMS text message.
    #[sea_orm(string_value = "sms")]
    Sms,
}

/// The kind of note kept on a user's record.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum NoteType {
    /// A general note.
    #[sea_orm(string_value = "general")]
    General,
    /// A complaint made by or about the user.
    #[sea_orm(string_value = "complaint")]
    Complaint,
    /// A compliment from the user.
    #[sea_orm(string_value = "compliment")]
    Compliment,
    /// Medical information relevant to training.
    #[sea_orm(string_value = "medical")]
    Medical,
    /// A special requirement (access, dietary, learning, ...).
    #[sea_orm(string_value = "special_requirement")]
    SpecialRequirement,
}

/// The kind of first-aid course.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum CourseType {
    /// Emergency First Aid at Work.
    #[sea_orm(string_value = "efaw")]
    Efaw,
    /// First Aid at Work.
    #[sea_orm(string_value = "faw")]
    Faw,
    /// Paediatric First Aid.
    #[sea_orm(string_value = "paediatric")]
    Paediatric,
}

/// The lifecycle state of a course session.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Scheduled but not yet confirmed to run.
    #[sea_orm(string_value = "scheduled")]
    Scheduled,
    /// Confirmed to run.
    #[sea_orm(string_value = "confirmed")]
    Confirmed,
    /// Currently running.
    #[sea_orm(string_value = "in_progress")]
    InProgress,
    /// Finished.
    #[sea_orm(string_value = "completed")]
    Completed,
    /// Cancelled; will not run.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

/// The lifecycle state of a booking.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Created but not yet confirmed.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Confirmed; places are reserved.
    #[sea_orm(string_value = "confirmed")]
    Confirmed,
    /// Cancelled; places released.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    /// The course has been attended.
    #[sea_orm(string_value = "completed")]
    Completed,
    /// The attendees did not turn up.
    #[sea_orm(string_value = "no_show")]
    NoShow,
}

/// How much of a booking has been paid (or refunded).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Nothing has been paid yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Part of the total has been paid.
    #[sea_orm(string_value = "partially_paid")]
    PartiallyPaid,
    /// The total has been paid in full.
    #[sea_orm(string_value = "paid")]
    Paid,
    /// Part of the amount paid has been refunded.
    #[sea_orm(string_value = "partially_refunded")]
    PartiallyRefunded,
    /// The amount paid has been refunded in full.
    #[sea_orm(string_value = "refunded")]
    Refunded,
    /// Payment failed.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// The state of a single payment.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum PaymentRecordStatus {
    /// Initiated but not yet settled.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Money was received.
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// The payment failed.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// The payment has been refunded.
    #[sea_orm(string_value = "refunded")]
    Refunded,
}

/// How a payment was made.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Card payment taken directly.
    #[sea_orm(string_value = "card")]
    Card,
    /// Bank transfer.
    #[sea_orm(string_value = "bank_transfer")]
    BankTransfer,
    /// Cash.
    #[sea_orm(string_value = "cash")]
    Cash,
    /// Paid against an invoice.
    #[sea_orm(string_value = "invoice")]
    Invoice,
    /// Online payment through Stripe.
    #[sea_orm(string_value = "stripe")]
    Stripe,
    /// Any other method.
    #[sea_orm(string_value = "other")]
    Other,
    /// Paid in the old booking system, and imported from it (`rft-users import-legacy`).
    #[sea_orm(string_value = "legacy")]
    Legacy,
}

/// The lifecycle state of a refund.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Requested and awaiting a decision.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Approved but not yet processed.
    #[sea_orm(string_value = "approved")]
    Approved,
    /// Rejected; no money will be returned.
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// Being processed with the payment provider.
    #[sea_orm(string_value = "processing")]
    Processing,
    /// Money has been returned.
    #[sea_orm(string_value = "completed")]
    Completed,
    /// Processing failed.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// Whether a certificate is currently valid.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    /// Valid.
    #[sea_orm(string_value = "active")]
    Active,
    /// Past its expiry date.
    #[sea_orm(string_value = "expired")]
    Expired,
    /// Withdrawn before expiry.
    #[sea_orm(string_value = "revoked")]
    Revoked,
}

/// How an attendee attended a session.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum AttendanceStatus {
    /// Attended the whole session.
    #[sea_orm(string_value = "present")]
    Present,
    /// Did not attend.
    #[sea_orm(string_value = "absent")]
    Absent,
    /// Arrived late.
    #[sea_orm(string_value = "late")]
    Late,
    /// Attended only part of the session.
    #[sea_orm(string_value = "partial")]
    Partial,
    /// Absent with a valid reason.
    #[sea_orm(string_value = "excused")]
    Excused,
}

/// How far an import of legacy bookings got.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ImportJobStatus {
    /// Running, or stopped before the end (killed): running it again resumes it.
    #[sea_orm(string_value = "running")]
    Running,
    /// Every row of the file was accounted for.
    #[sea_orm(string_value = "finished")]
    Finished,
    /// Stopped by an error (the database went away, the file could not be read); running
    /// it again resumes it.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// What an import did with one row of its file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ImportRowStatus {
    /// The booking was created.
    #[sea_orm(string_value = "created")]
    Created,
    /// Imported before; the row has changed since, and the booking was updated.
    #[sea_orm(string_value = "updated")]
    Updated,
    /// Imported before, with the same content: nothing was written.
    #[sea_orm(string_value = "unchanged")]
    Unchanged,
    /// A duplicate of an earlier row of the same run: nothing was written.
    #[sea_orm(string_value = "skipped")]
    Skipped,
    /// Not imported; the reason says why.
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl ImportRowStatus {
    /// The name reports and the API use (`CREATED`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Updated => "UPDATED",
            Self::Unchanged => "UNCHANGED",
            Self::Skipped => "SKIPPED",
            Self::Failed => "FAILED",
        }
    }

    /// The status named `label` (any case).
    pub fn from_label(label: &str) -> Option<Self> {
        [
            Self::Created,
            Self::Updated,
            Self::Unchanged,
            Self::Skipped,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.label().eq_ignore_ascii_case(label.trim()))
    }
}

/// A customer's named segment, mapped from their RFM scores by
/// `services::insights::segments::RULES` at each refresh of the insights.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum CustomerSegment {
    /// Booked recently, often, and spent the most.
    #[sea_orm(string_value = "champion")]
    Champion,
    /// Books often and not long ago.
    #[sea_orm(string_value = "loyal")]
    Loyal,
    /// One booking, made recently.
    #[sea_orm(string_value = "new")]
    New,
    /// Booked recently, more than once, but not yet often.
    #[sea_orm(string_value = "promising")]
    Promising,
    /// Used to book often, but not lately.
    #[sea_orm(string_value = "at_risk")]
    AtRisk,
    /// Has not booked for a long time, and did not book often.
    #[sea_orm(string_value = "lapsed")]
    Lapsed,
    /// One booking, long ago.
    #[sea_orm(string_value = "one_off")]
    OneOff,
}

/// Where an email of the outbox (`email_logs`) stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    /// Queued: the mail worker sends it at `next_attempt_at` (now, or after a failed try).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Claimed by a worker, being sent; the claim expires at `locked_until`.
    #[sea_orm(string_value = "sending")]
    Sending,
    /// Accepted by the SMTP server.
    #[sea_orm(string_value = "sent")]
    Sent,
    /// Refused for good, or still failing after the last attempt allowed.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Kept in the outbox unsent: no SMTP server was configured.
    #[sea_orm(string_value = "not_sent")]
    NotSent,
}

/// A consent a person gives or withdraws, recorded in `consent_events`. Stored as
/// `VARCHAR(30)`: the medical one's name is longer than the usual 20.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(30))")]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Marketing email (`users.marketing_consent`).
    #[sea_orm(string_value = "marketing")]
    Marketing,
    /// SMS messages (`users.sms_consent`).
    #[sea_orm(string_value = "sms")]
    Sms,
    /// The newsletter (`users.newsletter_subscribed`).
    #[sea_orm(string_value = "newsletter")]
    Newsletter,
    /// Showing medical and dietary notes to the session's instructor
    /// (`users.share_medical_with_trainer`).
    #[sea_orm(string_value = "share_medical_with_trainer")]
    ShareMedicalWithTrainer,
}

/// Where a change of consent came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// A booking that created the customer (`createBooking`).
    #[sea_orm(string_value = "booking")]
    Booking,
    /// The customer themself, in the portal (`updateMyProfile`).
    #[sea_orm(string_value = "portal")]
    Portal,
    /// Staff (`createUser`, `updateUser`, a merge or its undo).
    #[sea_orm(string_value = "admin")]
    Admin,
    /// The legacy import, creating the customer.
    #[sea_orm(string_value = "import")]
    Import,
}

/// Whether a person wants renewal reminders.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ReminderFrequency {
    /// A reminder before a certificate expires (the default).
    #[sea_orm(string_value = "before_expiry")]
    BeforeExpiry,
    /// No renewal reminders.
    #[sea_orm(string_value = "never")]
    Never,
}
