//! Rate limits whose counters live in the database (`rate_limit_buckets`), so they hold
//! across instances of the service and across restarts.
//!
//! Each limit is GCRA (the generic cell rate algorithm): a limit of `n` per `period` emits
//! one request every `T = period / n`, with a burst of `n`. A bucket stores its theoretical
//! arrival time (TAT); a request is allowed when `max(tat, now) + T - now <= period`, and
//! then moves the TAT there. One `INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`
//! makes the check and the update together, atomically on both backends: a refused request
//! changes nothing, so no interleaving of concurrent attempts can exceed the limit.
//!
//! Keys never hold what they count: a bucket's key is the kind and the hex HMAC-SHA256 of
//! `kind:value`, under a key derived from the JWT secret, so the table holds no IP address,
//! email or booking reference.

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use sha2::Sha256;

use crate::config::Secret;
use crate::error::{AppError, AppResult};

/// On average one check in this many also deletes the spent buckets.
const PRUNE_ONE_IN: u32 = 500;

/// A rate: `count` requests per `period`, refilled evenly, with a burst of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    count: u32,
    period: Duration,
}

impl Limit {
    /// `count` per `period` (at least one request, and at least a millisecond).
    pub fn new(count: u32, period: Duration) -> Self {
        Self {
            count: count.max(1),
            period: period.max(Duration::from_millis(1)),
        }
    }

    /// `count` per minute.
    pub fn per_minute(count: u32) -> Self {
        Self::new(count, Duration::from_secs(60))
    }

    /// How many requests a full bucket allows at once.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period the count is over.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The emission interval `T = period / count`, in whole milliseconds (at least one).
    fn interval(&self) -> TimeDelta {
        let ms = (self.period.as_millis() / u128::from(self.count)).max(1);
        TimeDelta::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2))
    }

    fn period_delta(&self) -> TimeDelta {
        TimeDelta::from_std(self.period).unwrap_or(TimeDelta::MAX)
    }
}

/// `COUNT/PERIOD`, the period a number and a unit (`s`, `m`, `h` or `d`): `10/1m`, `5/15m`.
impl FromStr for Limit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid limit {s:?}: use COUNT/PERIOD, e.g. 10/1m, 5/15m or 100/1h");
        let (count, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = period.split_at(split);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| bad())?
        };
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        if count == 0 || n == 0 {
            return Err(bad());
        }
        Ok(Self::new(
            count,
            Duration::from_secs(n.saturating_mul(unit_secs)),
        ))
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        let (n, unit) = match secs {
            s if s % 86_400 == 0 => (s / 86_400, "d"),
            s if s % 3600 == 0 => (s / 3600, "h"),
            s if s % 60 == 0 => (s / 60, "m"),
            s => (s, "s"),
        };
        write!(f, "{}/{n}{unit}", self.count)
    }
}

/// The database-backed limiter: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct RateLimiter {
    key: Arc<[u8; 32]>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RateLimiter([redacted])")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl RateLimiter {
    /// A limiter whose bucket keys are keyed with a key derived from `secret` (the JWT
    /// secret): every instance with the same secret shares the same buckets.
    pub fn new(secret: &Secret) -> Self {
        let mut mac = hmac_with(secret.expose().as_bytes());
        mac.update(b"rft-users rate-limit bucket keys v1");
        Self {
            key: Arc::new(mac.finalize().into_bytes().into()),
        }
    }

    /// The bucket key for `value` of `kind`: `kind:` and the hex HMAC-SHA256 of
    /// `kind:value`. Also the keyed hash to store wherever the value itself must not be.
    pub fn bucket_key(&self, kind: &str, value: &str) -> String {
        let mut mac = hmac_with(&self.key[..]);
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        format!("{kind}:{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Takes one request from the bucket of `value` of `kind` (e.g. `login-ip` and the
    /// client's address), or fails with RATE_LIMITED and how long to wait.
    #[tracing::instrument(level = "debug", skip(self, conn, value, limit))]
    pub async fn check(
        &self,
        conn: &impl ConnectionTrait,
        kind: &str,
        value: &str,
        limit: Limit,
    ) -> AppResult<()> {
        let key = self.bucket_key(kind, value);
        let now = now_ms();
        let outcome = take(conn, &key, limit, now).await;
        if rand::thread_rng().gen_ratio(1, PRUNE_ONE_IN)
            && let Err(e) = prune(conn, now).await
        {
            tracing::warn!(error = %e, "pruning spent rate-limit buckets");
        }
        outcome
    }
}

fn hmac_with(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// Now, to the millisecond (the precision SQLite's date functions keep).
fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or(now)
}

/// The GCRA step for one key at `now`, as one statement.
async fn take(
    conn: &impl ConnectionTrait,
    key: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let backend = conn.get_database_backend();
    let t = limit.interval();
    // The latest stored TAT that still lets one more request in.
    let latest = now + limit.period_delta() - t;
    let (plus_t, step): (&str, Value) = match backend {
        DbBackend::Postgres => (
            "rate_limit_buckets.tat + $4 * INTERVAL '1 millisecond'",
            t.num_milliseconds().into(),
        ),
        // The same format sqlx writes (RFC 3339, UTC), so TATs compare as text.
        _ => (
            "strftime('%Y-%m-%dT%H:%M:%f+00:00', rate_limit_buckets.tat, $4)",
            format!("+{}.{:03} seconds", t.num_seconds(), t.subsec_millis()).into(),
        ),
    };
    let sql = format!(
        "INSERT INTO rate_limit_buckets (key, tat) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET tat = CASE \
             WHEN rate_limit_buckets.tat < $3 THEN $2 \
             ELSE {plus_t} END \
         WHERE rate_limit_buckets.tat <= $5 \
         RETURNING tat"
    );
    let allowed = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                key.into(),
                (now + t).into(),
                now.into(),
                step,
                latest.into(),
            ],
        ))
        .await?;
    if allowed.is_some() {
        return Ok(());
    }
    // Refused, and nothing changed: wait until the TAT is back within reach.
    let tat = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT tat FROM rate_limit_buckets WHERE key = $1",
            [key.into()],
        ))
        .await?
        .map(|row| row.try_get::<DateTime<Utc>>("", "tat"))
        .transpose()?
        .unwrap_or(latest);
    let wait_ms = u64::try_from((tat - latest).num_milliseconds()).unwrap_or(0);
    Err(AppError::RateLimited {
        retry_after_secs: wait_ms.div_ceil(1000).max(1),
    })
}

/// Deletes the buckets that are spent at `now` (their TAT has passed: a new request
/// starts afresh anyway). Returns how many went.
pub async fn prune(conn: &impl ConnectionTrait, now: DateTime<Utc>) -> AppResult<u64> {
    let backend = conn.get_database_backend();
    let done = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "DELETE FROM rate_limit_buckets WHERE tat < $1",
            [now.into()],
        ))
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_print() {
        assert_eq!(
            "10/1m".parse::<Limit>().unwrap(),
            Limit::new(10, Duration::from_secs(60))
        );
        assert_eq!(
            " 5 / 15m ".parse::<Limit>().unwrap(),
            Limit::new(5, Duration::from_secs(900))
        );
        assert_eq!("3/h".parse::<Limit>().unwrap().to_string(), "3/1h");
        assert_eq!(Limit::new(7, Duration::from_secs(90)).to_string(), "7/90s");
        for bad in ["", "10", "0/1m", "10/0m", "10/1w", "x/1m", "10/m1"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_are_keyed_hashes_of_kind_and_value() {
        let a = RateLimiter::new(&Secret::new("a".repeat(40)));
        let b = RateLimiter::new(&Secret::new("b".repeat(40)));
        let key = a.bucket_key("login-ip", "203.0.113.9");
        assert!(key.starts_with("login-ip:"));
        assert!(!key.contains("203.0.113.9"));
        assert_eq!(key.len(), "login-ip:".len() + 64);
        assert_eq!(key, a.bucket_key("login-ip", "203.0.113.9"));
        assert_ne!(key, b.bucket_key("login-ip", "203.0.113.9"));
        assert_ne!(key, a.bucket_key("portal-ip", "203.0.113.9"));
    }
}
