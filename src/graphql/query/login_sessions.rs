//! The caller's own login sessions.

use async_graphql::{Context, Object};

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, require_principal};
use crate::graphql::types::auth::LoginSession;
use crate::services::login_sessions;

/// Login sessions: where the caller is signed in.
#[derive(Default)]
pub struct LoginSessionQuery;

#[Object]
impl LoginSessionQuery {
    /// The caller's active login sessions, most recently used first, the current one
    /// marked `current`. (`mySessions` is the instructor's course sessions.)
    #[graphql(guard = "RoleGuard::any()")]
    async fn my_login_sessions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<LoginSession>> {
        let principal = require_principal(ctx)?;
        let db = &ctx.data_unchecked::<AppState>().db;
        let sessions = login_sessions::active_for_user(db, principal.user_id).await?;
        Ok(sessions
            .into_iter()
            .map(|s| LoginSession::new(s, Some(principal.session_family)))
            .collect())
    }
}
