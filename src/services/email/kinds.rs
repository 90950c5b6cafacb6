//! The kinds of email: what each template is given, its subject, and where the emails
//! caused by a booking or a certificate are queued from.

use sea_orm::{ConnectionTrait, EntityTrait};
use serde::Serialize;

use super::{EmailContent, Outbox, Recipient, long_date, long_time, queue};
use crate::entities::{booking, certificate, course, course_session, user, venue};
use crate::error::{AppError, AppResult};
use crate::services::customers::Contact;

/// `createBooking`'s confirmation, to the contact who booked.
#[derive(Debug, Serialize)]
pub struct BookingConfirmation {
    pub first_name: String,
    pub email: String,
    pub reference: String,
    pub course: String,
    /// The start, as shown (UK time is left to the reader: the date and time in UTC).
    pub starts_at: String,
    pub venue: String,
    pub attendees: i32,
    /// Pounds, two decimal places.
    pub total: String,
}

impl EmailContent for BookingConfirmation {
    const TEMPLATE: &'static str = "booking_confirmation";
    fn subject(&self) -> String {
        format!("Booking confirmed: {} ({})", self.course, self.reference)
    }
}

/// `issueCertificates`: a certificate is ready, to its holder (or the customer who booked
/// for them).
#[derive(Debug, Serialize)]
pub struct CertificateReady {
    pub first_name: String,
    pub email: String,
    pub holder_name: String,
    pub course: String,
    pub certificate_number: String,
    pub issued_on: String,
    pub expires_on: String,
    /// The booking's reference, which the portal asks for.
    pub reference: String,
}

impl EmailContent for CertificateReady {
    const TEMPLATE: &'static str = "certificate_ready";
    fn subject(&self) -> String {
        format!(
            "Your {} certificate {} is ready",
            self.course, self.certificate_number
        )
    }
}

/// A certificate expires soon and its holder has not booked again ([`reminders`]).
#[derive(Debug, Serialize)]
pub struct RenewalReminder {
    pub first_name: String,
    pub holder_name: String,
    pub course: String,
    pub certificate_number: String,
    pub expires_on: String,
    pub days_left: i64,
}

impl EmailContent for RenewalReminder {
    const TEMPLATE: &'static str = "renewal_reminder";
    fn subject(&self) -> String {
        format!(
            "Your {} certificate expires on {}",
            self.course, self.expires_on
        )
    }
}

/// Queues `createBooking`'s confirmation to the contact who booked (the address they gave;
/// the row is the customer's). Runs in the booking's transaction.
pub async fn booking_confirmation(
    conn: &impl ConnectionTrait,
    outbox: &Outbox,
    contact: &Contact,
    booking: &booking::Model,
    course: &course::Model,
    session: &course_session::Model,
) -> AppResult<()> {
    let venue = venue::Entity::find_by_id(session.venue_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("venue"))?;
    let place = [
        venue.address_line_1.as_deref(),
        venue.city.as_deref(),
        venue.postcode.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.trim().is_empty());
    let venue = std::iter::once(venue.name.as_str())
        .chain(place)
        .collect::<Vec<_>>()
        .join(", ");
    let content = BookingConfirmation {
        first_name: contact.first_name.clone(),
        email: contact.email.clone(),
        reference: booking.reference.clone(),
        course: course.name.clone(),
        starts_at: long_time(session.starts_at),
        venue,
        attendees: booking.number_of_attendees,
        total: crate::money::from_pence(booking.total_amount_pence).to_string(),
    };
    let to = Recipient {
        user_id: booking.user_id,
        email: &contact.email,
        related: Some(("booking", booking.id)),
        dedupe_key: None,
    };
    queue(conn, outbox, to, &content).await?;
    Ok(())
}

/// Queues a new certificate's email to its holder's account (the attendee's own, or the
/// customer who booked for them). Runs in `issueCertificates`' transaction.
pub async fn certificate_ready(
    conn: &impl ConnectionTrait,
    outbox: &Outbox,
    cert: &certificate::Model,
    course: &course::Model,
    booking: &booking::Model,
) -> AppResult<()> {
    let holder = user::Entity::find_by_id(cert.user_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let content = CertificateReady {
        first_name: holder.first_name.clone(),
        email: holder.email.clone(),
        holder_name: cert.holder_name.clone(),
        course: course.name.clone(),
        certificate_number: cert.certificate_number.clone(),
        issued_on: long_date(cert.issued_on),
        expires_on: long_date(cert.expires_on),
        reference: booking.reference.clone(),
    };
    let to = Recipient {
        user_id: holder.id,
        email: &holder.email,
        related: Some(("certificate", cert.id)),
        dedupe_key: None,
    };
    queue(conn, outbox, to, &content).await?;
    Ok(())
}
