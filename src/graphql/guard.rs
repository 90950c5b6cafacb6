//! Field guards: who may resolve a field. Anonymous callers get UNAUTHENTICATED, the
//! wrong role FORBIDDEN.

use async_graphql::{Context, Guard};

use crate::auth::{Caller, Principal, RequestContext};
use crate::entities::enums::Role;
use crate::error::AppError;

/// The request context; every request carries one.
pub fn request_context<'a>(ctx: &'a Context<'_>) -> &'a RequestContext {
    ctx.data_unchecked::<RequestContext>()
}

/// What rate limits count the client by: its IP address (see `RFT_TRUST_PROXY`), or
/// `unknown` when the request came without one.
pub fn client_key(ctx: &Context<'_>) -> String {
    request_context(ctx)
        .meta
        .ip
        .clone()
        .unwrap_or_else(|| "unknown".into())
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

/// Who may read a field of a particular user. Checked against the viewer: the caller, or
/// the user of a session the same request just started (a `login` payload).
pub struct UserFieldGuard {
    owner: uuid::Uuid,
    level: UserFieldLevel,
}

enum UserFieldLevel {
    /// Whoever was handed the object (e.g. the public booking response: id and email).
    Anyone,
    /// Staff, or the user themself (names and role).
    StaffOrSelf,
    /// Admins, or the user themself (the rest of the profile).
    AdminOrSelf,
    /// Admins only (medical, emergency contact, internal fields).
    AdminOnly,
}

impl UserFieldGuard {
    /// Any caller.
    pub fn anyone() -> Self {
        Self {
            owner: uuid::Uuid::nil(),
            level: UserFieldLevel::Anyone,
        }
    }

    /// Admins, instructors, or the user `owner`.
    pub fn staff_or_self(owner: uuid::Uuid) -> Self {
        Self {
            owner,
            level: UserFieldLevel::StaffOrSelf,
        }
    }

    /// Admins, or the user `owner`.
    pub fn admin_or_self(owner: uuid::Uuid) -> Self {
        Self {
            owner,
            level: UserFieldLevel::AdminOrSelf,
        }
    }

    /// Admins only.
    pub fn admin_only() -> Self {
        Self {
            owner: uuid::Uuid::nil(),
            level: UserFieldLevel::AdminOnly,
        }
    }
}

impl Guard for UserFieldGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if matches!(self.level, UserFieldLevel::Anyone) {
            return Ok(());
        }
        let Some(viewer) = request_context(ctx).viewer() else {
            return Err(require_principal(ctx)
                .err()
                .unwrap_or(AppError::Forbidden)
                .into());
        };
        let allowed = match self.level {
            UserFieldLevel::Anyone => true,
            UserFieldLevel::AdminOnly => viewer.role == Role::Admin,
            UserFieldLevel::AdminOrSelf => {
                viewer.role == Role::Admin || viewer.user_id == self.owner
            }
            UserFieldLevel::StaffOrSelf => {
                matches!(viewer.role, Role::Admin | Role::Instructor)
                    || viewer.user_id == self.owner
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(AppError::Forbidden.into())
        }
    }
}
