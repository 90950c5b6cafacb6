//! Newest-first keyset pages over time-ordered (UUIDv7) ids: notes, activity, and other
//! per-user lists. The cursor is the last id seen. Pages are plain data; `graphql/` turns
//! them into Relay connections.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select,
};
use uuid::Uuid;

use crate::entities::{user_activity_log, user_merge, user_merge_member, user_note};
use crate::error::{AppError, AppResult};

/// Rows of one page, each with its id (the row's cursor), and whether more follow.
pub struct Page<M> {
    pub rows: Vec<(Uuid, M)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

/// The page size from `first`: default 20, capped at 100, never negative.
pub fn page_size(first: Option<i32>) -> AppResult<u64> {
    match first {
        None => Ok(20),
        Some(n) if n < 0 => Err(AppError::bad_input("first", "first must not be negative")),
        Some(n) => Ok(std::cmp::min(n as u64, 100)),
    }
}

impl<M> Page<M> {
    /// A page from `limit + 1` fetched rows (the extra row only says more follow).
    pub fn from_rows(
        mut rows: Vec<M>,
        limit: u64,
        has_previous_page: bool,
        id_of: impl Fn(&M) -> Uuid,
    ) -> Self {
        let has_next_page = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        Self {
            rows: rows.into_iter().map(|m| (id_of(&m), m)).collect(),
            has_next_page,
            has_previous_page,
        }
    }
}

/// Reads an id cursor.
pub fn parse_after(after: Option<&str>) -> AppResult<Option<Uuid>> {
    after
        .map(|a| {
            Uuid::parse_str(a)
                .map_err(|_| AppError::bad_input("after", "after is not a cursor from this list"))
        })
        .transpose()
}

/// Runs `query` newest first by `id_col`, after the cursor.
pub(crate) async fn newest_first<E, C>(
    conn: &C,
    query: Select<E>,
    id_col: E::Column,
    id_of: impl Fn(&E::Model) -> Uuid,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<Page<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let limit = page_size(first)?;
    let after_id = parse_after(after)?;
    let mut q = query;
    if let Some(id) = after_id {
        q = q.filter(id_col.lt(id));
    }
    let rows = q.order_by_desc(id_col).limit(limit + 1).all(conn).await?;
    Ok(Page::from_rows(rows, limit, after_id.is_some(), id_of))
}

/// A user's notes; internal ones only when `internal_visible`.
#[tracing::instrument(level = "debug", skip_all, fields(%user_id, internal_visible = internal_visible, first = ?first))]
pub async fn user_notes(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    internal_visible: bool,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<Page<user_note::Model>> {
    let mut q = user_note::Entity::find().filter(user_note::Column::UserId.eq(user_id));
    if !internal_visible {
        q = q.filter(user_note::Column::IsInternal.eq(false));
    }
    newest_first(conn, q, user_note::Column::Id, |m| m.id, first, after).await
}

/// A user's activity log.
#[tracing::instrument(level = "debug", skip_all, fields(%user_id, first = ?first))]
pub async fn activity(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<Page<user_activity_log::Model>> {
    let q = user_activity_log::Entity::find().filter(user_activity_log::Column::UserId.eq(user_id));
    newest_first(
        conn,
        q,
        user_activity_log::Column::Id,
        |m| m.id,
        first,
        after,
    )
    .await
}

/// The merge ledger, newest first: every merge, or (with `user_id`) those the user took
/// part in, as survivor or duplicate.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = ?user_id, first = ?first))]
pub async fn user_merges(
    conn: &impl ConnectionTrait,
    user_id: Option<Uuid>,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<Page<user_merge::Model>> {
    let mut q = user_merge::Entity::find();
    if let Some(id) = user_id {
        let theirs = user_merge_member::Entity::find()
            .select_only()
            .column(user_merge_member::Column::MergeId)
            .filter(user_merge_member::Column::UserId.eq(id))
            .into_query();
        q = q.filter(user_merge::Column::Id.in_subquery(theirs));
    }
    newest_first(conn, q, user_merge::Column::Id, |m| m.id, first, after).await
}
