//! A customer's exact history, computed from the facts (bookings, payments, refunds,
//! certificates) for a batch of customers at once: a fixed number of aggregate statements
//! whatever the batch's size, so a page of 50 customers costs what a page of 1 does.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};
use uuid::Uuid;

use crate::entities::enums::{BookingStatus, PaymentMethod, PaymentRecordStatus};
use crate::services::sql::Sql;

/// Days ahead in which an active certificate counts as expiring soon.
pub const EXPIRING_WITHIN_DAYS: u64 = 90;

/// One customer's history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerFacts {
    /// Bookings not cancelled (as `users.total_bookings`).
    pub total_bookings: i64,
    /// Bookings whose status is completed.
    pub completed_bookings: i64,
    /// Bookings cancelled.
    pub cancelled_bookings: i64,
    /// Places on the bookings not cancelled.
    pub total_attendees: i64,
    /// Succeeded (or later refunded) payments, in pence.
    pub gross_spent_pence: i64,
    /// Completed refunds, in pence.
    pub total_refunded_pence: i64,
    /// What the bookings not cancelled still owe, in pence.
    pub outstanding_pence: i64,
    /// Payments that failed.
    pub failed_payments: i64,
    /// When the earliest booking (any status) was made.
    pub first_booking_at: Option<DateTime<Utc>>,
    /// When the latest booking (any status) was made.
    pub last_booking_at: Option<DateTime<Utc>>,
    /// Mean days between the bookings not cancelled; `None` with fewer than two.
    pub booking_frequency_days: Option<f64>,
    /// Bookings not cancelled per course, most booked first (ties by course id).
    pub courses: Vec<Share>,
    /// The venue of the most bookings not cancelled (ties: the latest booked).
    pub preferred_venue: Option<Uuid>,
    /// Succeeded (or later refunded) payments per method, largest amount first.
    pub payment_methods: Vec<MethodTotal>,
    /// The customer's certificates by state.
    pub certificates: CertificateCounts,
}

impl CustomerFacts {
    /// Net spent: gross less refunds, as `users.total_spent_pence`.
    pub fn net_spent_pence(&self) -> i64 {
        self.gross_spent_pence - self.total_refunded_pence
    }
}

/// A course's share of a customer's bookings.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// The course.
    pub course_id: Uuid,
    /// Bookings of it not cancelled.
    pub bookings: i64,
    /// Its fraction of the customer's bookings not cancelled.
    pub share: f64,
}

/// A payment method's total for one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodTotal {
    /// The method.
    pub method: PaymentMethod,
    /// Succeeded (or later refunded) payments by it.
    pub payments: i64,
    /// Their amount, in pence.
    pub amount_pence: i64,
}

/// A customer's certificates by state on a given day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateCounts {
    /// Active and not yet expired.
    pub active: i64,
    /// Active and expiring within [`EXPIRING_WITHIN_DAYS`].
    pub expiring_soon: i64,
    /// Expired (by status, or active past the expiry date).
    pub expired: i64,
    /// The earliest expiry among the active ones.
    pub next_expiry: Option<NaiveDate>,
}

#[derive(FromQueryResult)]
struct BookingGroup {
    user_id: Uuid,
    course_id: Uuid,
    venue_id: Uuid,
    status: String,
    n: i64,
    attendees: i64,
    outstanding: i64,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct PaymentGroup {
    user_id: Uuid,
    method: String,
    status: String,
    n: i64,
    amount: i64,
}

#[derive(FromQueryResult)]
struct RefundTotal {
    user_id: Uuid,
    amount: i64,
}

#[derive(FromQueryResult)]
struct CertificateGroup {
    user_id: Uuid,
    active: i64,
    expiring: i64,
    expired: i64,
    next_expiry: Option<NaiveDate>,
}

/// The history of each of `user_ids` on `today` (customers without any facts get the
/// default, all zero): four aggregate statements for any number of customers.
pub async fn load(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
    today: NaiveDate,
) -> Result<HashMap<Uuid, CustomerFacts>, DbErr> {
    let mut out: HashMap<Uuid, CustomerFacts> = user_ids
        .iter()
        .map(|id| (*id, CustomerFacts::default()))
        .collect();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let backend = conn.get_database_backend();

    // Bookings, by customer, course, venue and status.
    let mut sql = Sql::default();
    let ids = sql.any_of(backend, user_ids);
    let stmt = sql.statement(
        backend,
        format!(
            "SELECT b.user_id, s.course_id, s.venue_id, b.status, COUNT(*) AS n, \
             CAST(COALESCE(SUM(b.number_of_attendees), 0) AS BIGINT) AS attendees, \
             CAST(COALESCE(SUM(CASE WHEN b.total_amount_pence > b.amount_paid_pence \
                 THEN b.total_amount_pence - b.amount_paid_pence ELSE 0 END), 0) AS BIGINT) AS outstanding, \
             MIN(b.created_at) AS first_at, MAX(b.created_at) AS last_at \
             FROM bookings b JOIN course_sessions s ON s.id = b.session_id \
             WHERE b.user_id {ids} \
             GROUP BY b.user_id, s.course_id, s.venue_id, b.status"
        ),
    );
    let cancelled = status_text(BookingStatus::Cancelled);
    let completed = status_text(BookingStatus::Completed);
    // Per customer: course and venue counts, and the live bookings' span.
    let mut per_course: HashMap<Uuid, HashMap<Uuid, i64>> = HashMap::new();
    let mut per_venue: HashMap<Uuid, HashMap<Uuid, (i64, DateTime<Utc>)>> = HashMap::new();
    let mut live_span: HashMap<Uuid, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for g in BookingGroup::find_by_statement(stmt).all(conn).await? {
        let f = out.entry(g.user_id).or_default();
        f.first_booking_at = Some(f.first_booking_at.map_or(g.first_at, |t| t.min(g.first_at)));
        f.last_booking_at = Some(f.last_booking_at.map_or(g.last_at, |t| t.max(g.last_at)));
        if g.status == cancelled {
            f.cancelled_bookings += g.n;
            continue;
        }
        if g.status == completed {
            f.completed_bookings += g.n;
        }
        f.total_bookings += g.n;
        f.total_attendees += g.attendees;
        f.outstanding_pence += g.outstanding;
        *per_course
            .entry(g.user_id)
            .or_default()
            .entry(g.course_id)
            .or_default() += g.n;
        let venue = per_venue
            .entry(g.user_id)
            .or_default()
            .entry(g.venue_id)
            .or_insert((0, g.last_at));
        venue.0 += g.n;
        venue.1 = venue.1.max(g.last_at);
        let span = live_span
            .entry(g.user_id)
            .or_insert((g.first_at, g.last_at));
        span.0 = span.0.min(g.first_at);
        span.1 = span.1.max(g.last_at);
    }
    for (user_id, f) in out.iter_mut() {
        if let Some(courses) = per_course.remove(user_id) {
            let mut shares: Vec<Share> = courses
                .into_iter()
                .map(|(course_id, bookings)| Share {
                    course_id,
                    bookings,
                    share: bookings as f64 / f.total_bookings as f64,
                })
                .collect();
            shares.sort_by(|a, b| {
                b.bookings
                    .cmp(&a.bookings)
                    .then(a.course_id.cmp(&b.course_id))
            });
            f.courses = shares;
        }
        if let Some(venues) = per_venue.remove(user_id) {
            f.preferred_venue = venues
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(id, _)| id);
        }
        if let Some((first, last)) = live_span.get(user_id)
            && f.total_bookings >= 2
        {
            let days = (*last - *first).num_seconds() as f64 / 86_400.0;
            f.booking_frequency_days = Some(days / (f.total_bookings - 1) as f64);
        }
    }

    // Payments, by customer, method and status.
    let mut sql = Sql::default();
    let ids = sql.any_of(backend, user_ids);
    let stmt = sql.statement(
        backend,
        format!(
            "SELECT user_id, method, status, COUNT(*) AS n, CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS amount \
             FROM payments WHERE user_id {ids} GROUP BY user_id, method, status"
        ),
    );
    let succeeded = [
        status_text(PaymentRecordStatus::Succeeded),
        status_text(PaymentRecordStatus::Refunded),
    ];
    let failed = status_text(PaymentRecordStatus::Failed);
    let mut methods: HashMap<Uuid, HashMap<String, (i64, i64)>> = HashMap::new();
    for g in PaymentGroup::find_by_statement(stmt).all(conn).await? {
        let f = out.entry(g.user_id).or_default();
        if g.status == failed {
            f.failed_payments += g.n;
        } else if succeeded.contains(&g.status) {
            f.gross_spent_pence += g.amount;
            let m = methods
                .entry(g.user_id)
                .or_default()
                .entry(g.method)
                .or_default();
            m.0 += g.n;
            m.1 += g.amount;
        }
    }
    for (user_id, by_method) in methods {
        let mut totals: Vec<MethodTotal> = by_method
            .into_iter()
            .filter_map(|(method, (payments, amount_pence))| {
                Some(MethodTotal {
                    method: parse_method(&method)?,
                    payments,
                    amount_pence,
                })
            })
            .collect();
        totals.sort_by(|a, b| {
            b.amount_pence
                .cmp(&a.amount_pence)
                .then(b.payments.cmp(&a.payments))
        });
        if let Some(f) = out.get_mut(&user_id) {
            f.payment_methods = totals;
        }
    }

    // Completed refunds.
    let mut sql = Sql::default();
    let ids = sql.any_of(backend, user_ids);
    let stmt = sql.statement(
        backend,
        format!(
            "SELECT user_id, CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS amount FROM refunds \
             WHERE status = 'completed' AND user_id {ids} GROUP BY user_id"
        ),
    );
    for r in RefundTotal::find_by_statement(stmt).all(conn).await? {
        out.entry(r.user_id).or_default().total_refunded_pence += r.amount;
    }

    // Certificates on `today`.
    let soon = today
        .checked_add_days(Days::new(EXPIRING_WITHIN_DAYS))
        .unwrap_or(today);
    let mut sql = Sql::default();
    let ids = sql.any_of(backend, user_ids);
    let (t, s) = (sql.bind(today), sql.bind(soon));
    let stmt = sql.statement(
        backend,
        format!(
            "SELECT user_id, \
             CAST(COALESCE(SUM(CASE WHEN status = 'active' AND expires_on >= {t} THEN 1 ELSE 0 END), 0) AS BIGINT) AS active, \
             CAST(COALESCE(SUM(CASE WHEN status = 'active' AND expires_on >= {t} AND expires_on <= {s} THEN 1 ELSE 0 END), 0) AS BIGINT) AS expiring, \
             CAST(COALESCE(SUM(CASE WHEN status = 'expired' OR (status = 'active' AND expires_on < {t}) THEN 1 ELSE 0 END), 0) AS BIGINT) AS expired, \
             MIN(CASE WHEN status = 'active' AND expires_on >= {t} THEN expires_on END) AS next_expiry \
             FROM certificates WHERE user_id {ids} GROUP BY user_id"
        ),
    );
    for c in CertificateGroup::find_by_statement(stmt).all(conn).await? {
        out.entry(c.user_id).or_default().certificates = CertificateCounts {
            active: c.active,
            expiring_soon: c.expiring,
            expired: c.expired,
            next_expiry: c.next_expiry,
        };
    }
    Ok(out)
}

/// An enum's stored text.
pub(crate) fn status_text<E: sea_orm::ActiveEnum<Value = String>>(e: E) -> String {
    e.to_value()
}

fn parse_method(text: &str) -> Option<PaymentMethod> {
    use sea_orm::ActiveEnum;
    PaymentMethod::try_from_value(&text.to_string()).ok()
}
