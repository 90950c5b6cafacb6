//! Login sessions for staff.

use async_graphql::{Context, Object};

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use crate::graphql::guard::{RoleGuard, client_key, request_context, require_principal};
use crate::graphql::types::auth::AuthPayload;
use crate::services::audit::Actor;
use crate::services::sessions;

/// Login, token refresh, logout and password change.
#[derive(Default)]
pub struct AuthMutation;

/// Lets the payload of a login or refresh show the new session's user their own profile.
fn mark_issued(ctx: &Context<'_>, issued: &sessions::Issued) {
    request_context(ctx).set_issued(Principal {
        user_id: issued.user.id,
        role: issued.user.role,
        session_family: issued.session_family,
    });
}

/// Takes one credential attempt from the client's bucket (`login-ip`), shared by `login`,
/// `refreshSession` and `changePassword`.
async fn throttle(ctx: &Context<'_>) -> Result<(), AppError> {
    let state = ctx.data_unchecked::<AppState>();
    state
        .limiter
        .check(
            &state.db,
            "login-ip",
            &client_key(ctx),
            state.config.login_limit,
        )
        .await
}

#[Object]
impl AuthMutation {
    /// Logs a staff member in with email and password. Every failure gives the same
    /// UNAUTHENTICATED error; five failures in a row lock the account for 15 minutes.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The staff member's email.")] email: String,
        #[graphql(desc = "The password.", secret)] password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let state = ctx.data_unchecked::<AppState>();
        throttle(ctx).await?;
        let actor = Actor::from_request(request_context(ctx));
        let issued = sessions::login(
            &state.db,
            &state.jwt,
            state.config.refresh_token_ttl,
            &actor,
            &email,
            password,
        )
        .await?;
        mark_issued(ctx, &issued);
        Ok(issued.into())
    }

    /// Swaps a refresh token for a new access token and a new refresh token. A refresh
    /// token works once: using it again ends the whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The refresh token from `login` or the last `refreshSession`.",
            secret
        )]
        refresh_token: String,
    ) -> async_graphql::Result<AuthPayload> {
        let state = ctx.data_unchecked::<AppState>();
        throttle(ctx).await?;
        let actor = Actor::from_request(request_context(ctx));
        let issued = sessions::refresh(
            &state.db,
            &state.jwt,
            state.config.refresh_token_ttl,
            &actor,
            &refresh_token,
        )
        .await?;
        mark_issued(ctx, &issued);
        Ok(issued.into())
    }

    /// Ends the current session (or every session of the caller, with `allSessions`).
    #[graphql(guard = "RoleGuard::any()")]
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "End every session of the caller, on every device.",
            default = false
        )]
        all_sessions: bool,
    ) -> async_graphql::Result<bool> {
        let state = ctx.data_unchecked::<AppState>();
        let principal = require_principal(ctx)?;
        let actor = Actor::from_request(request_context(ctx));
        sessions::logout(
            &state.db,
            &actor,
            principal.user_id,
            principal.session_family,
            all_sessions,
        )
        .await?;
        Ok(true)
    }

    /// Changes the caller's password and ends their other sessions.
    #[graphql(guard = "RoleGuard::staff()")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The current password.", secret)] current_password: String,
        #[graphql(desc = "The new password (at least 12 characters).", secret)]
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let state = ctx.data_unchecked::<AppState>();
        throttle(ctx).await?;
        let principal = require_principal(ctx)?;
        let actor = Actor::from_request(request_context(ctx));
        sessions::change_password(
            &state.db,
            &actor,
            principal.user_id,
            principal.session_family,
            current_password,
            new_password,
        )
        .await?;
        Ok(true)
    }
}
