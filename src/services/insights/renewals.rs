//! The renewal call list: certificates that expire soon and whose holder has not booked the
//! same kind of course again, soonest first, a page at a time.
//!
//! Merged tombstones are left out (their certificates moved to the survivor with the
//! merge: docs/ARCHITECTURE.md, "Merged users").

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ActiveEnum, ConnectionTrait, FromQueryResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::report_sql::{Binds, decode_cursor, encode_cursor, page_size, utc_date};
use crate::entities::certificate::CertificateExpiry;
use crate::entities::enums::{BookingStatus, CertificateStatus, CourseType, ReminderFrequency};
use crate::error::{AppError, AppResult};

/// The longest window `within_days` may ask for (about ten years).
pub const MAX_WITHIN_DAYS: i32 = 3650;

/// Which certificates the call list holds.
#[derive(Debug, Clone)]
pub struct RenewalQuery {
    /// The first day of the window (today, in UTC).
    pub today: NaiveDate,
    /// The window's length: certificates expiring from `today` to `today + within_days`,
    /// both inclusive (0 to [`MAX_WITHIN_DAYS`]).
    pub within_days: i32,
    /// Only certificates from courses of this type.
    pub course_type: Option<CourseType>,
    /// Only holders who agreed to marketing (`users.marketing_consent`).
    pub marketing_consent_only: bool,
    /// Only holders who want renewal reminders (`users.reminder_frequency` is not
    /// `never`): the reminder emails ask for this; the admins' call list does not.
    pub wants_reminders_only: bool,
}

impl RenewalQuery {
    /// The last day of the window, or BAD_USER_INPUT for a window out of range.
    fn until(&self) -> AppResult<NaiveDate> {
        if !(0..=MAX_WITHIN_DAYS).contains(&self.within_days) {
            return Err(AppError::bad_input(
                "withinDays",
                format!("withinDays must be between 0 and {MAX_WITHIN_DAYS}"),
            ));
        }
        Ok(self.today + Duration::days(self.within_days.into()))
    }
}

/// One line of the call list.
#[derive(Debug, Clone)]
pub struct Renewal {
    /// The certificate: its id, holder (`user_id`), expiry and status.
    pub certificate: CertificateExpiry,
    /// The course it certifies.
    pub course_id: Uuid,
    /// Days from today to the expiry (0: expires today).
    pub days_to_expiry: i32,
    /// The holder's company name, as on their profile.
    pub company: Option<String>,
    /// The latest of the holder's last booking, their profile's last activity, and the
    /// last note staff added to their record.
    pub last_contact: DateTime<Utc>,
}

/// A page of the call list: each line with its cursor.
pub struct RenewalPage {
    pub rows: Vec<(String, Renewal)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

/// Where a page starts: after this expiry and certificate id.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    e: NaiveDate,
    id: Uuid,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    id: Uuid,
    user_id: Uuid,
    course_id: Uuid,
    expires_on: NaiveDate,
    status: CertificateStatus,
    company_name: Option<String>,
    last_booking_at: Option<DateTime<Utc>>,
    last_activity_at: DateTime<Utc>,
    last_note_at: Option<DateTime<Utc>>,
}

impl Row {
    fn into_renewal(self, today: NaiveDate) -> (String, Renewal) {
        let cursor = encode_cursor(&Cursor {
            e: self.expires_on,
            id: self.id,
        });
        let last_contact = [self.last_booking_at, self.last_note_at]
            .into_iter()
            .flatten()
            .fold(self.last_activity_at, std::cmp::max);
        let days = (self.expires_on - today).num_days();
        (
            cursor,
            Renewal {
                certificate: CertificateExpiry {
                    id: self.id,
                    user_id: self.user_id,
                    expires_on: self.expires_on,
                    status: self.status,
                },
                course_id: self.course_id,
                days_to_expiry: i32::try_from(days).unwrap_or(i32::MAX),
                company: self.company_name,
                last_contact,
            },
        )
    }
}

/// `FROM ... WHERE ...` of the call list: certificates (`c`) with their holder (`u`) and
/// course (`co`), the query's conditions bound into `b`.
fn from_where(b: &mut Binds, backend: sea_orm::DbBackend, q: &RenewalQuery) -> AppResult<String> {
    let until = q.until()?;
    let revoked = CertificateStatus::Revoked.to_value();
    let cancelled = BookingStatus::Cancelled.to_value();
    // SQLite's planner, given statistics, prefers to walk every certificate by course (the
    // courses are few) over the expiry range: 1.5 s against 27 ms at 600,000 certificates.
    // The call list is always a window of expiry dates, so it reads by that index.
    let certificates = match backend {
        sea_orm::DbBackend::Sqlite => "certificates c INDEXED BY idx_certificates_expires_on",
        _ => "certificates c",
    };
    let mut sql = format!(
        "FROM {certificates} \
         JOIN users u ON u.id = c.user_id \
         JOIN courses co ON co.id = c.course_id \
         WHERE c.status <> '{revoked}' \
           AND c.expires_on >= {} AND c.expires_on <= {} \
           AND u.merged_into_id IS NULL",
        b.bind(q.today),
        b.bind(until),
    );
    if q.marketing_consent_only {
        sql.push_str(&format!(" AND u.marketing_consent = {}", b.bind(true)));
    }
    if q.wants_reminders_only {
        sql.push_str(&format!(
            " AND u.reminder_frequency <> {}",
            b.bind(ReminderFrequency::Never.to_value())
        ));
    }
    if let Some(t) = q.course_type {
        sql.push_str(&format!(" AND co.course_type = {}", b.bind(t.to_value())));
    }
    // Booked again: a live booking for a session, starting on a later day than the
    // certificate was issued, of a course of the same type.
    sql.push_str(&format!(
        " AND NOT EXISTS (SELECT 1 FROM bookings b \
             JOIN course_sessions s ON s.id = b.session_id \
             JOIN courses bc ON bc.id = s.course_id \
           WHERE b.user_id = c.user_id AND b.status <> '{cancelled}' \
             AND bc.course_type = co.course_type \
             AND {} > c.issued_on)",
        utc_date(backend, "s.starts_at"),
    ));
    Ok(sql)
}

/// A page of the renewal call list, by expiry then certificate id. `first` is 0 to 100
/// (default 20); `after` is a cursor from an earlier page of the same list.
#[tracing::instrument(level = "debug", skip_all, fields(within_days = q.within_days, first = ?first))]
pub async fn due(
    conn: &impl ConnectionTrait,
    q: &RenewalQuery,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<RenewalPage> {
    let backend = conn.get_database_backend();
    let mut b = Binds::new(backend);
    let mut sql = format!(
        "SELECT c.id AS id, c.user_id AS user_id, c.course_id AS course_id, \
           c.expires_on AS expires_on, c.status AS status, u.company_name AS company_name, \
           u.last_booking_at AS last_booking_at, u.last_activity_at AS last_activity_at, \
           (SELECT MAX(n.created_at) FROM user_notes n WHERE n.user_id = u.id) AS last_note_at \
         {}",
        from_where(&mut b, backend, q)?
    );
    let limit = page_size(first)?;
    let cursor: Option<Cursor> = after.map(|a| decode_cursor("after", a)).transpose()?;
    if let Some(c) = &cursor {
        let (e1, e2, id) = (b.bind(c.e), b.bind(c.e), b.bind(c.id));
        sql.push_str(&format!(
            " AND (c.expires_on > {e1} OR (c.expires_on = {e2} AND c.id > {id}))"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY c.expires_on, c.id LIMIT {}",
        b.bind((limit + 1) as i64)
    ));
    let mut rows = Row::find_by_statement(b.statement(sql)).all(conn).await?;
    let has_next_page = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok(RenewalPage {
        rows: rows.into_iter().map(|r| r.into_renewal(q.today)).collect(),
        has_next_page,
        has_previous_page: cursor.is_some(),
    })
}

/// How many certificates the call list holds, over all pages.
#[tracing::instrument(level = "debug", skip_all, fields(within_days = q.within_days))]
pub async fn count(conn: &impl ConnectionTrait, q: &RenewalQuery) -> AppResult<u64> {
    let backend = conn.get_database_backend();
    let mut b = Binds::new(backend);
    let sql = format!("SELECT COUNT(*) AS n {}", from_where(&mut b, backend, q)?);
    let n = match conn.query_one_raw(b.statement(sql)).await? {
        Some(row) => row.try_get::<i64>("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
