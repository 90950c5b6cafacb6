//! Field guards: who may resolve a field. Anonymous callers get UNAUTHENTICATED, the
//! wrong role FORBIDDEN.

use async_graphql::{Context, Guard};

use super::{Caller, Principal, RequestContext};
use crate::entities::enums::Role;
use crate::error::AppError;

/// The request context; every request carries one.
pub fn request_context<'a>(ctx: &'a Context<'_>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// The authenticated principal, or UNAUTHENTICATED.
pub fn require_principal<'a>(ctx: &'a Context<'_>) -> Result<&'a Principal, AppError> {
    match &request_context(ctx).caller {
        Caller::User(p) => Ok(p),
        Caller::Anonymous => Err(AppError::Unauthenticated(
            "you must be logged in to do this".into(),
        )),
        Caller::InvalidToken => Err(AppError::Unauthenticated(
            "the access token is invalid or expired".into(),
        )),
    }
}

/// Allows callers whose role is in the list.
pub struct RoleGuard(&'static [Role]);

impl RoleGuard {
    /// Admins only.
    pub fn admin() -> Self {
        Self(&[Role::Admin])
    }

    /// Admins and instructors.
    pub fn staff() -> Self {
        Self(&[Role::Admin, Role::Instructor])
    }

    /// Any authenticated caller.
    pub fn any() -> Self {
        Self(&[Role::Admin, Role::Instructor, Role::Customer])
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = require_principal(ctx)?;
        if self.0.contains(&principal.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden.into())
        }
    }
}
