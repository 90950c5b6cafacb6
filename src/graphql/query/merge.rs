//! Queries about merging duplicate customers: the preview of a merge, and the history.

use async_graphql::{Context, Object, connection::Connection};
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::connection;
use crate::graphql::cost;
use crate::graphql::guard::{RoleGuard, request_context};
use crate::graphql::types::merge::{MergePreview, MergeUsersInput, UserMerge};
use crate::services::audit::Actor;
use crate::services::{merge, pages};

/// Queries about merging duplicate customers.
#[derive(Default)]
pub struct MergeQuery;

#[Object]
impl MergeQuery {
    /// What `mergeUsers` would do with this input, worked out by running the merge and
    /// rolling it back (admin only): the resulting profile field by field, the rows that
    /// would move, and the survivor's totals after. Nothing is written. Refused like
    /// `mergeUsers`.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn merge_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The merge to preview.")] input: MergeUsersInput,
    ) -> async_graphql::Result<MergePreview> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(MergePreview(
            merge::preview(&state.db, &actor, input.into()).await?,
        ))
    }

    /// The merge history, newest first (admin only): every merge, or those a user took
    /// part in, as survivor or duplicate. Undone merges stay, with `undoneAt` set.
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn user_merges(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only merges this user took part in (as survivor or duplicate).")]
        user_id: Option<Uuid>,
        #[graphql(desc = "How many merges to return (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return merges after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, UserMerge>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let page = pages::user_merges(db, user_id, first, after.as_deref()).await?;
        Ok(connection::from_page(page, UserMerge))
    }
}
