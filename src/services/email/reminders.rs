//! Renewal reminders: one email to each holder of a certificate on the renewal call list
//! (`services::insights::renewals`: expiring within the window, holder not merged away and
//! not booked again on a course of the same type) who agreed to marketing and did not ask
//! for no reminders (`reminderFrequency: NEVER`). Each goes once
//! per certificate and window: the row's `dedupe_key` is unique, so a second run with the
//! same window queues nothing new.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::{Outbox, Recipient, RenewalReminder, long_date, queue};
use crate::db::begin_write;
use crate::entities::{certificate, course, user};
use crate::error::AppResult;
use crate::services::audit::{self, Actor};
use crate::services::insights::renewals::{self, RenewalQuery};

/// Certificates read per page of the call list.
const PAGE: i32 = 100;

/// What a run queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderRun {
    /// The window, in days from `today`.
    pub within_days: i32,
    /// Reminders queued by this run.
    pub queued: u64,
    /// Certificates in the window whose reminder for this window was queued before.
    pub already_queued: u64,
}

/// The unique key of a certificate's reminder for a window.
fn dedupe_key(certificate_id: Uuid, within_days: i32) -> String {
    format!("renewal_reminder:{certificate_id}:{within_days}d")
}

/// `sendRenewalReminders` and `rft-users send-renewal-reminders`: queues a reminder for
/// every certificate on the call list of the next `within_days` days (0 to
/// `renewals::MAX_WITHIN_DAYS`) whose holder agreed to marketing and wants reminders
/// (`reminder_frequency` not `never`), in one transaction with
/// its audit row. The mail worker sends them.
#[tracing::instrument(skip_all, fields(within_days = within_days, queued = tracing::field::Empty))]
pub async fn send(
    db: &DatabaseConnection,
    outbox: &Outbox,
    actor: &Actor,
    today: NaiveDate,
    within_days: i32,
) -> AppResult<ReminderRun> {
    let query = RenewalQuery {
        today,
        within_days,
        course_type: None,
        marketing_consent_only: true,
        wants_reminders_only: true,
    };
    let txn = begin_write(db).await?;
    let mut run = ReminderRun {
        within_days,
        queued: 0,
        already_queued: 0,
    };
    let mut after: Option<String> = None;
    loop {
        let page = renewals::due(&txn, &query, Some(PAGE), after.as_deref()).await?;
        let ids: Vec<Uuid> = page.rows.iter().map(|(_, r)| r.certificate.id).collect();
        let certificates: HashMap<Uuid, certificate::Model> = certificate::Entity::find()
            .filter(certificate::Column::Id.is_in(ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let holder_ids: Vec<Uuid> = certificates.values().map(|c| c.user_id).collect();
        let holders: HashMap<Uuid, user::Model> = user::Entity::find()
            .filter(user::Column::Id.is_in(holder_ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let course_ids: Vec<Uuid> = certificates.values().map(|c| c.course_id).collect();
        let courses: HashMap<Uuid, course::Model> = course::Entity::find()
            .filter(course::Column::Id.is_in(course_ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        for (_, due) in &page.rows {
            let Some(cert) = certificates.get(&due.certificate.id) else {
                continue;
            };
            let (Some(holder), Some(course)) =
                (holders.get(&cert.user_id), courses.get(&cert.course_id))
            else {
                continue;
            };
            let content = RenewalReminder {
                first_name: holder.first_name.clone(),
                holder_name: cert.holder_name.clone(),
                course: course.name.clone(),
                certificate_number: cert.certificate_number.clone(),
                expires_on: long_date(cert.expires_on),
                days_left: i64::from(due.days_to_expiry),
            };
            let to = Recipient {
                user_id: holder.id,
                email: &holder.email,
                related: Some(("certificate", cert.id)),
                dedupe_key: Some(dedupe_key(cert.id, within_days)),
            };
            if queue(&txn, outbox, to, &content).await? {
                run.queued += 1;
            } else {
                run.already_queued += 1;
            }
        }
        match page.rows.last() {
            Some((cursor, _)) if page.has_next_page => after = Some(cursor.clone()),
            _ => break,
        }
    }
    audit::record(
        &txn,
        actor,
        "email.renewal_reminders",
        "email",
        None,
        Some(json!({
            "withinDays": within_days,
            "queued": run.queued,
            "alreadyQueued": run.already_queued,
        })),
    )
    .await?;
    txn.commit().await?;
    tracing::Span::current().record("queued", run.queued);
    outbox.wake();
    Ok(run)
}
