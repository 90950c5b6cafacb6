//! Emails, through the outbox (`email_logs`): each email is rendered and written in the
//! transaction of the change that causes it ([`queue`]), and sent afterwards by the mail
//! worker (`crate::mailer`), the only sender (docs/ARCHITECTURE.md, "The outbox").
//!
//! The kinds: a booking confirmation (`createBooking`), a certificate ready
//! (`issueCertificates`), a renewal reminder ([`reminders`]).

pub mod kinds;
pub mod outbox;
pub mod reminders;
mod templates;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel, sea_query::OnConflict};
use serde::Serialize;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::entities::email_log;
use crate::entities::enums::EmailStatus;
use crate::error::AppResult;

pub use kinds::{BookingConfirmation, CertificateReady, RenewalReminder};
pub use templates::{Rendered, render};

/// What queues emails: the public URL the emails link to, and the signal that wakes the
/// mail worker once a transaction that queued emails has committed. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    portal_url: Arc<str>,
    queued: Arc<Notify>,
}

impl Outbox {
    /// An outbox whose emails link to `public_url` (`RFT_PUBLIC_URL`).
    pub fn new(public_url: &str) -> Self {
        Self {
            portal_url: public_url.trim_end_matches('/').into(),
            queued: Arc::new(Notify::new()),
        }
    }

    /// The customer portal's address, as the emails show it.
    pub fn portal_url(&self) -> &str {
        &self.portal_url
    }

    /// Tells the worker that emails are waiting. Call after the commit: a worker woken
    /// before it would find nothing and sleep until its next poll.
    pub fn wake(&self) {
        // notify_one keeps a permit when the worker is busy, so no wake-up is lost.
        self.queued.notify_one();
    }

    /// Completes at the next [`Self::wake`] (or at once if one came while nobody waited).
    pub async fn woken(&self) {
        self.queued.notified().await;
    }
}

/// A kind of email: its template (`templates/email/{TEMPLATE}.txt` and `.html`, given the
/// fields of the value and `portal_url`) and its subject.
pub trait EmailContent: Serialize {
    /// The template's name, stored as the row's `template_name`.
    const TEMPLATE: &'static str;
    /// The subject line.
    fn subject(&self) -> String;
}

/// Who an email goes to and what it is about.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    /// The customer it is about (its row in `User.emails`).
    pub user_id: Uuid,
    pub email: &'a str,
    /// The record it is about: (`booking`, id), (`certificate`, id).
    pub related: Option<(&'static str, Uuid)>,
    /// Set for an email that must go only once: when a row with the same key exists,
    /// nothing is queued.
    pub dedupe_key: Option<String>,
}

/// Renders an email and writes it to the outbox as `pending`, due now, with the caller's
/// connection: call it inside the transaction of the change that causes the email, and
/// [`Outbox::wake`] the worker after the commit. Returns false when an email with the same
/// `dedupe_key` was queued before (nothing is written then).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %to.user_id, template = C::TEMPLATE))]
pub async fn queue<C: EmailContent>(
    conn: &impl ConnectionTrait,
    outbox: &Outbox,
    to: Recipient<'_>,
    content: &C,
) -> AppResult<bool> {
    let body = render(C::TEMPLATE, content, outbox.portal_url())?;
    let now = Utc::now();
    let row = email_log::Model {
        id: Uuid::now_v7(),
        user_id: to.user_id,
        recipient_email: to.email.to_string(),
        subject: content.subject(),
        template_name: C::TEMPLATE.to_string(),
        body_text: body.text,
        body_html: body.html,
        status: EmailStatus::Pending,
        attempts: 0,
        error_message: None,
        next_attempt_at: now,
        locked_until: None,
        claim_token: None,
        sent_at: None,
        dedupe_key: to.dedupe_key,
        related_entity_type: to.related.map(|(t, _)| t.to_string()),
        related_entity_id: to.related.map(|(_, id)| id),
        created_at: now,
        updated_at: now,
    };
    let inserted = email_log::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(email_log::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted > 0)
}

/// A date as emails show it: `Saturday 12 December 2026`.
pub fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

/// A moment as emails show it: `Saturday 12 December 2026, 09:30 (UTC)`.
pub fn long_time(t: DateTime<Utc>) -> String {
    format!("{}, {} (UTC)", long_date(t.date_naive()), t.format("%H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_and_html_is_escaped() {
        let booking = BookingConfirmation {
            first_name: "<b>Casey</b>".into(),
            email: "casey@example.com".into(),
            reference: "RFT-ABCDE-FGHJK-MNP".into(),
            course: "Emergency First Aid at Work".into(),
            starts_at: long_time(Utc::now()),
            venue: "Leeds & District Centre".into(),
            attendees: 2,
            total: "190.00".into(),
        };
        let out = render(
            BookingConfirmation::TEMPLATE,
            &booking,
            "https://example.com",
        )
        .unwrap();
        assert!(out.text.contains("Hello <b>Casey</b>,"), "{}", out.text);
        assert!(out.html.contains("Hello &lt;b&gt;Casey"), "{}", out.html);
        assert!(!out.html.contains("<b>"), "{}", out.html);
        assert!(out.html.contains("Leeds &amp; District Centre"));
        assert!(out.text.contains("RFT-ABCDE-FGHJK-MNP"));
        assert!(
            out.html.contains("href=\"https://example.com\""),
            "{}",
            out.html
        );

        let cert = CertificateReady {
            first_name: "Casey".into(),
            email: "casey@example.com".into(),
            holder_name: "Casey Booker".into(),
            course: "First Aid at Work".into(),
            certificate_number: "FAW-2026-0001".into(),
            issued_on: long_date(Utc::now().date_naive()),
            expires_on: long_date(Utc::now().date_naive()),
            reference: "RFT-ABCDE-FGHJK-MNP".into(),
        };
        let out = render(CertificateReady::TEMPLATE, &cert, "https://example.com").unwrap();
        assert!(out.text.contains("FAW-2026-0001") && out.html.contains("FAW-2026-0001"));

        let reminder = RenewalReminder {
            first_name: "Casey".into(),
            holder_name: "Casey Booker".into(),
            course: "First Aid at Work".into(),
            certificate_number: "FAW-2026-0001".into(),
            expires_on: long_date(Utc::now().date_naive()),
            days_left: 30,
        };
        let out = render(RenewalReminder::TEMPLATE, &reminder, "https://example.com").unwrap();
        assert!(out.text.contains("in 30 day(s)") && out.html.contains("in 30 day(s)"));
    }

    #[test]
    fn a_missing_value_is_an_error() {
        #[derive(Serialize)]
        struct Nothing {}
        assert!(render("booking_confirmation", &Nothing {}, "https://example.com").is_err());
    }
}
