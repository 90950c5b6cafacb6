//! Field guards: who may resolve a field. Anonymous callers get UNAUTHENTICATED, the
//! wrong role FORBIDDEN.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{Context, Guard, PathSegment, Pos, ServerResult, Value};

use crate::auth::{Caller, CustomerPrincipal, Principal, RequestContext};
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

/// The authenticated staff (or customer-JWT) principal, or UNAUTHENTICATED; a portal
/// session gets FORBIDDEN (it reaches only the portal's own operations).
pub fn require_principal<'a>(ctx: &'a Context<'_>) -> Result<&'a Principal, AppError> {
    match &request_context(ctx).caller {
        Caller::User(p) => Ok(p),
        Caller::Customer(_) => Err(AppError::Forbidden),
        Caller::Anonymous => Err(AppError::Unauthenticated(
            "you must be logged in to do this".into(),
        )),
        Caller::InvalidToken => Err(AppError::Unauthenticated(
            "the access token is invalid or expired".into(),
        )),
    }
}

/// The portal session's customer: UNAUTHENTICATED without a (valid) token, FORBIDDEN for
/// a staff token (the portal is for customers' own sessions only).
pub fn require_customer<'a>(ctx: &'a Context<'_>) -> Result<&'a CustomerPrincipal, AppError> {
    match &request_context(ctx).caller {
        Caller::Customer(c) => Ok(c),
        Caller::User(_) => Err(AppError::Forbidden),
        Caller::Anonymous => Err(AppError::Unauthenticated(
            "open the customer portal with your email and booking reference first".into(),
        )),
        Caller::InvalidToken => Err(AppError::Unauthenticated(
            "the portal session has ended; look your booking up again".into(),
        )),
    }
}

/// Allows only a customer-portal session (`customerLookup`'s token).
pub struct PortalGuard;

impl Guard for PortalGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        require_customer(ctx).map(|_| ()).map_err(Into::into)
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

/// The root fields a customer-portal session may use. Every other root field answers
/// FORBIDDEN to a portal token, whatever its own guard says (public catalogue reads, login,
/// booking), so nothing new can open to the portal by accident.
pub const PORTAL_FIELDS: &[&str] = &[
    "customerLookup",
    "me",
    "myProfile",
    "updateMyProfile",
    "endPortalSession",
    "exportMyData",
    "verifyCertificate",
];

/// Confines a portal session to [`PORTAL_FIELDS`] (introspection stays open, as for any
/// caller when it is on).
pub struct PortalScope;

impl ExtensionFactory for PortalScope {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PortalScope)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PortalScope {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let outside_the_portal = info.path_node.parent.is_none()
            && !info.is_for_introspection
            && !PORTAL_FIELDS.contains(&info.name)
            && ctx
                .data_opt::<RequestContext>()
                .is_some_and(|rc| rc.customer().is_some());
        if outside_the_portal {
            let mut error =
                async_graphql::Error::from(AppError::Forbidden).into_server_error(Pos::default());
            error.locations.clear();
            error.path = vec![PathSegment::Field(
                info.alias.unwrap_or(info.name).to_string(),
            )];
            return Err(error);
        }
        next.run(ctx, info).await
    }
}
