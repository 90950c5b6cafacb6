//! Company accounts: customers grouped by their normalised company name (the `company_key`
//! that duplicate detection keeps in `user_match_keys`, so "Acme Ltd" and "ACME Limited"
//! are one company), with their counts and money, sorted and paged over the aggregate.
//!
//! Only customers count (not staff), and never merged tombstones (docs/ARCHITECTURE.md,
//! "Merged users"). Bookings, spend and last booking come from the customers' counters
//! (docs/ARCHITECTURE.md, "Customer counters").

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ActiveEnum, ConnectionTrait, DbBackend, DbErr, FromQueryResult, Value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::report_sql::{
    Binds, contains_pattern, decode_cursor, encode_cursor, epoch_millis, page_size,
};
use crate::entities::enums::{BookingStatus, CertificateStatus, Role};
use crate::error::{AppError, AppResult};
use crate::services::user_search::SortDirection;

/// What companies can be sorted by; ties are broken by the company's key. (Serialized into
/// cursors: renaming a variant invalidates cursors already handed out.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompanySortField {
    /// The normalised name (the key), A to Z.
    Name,
    NetSpent,
    Bookings,
    Customers,
    LastBooking,
}

/// How to order the companies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompanyOrder {
    pub field: CompanySortField,
    pub direction: SortDirection,
}

impl CompanyOrder {
    /// `field` in `direction`, by default A to Z for names and largest (latest) first for
    /// the rest.
    pub fn new(field: CompanySortField, direction: Option<SortDirection>) -> Self {
        let default = match field {
            CompanySortField::Name => SortDirection::Asc,
            _ => SortDirection::Desc,
        };
        Self {
            field,
            direction: direction.unwrap_or(default),
        }
    }
}

impl Default for CompanyOrder {
    /// The biggest accounts first.
    fn default() -> Self {
        Self::new(CompanySortField::NetSpent, None)
    }
}

/// Which companies to list.
#[derive(Debug, Clone, Default)]
pub struct CompanyQuery {
    /// Text to find in the company's key or any of its customers' company names, in any
    /// case (at most 200 characters).
    pub search: Option<String>,
    pub order: CompanyOrder,
}

/// A company and its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// The normalised company name shared by its customers (`user_match_keys.company_key`).
    pub key: String,
    /// The most common company name as its customers typed it (ties: the first in byte
    /// order).
    pub name: String,
    /// Customers in the company.
    pub customers: i64,
    /// Attendees on their live (not cancelled) bookings.
    pub attendees: i64,
    /// Their live bookings.
    pub bookings: i64,
    /// Their net spend (payments less completed refunds), in pence.
    pub net_spent_pence: i64,
    /// When the latest of their bookings was made.
    pub last_booking_at: Option<DateTime<Utc>>,
    /// Their certificates that are active and not past expiry.
    pub certificates_active: i64,
    /// Those of them expiring within 90 days (today included).
    pub certificates_expiring_within_90_days: i64,
}

/// A page of companies, each with its cursor.
pub struct CompanyPage {
    pub rows: Vec<(String, Company)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

/// Where a page starts: after this sort value (none for names) and key, under this order.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    f: CompanySortField,
    d: SortDirection,
    v: Option<i64>,
    k: String,
}

/// One company's aggregate over its customers' rows.
#[derive(Debug, FromQueryResult)]
struct Aggregate {
    company_key: String,
    customers: i64,
    bookings: i64,
    net_spent: i64,
    last_booking_at: Option<DateTime<Utc>>,
    last_booking_epoch: i64,
}

impl Aggregate {
    fn sort_value(&self, field: CompanySortField) -> Option<i64> {
        match field {
            CompanySortField::Name => None,
            CompanySortField::NetSpent => Some(self.net_spent),
            CompanySortField::Bookings => Some(self.bookings),
            CompanySortField::Customers => Some(self.customers),
            CompanySortField::LastBooking => Some(self.last_booking_epoch),
        }
    }
}

/// The members of every company: customers (`u`) with a company key (`mk`), not merged.
fn members() -> String {
    let customer = Role::Customer.to_value();
    format!(
        "FROM user_match_keys mk JOIN users u ON u.id = mk.user_id \
         WHERE mk.company_key IS NOT NULL AND u.merged_into_id IS NULL \
           AND u.role = '{customer}'"
    )
}

/// Byte order for keys on both databases (PostgreSQL would otherwise use its collation).
fn bytewise(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => " COLLATE \"C\"",
        _ => "",
    }
}

/// The search as a key would read it: ASCII lowercase letters and digits, `&` as "and".
fn search_key(text: &str) -> String {
    deunicode::deunicode(text)
        .to_lowercase()
        .replace('&', "and")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The aggregate of every company the search matches (`g`): `SELECT ... FROM (...) g`,
/// without order or page. `only` limits it to one key.
fn aggregate_sql(
    b: &mut Binds,
    backend: DbBackend,
    q: &CompanyQuery,
    only: Option<&str>,
) -> AppResult<String> {
    let mut filter = String::new();
    if let Some(key) = only {
        filter.push_str(&format!(" AND mk.company_key = {}", b.bind(key)));
    }
    if let Some(text) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if text.chars().count() > 200 {
            return Err(AppError::bad_input(
                "search",
                "search must be at most 200 characters",
            ));
        }
        let mut matches = format!(
            "lower(u.company_name) LIKE {} ESCAPE '\\'",
            b.bind(contains_pattern(&text.to_lowercase()))
        );
        let key = search_key(text);
        if !key.is_empty() {
            matches.push_str(&format!(
                " OR mk.company_key LIKE {} ESCAPE '\\'",
                b.bind(contains_pattern(&key))
            ));
        }
        filter.push_str(&format!(
            " AND mk.company_key IN (SELECT mk.company_key {} AND ({matches}))",
            members()
        ));
    }
    Ok(format!(
        "SELECT g.* FROM (SELECT mk.company_key AS company_key, COUNT(*) AS customers, \
           CAST(SUM(u.total_bookings) AS BIGINT) AS bookings, \
           CAST(SUM(u.total_spent_pence) AS BIGINT) AS net_spent, \
           MAX(u.last_booking_at) AS last_booking_at, \
           COALESCE(MAX({}), -1) AS last_booking_epoch \
         {}{filter} GROUP BY mk.company_key) g",
        epoch_millis(backend, "u.last_booking_at"),
        members(),
    ))
}

/// A page of companies. `first` is 0 to 100 (default 20); `after` is a cursor from an
/// earlier page of the same search and order.
#[tracing::instrument(level = "debug", skip_all, fields(searching = q.search.is_some(), sort = ?q.order.field, first = ?first))]
pub async fn page(
    conn: &impl ConnectionTrait,
    q: &CompanyQuery,
    today: NaiveDate,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<CompanyPage> {
    let backend = conn.get_database_backend();
    let limit = page_size(first)?;
    let order = q.order;
    let cursor: Option<Cursor> = after.map(|a| decode_cursor("after", a)).transpose()?;
    if let Some(c) = &cursor
        && (c.f != order.field
            || c.d != order.direction
            || c.v.is_some() != (order.field != CompanySortField::Name))
    {
        return Err(AppError::bad_input(
            "after",
            "this cursor belongs to a different sort order",
        ));
    }
    let mut b = Binds::new(backend);
    let mut sql = aggregate_sql(&mut b, backend, q, None)?;
    let (cmp, dir) = match order.direction {
        SortDirection::Asc => (">", "ASC"),
        SortDirection::Desc => ("<", "DESC"),
    };
    let key = format!("g.company_key{}", bytewise(backend));
    let value = match order.field {
        CompanySortField::Name => None,
        CompanySortField::NetSpent => Some("g.net_spent"),
        CompanySortField::Bookings => Some("g.bookings"),
        CompanySortField::Customers => Some("g.customers"),
        CompanySortField::LastBooking => Some("g.last_booking_epoch"),
    };
    if let Some(c) = &cursor {
        match (value, c.v) {
            (Some(col), Some(v)) => {
                let (v1, v2, k) = (b.bind(v), b.bind(v), b.bind(c.k.clone()));
                sql.push_str(&format!(
                    " WHERE ({col} {cmp} {v1} OR ({col} = {v2} AND {key} {cmp} {k}))"
                ));
            }
            _ => sql.push_str(&format!(" WHERE {key} {cmp} {}", b.bind(c.k.clone()))),
        }
    }
    match value {
        Some(col) => sql.push_str(&format!(" ORDER BY {col} {dir}, {key} {dir}")),
        None => sql.push_str(&format!(" ORDER BY {key} {dir}")),
    }
    sql.push_str(&format!(" LIMIT {}", b.bind((limit + 1) as i64)));
    let mut rows = Aggregate::find_by_statement(b.statement(sql))
        .all(conn)
        .await?;
    let has_next_page = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let cursors: Vec<String> = rows
        .iter()
        .map(|r| {
            encode_cursor(&Cursor {
                f: order.field,
                d: order.direction,
                v: r.sort_value(order.field),
                k: r.company_key.clone(),
            })
        })
        .collect();
    let companies = with_details(conn, rows, today).await?;
    Ok(CompanyPage {
        rows: cursors.into_iter().zip(companies).collect(),
        has_next_page,
        has_previous_page: cursor.is_some(),
    })
}

/// How many companies the search matches, over all pages.
#[tracing::instrument(level = "debug", skip_all, fields(searching = q.search.is_some()))]
pub async fn count(conn: &impl ConnectionTrait, q: &CompanyQuery) -> AppResult<u64> {
    let backend = conn.get_database_backend();
    let mut b = Binds::new(backend);
    let sql = format!(
        "SELECT COUNT(*) AS n FROM ({}) c",
        aggregate_sql(&mut b, backend, q, None)?
    );
    let n = match conn.query_one_raw(b.statement(sql)).await? {
        Some(row) => row.try_get::<i64>("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One company by its key, if any customer has it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(
    conn: &impl ConnectionTrait,
    key: &str,
    today: NaiveDate,
) -> AppResult<Option<Company>> {
    let backend = conn.get_database_backend();
    let mut b = Binds::new(backend);
    let sql = aggregate_sql(&mut b, backend, &CompanyQuery::default(), Some(key))?;
    let rows = Aggregate::find_by_statement(b.statement(sql))
        .all(conn)
        .await?;
    Ok(with_details(conn, rows, today).await?.into_iter().next())
}

#[derive(Debug, FromQueryResult)]
struct NameCount {
    company_key: String,
    company_name: String,
    n: i64,
}

#[derive(Debug, FromQueryResult)]
struct KeyCount {
    company_key: String,
    n: i64,
}

#[derive(Debug, FromQueryResult)]
struct CertificateCounts {
    company_key: String,
    active: i64,
    expiring: i64,
}

/// `IN (...)` of `keys`, bound into `b`.
fn key_list(b: &mut Binds, keys: &[String]) -> String {
    keys.iter()
        .map(|k| b.bind(k.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The page's companies with their names, attendees and certificates: three statements
/// for the whole page, whatever its size.
async fn with_details(
    conn: &impl ConnectionTrait,
    rows: Vec<Aggregate>,
    today: NaiveDate,
) -> AppResult<Vec<Company>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let keys: Vec<String> = rows.iter().map(|r| r.company_key.clone()).collect();

    let mut b = Binds::new(backend);
    let sql = format!(
        "SELECT mk.company_key AS company_key, u.company_name AS company_name, COUNT(*) AS n \
         {} AND u.company_name IS NOT NULL AND mk.company_key IN ({}) \
         GROUP BY mk.company_key, u.company_name",
        members(),
        key_list(&mut b, &keys)
    );
    let mut names: HashMap<String, (i64, String)> = HashMap::new();
    for r in NameCount::find_by_statement(b.statement(sql))
        .all(conn)
        .await?
    {
        let best = names
            .entry(r.company_key)
            .or_insert((0, r.company_name.clone()));
        // Most customers first; ties to the name first in byte order.
        if r.n > best.0 || (r.n == best.0 && r.company_name < best.1) {
            *best = (r.n, r.company_name);
        }
    }

    let cancelled = BookingStatus::Cancelled.to_value();
    let mut b = Binds::new(backend);
    let sql = format!(
        "SELECT mk.company_key AS company_key, COUNT(*) AS n \
         FROM booking_attendees a JOIN bookings bk ON bk.id = a.booking_id \
           JOIN user_match_keys mk ON mk.user_id = bk.user_id JOIN users u ON u.id = bk.user_id \
         WHERE bk.status <> '{cancelled}' AND u.merged_into_id IS NULL \
           AND u.role = '{customer}' AND mk.company_key IN ({}) \
         GROUP BY mk.company_key",
        key_list(&mut b, &keys),
        customer = Role::Customer.to_value(),
    );
    let attendees: HashMap<String, i64> = KeyCount::find_by_statement(b.statement(sql))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.company_key, r.n))
        .collect();

    let active = CertificateStatus::Active.to_value();
    let mut b = Binds::new(backend);
    // Bound in the order the placeholders appear.
    let soon = b.bind(today + Duration::days(90));
    let from = b.bind(today);
    let keys_in = key_list(&mut b, &keys);
    let sql = format!(
        "SELECT mk.company_key AS company_key, \
           CAST(SUM(CASE WHEN c.expires_on <= {soon} THEN 1 ELSE 0 END) AS BIGINT) AS expiring, \
           COUNT(*) AS active \
         FROM certificates c JOIN user_match_keys mk ON mk.user_id = c.user_id \
           JOIN users u ON u.id = c.user_id \
         WHERE c.status = '{active}' AND c.expires_on >= {from} \
           AND u.merged_into_id IS NULL AND u.role = '{customer}' \
           AND mk.company_key IN ({keys_in}) \
         GROUP BY mk.company_key",
        customer = Role::Customer.to_value(),
    );
    let certificates: HashMap<String, CertificateCounts> =
        CertificateCounts::find_by_statement(b.statement(sql))
            .all(conn)
            .await?
            .into_iter()
            .map(|r| (r.company_key.clone(), r))
            .collect();

    Ok(rows
        .into_iter()
        .map(|r| {
            let certs = certificates.get(&r.company_key);
            Company {
                name: names
                    .remove(&r.company_key)
                    .map(|(_, n)| n)
                    .unwrap_or_else(|| r.company_key.clone()),
                customers: r.customers,
                attendees: attendees.get(&r.company_key).copied().unwrap_or(0),
                bookings: r.bookings,
                net_spent_pence: r.net_spent,
                last_booking_at: r.last_booking_at,
                certificates_active: certs.map_or(0, |c| c.active),
                certificates_expiring_within_90_days: certs.map_or(0, |c| c.expiring),
                key: r.company_key,
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// A company's customers.

/// Where a page of a company's customers starts: after this sort name and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomerCursor {
    n: String,
    id: Uuid,
}

/// Reads the cursor of a page of a company's customers.
pub fn parse_customer_cursor(after: &str) -> AppResult<CustomerCursor> {
    decode_cursor("after", after)
}

/// A page of one company's customers: their ids with cursors.
#[derive(Debug, Clone, Default)]
pub struct CustomerPage {
    pub rows: Vec<(String, Uuid)>,
    pub has_next_page: bool,
}

#[derive(Debug, FromQueryResult)]
struct MemberRow {
    company_key: String,
    id: Uuid,
    sort_name: String,
}

/// The same page (`limit` customers after `after`, by name then id) of each company in
/// `keys`, in one statement.
#[tracing::instrument(level = "debug", skip_all, fields(companies = keys.len(), limit = limit))]
pub async fn customers(
    conn: &impl ConnectionTrait,
    keys: &[String],
    limit: u64,
    after: Option<&CustomerCursor>,
) -> Result<HashMap<String, CustomerPage>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut b = Binds::new(conn.get_database_backend());
    let keys_in = key_list(&mut b, keys);
    let past = match after {
        Some(c) => {
            let (n1, n2, id) = (b.bind(c.n.clone()), b.bind(c.n.clone()), b.bind(c.id));
            format!(" AND (u.sort_name > {n1} OR (u.sort_name = {n2} AND u.id > {id}))")
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT t.company_key AS company_key, t.id AS id, t.sort_name AS sort_name FROM \
           (SELECT mk.company_key AS company_key, u.id AS id, u.sort_name AS sort_name, \
              ROW_NUMBER() OVER (PARTITION BY mk.company_key ORDER BY u.sort_name, u.id) AS rn \
            {} AND mk.company_key IN ({keys_in}){past}) t \
         WHERE t.rn <= {} ORDER BY t.company_key, t.rn",
        members(),
        b.bind(Value::from((limit + 1) as i64)),
    );
    let mut out: HashMap<String, CustomerPage> = HashMap::new();
    for r in MemberRow::find_by_statement(b.statement(sql))
        .all(conn)
        .await?
    {
        let page = out.entry(r.company_key).or_default();
        if page.rows.len() as u64 == limit {
            page.has_next_page = true;
            continue;
        }
        let cursor = encode_cursor(&CustomerCursor {
            n: r.sort_name,
            id: r.id,
        });
        page.rows.push((cursor, r.id));
    }
    Ok(out)
}

/// The page size of a company's customers: 0 to 100, default 20.
pub fn customers_page_size(first: Option<i32>) -> AppResult<u64> {
    page_size(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_read_like_keys() {
        assert_eq!(search_key("ACME Ltd."), "acmeltd");
        assert_eq!(search_key("A & B"), "aandb");
        assert_eq!(search_key(" - "), "");
    }

    #[test]
    fn default_directions_suit_the_field() {
        assert_eq!(
            CompanyOrder::new(CompanySortField::Name, None).direction,
            SortDirection::Asc
        );
        assert_eq!(CompanyOrder::default().field, CompanySortField::NetSpent);
        assert_eq!(CompanyOrder::default().direction, SortDirection::Desc);
    }
}
