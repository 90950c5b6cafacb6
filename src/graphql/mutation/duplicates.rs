//! Mutations of duplicate detection (admin only).

use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, request_context};
use crate::services::audit::Actor;
use crate::services::duplicates;

/// Deciding about likely duplicates.
#[derive(Default)]
pub struct DuplicateMutation;

#[Object]
impl DuplicateMutation {
    /// Marks two users as different people (admin only): the pair leaves the worklist and
    /// is never proposed again, whatever later edits or rescans find. Audited. The same id
    /// twice or an unknown id is BAD_USER_INPUT, and nothing is written.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn dismiss_duplicate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "One of the two users.")] user_id: Uuid,
        #[graphql(desc = "The other user.")] other_user_id: Uuid,
    ) -> async_graphql::Result<bool> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(duplicates::dismiss(&state.db, &actor, user_id, other_user_id).await?)
    }
}
