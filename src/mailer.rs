//! The mail worker: the only sender of the outbox's emails (`email_logs`; see
//! docs/ARCHITECTURE.md, "The outbox"). It runs beside the server, claims due emails in
//! batches, sends each over SMTP (`lettre`) and records the outcome; a failure is retried
//! with a doubling wait, and after the last attempt allowed (or a permanent refusal) the
//! email is FAILED. Without `RFT_SMTP_URL` it sends nothing and marks queued emails
//! NOT_SENT. It wakes when a transaction queues an email ([`Outbox::wake`]), when the next
//! retry falls due, and every poll interval, and stops with the server.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use crate::config::EmailConfig;
use crate::entities::email_log;
use crate::error::AppResult;
use crate::services::email::Outbox;
use crate::services::email::outbox::{self, Outcome};

/// The longest wait between two attempts at one email.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(24 * 3600);
/// How long one SMTP conversation may take before it counts as a (transient) failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where emails go out.
struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The mail worker, ready to [`run`](Self::run).
pub struct Mailer {
    db: DatabaseConnection,
    outbox: Outbox,
    smtp: Option<Smtp>,
    config: EmailConfig,
}

impl Mailer {
    /// Checks the settings (`RFT_SMTP_URL`, `RFT_MAIL_FROM`) and builds the worker; an
    /// error names the variable.
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        config: &EmailConfig,
    ) -> anyhow::Result<Self> {
        let from: Mailbox = config.mail_from.parse().with_context(|| {
            format!(
                "RFT_MAIL_FROM: {:?} is not an email address",
                config.mail_from
            )
        })?;
        let smtp = match &config.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|e| anyhow::anyhow!("RFT_SMTP_URL: not a usable SMTP URL ({e})"))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Some(Smtp { transport, from })
            }
            None => None,
        };
        Ok(Self {
            db,
            outbox,
            smtp,
            config: config.clone(),
        })
    }

    /// Runs until `stop` turns true (or its sender goes). An email being sent then is
    /// finished and recorded; emails claimed but not yet tried are given back.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        match &self.smtp {
            None => tracing::warn!(
                "RFT_SMTP_URL is not set: emails are kept in the outbox as NOT_SENT, not sent"
            ),
            Some(_) => tracing::info!("mail worker started"),
        }
        loop {
            // Stopped, or the server that would stop it is gone.
            if *stop.borrow() || stop.has_changed().is_err() {
                break;
            }
            let more = match self.round(&stop).await {
                Ok(full_batch) => full_batch,
                Err(e) => {
                    tracing::warn!(error = %e, "mail worker: the outbox could not be read; will retry");
                    false
                }
            };
            if more {
                continue;
            }
            let wait = self.wait().await;
            tokio::select! {
                () = self.outbox.woken() => {}
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!("mail worker stopped");
    }

    /// One batch. True when the batch was full (more may be due at once).
    async fn round(&self, stop: &watch::Receiver<bool>) -> AppResult<bool> {
        let Some(smtp) = &self.smtp else {
            let n = outbox::mark_not_sent(&self.db).await?;
            if n > 0 {
                tracing::debug!(emails = n, "kept in the outbox as NOT_SENT");
            }
            return Ok(false);
        };
        let lease = chrono::Duration::from_std(self.config.claim_lease)
            .unwrap_or_else(|_| chrono::Duration::minutes(5));
        let (token, rows) = outbox::claim(&self.db, self.config.batch, lease).await?;
        let full = rows.len() as u64 == self.config.batch;
        for (i, row) in rows.iter().enumerate() {
            if *stop.borrow() {
                let rest: Vec<_> = rows[i..].iter().map(|r| r.id).collect();
                outbox::release(&self.db, token, &rest).await?;
                return Ok(false);
            }
            let outcome = self.deliver(smtp, row).await;
            match &outcome {
                Outcome::Sent => {
                    tracing::info!(email_id = %row.id, attempt = row.attempts, "email sent")
                }
                Outcome::Retry { at, .. } => {
                    tracing::warn!(email_id = %row.id, attempt = row.attempts, retry_at = %at, "email not sent; will retry")
                }
                Outcome::Failed { .. } => {
                    tracing::warn!(email_id = %row.id, attempt = row.attempts, "email not sent; given up")
                }
            }
            if !outbox::record(&self.db, token, row, &outcome).await? {
                tracing::warn!(email_id = %row.id, "the claim on an email expired before its outcome was recorded");
            }
        }
        Ok(full)
    }

    /// One attempt at one claimed email (`row.attempts` counts it).
    async fn deliver(&self, smtp: &Smtp, row: &email_log::Model) -> Outcome {
        let message = match build(smtp, row) {
            Ok(m) => m,
            Err(error) => return Outcome::Failed { error },
        };
        let error = match smtp.transport.send(message).await {
            Ok(_) => return Outcome::Sent,
            Err(e) if e.is_permanent() => {
                return Outcome::Failed {
                    error: e.to_string(),
                };
            }
            Err(e) => e.to_string(),
        };
        if row.attempts >= self.config.max_attempts as i32 {
            return Outcome::Failed { error };
        }
        Outcome::Retry {
            error,
            at: Utc::now() + retry_wait(self.config.retry_base, row.attempts),
        }
    }

    /// How long to sleep: until the next retry or expiring claim, at most the poll interval.
    async fn wait(&self) -> Duration {
        let poll = self.config.poll_interval;
        if self.smtp.is_none() {
            return poll;
        }
        match outbox::next_due(&self.db).await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(10), poll),
            _ => poll,
        }
    }
}

/// The wait after the `attempts`-th failure: `base`, doubled for each earlier one, at most
/// a day.
fn retry_wait(base: Duration, attempts: i32) -> chrono::Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
    let wait = base.saturating_mul(1 << doublings).min(MAX_RETRY_WAIT);
    chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::days(1))
}

/// The MIME message of a row: plain text and HTML alternatives.
fn build(smtp: &Smtp, row: &email_log::Model) -> Result<Message, String> {
    let to: Mailbox = row
        .recipient_email
        .parse()
        .map_err(|e| format!("the recipient's address is not valid: {e}"))?;
    Message::builder()
        .from(smtp.from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!("<{}@{}>", row.id, smtp.from.email.domain())))
        .multipart(MultiPart::alternative_plain_html(
            row.body_text.clone(),
            row.body_html.clone(),
        ))
        .map_err(|e| format!("the message could not be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_a_day() {
        let base = Duration::from_secs(60);
        let minutes = |n| retry_wait(base, n).num_minutes();
        assert_eq!(
            [minutes(1), minutes(2), minutes(3), minutes(4)],
            [1, 2, 4, 8]
        );
        assert_eq!(retry_wait(base, 40).num_hours(), 24);
        assert_eq!(retry_wait(base, 0).num_minutes(), 1);
    }
}
