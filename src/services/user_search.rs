//! The admin's user search: free text over name, email, phone and company, filters, a
//! stable sort, and keyset (cursor) pagination.
//!
//! Text search uses a trigram index: `pg_trgm` on PostgreSQL, an FTS5 trigram table on
//! SQLite. Every sort ends with the id, so ties never reorder between pages.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    IdenStatic, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Statement,
    Value,
    sea_query::{Expr, ExprTrait, LikeExpr, Query, SimpleExpr},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entities::enums::{CustomerSegment, CustomerType, Role, UserStatus};
use crate::entities::partial::Partial;
use crate::entities::{customer_insight, positional, user};
use crate::error::{AppError, AppResult};
use crate::money;
use crate::services::validate;

/// Fields users can be sorted by; ties are broken by id. (Serialized into cursors: renaming
/// a variant invalidates cursors already handed out.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserSortField {
    LastActivity,
    TotalBookings,
    TotalSpent,
    /// Net spent (the same figure as `TotalSpent`, under the insights' name).
    NetSpent,
    CreatedAt,
    /// Last name, then first name.
    Name,
    /// The predicted value stored by the last refresh of the insights
    /// (`customer_insights.predicted_value_pence`); customers without one sort as -1.
    PredictedValue,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortDirection {
    Asc,
    Desc,
}

/// How to order a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserOrder {
    pub field: UserSortField,
    pub direction: SortDirection,
}

impl Default for UserOrder {
    /// Newest profiles first.
    fn default() -> Self {
        Self {
            field: UserSortField::CreatedAt,
            direction: SortDirection::Desc,
        }
    }
}

/// An inclusive range of instants; either end may be open.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Inclusive bounds on a number; either end may be open.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bounds<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

/// Which users a search returns; every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    pub customer_type: Option<CustomerType>,
    pub marketing_consent: Option<bool>,
    pub last_activity: Option<TimeRange>,
    /// Lifetime spend, net of refunds, in pounds.
    pub total_spent: Option<Bounds<rust_decimal::Decimal>>,
    pub total_bookings: Option<Bounds<i32>>,
    pub created_at: Option<TimeRange>,
    /// Only customers in one of these segments (at the last refresh of the insights).
    pub segments: Option<Vec<CustomerSegment>>,
    /// Include profiles merged into another.
    pub include_merged: bool,
}

/// The most rows one page may hold.
pub const MAX_PAGE: u64 = 100;
/// Rows per page when `first` is not given.
pub const DEFAULT_PAGE: u64 = 20;

/// What the cursor of a row remembers: the sort it was made for, its sort key, its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    f: UserSortField,
    d: SortDirection,
    k: CursorKey,
    id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum CursorKey {
    Int(i64),
    Time(DateTime<Utc>),
    Text(String),
}

impl CursorKey {
    /// Orders two keys of the same kind (a cursor is checked to fit its sort on decode).
    fn order(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a.cmp(b),
            (Self::Time(a), Self::Time(b)) => a.cmp(b),
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            _ => std::cmp::Ordering::Equal,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Self::Int(i) => i.into(),
            Self::Time(t) => t.into(),
            Self::Text(s) => s.into(),
        }
    }
}

/// The columns a user's cursor is made of, read instead of the whole row when only ids
/// are wanted.
#[derive(Debug, FromQueryResult)]
struct SortKeys {
    id: Uuid,
    last_activity_at: DateTime<Utc>,
    total_bookings: i32,
    total_spent_pence: i64,
    created_at: DateTime<Utc>,
    sort_name: String,
}

impl SortKeys {
    const COLUMNS: [user::Column; 6] = [
        user::Column::Id,
        user::Column::LastActivityAt,
        user::Column::TotalBookings,
        user::Column::TotalSpentPence,
        user::Column::CreatedAt,
        user::Column::SortName,
    ];

    /// This row's key under `field`.
    fn key(&self, field: UserSortField) -> CursorKey {
        match field {
            UserSortField::LastActivity => CursorKey::Time(self.last_activity_at),
            UserSortField::TotalBookings => CursorKey::Int(self.total_bookings.into()),
            UserSortField::TotalSpent => CursorKey::Int(self.total_spent_pence),
            UserSortField::CreatedAt => CursorKey::Time(self.created_at),
            UserSortField::Name => CursorKey::Text(self.sort_name.clone()),
            UserSortField::NetSpent => CursorKey::Int(self.total_spent_pence),
            // Not among a user's columns: the page reads it (`predicted_values`).
            UserSortField::PredictedValue => CursorKey::Int(-1),
        }
    }
}

impl From<&user::Model> for SortKeys {
    fn from(m: &user::Model) -> Self {
        Self {
            id: m.id,
            last_activity_at: m.last_activity_at,
            total_bookings: m.total_bookings,
            total_spent_pence: m.total_spent_pence,
            created_at: m.created_at,
            sort_name: m.sort_name.clone(),
        }
    }
}

/// What a page's selection reads beyond the users' ids.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    /// `totalCount`.
    pub count: bool,
    /// The users' rows (any field other than the id and relations).
    pub rows: bool,
}

/// One page of users, with what is needed to count the whole result lazily.
pub struct UserPage {
    /// Each user's cursor, and the user: the whole row, or only the id when
    /// [`Wanted::rows`] is false.
    pub rows: Vec<(String, Partial<Uuid, user::Model>)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// How to count every match, for `totalCount` (run only when asked for).
    pub count: CountPlan,
}

/// How `totalCount` is computed.
#[derive(Clone)]
pub enum CountPlan {
    /// Already counted.
    Known(u64),
    /// Count the rows of the filtered query.
    Rows(Box<Select<user::Entity>>),
    /// SQLite, a text search and no filters: count the FTS index's matches and subtract the
    /// merged profiles among them (found through the small merged_into_id index), without
    /// reading every matching user row.
    FtsMatches(String),
}

/// Searches users. `first` is capped at [`MAX_PAGE`].
#[tracing::instrument(level = "debug", skip_all, fields(searching = search.is_some(), sort = ?order.field, first = ?first))]
pub async fn search(
    conn: &impl ConnectionTrait,
    search: Option<&str>,
    filter: &UserFilter,
    order: UserOrder,
    first: Option<i32>,
    after: Option<&str>,
    wanted: Wanted,
) -> AppResult<UserPage> {
    let Wanted {
        count: want_count,
        rows: read_rows,
    } = wanted;
    let limit = match first {
        None => DEFAULT_PAGE,
        Some(n) if n < 0 => return Err(AppError::bad_input("first", "first must not be negative")),
        Some(n) => std::cmp::min(n as u64, MAX_PAGE),
    };
    let base = filtered(conn.get_database_backend(), search, filter)?;
    let (key_expr, dir) = (sort_expr(order.field), order.direction);
    let order_dir = match dir {
        SortDirection::Asc => Order::Asc,
        SortDirection::Desc => Order::Desc,
    };
    let cursor = after.map(decode).transpose()?;
    if cursor
        .as_ref()
        .is_some_and(|c| c.f != order.field || c.d != dir)
    {
        return Err(AppError::bad_input(
            "after",
            "this cursor belongs to a different sort order",
        ));
    }
    let backend = conn.get_database_backend();
    if backend == DbBackend::Postgres
        && search.is_some()
        && want_count
        && let Some((rows, has_next_page, total)) =
            one_pass(conn, &base, order, limit, cursor.as_ref(), read_rows).await?
    {
        return Ok(UserPage {
            rows,
            has_next_page,
            has_previous_page: after.is_some(),
            count: CountPlan::Known(total),
        });
    }
    let mut page_query = base.clone();
    if let Some(cursor) = cursor {
        let key = cursor.k.into_value();
        let (past_key, past_id) = match dir {
            SortDirection::Asc => (
                key_expr.clone().gt(key.clone()),
                user::Column::Id.gt(cursor.id),
            ),
            SortDirection::Desc => (
                key_expr.clone().lt(key.clone()),
                user::Column::Id.lt(cursor.id),
            ),
        };
        page_query = page_query.filter(
            Condition::any()
                .add(past_key)
                .add(Condition::all().add(key_expr.clone().eq(key)).add(past_id)),
        );
    }
    let page_query = page_query
        .order_by(key_expr.clone(), order_dir.clone())
        .order_by(user::Column::Id, order_dir)
        .limit(limit + 1);
    let mut rows: Vec<(String, Partial<Uuid, user::Model>)> = match read_rows {
        true if order.field == UserSortField::PredictedValue => {
            let models = positional::all(page_query, conn).await?;
            let values = predicted_values(conn, &models).await?;
            models
                .into_iter()
                .map(|m| {
                    let value = values.get(&m.id).copied().unwrap_or(-1);
                    let cursor = cursor_string(order, CursorKey::Int(value), m.id);
                    (cursor, Partial::from_full(m))
                })
                .collect()
        }
        true => positional::all(page_query, conn)
            .await?
            .into_iter()
            .map(|m| (encode(order, &SortKeys::from(&m)), Partial::from_full(m)))
            .collect(),
        false if order.field == UserSortField::PredictedValue => page_query
            .select_only()
            .column(user::Column::Id)
            .expr_as(key_expr, "predicted_value_pence")
            .into_tuple::<(Uuid, i64)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(id, value)| {
                let cursor = cursor_string(order, CursorKey::Int(value), id);
                (cursor, Partial::from_keys(id))
            })
            .collect(),
        false => page_query
            .select_only()
            .columns(SortKeys::COLUMNS)
            .into_model::<SortKeys>()
            .all(conn)
            .await?
            .into_iter()
            .map(|k| (encode(order, &k), Partial::from_keys(k.id)))
            .collect(),
    };
    let has_next_page = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok(UserPage {
        rows,
        has_next_page,
        has_previous_page: after.is_some(),
        count: count_plan(conn.get_database_backend(), search, filter, base),
    })
}

/// Counts every row a search matches.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn count(conn: &impl ConnectionTrait, plan: CountPlan) -> AppResult<u64> {
    match plan {
        CountPlan::Known(n) => Ok(n),
        // Counting over the ids alone: SeaORM counts over a subquery of whatever the
        // select lists, which is otherwise every column.
        CountPlan::Rows(query) => Ok(query
            .select_only()
            .column(user::Column::Id)
            .count(conn)
            .await?),
        CountPlan::FtsMatches(fts_query) => {
            let sql = "SELECT (SELECT COUNT(*) FROM users_fts WHERE users_fts MATCH ?) - \
                       (SELECT COUNT(*) FROM users INDEXED BY idx_users_merged_into_id \
                       WHERE merged_into_id IS NOT NULL AND rowid IN \
                       (SELECT rowid FROM users_fts WHERE users_fts MATCH ?)) AS n";
            let row = conn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    sql,
                    [fts_query.clone().into(), fts_query.into()],
                ))
                .await?;
            let n: i64 = match row {
                Some(r) => r.try_get("", "n")?,
                None => 0,
            };
            Ok(u64::try_from(n).unwrap_or(0))
        }
    }
}

fn count_plan(
    backend: DbBackend,
    search: Option<&str>,
    f: &UserFilter,
    base: Select<user::Entity>,
) -> CountPlan {
    let unfiltered = f.role.is_none()
        && f.status.is_none()
        && f.customer_type.is_none()
        && f.marketing_consent.is_none()
        && f.last_activity.is_none()
        && f.total_spent.is_none()
        && f.total_bookings.is_none()
        && f.created_at.is_none()
        && f.segments.is_none()
        && !f.include_merged;
    match search.map(|text| fts_query(backend, text)) {
        Some((Some(q), false)) if unfiltered => CountPlan::FtsMatches(q),
        _ => CountPlan::Rows(Box::new(base)),
    }
}

/// The FTS5 query for the terms long enough for the trigram index, and whether any term
/// is too short for it (and so needs a LIKE scan).
fn fts_query(backend: DbBackend, text: &str) -> (Option<String>, bool) {
    let (long, short): (Vec<String>, Vec<String>) = search_terms(text)
        .into_iter()
        .partition(|t| backend == DbBackend::Sqlite && t.chars().count() >= 3);
    let query = (!long.is_empty()).then(|| {
        long.iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND ")
    });
    (query, !short.is_empty())
}

/// Most matches the one-pass plan handles; broader searches count and page in SQL.
const ONE_PASS_MAX: u64 = 10_000;

/// PostgreSQL, a text search, and a count wanted: read the id and sort key of every match in
/// one index scan, count and page them here, then load the page's rows by id. That visits
/// the matching rows once instead of once for the page and again for the count. Sort keys
/// are timestamps and integers (never text, whose order is the database's collation), and
/// ids are compared as bytes, exactly as PostgreSQL orders them. `None` when not applicable.
async fn one_pass(
    conn: &impl ConnectionTrait,
    base: &Select<user::Entity>,
    order: UserOrder,
    limit: u64,
    cursor: Option<&Cursor>,
    read_rows: bool,
) -> AppResult<Option<(Vec<(String, Partial<Uuid, user::Model>)>, bool, u64)>> {
    let col = sort_column(order.field);
    let keys = base
        .clone()
        .select_only()
        .column(user::Column::Id)
        .column(col)
        .limit(ONE_PASS_MAX + 1);
    let mut keyed: Vec<(CursorKey, Uuid)> = match order.field {
        UserSortField::LastActivity | UserSortField::CreatedAt => keys
            .into_tuple::<(Uuid, DateTime<Utc>)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(id, t)| (CursorKey::Time(t), id))
            .collect(),
        UserSortField::TotalBookings => keys
            .into_tuple::<(Uuid, i32)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(id, n)| (CursorKey::Int(n.into()), id))
            .collect(),
        UserSortField::TotalSpent | UserSortField::NetSpent => keys
            .into_tuple::<(Uuid, i64)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(id, n)| (CursorKey::Int(n), id))
            .collect(),
        UserSortField::Name | UserSortField::PredictedValue => return Ok(None),
    };
    if keyed.len() as u64 > ONE_PASS_MAX {
        return Ok(None);
    }
    let total = keyed.len() as u64;
    keyed.sort_by(|a, b| a.0.order(&b.0).then(a.1.cmp(&b.1)));
    if order.direction == SortDirection::Desc {
        keyed.reverse();
    }
    let start = match cursor {
        None => 0,
        Some(c) => keyed
            .iter()
            .position(|(k, id)| {
                let ord = k.order(&c.k).then(id.cmp(&c.id));
                match order.direction {
                    SortDirection::Asc => ord.is_gt(),
                    SortDirection::Desc => ord.is_lt(),
                }
            })
            .unwrap_or(keyed.len()),
    };
    let has_next_page = keyed.len() > start + limit as usize;
    let page: Vec<(CursorKey, Uuid)> = keyed.into_iter().skip(start).take(limit as usize).collect();
    let cursor_of = |k: CursorKey, id: Uuid| cursor_string(order, k, id);
    if !read_rows {
        let rows = page
            .into_iter()
            .map(|(k, id)| (cursor_of(k, id), Partial::from_keys(id)))
            .collect();
        return Ok(Some((rows, has_next_page, total)));
    }
    let ids = page.iter().map(|(_, id)| *id);
    let mut by_id: std::collections::HashMap<Uuid, user::Model> = positional::all(
        user::Entity::find().filter(user::Column::Id.is_in(ids)),
        conn,
    )
    .await?
    .into_iter()
    .map(|m| (m.id, m))
    .collect();
    let rows = page
        .into_iter()
        .filter_map(|(k, id)| Some((cursor_of(k, id), Partial::from_full(by_id.remove(&id)?))))
        .collect();
    Ok(Some((rows, has_next_page, total)))
}

fn sort_column(field: UserSortField) -> user::Column {
    match field {
        UserSortField::LastActivity => user::Column::LastActivityAt,
        UserSortField::TotalBookings => user::Column::TotalBookings,
        UserSortField::TotalSpent | UserSortField::NetSpent => user::Column::TotalSpentPence,
        UserSortField::CreatedAt => user::Column::CreatedAt,
        UserSortField::Name => user::Column::SortName,
        // Not a column of `users`: `sort_expr` reads it.
        UserSortField::PredictedValue => user::Column::Id,
    }
}

/// The expression a sort orders by: the users' column, or for `PredictedValue` the
/// customer's stored predicted value (-1 without one).
fn sort_expr(field: UserSortField) -> SimpleExpr {
    match field {
        UserSortField::PredictedValue => Expr::cust(
            "COALESCE((SELECT ci.predicted_value_pence FROM customer_insights ci \
             WHERE ci.user_id = \"users\".\"id\"), -1)",
        ),
        other => Expr::col((user::Entity, sort_column(other))),
    }
}

/// The stored predicted values of a page's users: one statement.
async fn predicted_values(
    conn: &impl ConnectionTrait,
    models: &[user::Model],
) -> AppResult<std::collections::HashMap<Uuid, i64>> {
    let ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
    Ok(customer_insight::Entity::find()
        .select_only()
        .column(customer_insight::Column::UserId)
        .column(customer_insight::Column::PredictedValuePence)
        .filter(customer_insight::Column::UserId.is_in(ids))
        .into_tuple::<(Uuid, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}

fn encode(order: UserOrder, row: &SortKeys) -> String {
    cursor_string(order, row.key(order.field), row.id)
}

/// The cursor of the row `id`, whose key under `order` is `k`.
fn cursor_string(order: UserOrder, k: CursorKey, id: Uuid) -> String {
    let cursor = Cursor {
        f: order.field,
        d: order.direction,
        k,
        id,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

fn decode(raw: &str) -> AppResult<Cursor> {
    let bad = || AppError::bad_input("after", "after is not a cursor from this query");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let key_fits = matches!(
        (cursor.f, &cursor.k),
        (
            UserSortField::LastActivity | UserSortField::CreatedAt,
            CursorKey::Time(_)
        ) | (
            UserSortField::TotalBookings
                | UserSortField::TotalSpent
                | UserSortField::NetSpent
                | UserSortField::PredictedValue,
            CursorKey::Int(_)
        ) | (UserSortField::Name, CursorKey::Text(_))
    );
    if key_fits { Ok(cursor) } else { Err(bad()) }
}

/// The search and filters, without order or pagination.
fn filtered(
    backend: DbBackend,
    search: Option<&str>,
    f: &UserFilter,
) -> AppResult<Select<user::Entity>> {
    let mut q = user::Entity::find();
    if let Some(text) = search {
        if text.chars().count() > 200 {
            return Err(AppError::bad_input(
                "search",
                "search must be at most 200 characters",
            ));
        }
        q = q.filter(text_condition(backend, text));
    }
    if !f.include_merged {
        q = q.filter(match backend {
            DbBackend::Sqlite => Expr::cust("+\"users\".\"merged_into_id\" IS NULL"),
            _ => user::Column::MergedIntoId.is_null(),
        });
    }
    if let Some(role) = f.role {
        q = q.filter(broad_eq(
            backend,
            user::Column::Role,
            role.to_value().into(),
        ));
    }
    if let Some(status) = f.status {
        q = q.filter(broad_eq(
            backend,
            user::Column::Status,
            status.to_value().into(),
        ));
    }
    if let Some(t) = f.customer_type {
        q = q.filter(broad_eq(
            backend,
            user::Column::CustomerType,
            t.to_value().into(),
        ));
    }
    if let Some(consent) = f.marketing_consent {
        q = q.filter(broad_eq(
            backend,
            user::Column::MarketingConsent,
            consent.into(),
        ));
    }
    if let Some(r) = f.last_activity {
        q = time_range(q, user::Column::LastActivityAt, r.from, r.to);
    }
    if let Some(r) = f.created_at {
        q = time_range(q, user::Column::CreatedAt, r.from, r.to);
    }
    if let Some(segments) = &f.segments {
        let values: Vec<String> = segments.iter().map(|s| s.to_value()).collect();
        q = q.filter(
            user::Column::Id.in_subquery(
                Query::select()
                    .column(customer_insight::Column::UserId)
                    .from(customer_insight::Entity)
                    .and_where(customer_insight::Column::Segment.is_in(values))
                    .to_owned(),
            ),
        );
    }
    if let Some(r) = f.total_bookings {
        if let Some(min) = r.min {
            q = q.filter(user::Column::TotalBookings.gte(min));
        }
        if let Some(max) = r.max {
            q = q.filter(user::Column::TotalBookings.lte(max));
        }
    }
    if let Some(r) = f.total_spent {
        if let Some(min) = r.min {
            q = q.filter(
                user::Column::TotalSpentPence.gte(money::to_pence("filter.totalSpent.min", min)?),
            );
        }
        if let Some(max) = r.max {
            q = q.filter(
                user::Column::TotalSpentPence.lte(money::to_pence("filter.totalSpent.max", max)?),
            );
        }
    }
    Ok(q)
}

/// `column = value` for a column with few distinct values (role, status, merged...). SQLite's
/// planner would pick that column's index and then sort every matching row; the unary `+`
/// (SQLite's documented way to rule an index out) lets it walk the sort key's index instead
/// and stop after one page. PostgreSQL plans by statistics and gets the plain comparison.
fn broad_eq(backend: DbBackend, col: user::Column, value: Value) -> sea_orm::sea_query::SimpleExpr {
    match backend {
        DbBackend::Sqlite => {
            Expr::cust_with_values(format!("+\"users\".\"{}\" = ?", col.as_str()), [value])
        }
        _ => Expr::col((user::Entity, col)).eq(value),
    }
}

fn time_range(
    mut q: Select<user::Entity>,
    col: user::Column,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Select<user::Entity> {
    if let Some(from) = from {
        q = q.filter(col.gte(from));
    }
    if let Some(to) = to {
        q = q.filter(col.lte(to));
    }
    q
}

/// Every whitespace-separated term must occur somewhere in the search text. Phone-like terms
/// are reduced to their national digits first, so `+44 7700 900123` finds `07700 900123`.
fn text_condition(backend: DbBackend, text: &str) -> Condition {
    let mut cond = Condition::all();
    let (fts, _) = fts_query(backend, text);
    for term in search_terms(text) {
        if fts.is_some() && backend == DbBackend::Sqlite && term.chars().count() >= 3 {
            continue;
        }
        let pattern = format!(
            "%{}%",
            term.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        cond = cond.add(
            Expr::col((user::Entity, user::Column::SearchText))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(q) = fts {
        cond = cond.add(Expr::cust_with_values(
            "\"users\".\"rowid\" IN (SELECT \"rowid\" FROM \"users_fts\" WHERE \"users_fts\" MATCH ?)",
            [q],
        ));
    }
    cond
}

fn search_terms(text: &str) -> Vec<String> {
    let trimmed = text.trim();
    if validate::looks_like_phone(trimmed) {
        return vec![validate::phone_digits(trimmed)];
    }
    trimmed
        .split_whitespace()
        .map(|t| {
            if validate::looks_like_phone(t) {
                validate::phone_digits(t)
            } else {
                t.to_lowercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_terms_become_national_digits() {
        assert_eq!(search_terms("+44 7700 900123"), vec!["07700900123"]);
        assert_eq!(search_terms("07700 900123"), vec!["07700900123"]);
        assert_eq!(search_terms("  Jo SMITH "), vec!["jo", "smith"]);
        assert_eq!(search_terms("900123"), vec!["900123"]);
    }

    #[test]
    fn cursors_reject_garbage() {
        assert!(decode("not-a-cursor").is_err());
        let forged = URL_SAFE_NO_PAD
            .encode(br#"{"f":"NAME","d":"ASC","k":5,"id":"00000000-0000-0000-0000-000000000000"}"#);
        assert!(decode(&forged).is_err());
    }
}
