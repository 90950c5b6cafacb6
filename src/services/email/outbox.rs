//! The outbox's SQL: claiming due emails for one worker, recording each attempt, and
//! reading the rows back for admins.
//!
//! A claim is one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING *`: on PostgreSQL the
//! inner select takes `FOR UPDATE SKIP LOCKED`, so concurrent workers on one database take
//! disjoint rows; SQLite's writes are serial. A claim holds its rows until `locked_until`:
//! a worker that dies mid-send loses them to the next claim after that. Only the claim
//! that holds a row (its `claim_token`) can record the outcome.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::EmailStatus;
use crate::entities::{booking, email_log};
use crate::error::AppResult;
use crate::services::audit::{self, Activity, Actor};
use crate::services::pages::{self, Page};
use crate::services::sql::Sql;

/// Longest error text kept on a row.
const MAX_ERROR_CHARS: usize = 1000;

/// Claims up to `limit` due emails for one worker until `now + lease`: pending ones whose
/// `next_attempt_at` has come, and `sending` ones whose claim expired. Each claimed row's
/// `attempts` counts the attempt about to be made. Returns the rows with the claim's token.
#[tracing::instrument(level = "debug", skip_all, fields(limit = limit, claimed = tracing::field::Empty))]
pub async fn claim(
    db: &DatabaseConnection,
    limit: u64,
    lease: chrono::Duration,
) -> AppResult<(Uuid, Vec<email_log::Model>)> {
    let backend = db.get_database_backend();
    let now = Utc::now();
    let token = Uuid::now_v7();
    let (pending, sending) = (
        EmailStatus::Pending.to_value(),
        EmailStatus::Sending.to_value(),
    );
    let mut sql = Sql::default();
    let (until, tok, at) = (sql.bind(now + lease), sql.bind(token), sql.bind(now));
    let take = sql.bind(limit as i64);
    let skip_locked = match backend {
        DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let due = format!(
        "(status = '{pending}' AND next_attempt_at <= {at}) \
         OR (status = '{sending}' AND locked_until <= {at})"
    );
    let text = format!(
        "UPDATE email_logs SET status = '{sending}', locked_until = {until}, \
           claim_token = {tok}, attempts = attempts + 1, updated_at = {at} \
         WHERE id IN (SELECT id FROM email_logs WHERE {due} \
           ORDER BY next_attempt_at, id LIMIT {take}{skip_locked}) \
         AND ({due}) \
         RETURNING *"
    );
    let mut rows = email_log::Model::find_by_statement(sql.statement(backend, text))
        .all(db)
        .await?;
    rows.sort_by_key(|r| (r.next_attempt_at, r.id));
    tracing::Span::current().record("claimed", rows.len());
    Ok((token, rows))
}

/// Gives back the rows of a claim that were not attempted (the worker is stopping): they
/// are pending again, due at once, and the attempt they were claimed for is not counted.
#[tracing::instrument(level = "debug", skip_all, fields(emails = ids.len()))]
pub async fn release(db: &DatabaseConnection, token: Uuid, ids: &[Uuid]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    email_log::Entity::update_many()
        .col_expr(email_log::Column::Status, Expr::value(EmailStatus::Pending))
        .col_expr(
            email_log::Column::Attempts,
            Expr::col(email_log::Column::Attempts).sub(1),
        )
        .col_expr(
            email_log::Column::LockedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(email_log::Column::ClaimToken, Expr::value(None::<Uuid>))
        .col_expr(email_log::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(email_log::Column::Id.is_in(ids.to_vec()))
        .filter(email_log::Column::ClaimToken.eq(token))
        .exec(db)
        .await?;
    Ok(())
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The SMTP server accepted the message.
    Sent,
    /// Failed; try again at the given time (when attempts remain).
    Retry { error: String, at: DateTime<Utc> },
    /// Failed for good: refused permanently, or the last attempt allowed.
    Failed { error: String },
}

/// Records the outcome of an attempt on a claimed row, if the claim still holds it (else
/// nothing is written and false is returned: the claim expired and another worker has the
/// row). A sent email writes an `email_sent` activity for its customer and, for a booking
/// confirmation, marks the booking's `confirmation_sent`, in the same transaction.
#[tracing::instrument(level = "debug", skip_all, fields(email_id = %row.id))]
pub async fn record(
    db: &DatabaseConnection,
    token: Uuid,
    row: &email_log::Model,
    outcome: &Outcome,
) -> AppResult<bool> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let mut update = email_log::Entity::update_many()
        .col_expr(
            email_log::Column::LockedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(email_log::Column::ClaimToken, Expr::value(None::<Uuid>))
        .col_expr(email_log::Column::UpdatedAt, Expr::value(now));
    update = match outcome {
        Outcome::Sent => update
            .col_expr(email_log::Column::Status, Expr::value(EmailStatus::Sent))
            .col_expr(email_log::Column::SentAt, Expr::value(now))
            .col_expr(email_log::Column::ErrorMessage, Expr::value(None::<String>)),
        Outcome::Retry { error, at } => update
            .col_expr(email_log::Column::Status, Expr::value(EmailStatus::Pending))
            .col_expr(email_log::Column::NextAttemptAt, Expr::value(*at))
            .col_expr(email_log::Column::ErrorMessage, Expr::value(clip(error))),
        Outcome::Failed { error } => update
            .col_expr(email_log::Column::Status, Expr::value(EmailStatus::Failed))
            .col_expr(email_log::Column::ErrorMessage, Expr::value(clip(error))),
    };
    let held = update
        .filter(email_log::Column::Id.eq(row.id))
        .filter(email_log::Column::ClaimToken.eq(token))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !held {
        return Ok(false);
    }
    if *outcome == Outcome::Sent {
        audit::log_activity(
            &txn,
            &Actor::system(),
            Activity {
                user_id: row.user_id,
                activity_type: "email_sent",
                description: Some(format!("Emailed \"{}\"", row.subject)),
                related: Some(("email", row.id)),
            },
        )
        .await?;
        if row.template_name == <super::BookingConfirmation as super::EmailContent>::TEMPLATE
            && row.related_entity_type.as_deref() == Some("booking")
            && let Some(booking_id) = row.related_entity_id
        {
            booking::Entity::update_many()
                .col_expr(booking::Column::ConfirmationSent, Expr::value(true))
                .filter(booking::Column::Id.eq(booking_id))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(true)
}

fn clip(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// With no SMTP server configured: every pending email is marked `not_sent`, so the outbox
/// shows what would have gone. Returns how many.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn mark_not_sent(db: &DatabaseConnection) -> AppResult<u64> {
    let res = email_log::Entity::update_many()
        .col_expr(email_log::Column::Status, Expr::value(EmailStatus::NotSent))
        .col_expr(email_log::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(email_log::Column::Status.eq(EmailStatus::Pending))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

#[derive(Debug, FromQueryResult)]
struct NextDue {
    at: Option<DateTime<Utc>>,
}

/// When the next email falls due: the earliest pending `next_attempt_at`, or expiring
/// claim. `None` when nothing waits.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn next_due(db: &DatabaseConnection) -> AppResult<Option<DateTime<Utc>>> {
    let pending = email_log::Entity::find()
        .select_only()
        .column_as(email_log::Column::NextAttemptAt.min(), "at")
        .filter(email_log::Column::Status.eq(EmailStatus::Pending))
        .into_model::<NextDue>()
        .one(db)
        .await?
        .and_then(|r| r.at);
    let expiring = email_log::Entity::find()
        .select_only()
        .column_as(email_log::Column::LockedUntil.min(), "at")
        .filter(email_log::Column::Status.eq(EmailStatus::Sending))
        .into_model::<NextDue>()
        .one(db)
        .await?
        .and_then(|r| r.at);
    Ok(pending.into_iter().chain(expiring).min())
}

/// The outbox, newest first, optionally only emails with `status` (admin's `emailOutbox`).
#[tracing::instrument(level = "debug", skip_all, fields(status = ?status, first = ?first))]
pub async fn page(
    conn: &impl ConnectionTrait,
    status: Option<EmailStatus>,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<Page<email_log::Model>> {
    let mut q = email_log::Entity::find();
    if let Some(s) = status {
        q = q.filter(email_log::Column::Status.eq(s));
    }
    pages::newest_first(conn, q, email_log::Column::Id, |m| m.id, first, after).await
}

/// The newest `limit` emails of each user, newest first: one statement for any number of
/// users (`User.emails` for a page of users).
#[tracing::instrument(level = "debug", skip_all, fields(users = user_ids.len(), limit = limit))]
pub async fn newest_per_user(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
    limit: u64,
) -> Result<HashMap<Uuid, Vec<email_log::Model>>, sea_orm::DbErr> {
    let mut out: HashMap<Uuid, Vec<email_log::Model>> = HashMap::new();
    if user_ids.is_empty() || limit == 0 {
        return Ok(out);
    }
    let backend = conn.get_database_backend();
    let mut sql = Sql::default();
    let users = sql.any_of(backend, user_ids);
    let take = sql.bind(limit as i64);
    let text = format!(
        "SELECT * FROM (SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.user_id ORDER BY e.id DESC) AS n \
           FROM email_logs e WHERE e.user_id {users}) ranked \
         WHERE n <= {take} ORDER BY user_id, id DESC"
    );
    let rows = email_log::Model::find_by_statement(sql.statement(backend, text))
        .all(conn)
        .await?;
    for row in rows {
        out.entry(row.user_id).or_default().push(row);
    }
    Ok(out)
}
