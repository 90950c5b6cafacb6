//! Who is calling: passwords, tokens, the per-request principal and the guards that use it.

pub mod guard;
pub mod jwt;
pub mod password;
pub mod rate_limit;
pub mod tokens;

use uuid::Uuid;

use crate::entities::enums::Role;

/// An authenticated caller, resolved from a valid access token and a live user row.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub role: Role,
    /// The refresh-token family this access token belongs to (revoked on logout).
    pub session_family: Uuid,
}

/// How the request authenticated.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// A valid token for an active user.
    User(Principal),
    /// A token was sent but is expired, malformed, revoked or for a disabled user.
    InvalidToken,
}

/// Facts about the HTTP request, recorded in audit and activity rows.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Everything a resolver knows about who is asking and from where.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub caller: Caller,
    pub meta: RequestMeta,
}

impl RequestContext {
    /// The principal, if the request is authenticated.
    pub fn principal(&self) -> Option<&Principal> {
        match &self.caller {
            Caller::User(p) => Some(p),
            _ => None,
        }
    }

    /// The acting user's id, if any.
    pub fn actor_id(&self) -> Option<Uuid> {
        self.principal().map(|p| p.user_id)
    }

    /// True when the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.principal().is_some_and(|p| p.role == Role::Admin)
    }
}
