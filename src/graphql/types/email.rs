//! Emails of the outbox, as admins see them, and what a reminder run queued.

use async_graphql::{Context, Object, SimpleObject, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::enums::EmailStatus;
use super::user::User;
use crate::entities::email_log;
use crate::error::AppError;
use crate::graphql::loaders::UserLoader;
use crate::services::email::reminders::ReminderRun;

/// One email of the outbox: written with the change that caused it, sent by the mail
/// worker.
pub struct EmailMessage(pub email_log::Model);

/// One email of the outbox: written with the change that caused it, sent by the mail
/// worker.
#[Object]
impl EmailMessage {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The customer the email is about.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_one(self.0.user_id)
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?
            .map(User::new))
    }
    /// The address it goes to.
    async fn recipient(&self) -> &str {
        &self.0.recipient_email
    }
    /// The subject line.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// The template it was made from: `booking_confirmation`, `certificate_ready` or
    /// `renewal_reminder`.
    async fn template(&self) -> &str {
        &self.0.template_name
    }
    /// Pending, sending, sent, failed, or not sent (no SMTP server configured).
    async fn status(&self) -> EmailStatus {
        self.0.status.into()
    }
    /// Delivery attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// Why the last attempt failed (the SMTP server's answer), if it did.
    async fn last_error(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
    /// When a pending email is next due to be sent.
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }
    /// When the SMTP server accepted it.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    /// The kind of record the email is about: `booking` or `certificate`.
    async fn related_entity_type(&self) -> Option<&str> {
        self.0.related_entity_type.as_deref()
    }
    /// The id of that record.
    async fn related_entity_id(&self) -> Option<Uuid> {
        self.0.related_entity_id
    }
    /// The plain-text body.
    async fn body_text(&self) -> &str {
        &self.0.body_text
    }
    /// The HTML body.
    async fn body_html(&self) -> &str {
        &self.0.body_html
    }
    /// When it was queued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// What `sendRenewalReminders` queued.
#[derive(SimpleObject)]
pub struct RenewalReminderRun {
    /// The window: certificates expiring from today to this many days ahead.
    pub within_days: i32,
    /// Reminders queued by this run.
    pub queued: i64,
    /// Certificates in the window whose reminder for this window had been queued before
    /// (nothing new is sent for them).
    pub already_queued: i64,
}

impl From<ReminderRun> for RenewalReminderRun {
    fn from(r: ReminderRun) -> Self {
        Self {
            within_days: r.within_days,
            queued: i64::try_from(r.queued).unwrap_or(i64::MAX),
            already_queued: i64::try_from(r.already_queued).unwrap_or(i64::MAX),
        }
    }
}
