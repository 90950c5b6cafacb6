//! Refreshing the insights: refits every model from the facts as they stood on a date and
//! stores the result (`insight_models`, one row per refresh; `customer_insights`, replaced
//! as a whole), in one transaction with its audit row. The facts are read by a few
//! aggregate statements; the scores and segments are set in SQL (`segments::score`).

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Months, NaiveDate, NaiveTime, Utc};
use sea_orm::{
    ActiveEnum, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::{CourseType, CustomerSegment, CustomerType};
use crate::entities::{customer_insight, insight_model};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::insights::model::{BgNbd, Fit, GammaGamma, History};
use crate::services::insights::predict::{
    ExpectedRenewal, Models, Prediction, RenewalModel, RenewalRate, shift,
};
use crate::services::insights::segments::{self, Quintiles};
use crate::services::keys;
use crate::services::sql::Sql;

/// Days before expiry at which a certificate's renewal window opens.
pub const RENEWAL_WINDOW_BEFORE_DAYS: i64 = 90;
/// Days after expiry at which it closes.
pub const RENEWAL_WINDOW_AFTER_DAYS: i64 = 90;
/// Months the backtest compares: a refresh as of a date at least this long ago has one.
pub const BACKTEST_MONTHS: u32 = 12;
/// `predicted_value_pence` (the `PREDICTED_VALUE` sort) is over this many months...
pub const VALUE_MONTHS: u32 = 36;
/// ...at this annual discount rate.
pub const VALUE_DISCOUNT_RATE: f64 = 0.1;
/// Rows per `INSERT` (19 values each, inside both databases' parameter limits).
const INSERT_BATCH: usize = 500;

/// What a refresh fitted, stored as `insight_models.fit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelFit {
    /// The repeat-booking model (BG/NBD over bookings that were not renewals).
    pub repeat: Option<Fit<BgNbd>>,
    /// Why the repeat-booking model could not be fitted, when it could not.
    pub repeat_error: Option<String>,
    /// The value-per-booking model (Gamma-Gamma).
    pub value: Option<Fit<GammaGamma>>,
    /// Why the value model could not be fitted, when it could not.
    pub value_error: Option<String>,
    /// The renewal model.
    pub renewal: RenewalModel,
    /// The RFM quintile boundaries.
    pub quintiles: Quintiles,
    /// Predicted against actual over the months after the date, when they have passed.
    pub backtest: Option<Backtest>,
}

impl ModelFit {
    /// The models a prediction needs.
    pub fn models(&self, as_of: NaiveDate) -> Models<'_> {
        Models {
            repeat: self.repeat.as_ref().map(|f| &f.params),
            value: self.value.as_ref().map(|f| &f.params),
            as_of,
        }
    }
}

/// Predicted against actual, over the scored customers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// Months compared.
    pub months: u32,
    /// Customers compared (every scored customer).
    pub customers: i64,
    /// Total predicted bookings.
    pub predicted_bookings: f64,
    /// Total actual bookings (made in the months, not cancelled).
    pub actual_bookings: i64,
    /// Mean absolute error of bookings per customer.
    pub bookings_mean_absolute_error: f64,
    /// Total predicted revenue, in pence.
    pub predicted_revenue_pence: i64,
    /// Total actual net revenue (payments less refunds in the months), in pence.
    pub actual_revenue_pence: i64,
    /// Mean absolute error of revenue per customer, in pence.
    pub revenue_mean_absolute_error_pence: i64,
}

/// A refresh's command.
#[derive(Debug, Clone, Copy)]
pub struct RefreshInsights {
    /// Take the facts as they stood at the end of this day (UTC).
    pub as_of: NaiveDate,
    /// Today (UTC): `as_of` may not be later.
    pub today: NaiveDate,
}

/// The latest refresh, with its fit; `None` before the first.
pub async fn latest(
    conn: &impl ConnectionTrait,
) -> Result<Option<(insight_model::Model, ModelFit)>, DbErr> {
    let Some(row) = insight_model::Entity::find()
        .order_by_desc(insight_model::Column::FittedAt)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let fit = serde_json::from_value(row.fit.clone()).map_err(|e| DbErr::Json(e.to_string()))?;
    Ok(Some((row, fit)))
}

/// The stored rows of these customers (one statement).
pub async fn stored(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> Result<HashMap<Uuid, customer_insight::Model>, DbErr> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(customer_insight::Entity::find()
        .filter(keys::any_of(
            conn.get_database_backend(),
            customer_insight::Column::UserId,
            user_ids,
        ))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m))
        .collect())
}

/// Refits everything as of `cmd.as_of` and stores it: one transaction, audited as
/// `insights.refreshed`.
pub async fn refresh(
    db: &DatabaseConnection,
    actor: &Actor,
    cmd: RefreshInsights,
) -> AppResult<insight_model::Model> {
    if cmd.as_of > cmd.today {
        return Err(AppError::bad_input("asOf", "must not be in the future"));
    }
    if cmd.as_of < NaiveDate::from_ymd_opt(2000, 1, 1).expect("date") {
        return Err(AppError::bad_input("asOf", "must be in 2000 or later"));
    }
    let started = Instant::now();
    let txn = begin_write(db).await?;
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        // One refresh at a time: a second waits here, then replaces the first's rows.
        txn.execute_unprepared("LOCK TABLE customer_insights IN EXCLUSIVE MODE")
            .await?;
    }
    let dialect = Dialect(backend);
    let as_of = cmd.as_of;
    let cutoff = (as_of + chrono::Days::new(1))
        .and_time(NaiveTime::MIN)
        .and_utc();

    let customers = customer_facts(&txn, dialect, as_of, cutoff).await?;
    let renewal = renewal_model(&txn, dialect, as_of, cutoff).await?;
    let pending = pending_renewals(&txn, dialect, as_of, cutoff).await?;

    let histories: Vec<History> = customers.iter().map(|c| c.history(cutoff)).collect();
    let (repeat, repeat_error) = match BgNbd::fit(&histories) {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let values: Vec<(f64, f64)> = customers
        .iter()
        .filter(|c| c.bookings > 0 && c.value_pence > 0)
        .map(|c| (f64::from(c.bookings), c.mean_value_pence()))
        .collect();
    let (value, value_error) = match GammaGamma::fit(&values) {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let mut fit = ModelFit {
        repeat,
        repeat_error,
        value,
        value_error,
        renewal,
        ..ModelFit::default()
    };

    let backtest_end = as_of
        .checked_add_months(Months::new(BACKTEST_MONTHS))
        .filter(|end| *end <= cmd.today);
    let actuals = match backtest_end {
        Some(end) => Some(actuals(&txn, cutoff, end).await?),
        None => None,
    };

    let model_id = Uuid::now_v7();
    insight_model::Entity::insert(insight_model::ActiveModel {
        id: Set(model_id),
        as_of: Set(as_of),
        customers: Set(customers.len() as i64),
        fit: Set(json!({})),
        duration_ms: Set(0),
        fitted_at: Set(Utc::now()),
    })
    .exec(&txn)
    .await?;
    txn.execute_unprepared("DELETE FROM customer_insights")
        .await?;

    // Each customer's row: the model's inputs and outputs, the renewals expected.
    let models = fit.models(as_of);
    let mut backtest = Backtest {
        months: BACKTEST_MONTHS,
        ..Backtest::default()
    };
    let mut rows = Vec::with_capacity(INSERT_BATCH);
    let mut pending = pending;
    for (c, h) in customers.iter().zip(&histories) {
        let renewals = pending
            .remove(&c.user_id)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                let rate = fit.renewal.rate(p.course_type, c.customer_type);
                let elapsed = as_of.signed_duration_since(p.expires_on).num_days();
                let (probability, offset) = fit.renewal.conditional(rate, elapsed);
                (probability > 0.0).then(|| ExpectedRenewal {
                    booking_id: p.booking_id,
                    course_type: p.course_type,
                    expires_on: p.expires_on,
                    due_on: shift(p.expires_on, offset),
                    probability,
                })
            })
            .collect::<Vec<_>>();
        let mut renewals = renewals;
        renewals.sort_by_key(|r| r.due_on);
        let mut row = customer_insight::Model {
            user_id: c.user_id,
            model_id,
            recency_days: as_of
                .signed_duration_since(c.last_at.date_naive())
                .num_days()
                .max(0) as i32,
            bookings: c.bookings,
            monetary_pence: c.net_pence,
            recency_score: 0,
            frequency_score: 0,
            monetary_score: 0,
            segment: CustomerSegment::Lapsed,
            repeat_bookings: h.x,
            recency_weeks: h.t_x,
            age_weeks: h.t,
            average_value_pence: c.mean_value_pence().round() as i64,
            probability_active: 0.0,
            predicted_value_pence: 0,
            renewals: serde_json::to_value(&renewals).map_err(AppError::internal)?,
            actual_bookings: None,
            actual_revenue_pence: None,
        };
        let prediction = Prediction::of(models, &row);
        row.probability_active = prediction.probability_active();
        row.predicted_value_pence = prediction
            .predicted_value_pence(VALUE_MONTHS, VALUE_DISCOUNT_RATE)
            .round() as i64;
        if let Some(actuals) = &actuals {
            let (bookings, revenue) = actuals.get(&c.user_id).copied().unwrap_or((0, 0));
            let predicted = prediction.expected_bookings(BACKTEST_MONTHS);
            let predicted_revenue = prediction.expected_spend_pence(BACKTEST_MONTHS);
            backtest.customers += 1;
            backtest.predicted_bookings += predicted;
            backtest.actual_bookings += i64::from(bookings);
            backtest.bookings_mean_absolute_error += (predicted - f64::from(bookings)).abs();
            backtest.predicted_revenue_pence += predicted_revenue.round() as i64;
            backtest.actual_revenue_pence += revenue;
            backtest.revenue_mean_absolute_error_pence +=
                (predicted_revenue - revenue as f64).abs().round() as i64;
            row.actual_bookings = Some(bookings);
            row.actual_revenue_pence = Some(revenue);
        }
        rows.push(customer_insight::ActiveModel::from(row));
        if rows.len() == INSERT_BATCH {
            insert(&txn, std::mem::take(&mut rows)).await?;
        }
    }
    insert(&txn, rows).await?;
    if actuals.is_some() {
        let n = backtest.customers.max(1);
        backtest.bookings_mean_absolute_error /= n as f64;
        backtest.revenue_mean_absolute_error_pence /= n;
        fit.backtest = Some(backtest);
    }

    fit.quintiles = segments::score(&txn).await?;

    let fit_json = serde_json::to_value(&fit).map_err(AppError::internal)?;
    let duration_ms = started.elapsed().as_millis() as i64;
    let saved = insight_model::Entity::update(insight_model::ActiveModel {
        id: Set(model_id),
        fit: Set(fit_json),
        duration_ms: Set(duration_ms),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "insights.refreshed",
        "insight_model",
        Some(model_id),
        Some(json!({
            "as_of": as_of,
            "customers": customers.len(),
            "duration_ms": duration_ms,
        })),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(%model_id, %as_of, customers = customers.len(), duration_ms, "insights refreshed");
    Ok(saved)
}

async fn insert(
    conn: &impl ConnectionTrait,
    rows: Vec<customer_insight::ActiveModel>,
) -> AppResult<()> {
    if !rows.is_empty() {
        customer_insight::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The SQL that differs between the databases: dates of timestamps and date arithmetic.
#[derive(Clone, Copy)]
struct Dialect(DbBackend);

impl Dialect {
    /// The UTC date of a timestamp column.
    fn day(self, ts: &str) -> String {
        match self.0 {
            DbBackend::Postgres => format!("(({ts}) AT TIME ZONE 'UTC')::date"),
            _ => format!("date({ts})"),
        }
    }

    /// A date column moved by `days`.
    fn add_days(self, date: &str, days: i64) -> String {
        match self.0 {
            DbBackend::Postgres => format!("(({date}) + ({days}))"),
            _ => format!("date({date}, '{days:+} days')"),
        }
    }

    /// Whole days from date `b` to date `a`.
    fn days_between(self, a: &str, b: &str) -> String {
        match self.0 {
            DbBackend::Postgres => format!("(({a}) - ({b}))"),
            _ => format!("CAST(julianday({a}) - julianday({b}) AS INTEGER)"),
        }
    }
}

/// Bookings live on the model's date: made before the cutoff, not cancelled by then.
fn live(alias: &str, cutoff: &str) -> String {
    format!(
        "{alias}.created_at < {cutoff} AND ({alias}.status <> 'cancelled' OR {alias}.cancelled_at >= {cutoff})"
    )
}

/// One scored customer's facts as of the model's date.
#[derive(Debug, FromQueryResult)]
struct Facts {
    user_id: Uuid,
    customer_type: CustomerType,
    bookings: i32,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    value_pence: i64,
    plain: i32,
    first_plain_at: Option<DateTime<Utc>>,
    last_plain_at: Option<DateTime<Utc>>,
    net_pence: i64,
}

impl Facts {
    /// BG/NBD's inputs, in weeks: repeat bookings that were not renewals, the time of the
    /// last of them, and the time since the first booking. Times are in whole days (as
    /// `lifetimes` and the papers use them), so that customers with the same history share
    /// one row of the likelihood: at 100,000 customers the fit sums over far fewer rows.
    fn history(&self, cutoff: DateTime<Utc>) -> History {
        let weeks =
            |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).num_days().max(0) as f64 / 7.0;
        let first_is_plain = self.first_plain_at == Some(self.first_at);
        let x = f64::from(self.plain - i32::from(first_is_plain)).max(0.0);
        let t_x = match self.last_plain_at {
            Some(last) if x > 0.0 => weeks(self.first_at, last),
            _ => 0.0,
        };
        History {
            x,
            t_x,
            t: weeks(self.first_at, cutoff),
        }
    }

    fn mean_value_pence(&self) -> f64 {
        if self.bookings == 0 {
            0.0
        } else {
            self.value_pence as f64 / f64::from(self.bookings)
        }
    }
}

/// Every active customer (not a tombstone) with a live booking on the model's date, with
/// their counts, times, value and net spend as of then: one statement. A booking is a
/// renewal when it was made within the renewal window of an earlier certificate of the
/// holder's for the same course type.
async fn customer_facts(
    conn: &impl ConnectionTrait,
    d: Dialect,
    as_of: NaiveDate,
    cutoff: DateTime<Utc>,
) -> AppResult<Vec<Facts>> {
    let mut sql = Sql::default();
    let c = sql.bind(cutoff);
    let a = sql.bind(as_of);
    let live_b = live("b", &c);
    let day = d.day("l.created_at");
    let lo = d.add_days("ce.expires_on", -RENEWAL_WINDOW_BEFORE_DAYS);
    let hi = d.add_days("ce.expires_on", RENEWAL_WINDOW_AFTER_DAYS);
    let stmt = sql.statement(
        d.0,
        format!(
            "WITH live AS ( \
               SELECT b.user_id, b.created_at, b.total_amount_pence, co.course_type \
               FROM bookings b JOIN course_sessions s ON s.id = b.session_id \
               JOIN courses co ON co.id = s.course_id WHERE {live_b} \
             ), flagged AS ( \
               SELECT l.user_id, l.created_at, l.total_amount_pence, \
                 CASE WHEN EXISTS (SELECT 1 FROM certificates ce JOIN courses cc ON cc.id = ce.course_id \
                   WHERE ce.user_id = l.user_id AND cc.course_type = l.course_type \
                   AND ce.status <> 'revoked' AND ce.issued_on <= {a} AND ce.issued_on < {day} \
                   AND {day} BETWEEN {lo} AND {hi}) THEN 1 ELSE 0 END AS renewal \
               FROM live l \
             ), per AS ( \
               SELECT user_id, COUNT(*) AS bookings, MIN(created_at) AS first_at, \
                 MAX(created_at) AS last_at, SUM(total_amount_pence) AS value_pence, \
                 SUM(1 - renewal) AS plain, \
                 MIN(CASE WHEN renewal = 0 THEN created_at END) AS first_plain_at, \
                 MAX(CASE WHEN renewal = 0 THEN created_at END) AS last_plain_at \
               FROM flagged GROUP BY user_id \
             ), paid AS ( \
               SELECT user_id, SUM(amount_pence) AS amount FROM payments \
               WHERE status IN ('succeeded', 'refunded') AND COALESCE(paid_at, created_at) < {c} \
               GROUP BY user_id \
             ), refunded AS ( \
               SELECT user_id, SUM(amount_pence) AS amount FROM refunds \
               WHERE status = 'completed' AND COALESCE(completed_at, updated_at) < {c} \
               GROUP BY user_id \
             ) \
             SELECT u.id AS user_id, u.customer_type, CAST(per.bookings AS INTEGER) AS bookings, \
               per.first_at, per.last_at, CAST(per.value_pence AS BIGINT) AS value_pence, \
               CAST(per.plain AS INTEGER) AS plain, per.first_plain_at, per.last_plain_at, \
               CAST(COALESCE(paid.amount, 0) - COALESCE(refunded.amount, 0) AS BIGINT) AS net_pence \
             FROM users u JOIN per ON per.user_id = u.id \
             LEFT JOIN paid ON paid.user_id = u.id LEFT JOIN refunded ON refunded.user_id = u.id \
             WHERE u.role = 'customer' AND u.status = 'active' AND u.merged_into_id IS NULL \
             ORDER BY u.id"
        ),
    );
    Ok(Facts::find_by_statement(stmt).all(conn).await?)
}

#[derive(FromQueryResult)]
struct RenewalCell {
    course_type: CourseType,
    customer_type: CustomerType,
    offset_days: Option<i64>,
    n: i64,
}

/// The renewal table and the renewals' spread around expiry, from every certificate whose
/// window had closed by the model's date: one statement. The unit is a booking's
/// certificates of one course and expiry (an employer's staff trained together are renewed
/// by one booking), so the rate is the chance of a renewal *booking*.
async fn renewal_model(
    conn: &impl ConnectionTrait,
    d: Dialect,
    as_of: NaiveDate,
    cutoff: DateTime<Utc>,
) -> AppResult<RenewalModel> {
    let mut sql = Sql::default();
    let c = sql.bind(cutoff);
    let a = sql.bind(as_of);
    let live_b = live("b", &c);
    let closes = d.add_days("ce.expires_on", RENEWAL_WINDOW_AFTER_DAYS);
    let day = d.day("b.created_at");
    let lo = d.add_days("cert.expires_on", -RENEWAL_WINDOW_BEFORE_DAYS);
    let hi = d.add_days("cert.expires_on", RENEWAL_WINDOW_AFTER_DAYS);
    let offset = d.days_between(&day, "cert.expires_on");
    let stmt = sql.statement(
        d.0,
        format!(
            "WITH cert AS ( \
               SELECT DISTINCT ce.booking_id, ce.user_id, cc.course_type, u.customer_type, ce.expires_on \
               FROM certificates ce JOIN courses cc ON cc.id = ce.course_id \
               JOIN users u ON u.id = ce.user_id \
               WHERE ce.status <> 'revoked' AND ce.issued_on <= {a} AND {closes} <= {a} \
                 AND u.role = 'customer' AND u.merged_into_id IS NULL \
             ), renewal AS ( \
               SELECT cert.booking_id, cert.course_type, cert.expires_on, MIN({offset}) AS offset_days FROM cert \
               JOIN bookings b ON b.user_id = cert.user_id \
               JOIN course_sessions s ON s.id = b.session_id \
               JOIN courses co ON co.id = s.course_id \
               WHERE co.course_type = cert.course_type AND {live_b} AND {day} BETWEEN {lo} AND {hi} \
               GROUP BY cert.booking_id, cert.course_type, cert.expires_on \
             ) \
             SELECT cert.course_type, cert.customer_type, \
               CAST(renewal.offset_days AS BIGINT) AS offset_days, COUNT(*) AS n \
             FROM cert LEFT JOIN renewal ON renewal.booking_id = cert.booking_id \
               AND renewal.course_type = cert.course_type AND renewal.expires_on = cert.expires_on \
             GROUP BY cert.course_type, cert.customer_type, renewal.offset_days"
        ),
    );
    let mut model = RenewalModel {
        window_before_days: RENEWAL_WINDOW_BEFORE_DAYS,
        window_after_days: RENEWAL_WINDOW_AFTER_DAYS,
        rates: Vec::new(),
        offsets: vec![0; (RENEWAL_WINDOW_BEFORE_DAYS + RENEWAL_WINDOW_AFTER_DAYS + 1) as usize],
    };
    let mut cells: HashMap<(CourseType, CustomerType), (i64, i64)> = HashMap::new();
    for r in RenewalCell::find_by_statement(stmt).all(conn).await? {
        let cell = cells.entry((r.course_type, r.customer_type)).or_default();
        cell.0 += r.n;
        if let Some(offset) = r.offset_days {
            cell.1 += r.n;
            let i = (offset + RENEWAL_WINDOW_BEFORE_DAYS).clamp(0, model.offsets.len() as i64 - 1);
            model.offsets[i as usize] += r.n;
        }
    }
    let mut rates: Vec<RenewalRate> = cells
        .into_iter()
        .map(
            |((course_type, customer_type), (eligible, renewed))| RenewalRate {
                course_type,
                customer_type,
                eligible,
                renewed,
            },
        )
        .collect();
    rates.sort_by_key(|r| (r.course_type.to_value(), r.customer_type.to_value()));
    model.rates = rates;
    Ok(model)
}

#[derive(FromQueryResult)]
struct Pending {
    booking_id: Uuid,
    user_id: Uuid,
    course_type: CourseType,
    expires_on: NaiveDate,
}

/// Certificates of scored customers whose renewal window had not closed by the model's
/// date and that had not been renewed by then, one per booking, course type and expiry, by
/// holder: one statement.
async fn pending_renewals(
    conn: &impl ConnectionTrait,
    d: Dialect,
    as_of: NaiveDate,
    cutoff: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, Vec<Pending>>> {
    let mut sql = Sql::default();
    let c = sql.bind(cutoff);
    let a = sql.bind(as_of);
    let live_b = live("b", &c);
    let closes = d.add_days("ce.expires_on", RENEWAL_WINDOW_AFTER_DAYS);
    let opens = d.add_days("ce.expires_on", -RENEWAL_WINDOW_BEFORE_DAYS);
    let day = d.day("b.created_at");
    let stmt = sql.statement(
        d.0,
        format!(
            "SELECT DISTINCT ce.booking_id, ce.user_id, cc.course_type, ce.expires_on \
             FROM certificates ce JOIN courses cc ON cc.id = ce.course_id \
             JOIN users u ON u.id = ce.user_id \
             WHERE ce.status <> 'revoked' AND ce.issued_on <= {a} AND {closes} > {a} \
               AND u.role = 'customer' AND u.status = 'active' AND u.merged_into_id IS NULL \
               AND NOT EXISTS (SELECT 1 FROM bookings b \
                 JOIN course_sessions s ON s.id = b.session_id \
                 JOIN courses co ON co.id = s.course_id \
                 WHERE b.user_id = ce.user_id AND co.course_type = cc.course_type \
                   AND {live_b} AND {day} >= {opens})"
        ),
    );
    let mut out: HashMap<Uuid, Vec<Pending>> = HashMap::new();
    for p in Pending::find_by_statement(stmt).all(conn).await? {
        out.entry(p.user_id).or_default().push(p);
    }
    Ok(out)
}

#[derive(FromQueryResult)]
struct Actual {
    user_id: Uuid,
    bookings: i64,
    revenue: i64,
}

/// Per customer, over `[cutoff, end)`: bookings made and not cancelled, and net revenue
/// (payments less refunds): one statement.
async fn actuals(
    conn: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    end: NaiveDate,
) -> AppResult<HashMap<Uuid, (i32, i64)>> {
    let end = end.and_time(NaiveTime::MIN).and_utc();
    let mut sql = Sql::default();
    let (c, e) = (sql.bind(cutoff), sql.bind(end));
    let stmt = sql.statement(
        conn.get_database_backend(),
        format!(
            "SELECT user_id, CAST(SUM(bookings) AS BIGINT) AS bookings, \
               CAST(SUM(revenue) AS BIGINT) AS revenue FROM ( \
               SELECT user_id, COUNT(*) AS bookings, 0 AS revenue FROM bookings \
                 WHERE created_at >= {c} AND created_at < {e} AND status <> 'cancelled' \
                 GROUP BY user_id \
               UNION ALL \
               SELECT user_id, 0, SUM(amount_pence) FROM payments \
                 WHERE status IN ('succeeded', 'refunded') \
                   AND COALESCE(paid_at, created_at) >= {c} AND COALESCE(paid_at, created_at) < {e} \
                 GROUP BY user_id \
               UNION ALL \
               SELECT user_id, 0, -SUM(amount_pence) FROM refunds WHERE status = 'completed' \
                 AND COALESCE(completed_at, updated_at) >= {c} AND COALESCE(completed_at, updated_at) < {e} \
                 GROUP BY user_id \
             ) t GROUP BY user_id"
        ),
    );
    Ok(Actual::find_by_statement(stmt)
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.user_id, (a.bookings as i32, a.revenue)))
        .collect())
}

/// `refreshInsights` for the command line: as of `as_of`, or today.
pub async fn refresh_from_cli(
    db: &DatabaseConnection,
    as_of: Option<NaiveDate>,
) -> AppResult<insight_model::Model> {
    let today = Utc::now().date_naive();
    refresh(
        db,
        &Actor::system(),
        RefreshInsights {
            as_of: as_of.unwrap_or(today),
            today,
        },
    )
    .await
}
