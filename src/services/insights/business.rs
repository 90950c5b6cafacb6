//! The business dashboard: revenue, bookings and new versus returning customers per week
//! or month, with totals, the top courses and venues, and customers per segment.
//!
//! Every figure is aggregated in SQL, grouped by interval (the interval's first day, in
//! UTC), and the intervals are laid out here, so the series has every interval of the
//! range, empty ones included. Money is summed in pence and shown as exact `Decimal`.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use sea_orm::{ActiveEnum, ConnectionTrait, DbBackend, FromQueryResult, Iterable};
use uuid::Uuid;

use super::report_sql::Binds;
use crate::entities::enums::{BookingStatus, CustomerSegment, PaymentRecordStatus, RefundStatus};
use crate::error::{AppError, AppResult};
use crate::money;

/// The longest range a dashboard may cover.
pub const MAX_YEARS: u32 = 10;

/// How the series is divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

/// The dashboard's range: `from` to `to`, both inclusive (UTC days).
#[derive(Debug, Clone, Copy)]
pub struct BusinessQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub interval: Interval,
}

/// One interval of the series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// Its first day (a Monday or the 1st, unless the range starts later).
    pub start: NaiveDate,
    /// Its last day, inclusive (a Sunday or the month's last day, unless the range ends
    /// sooner).
    pub end: NaiveDate,
    /// Payments received less refunds completed in it, in pence.
    pub net_revenue_pence: i64,
    /// Bookings made in it and not cancelled.
    pub bookings: i64,
    /// Customers whose first live booking was made in it.
    pub new_customers: i64,
    /// Customers who made a live booking in it and had made one before it.
    pub returning_customers: i64,
}

/// A course's or venue's part of the range's bookings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The course or venue.
    pub id: Uuid,
    /// Live bookings made in the range.
    pub bookings: i64,
    /// Their total amounts (after discounts), in pence.
    pub revenue_pence: i64,
}

/// The dashboard.
#[derive(Debug, Clone)]
pub struct BusinessInsights {
    pub series: Vec<Point>,
    /// Payments received in the range (succeeded, or refunded later), in pence.
    pub gross_revenue_pence: i64,
    /// Refunds completed in the range, in pence.
    pub refunded_pence: i64,
    /// Live bookings made in the range.
    pub bookings: i64,
    /// Their total amounts, in pence.
    pub booked_value_pence: i64,
    /// The five courses with the most bookings (then revenue, then id).
    pub top_courses: Vec<Share>,
    /// The five venues with the most bookings (then revenue, then id).
    pub top_venues: Vec<Share>,
    /// Customers (merged profiles left out) per segment of the latest insights refresh,
    /// every segment listed, in the segment's order.
    pub segments: Vec<(CustomerSegment, i64)>,
}

impl BusinessInsights {
    /// Gross revenue less refunds.
    pub fn net_revenue(&self) -> Decimal {
        money::from_pence(self.gross_revenue_pence - self.refunded_pence)
    }

    /// Refunded as a share of gross revenue (0 to 1 when refunds are of payments in the
    /// range); 0 when nothing was received.
    pub fn refund_rate(&self) -> f64 {
        if self.gross_revenue_pence == 0 {
            return 0.0;
        }
        (Decimal::from(self.refunded_pence) / Decimal::from(self.gross_revenue_pence))
            .to_f64()
            .unwrap_or(0.0)
    }

    /// The live bookings' mean total amount, to the penny; `None` with no bookings.
    pub fn average_booking_value(&self) -> Option<Decimal> {
        (self.bookings > 0).then(|| {
            (money::from_pence(self.booked_value_pence) / Decimal::from(self.bookings)).round_dp(2)
        })
    }
}

impl BusinessQuery {
    /// BAD_USER_INPUT unless `from <= to` and the range is at most [`MAX_YEARS`].
    fn check(&self) -> AppResult<()> {
        if self.from > self.to {
            return Err(AppError::bad_input("to", "to must not be before from"));
        }
        let limit = self.from.checked_add_months(Months::new(12 * MAX_YEARS));
        if limit.is_none_or(|limit| self.to >= limit) {
            return Err(AppError::bad_input(
                "to",
                format!("the range must be at most {MAX_YEARS} years"),
            ));
        }
        Ok(())
    }

    /// Every interval overlapping the range, in order: its natural first day (the key the
    /// SQL groups by) and its first and last day clipped to the range.
    fn intervals(&self) -> Vec<(NaiveDate, NaiveDate, NaiveDate)> {
        let mut out = Vec::new();
        let mut start = match self.interval {
            Interval::Week => {
                self.from - Duration::days(self.from.weekday().num_days_from_monday().into())
            }
            Interval::Month => self.from.with_day(1).unwrap_or(self.from),
        };
        while start <= self.to {
            let next = match self.interval {
                Interval::Week => start + Duration::days(7),
                Interval::Month => match start.checked_add_months(Months::new(1)) {
                    Some(next) => next,
                    None => break,
                },
            };
            let last = next - Duration::days(1);
            out.push((start, start.max(self.from), last.min(self.to)));
            start = next;
        }
        out
    }
}

/// The interval of the timestamp column `col`, as its first day in `YYYY-MM-DD` text.
fn interval_of(backend: DbBackend, interval: Interval, col: &str) -> String {
    match (backend, interval) {
        (DbBackend::Postgres, Interval::Week) => {
            format!("to_char(date_trunc('week', {col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')")
        }
        (DbBackend::Postgres, Interval::Month) => {
            format!("to_char(date_trunc('month', {col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')")
        }
        // SQLite reads the stored ISO text, offset included, as UTC. `weekday 0` moves
        // forward to the Sunday ending the week (a Sunday stays), six days back is Monday.
        (_, Interval::Week) => format!("date({col}, 'weekday 0', '-6 days')"),
        (_, Interval::Month) => format!("strftime('%Y-%m-01', {col})"),
    }
}

#[derive(Debug, FromQueryResult)]
struct Sum {
    bucket: Option<String>,
    pence: i64,
}

#[derive(Debug, FromQueryResult)]
struct BookingSums {
    bucket: Option<String>,
    bookings: i64,
    customers: i64,
    pence: i64,
}

#[derive(Debug, FromQueryResult)]
struct Count {
    bucket: Option<String>,
    n: i64,
}

#[derive(Debug, FromQueryResult)]
struct ShareRow {
    id: Uuid,
    bookings: i64,
    pence: i64,
}

#[derive(Debug, FromQueryResult)]
struct SegmentRow {
    segment: CustomerSegment,
    n: i64,
}

/// The dashboard over `q`'s range.
#[tracing::instrument(level = "debug", skip_all, fields(from = %q.from, to = %q.to, interval = ?q.interval))]
pub async fn overview(
    conn: &impl ConnectionTrait,
    q: &BusinessQuery,
) -> AppResult<BusinessInsights> {
    q.check()?;
    let backend = conn.get_database_backend();
    let start: DateTime<Utc> = q.from.and_time(NaiveTime::MIN).and_utc();
    let end: DateTime<Utc> = (q.to + Duration::days(1))
        .and_time(NaiveTime::MIN)
        .and_utc();
    let bucket = |col: &str| interval_of(backend, q.interval, col);
    // `[start, end)` on a timestamp column, bound into `b`.
    let within = |b: &mut Binds, col: &str| {
        let (s, e) = (b.bind(start), b.bind(end));
        format!("{col} >= {s} AND {col} < {e}")
    };
    let cancelled = BookingStatus::Cancelled.to_value();

    let mut b = Binds::new(backend);
    let sql = format!(
        "SELECT {} AS bucket, CAST(SUM(amount_pence) AS BIGINT) AS pence FROM payments \
         WHERE status IN ('{}', '{}') AND {} GROUP BY 1",
        bucket("paid_at"),
        PaymentRecordStatus::Succeeded.to_value(),
        PaymentRecordStatus::Refunded.to_value(),
        within(&mut b, "paid_at"),
    );
    let paid = Sum::find_by_statement(b.statement(sql)).all(conn).await?;

    let mut b = Binds::new(backend);
    let sql = format!(
        "SELECT {} AS bucket, CAST(SUM(amount_pence) AS BIGINT) AS pence FROM refunds \
         WHERE status = '{}' AND {} GROUP BY 1",
        bucket("completed_at"),
        RefundStatus::Completed.to_value(),
        within(&mut b, "completed_at"),
    );
    let refunded = Sum::find_by_statement(b.statement(sql)).all(conn).await?;

    let mut b = Binds::new(backend);
    let sql = format!(
        "SELECT {} AS bucket, COUNT(*) AS bookings, COUNT(DISTINCT user_id) AS customers, \
           CAST(SUM(total_amount_pence) AS BIGINT) AS pence \
         FROM bookings WHERE status <> '{cancelled}' AND {} GROUP BY 1",
        bucket("created_at"),
        within(&mut b, "created_at"),
    );
    let booked = BookingSums::find_by_statement(b.statement(sql))
        .all(conn)
        .await?;

    // Each customer's first live booking (bookings moved with a merge belong to the
    // survivor, so a merged customer counts once).
    let mut b = Binds::new(backend);
    let sql = format!(
        "SELECT {} AS bucket, COUNT(*) AS n FROM \
           (SELECT user_id, MIN(created_at) AS first_at FROM bookings \
            WHERE status <> '{cancelled}' GROUP BY user_id) f \
         WHERE {} GROUP BY 1",
        bucket("f.first_at"),
        within(&mut b, "f.first_at"),
    );
    let first = Count::find_by_statement(b.statement(sql)).all(conn).await?;

    let mut top = Vec::new();
    for column in ["s.course_id", "s.venue_id"] {
        let mut b = Binds::new(backend);
        let sql = format!(
            "SELECT {column} AS id, COUNT(*) AS bookings, \
               CAST(SUM(bk.total_amount_pence) AS BIGINT) AS pence \
             FROM bookings bk JOIN course_sessions s ON s.id = bk.session_id \
             WHERE bk.status <> '{cancelled}' AND {} \
             GROUP BY {column} ORDER BY bookings DESC, pence DESC, id LIMIT 5",
            within(&mut b, "bk.created_at"),
        );
        top.push(
            ShareRow::find_by_statement(b.statement(sql))
                .all(conn)
                .await?
                .into_iter()
                .map(|r| Share {
                    id: r.id,
                    bookings: r.bookings,
                    revenue_pence: r.pence,
                })
                .collect::<Vec<_>>(),
        );
    }
    let top_venues = top.pop().unwrap_or_default();
    let top_courses = top.pop().unwrap_or_default();

    let sql = "SELECT ci.segment AS segment, COUNT(*) AS n FROM customer_insights ci \
               JOIN users u ON u.id = ci.user_id WHERE u.merged_into_id IS NULL \
               GROUP BY ci.segment";
    let counted: HashMap<CustomerSegment, i64> =
        SegmentRow::find_by_statement(Binds::new(backend).statement(sql.into()))
            .all(conn)
            .await?
            .into_iter()
            .map(|r| (r.segment, r.n))
            .collect();
    let segments = CustomerSegment::iter()
        .map(|s| (s, counted.get(&s).copied().unwrap_or(0)))
        .collect();

    // Lay the sums out over every interval.
    let intervals = q.intervals();
    let index: HashMap<NaiveDate, usize> = intervals
        .iter()
        .enumerate()
        .map(|(i, (key, _, _))| (*key, i))
        .collect();
    let slot = |bucket: &Option<String>| {
        bucket
            .as_deref()
            .and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
            .and_then(|d| index.get(&d).copied())
    };
    let mut series: Vec<Point> = intervals
        .iter()
        .map(|&(_, start, end)| Point {
            start,
            end,
            net_revenue_pence: 0,
            bookings: 0,
            new_customers: 0,
            returning_customers: 0,
        })
        .collect();
    let mut active = vec![0i64; series.len()];
    let (mut gross, mut refunds, mut bookings, mut booked_value) = (0, 0, 0, 0);
    for r in &paid {
        gross += r.pence;
        if let Some(i) = slot(&r.bucket) {
            series[i].net_revenue_pence += r.pence;
        }
    }
    for r in &refunded {
        refunds += r.pence;
        if let Some(i) = slot(&r.bucket) {
            series[i].net_revenue_pence -= r.pence;
        }
    }
    for r in &booked {
        bookings += r.bookings;
        booked_value += r.pence;
        if let Some(i) = slot(&r.bucket) {
            series[i].bookings += r.bookings;
            active[i] += r.customers;
        }
    }
    for r in &first {
        if let Some(i) = slot(&r.bucket) {
            series[i].new_customers += r.n;
        }
    }
    // Everyone who booked in an interval is new in it (their first live booking is in it)
    // or returning.
    for (point, active) in series.iter_mut().zip(active) {
        point.returning_customers = (active - point.new_customers).max(0);
    }
    Ok(BusinessInsights {
        series,
        gross_revenue_pence: gross,
        refunded_pence: refunds,
        bookings,
        booked_value_pence: booked_value,
        top_courses,
        top_venues,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_are_clipped_to_the_range() {
        let q = BusinessQuery {
            from: d("2026-03-04"), // a Wednesday
            to: d("2026-03-17"),   // a Tuesday
            interval: Interval::Week,
        };
        assert_eq!(
            q.intervals(),
            vec![
                (d("2026-03-02"), d("2026-03-04"), d("2026-03-08")),
                (d("2026-03-09"), d("2026-03-09"), d("2026-03-15")),
                (d("2026-03-16"), d("2026-03-16"), d("2026-03-17")),
            ]
        );
    }

    #[test]
    fn months_start_on_the_first_and_are_clipped_to_the_range() {
        let q = BusinessQuery {
            from: d("2026-01-31"),
            to: d("2026-03-01"),
            interval: Interval::Month,
        };
        assert_eq!(
            q.intervals(),
            vec![
                (d("2026-01-01"), d("2026-01-31"), d("2026-01-31")),
                (d("2026-02-01"), d("2026-02-01"), d("2026-02-28")),
                (d("2026-03-01"), d("2026-03-01"), d("2026-03-01")),
            ]
        );
    }

    #[test]
    fn ranges_must_run_forwards_and_span_at_most_ten_years() {
        let q = |from: &str, to: &str| BusinessQuery {
            from: d(from),
            to: d(to),
            interval: Interval::Month,
        };
        assert!(q("2026-01-01", "2026-01-01").check().is_ok());
        assert!(q("2026-01-02", "2026-01-01").check().is_err());
        assert!(q("2016-01-01", "2025-12-31").check().is_ok());
        assert!(q("2016-01-01", "2026-01-01").check().is_err());
    }

    #[test]
    fn rates_and_averages_are_exact() {
        let insights = BusinessInsights {
            series: Vec::new(),
            gross_revenue_pence: 40_000,
            refunded_pence: 10_000,
            bookings: 3,
            booked_value_pence: 10_000,
            top_courses: Vec::new(),
            top_venues: Vec::new(),
            segments: Vec::new(),
        };
        assert_eq!(insights.net_revenue().to_string(), "300.00");
        assert_eq!(insights.refund_rate(), 0.25);
        assert_eq!(
            insights.average_booking_value().unwrap().to_string(),
            "33.33"
        );
    }
}
