//! `--scenario insights`: customer insights over the history generator's data
//! (`services::history`, `HistoryConfig::benchmark()`: by default 100,000 customers and
//! about 400,000 bookings over 12 years, customers renewing certificates near expiry).
//!
//! In order, with the admin's token:
//! 1. `refreshInsights` (so segments and predictions exist), timed from the client, against
//!    one full aggregate scan of `bookings` (`SELECT user_id, COUNT(*), SUM(...), MIN(...),
//!    MAX(...) FROM bookings GROUP BY user_id`, through a plain SeaORM connection, before
//!    and after the refresh, averaged): the ratio's target is at most 10;
//! 2. a page of 50 users with every insights field: p50 and p99 with one client, then
//!    throughput with `--concurrency` clients for `--seconds`;
//! 3. `renewalsDue(withinDays: 90)`, first page: p50 and p99;
//! 4. `businessInsights` over the last 3 years by month (series and totals): p50 and p99.
//!
//! Any GraphQL error (the insights API not merged yet, a field renamed) is printed and the
//! benchmark exits non-zero.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hdrhistogram::Histogram;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use rft_users::services::demo::add_years;

/// A page of 50 users with their full insights.
pub const INSIGHTS_PAGE: &str = "query($first: Int) { users(first: $first) { nodes { id email insights { \
  totalBookings completedBookings cancelledBookings totalAttendees grossSpent totalRefunded netSpent \
  averageBookingValue outstandingBalance failedPayments firstBookingAt lastBookingAt bookingFrequencyDays \
  preferredCourses { course { id name } bookings share } preferredVenue { id name } \
  paymentMethods { method payments amount } \
  certificates { active expiringWithin90Days expired nextExpiry } \
  segment rfm { recency frequency monetary } \
  prediction { probabilityActive expectedBookings expectedSpend renewalProbability nextRenewalDue predictedValue } \
} } } }";

/// The renewal call list's first page.
pub const RENEWALS_DUE: &str =
    "query { renewalsDue(withinDays: 90) { nodes { id expiresOn holder { id email } } } }";

/// The dashboard: monthly series and the totals.
pub const BUSINESS_INSIGHTS: &str = "query($from: NaiveDate!, $to: NaiveDate!) { \
  businessInsights(from: $from, to: $to, interval: MONTH) { \
    series { start end netRevenue bookings newCustomers returningCustomers } \
    netRevenue grossRevenue refunded refundRate bookings averageBookingValue \
    topCourses { course { id name } bookings revenue } topVenues { venue { id name } bookings revenue } \
    segments { segment customers } } }";

/// Refits the insights.
pub const REFRESH: &str = "mutation { refreshInsights { id customers durationMs } }";

/// One full aggregate scan of `bookings`, per customer.
const BOOKINGS_SCAN: &str = "SELECT user_id, COUNT(*) AS bookings, SUM(total_amount_pence) AS total, \
  MIN(created_at) AS first_at, MAX(created_at) AS last_at FROM bookings GROUP BY user_id";

/// The GraphQL endpoint, with the admin's token.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Api {
    /// Sends an operation; its time and response, or the errors it answered.
    async fn post(&self, query: &str, variables: &Value) -> anyhow::Result<(Duration, Value)> {
        let t = Instant::now();
        let answer = self
            .client
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        let status = answer.status();
        let body = answer.text().await?;
        let elapsed = t.elapsed();
        let resp: Value = serde_json::from_str(&body).map_err(|_| {
            anyhow::anyhow!(
                "HTTP {status} after {:.1} s, not a GraphQL answer: {}",
                elapsed.as_secs_f64(),
                body.chars().take(200).collect::<String>()
            )
        })?;
        if let Some(errors) = resp.get("errors") {
            anyhow::bail!(
                "the server answered errors (is the insights API merged?): {}",
                serde_json::to_string_pretty(errors)?
            );
        }
        Ok((elapsed, resp))
    }

    /// `warmup` untimed requests, then `n` timed ones from one client.
    async fn measure(
        &self,
        query: &str,
        variables: &Value,
        warmup: usize,
        n: usize,
    ) -> anyhow::Result<(Histogram<u64>, Value)> {
        let mut h = histogram();
        let mut sample = Value::Null;
        for i in 0..(warmup + n) {
            let (t, resp) = self.post(query, variables).await?;
            if i >= warmup {
                record(&mut h, t);
            }
            sample = resp;
        }
        Ok((h, sample))
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| Histogram::new(3).unwrap())
}

/// Records a latency in microseconds.
fn record(h: &mut Histogram<u64>, t: Duration) {
    let us = u64::try_from(t.as_micros()).unwrap_or(u64::MAX).max(1);
    h.saturating_record(us);
}

/// The `q` quantile, in milliseconds.
fn q_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Times one full aggregate scan of `bookings` through `db`.
async fn scan(db: &sea_orm::DatabaseConnection) -> anyhow::Result<(Duration, usize)> {
    let t = Instant::now();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            BOOKINGS_SCAN,
        ))
        .await?;
    Ok((t.elapsed(), rows.len()))
}

/// Runs the scenario against a server already started and seeded; `url` is its database.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    url: &str,
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    requests: usize,
    concurrency: usize,
    seconds: u64,
    backend: &str,
    users: u64,
    bookings: u64,
) -> anyhow::Result<()> {
    let api = Api {
        client: client.clone(),
        endpoint: endpoint.to_string(),
        token: token.to_string(),
    };

    // 1. The refresh, against full scans of bookings on a plain connection.
    let plain = Database::connect(url).await?;
    let (scan_before, customers_scanned) = scan(&plain).await?;
    let (refresh_time, refreshed) = api.post(REFRESH, &Value::Null).await?;
    let (scan_after, _) = scan(&plain).await?;
    plain.close().await.ok();
    let scan_time = (scan_before + scan_after) / 2;
    let model = &refreshed["data"]["refreshInsights"];

    // 2. A page of 50 users with full insights: one client, then many.
    let page_vars = json!({ "first": 50 });
    let (page, sample) = api.measure(INSIGHTS_PAGE, &page_vars, 10, requests).await?;
    let page_rows = sample["data"]["users"]["nodes"]
        .as_array()
        .map_or(0, Vec::len);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (api, vars, failure) = (api.clone(), page_vars.clone(), failure.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = histogram();
            while Instant::now() < deadline {
                match api.post(INSIGHTS_PAGE, &vars).await {
                    Ok((t, _)) => record(&mut h, t),
                    Err(e) => {
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                        break;
                    }
                }
            }
            h
        }));
    }
    let phase = Instant::now();
    let mut concurrent = histogram();
    for t in tasks {
        concurrent.add(t.await?).ok();
    }
    let elapsed = phase.elapsed();
    if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        anyhow::bail!(e);
    }

    // 3. The renewal call list.
    let (renewals, renewals_sample) = api
        .measure(RENEWALS_DUE, &Value::Null, 10, requests)
        .await?;
    let due = renewals_sample["data"]["renewalsDue"]["nodes"]
        .as_array()
        .map_or(0, Vec::len);

    // 4. The dashboard over three years, by month.
    let today = Utc::now().date_naive();
    let from = add_years(today, -3);
    let business_vars = json!({ "from": from, "to": today });
    let (business, business_sample) = api
        .measure(BUSINESS_INSIGHTS, &business_vars, 5, requests.min(200))
        .await?;
    let months = business_sample["data"]["businessInsights"]["series"]
        .as_array()
        .map_or(0, Vec::len);

    println!("backend: {backend}; {users} users, {bookings} bookings");
    println!(
        "refreshInsights: {:.2} s from the client ({} customers, durationMs {}); full aggregate scan of bookings ({customers_scanned} customers): {:.3} s; ratio {:.1} (target ≤ 10)",
        refresh_time.as_secs_f64(),
        model["customers"],
        model["durationMs"],
        scan_time.as_secs_f64(),
        refresh_time.as_secs_f64() / scan_time.as_secs_f64().max(1e-9),
    );
    println!(
        "users(first: 50) with full insights ({page_rows} rows), 1 client, {} requests: p50 {:.2} ms, p99 {:.2} ms",
        page.len(),
        q_ms(&page, 0.50),
        q_ms(&page, 0.99),
    );
    println!(
        "users(first: 50) with full insights, {concurrency} clients, {:.1} s: {:.1} requests/s, p50 {:.2} ms, p99 {:.2} ms ({} requests)",
        elapsed.as_secs_f64(),
        concurrent.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        q_ms(&concurrent, 0.50),
        q_ms(&concurrent, 0.99),
        concurrent.len(),
    );
    println!(
        "renewalsDue(withinDays: 90), first page ({due} rows), 1 client, {} requests: p50 {:.2} ms, p99 {:.2} ms",
        renewals.len(),
        q_ms(&renewals, 0.50),
        q_ms(&renewals, 0.99),
    );
    println!(
        "businessInsights({from} to {today}, MONTH) ({months} months), 1 client, {} requests: p50 {:.2} ms, p99 {:.2} ms",
        business.len(),
        q_ms(&business, 0.50),
        q_ms(&business, 0.99),
    );
    Ok(())
}
