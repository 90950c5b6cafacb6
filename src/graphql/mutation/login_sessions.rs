//! Ending login sessions: one's own, one's others, or (admins) all of another user's.

use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, request_context, require_principal};
use crate::services::audit::Actor;
use crate::services::login_sessions;

/// Ending login sessions. An ended session's access token is refused at once.
#[derive(Default)]
pub struct LoginSessionMutation;

#[Object]
impl LoginSessionMutation {
    /// Ends one of the caller's own login sessions (the current one too, like `logout`):
    /// that device is signed out at once. Another user's session, or one already ended,
    /// is NOT_FOUND.
    #[graphql(guard = "RoleGuard::any()")]
    async fn end_login_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's id, from `myLoginSessions`.")] id: Uuid,
    ) -> async_graphql::Result<bool> {
        let state = ctx.data_unchecked::<AppState>();
        let principal = require_principal(ctx)?;
        let actor = Actor::from_request(request_context(ctx));
        login_sessions::end_own(&state.db, &actor, principal.user_id, id).await?;
        Ok(true)
    }

    /// Ends every login session of the caller except the current one; returns how many
    /// it ended.
    #[graphql(guard = "RoleGuard::any()")]
    async fn end_other_login_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let state = ctx.data_unchecked::<AppState>();
        let principal = require_principal(ctx)?;
        let actor = Actor::from_request(request_context(ctx));
        let ended = login_sessions::end_others(
            &state.db,
            &actor,
            principal.user_id,
            principal.session_family,
        )
        .await?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Ends every login session of a user, on every device (admins only; suspending a user
    /// does the same). Returns how many were active.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn end_user_login_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user whose sessions to end.")] user_id: Uuid,
    ) -> async_graphql::Result<i32> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        let ended = login_sessions::end_all_of_user(&state.db, &actor, user_id).await?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }
}
