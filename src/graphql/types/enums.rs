//! The entity enums as GraphQL enums. Each mirrors one enum in `crate::entities::enums`
//! (async-graphql's `remote` derive writes the `From` conversions both ways), so the
//! entities stay free of GraphQL. Values render in SCREAMING_SNAKE_CASE.

/// What a user is allowed to do in the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::Role")]
pub enum Role {
    /// A customer who books courses.
    Customer,
    /// Staff with full administrative access.
    Admin,
    /// A trainer who delivers course sessions.
    Instructor,
}

/// Whether a user account is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::UserStatus")]
pub enum UserStatus {
    /// The account is in normal use.
    Active,
    /// The account has been deactivated.
    Inactive,
    /// The account has been suspended and cannot sign in.
    Suspended,
}

/// Whether a customer books as an individual or on behalf of a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::CustomerType")]
pub enum CustomerType {
    /// A private individual.
    Individual,
    /// A company or organisation.
    Corporate,
}

/// How a user prefers to be contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::ContactMethod")]
pub enum ContactMethod {
    /// By e-mail.
    Email,
    /// By phone call.
    Phone,
    /// By SMS text message.
    Sms,
}

/// Whether a person wants renewal reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::ReminderFrequency")]
pub enum ReminderFrequency {
    /// A reminder before a certificate expires (the default).
    BeforeExpiry,
    /// No renewal reminders.
    Never,
}

/// A consent a person gives or withdraws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::ConsentKind")]
pub enum ConsentKind {
    /// Marketing email.
    Marketing,
    /// SMS messages.
    Sms,
    /// The newsletter.
    Newsletter,
    /// Showing medical and dietary notes to the session's instructor.
    ShareMedicalWithTrainer,
}

/// Where a change of consent came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::ConsentSource")]
pub enum ConsentSource {
    /// The booking that created the customer.
    Booking,
    /// The customer themself, in the portal.
    Portal,
    /// Staff: creating or changing the profile, or merging it (or undoing a merge).
    Admin,
    /// The legacy import, creating the customer.
    Import,
}

/// The kind of note kept on a user's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::NoteType")]
pub enum NoteType {
    /// A general note.
    General,
    /// A complaint made by or about the user.
    Complaint,
    /// A compliment from the user.
    Compliment,
    /// Medical information relevant to training.
    Medical,
    /// A special requirement (access, dietary, learning, ...).
    SpecialRequirement,
}

/// The kind of first-aid course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::CourseType")]
pub enum CourseType {
    /// Emergency First Aid at Work.
    Efaw,
    /// First Aid at Work.
    Faw,
    /// Paediatric First Aid.
    Paediatric,
}

/// The lifecycle state of a course session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::SessionStatus")]
pub enum SessionStatus {
    /// Scheduled but not yet confirmed to run.
    Scheduled,
    /// Confirmed to run.
    Confirmed,
    /// Currently running.
    InProgress,
    /// Finished.
    Completed,
    /// Cancelled; will not run.
    Cancelled,
}

/// The lifecycle state of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::BookingStatus")]
pub enum BookingStatus {
    /// Created but not yet confirmed.
    Pending,
    /// Confirmed; places are reserved.
    Confirmed,
    /// Cancelled; places released.
    Cancelled,
    /// The course has been attended.
    Completed,
    /// The attendees did not turn up.
    NoShow,
}

/// How much of a booking has been paid (or refunded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::PaymentStatus")]
pub enum PaymentStatus {
    /// Nothing has been paid yet.
    Pending,
    /// Part of the total has been paid.
    PartiallyPaid,
    /// The total has been paid in full.
    Paid,
    /// Part of the amount paid has been refunded.
    PartiallyRefunded,
    /// The amount paid has been refunded in full.
    Refunded,
    /// Payment failed.
    Failed,
}

/// The state of a single payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::PaymentRecordStatus")]
pub enum PaymentRecordStatus {
    /// Initiated but not yet settled.
    Pending,
    /// Money was received.
    Succeeded,
    /// The payment failed.
    Failed,
    /// The payment has been refunded.
    Refunded,
}

/// How a payment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::PaymentMethod")]
pub enum PaymentMethod {
    /// Card payment taken directly.
    Card,
    /// Bank transfer.
    BankTransfer,
    /// Cash.
    Cash,
    /// Paid against an invoice.
    Invoice,
    /// Online payment through Stripe.
    Stripe,
    /// Any other method.
    Other,
    /// Paid in the old booking system and imported from it (`rft-users import-legacy`);
    /// `recordPayment` does not accept it.
    Legacy,
}

/// The lifecycle state of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::RefundStatus")]
pub enum RefundStatus {
    /// Requested and awaiting a decision.
    Pending,
    /// Approved but not yet processed.
    Approved,
    /// Rejected; no money will be returned.
    Rejected,
    /// Being processed with the payment provider.
    Processing,
    /// Money has been returned.
    Completed,
    /// Processing failed.
    Failed,
}

/// Whether a certificate is currently valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::CertificateStatus")]
pub enum CertificateStatus {
    /// Valid.
    Active,
    /// Past its expiry date.
    Expired,
    /// Withdrawn before expiry.
    Revoked,
}

/// How an attendee attended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::AttendanceStatus")]
pub enum AttendanceStatus {
    /// Attended the whole session.
    Present,
    /// Did not attend.
    Absent,
    /// Arrived late.
    Late,
    /// Attended only part of the session.
    Partial,
    /// Absent with a valid reason.
    Excused,
}

/// How far an import of legacy bookings got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::ImportJobStatus")]
pub enum ImportJobStatus {
    /// Running, or stopped before the end (killed): running the same file again resumes it.
    Running,
    /// Every row of the file was accounted for.
    Finished,
    /// Stopped by an error (see `error`); running the same file again resumes it.
    Failed,
}

/// What an import did with one row of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::ImportRowStatus")]
pub enum ImportRowStatus {
    /// The booking was created.
    Created,
    /// Imported before; the row has changed since, and the booking was updated.
    Updated,
    /// Imported before, with the same content: nothing was written.
    Unchanged,
    /// A duplicate of an earlier row of the same run: nothing was written.
    Skipped,
    /// Not imported; `reason` says why.
    Failed,
}

/// A customer's named segment, from their recency, frequency and monetary (RFM) scores at
/// the last refresh of the insights (the README's segment table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::CustomerSegment")]
pub enum CustomerSegment {
    /// Booked recently, often, and spent the most.
    Champion,
    /// Books often and not long ago.
    Loyal,
    /// One booking, made recently.
    New,
    /// Booked recently, more than once, but not yet often.
    Promising,
    /// Used to book often, but not lately.
    AtRisk,
    /// Has not booked for a long time, and did not book often.
    Lapsed,
    /// One booking, long ago.
    OneOff,
}

/// Where an email of the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::entities::enums::EmailStatus")]
pub enum EmailStatus {
    /// Queued: the mail worker sends it at `nextAttemptAt` (now, or after a failed try).
    Pending,
    /// Being sent by a mail worker.
    Sending,
    /// Accepted by the SMTP server.
    Sent,
    /// Refused for good, or still failing after the last attempt allowed (`lastError`).
    Failed,
    /// Kept in the outbox unsent: no SMTP server is configured (`RFT_SMTP_URL`).
    NotSent,
}
