//! A customer's stored counters (`users.total_bookings`, `total_spent_pence`,
//! `first_booking_at`, `last_booking_at`) and the rules that keep them equal to the facts
//! in `bookings`, `payments` and `refunds`. Every change to a counter goes through this
//! module: writers call the `on_*` increments inside their transaction, and [`recompute`]
//! is the reference they must agree with (see docs/ARCHITECTURE.md, "Customer counters").
//!
//! The average booking value is not stored: the API derives it from the two totals.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
    sea_query::{Expr, ExprTrait},
};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::{BookingStatus, PaymentRecordStatus, RefundStatus};
use crate::entities::user;
use crate::error::AppResult;
use crate::services::audit::{self, Actor};

/// Most customers read or repaired by one statement set.
pub const BATCH: usize = 500;

/// The stored counters of one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Bookings not cancelled.
    pub total_bookings: i32,
    /// Succeeded payments less completed refunds, in pence.
    pub total_spent_pence: i64,
    /// When the customer's earliest booking (of any status) was made.
    pub first_booking_at: Option<DateTime<Utc>>,
    /// When the customer's latest booking (of any status) was made.
    pub last_booking_at: Option<DateTime<Utc>>,
}

impl Counters {
    /// `(field, self's value, other's value)` for each counter that differs.
    pub fn differences(&self, other: &Counters) -> Vec<(&'static str, String, String)> {
        fn at(t: &Option<DateTime<Utc>>) -> String {
            t.map_or_else(|| "none".into(), |t| t.to_rfc3339())
        }
        let mut out = Vec::new();
        if self.total_bookings != other.total_bookings {
            out.push((
                "total_bookings",
                self.total_bookings.to_string(),
                other.total_bookings.to_string(),
            ));
        }
        if self.total_spent_pence != other.total_spent_pence {
            out.push((
                "total_spent_pence",
                self.total_spent_pence.to_string(),
                other.total_spent_pence.to_string(),
            ));
        }
        if self.first_booking_at != other.first_booking_at {
            out.push((
                "first_booking_at",
                at(&self.first_booking_at),
                at(&other.first_booking_at),
            ));
        }
        if self.last_booking_at != other.last_booking_at {
            out.push((
                "last_booking_at",
                at(&self.last_booking_at),
                at(&other.last_booking_at),
            ));
        }
        out
    }
}

/// A customer whose stored counters differ from the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsMismatch {
    pub user_id: Uuid,
    /// What the `users` row holds.
    pub stored: Counters,
    /// What [`recompute`] would set.
    pub expected: Counters,
}

impl StatsMismatch {
    /// `(field, stored, expected)` for each counter that differs.
    pub fn fields(&self) -> Vec<(&'static str, String, String)> {
        self.stored.differences(&self.expected)
    }

    /// The audit trail's `{ field: { before, after } }` for the repair of this customer.
    fn audit_changes(&self) -> Json {
        let mut out = serde_json::Map::new();
        for (field, stored, expected) in self.fields() {
            out.insert(field.into(), json!({ "before": stored, "after": expected }));
        }
        Json::Object(out)
    }
}

// ---------------------------------------------------------------------------------------
// The increments writers make, inside their own transaction. Each is one statement.

/// A booking was made at `now`: one more booking, first/last booking times widened to
/// include `now`, activity and `customer_since` brought up to date.
#[tracing::instrument(skip_all, fields(%user_id))]
pub async fn on_booking_created(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let today = now.date_naive();
    // `now` is taken before the write transaction starts, so a booking made a moment
    // earlier may commit later: both ends take the extreme, never just the first writer.
    user::Entity::update_many()
        .col_expr(
            user::Column::TotalBookings,
            Expr::col(user::Column::TotalBookings).add(1),
        )
        .col_expr(
            user::Column::FirstBookingAt,
            Expr::case(Expr::col(user::Column::FirstBookingAt).is_null(), now)
                .case(Expr::col(user::Column::FirstBookingAt).gt(now), now)
                .finally(Expr::col(user::Column::FirstBookingAt))
                .into(),
        )
        .col_expr(
            user::Column::LastBookingAt,
            Expr::case(Expr::col(user::Column::LastBookingAt).is_null(), now)
                .case(Expr::col(user::Column::LastBookingAt).lt(now), now)
                .finally(Expr::col(user::Column::LastBookingAt))
                .into(),
        )
        .col_expr(
            user::Column::LastActivityAt,
            Expr::case(Expr::col(user::Column::LastActivityAt).lt(now), now)
                .finally(Expr::col(user::Column::LastActivityAt))
                .into(),
        )
        .col_expr(
            user::Column::CustomerSince,
            Expr::col(user::Column::CustomerSince).if_null(today),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// A live booking was cancelled: one booking fewer. First and last booking times stay,
/// since they record when the customer booked, not what became of it.
#[tracing::instrument(skip_all, fields(%user_id))]
pub async fn on_booking_cancelled(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(
            user::Column::TotalBookings,
            Expr::col(user::Column::TotalBookings).sub(1),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// A payment of `amount_pence` succeeded: the customer's spend rises by it.
#[tracing::instrument(skip_all, fields(%user_id))]
pub async fn on_payment_completed(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    amount_pence: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    adjust_spend(conn, user_id, amount_pence, now).await
}

/// A refund of `amount_pence` was completed: the customer's spend falls by it.
#[tracing::instrument(skip_all, fields(%user_id))]
pub async fn on_refund_completed(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    amount_pence: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    adjust_spend(conn, user_id, -amount_pence, now).await
}

/// Adds `delta` pence to a customer's lifetime spend, atomically.
async fn adjust_spend(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    delta: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(
            user::Column::TotalSpentPence,
            Expr::col(user::Column::TotalSpentPence).add(delta),
        )
        .col_expr(
            user::Column::LastActivityAt,
            Expr::case(Expr::col(user::Column::LastActivityAt).lt(now), now)
                .finally(Expr::col(user::Column::LastActivityAt))
                .into(),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The reference: counters computed from the facts, batch by batch.

/// Which users a statement covers.
#[derive(Clone, Copy)]
enum Ids<'a> {
    /// These ids.
    List(&'a [Uuid]),
    /// The next [`BATCH`] users by id after this one (from the start with `None`).
    Page(Option<Uuid>),
}

/// `WITH ids(id) AS (...)` for `ids`, and the values it binds.
fn ids_cte(backend: DbBackend, ids: Ids<'_>) -> (String, Vec<Value>) {
    match ids {
        Ids::List(list) if backend == DbBackend::Postgres => (
            "WITH ids(id) AS (SELECT unnest($1::uuid[]))".into(),
            vec![list.to_vec().into()],
        ),
        Ids::List(list) => (
            format!(
                "WITH ids(id) AS (VALUES {})",
                vec!["(?)"; list.len()].join(", ")
            ),
            list.iter().map(|id| (*id).into()).collect(),
        ),
        Ids::Page(after) => {
            let p = |n: usize| match backend {
                DbBackend::Postgres => format!("${n}"),
                _ => "?".into(),
            };
            let (filter, mut values) = match after {
                Some(id) => (format!("WHERE id > {} ", p(1)), vec![Value::from(id)]),
                None => (String::new(), Vec::new()),
            };
            values.push((BATCH as i64).into());
            (
                format!(
                    "WITH ids(id) AS (SELECT id FROM users {filter}ORDER BY id LIMIT {})",
                    p(values.len())
                ),
                values,
            )
        }
    }
}

/// `SELECT` of the expected counters (named like the columns) of every user in `ids`,
/// with the stored ones beside them (prefixed `stored_`): one aggregate per fact table,
/// grouped by customer. This is the definition of the counters.
fn expected_select() -> String {
    let cancelled = BookingStatus::Cancelled.to_value();
    let succeeded = PaymentRecordStatus::Succeeded.to_value();
    // A payment later marked refunded was still received; its refund rows subtract it.
    let refunded_payment = PaymentRecordStatus::Refunded.to_value();
    let completed = RefundStatus::Completed.to_value();
    format!(
        "SELECT u.id AS user_id, \
           u.total_bookings AS stored_total_bookings, \
           u.total_spent_pence AS stored_total_spent_pence, \
           u.first_booking_at AS stored_first_booking_at, \
           u.last_booking_at AS stored_last_booking_at, \
           CAST(COALESCE(b.live, 0) AS INTEGER) AS total_bookings, \
           CAST(COALESCE(p.paid, 0) - COALESCE(r.refunded, 0) AS BIGINT) AS total_spent_pence, \
           b.first_at AS first_booking_at, \
           b.last_at AS last_booking_at \
         FROM users u \
         LEFT JOIN (SELECT user_id, \
             SUM(CASE WHEN status <> '{cancelled}' THEN 1 ELSE 0 END) AS live, \
             MIN(created_at) AS first_at, MAX(created_at) AS last_at \
           FROM bookings WHERE user_id IN (SELECT id FROM ids) GROUP BY user_id) b \
           ON b.user_id = u.id \
         LEFT JOIN (SELECT user_id, SUM(amount_pence) AS paid FROM payments \
           WHERE status IN ('{succeeded}', '{refunded_payment}') \
             AND user_id IN (SELECT id FROM ids) GROUP BY user_id) p \
           ON p.user_id = u.id \
         LEFT JOIN (SELECT user_id, SUM(amount_pence) AS refunded FROM refunds \
           WHERE status = '{completed}' AND user_id IN (SELECT id FROM ids) GROUP BY user_id) r \
           ON r.user_id = u.id \
         WHERE u.id IN (SELECT id FROM ids)"
    )
}

#[derive(Debug, FromQueryResult)]
struct Row {
    user_id: Uuid,
    stored_total_bookings: i32,
    stored_total_spent_pence: i64,
    stored_first_booking_at: Option<DateTime<Utc>>,
    stored_last_booking_at: Option<DateTime<Utc>>,
    total_bookings: i32,
    total_spent_pence: i64,
    first_booking_at: Option<DateTime<Utc>>,
    last_booking_at: Option<DateTime<Utc>>,
}

impl Row {
    fn into_pair(self) -> (Uuid, Counters, Counters) {
        (
            self.user_id,
            Counters {
                total_bookings: self.stored_total_bookings,
                total_spent_pence: self.stored_total_spent_pence,
                first_booking_at: self.stored_first_booking_at,
                last_booking_at: self.stored_last_booking_at,
            },
            Counters {
                total_bookings: self.total_bookings,
                total_spent_pence: self.total_spent_pence,
                first_booking_at: self.first_booking_at,
                last_booking_at: self.last_booking_at,
            },
        )
    }
}

/// Stored and expected counters of the users in `ids`, by id, in one statement.
async fn read(
    conn: &impl ConnectionTrait,
    ids: Ids<'_>,
) -> AppResult<Vec<(Uuid, Counters, Counters)>> {
    let backend = conn.get_database_backend();
    let (with, values) = ids_cte(backend, ids);
    let sql = format!("{with} {} ORDER BY u.id", expected_select());
    let rows = Row::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(Row::into_pair).collect())
}

fn mismatches(rows: Vec<(Uuid, Counters, Counters)>) -> Vec<StatsMismatch> {
    rows.into_iter()
        .filter(|(_, stored, expected)| stored != expected)
        .map(|(user_id, stored, expected)| StatsMismatch {
            user_id,
            stored,
            expected,
        })
        .collect()
}

/// The counters [`recompute`] would set for each of `user_ids` that exists, by id.
#[tracing::instrument(skip_all, fields(users = user_ids.len()))]
pub async fn expected(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> AppResult<BTreeMap<Uuid, Counters>> {
    let mut out = BTreeMap::new();
    for chunk in user_ids.chunks(BATCH) {
        for (id, _, expected) in read(conn, Ids::List(chunk)).await? {
            out.insert(id, expected);
        }
    }
    Ok(out)
}

/// Every user in `user_ids` whose stored counters differ from the facts.
#[tracing::instrument(skip_all, fields(users = user_ids.len()))]
pub async fn diff_of(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> AppResult<Vec<StatsMismatch>> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(BATCH) {
        out.extend(mismatches(read(conn, Ids::List(chunk)).await?));
    }
    Ok(out)
}

/// Every user whose stored counters differ from the facts, by id, reading [`BATCH`] users
/// per statement.
#[tracing::instrument(skip_all)]
pub async fn diff(conn: &impl ConnectionTrait) -> AppResult<Vec<StatsMismatch>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let rows = read(conn, Ids::Page(after)).await?;
        let Some(last) = rows.last().map(|(id, _, _)| *id) else {
            break;
        };
        let full = rows.len() == BATCH;
        out.extend(mismatches(rows));
        if !full {
            break;
        }
        after = Some(last);
    }
    Ok(out)
}

/// Sets the stored counters of each of `user_ids` from the facts, [`BATCH`] users per
/// statement set; returns how many users' counters changed. Call it inside a write
/// transaction: on PostgreSQL it locks the customers first (writers lock a customer
/// before changing their counters), so no increment can slip between its read and write.
#[tracing::instrument(skip_all, fields(users = user_ids.len()))]
pub async fn recompute(conn: &impl ConnectionTrait, user_ids: &[Uuid]) -> AppResult<u64> {
    let backend = conn.get_database_backend();
    let mut changed = 0;
    for chunk in user_ids.chunks(BATCH) {
        lock_customers(conn, chunk).await?;
        let (with, values) = ids_cte(backend, Ids::List(chunk));
        let differs = match backend {
            DbBackend::Postgres => "IS DISTINCT FROM",
            _ => "IS NOT",
        };
        let sql = format!(
            "{with}, expected AS ({select}) \
             UPDATE users SET total_bookings = e.total_bookings, \
               total_spent_pence = e.total_spent_pence, \
               first_booking_at = e.first_booking_at, \
               last_booking_at = e.last_booking_at \
             FROM expected e \
             WHERE users.id = e.user_id AND (users.total_bookings <> e.total_bookings \
               OR users.total_spent_pence <> e.total_spent_pence \
               OR users.first_booking_at {differs} e.first_booking_at \
               OR users.last_booking_at {differs} e.last_booking_at)",
            select = expected_select(),
        );
        changed += conn
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .rows_affected();
    }
    Ok(changed)
}

/// Repairs every user whose stored counters differ from the facts, one write transaction
/// per batch, each repair with an audit row (`user.stats_recomputed`, stored before and
/// expected after); returns what was repaired.
#[tracing::instrument(skip_all)]
pub async fn repair(db: &DatabaseConnection, actor: &Actor) -> AppResult<Vec<StatsMismatch>> {
    let found = diff(db).await?;
    let mut fixed = Vec::with_capacity(found.len());
    let ids: Vec<Uuid> = found.iter().map(|m| m.user_id).collect();
    for chunk in ids.chunks(BATCH) {
        let txn = begin_write(db).await?;
        // Read again inside the transaction: a writer may have moved on since the scan.
        // `recompute` locks these customers on PostgreSQL; SQLite's write lock is held.
        lock_customers(&txn, chunk).await?;
        let now_wrong = diff_of(&txn, chunk).await?;
        recompute(&txn, chunk).await?;
        for m in &now_wrong {
            audit::record(
                &txn,
                actor,
                "user.stats_recomputed",
                "user",
                Some(m.user_id),
                Some(m.audit_changes()),
            )
            .await?;
        }
        txn.commit().await?;
        fixed.extend(now_wrong);
    }
    Ok(fixed)
}

/// On PostgreSQL, locks these customers' rows until commit, in id order. (SQLite write
/// transactions are already serial.)
async fn lock_customers(conn: &impl ConnectionTrait, user_ids: &[Uuid]) -> AppResult<()> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut ids = user_ids.to_vec();
    ids.sort_unstable();
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Id.is_in(ids))
        .order_by_asc(user::Column::Id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    Ok(())
}
