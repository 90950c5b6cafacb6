//! Who is calling: passwords, tokens, rate limits and the per-request principal. The
//! API layer reads the principal in its own guards.

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

/// A customer signed in to the portal: a live portal session token from `customerLookup`
/// (`portal::TOKEN_PREFIX`). It reaches only the portal's own operations on this customer's
/// data; everything else answers FORBIDDEN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerPrincipal {
    /// The customer (never a tombstone: a session of a merged-away profile is refused).
    pub user_id: Uuid,
    /// The `portal_sessions` row, which `endPortalSession` revokes.
    pub session_id: Uuid,
}

/// Whose fields a request may read: a staff or customer principal, or a portal session's
/// customer (who reads as a customer reading themself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: Uuid,
    pub role: Role,
}

impl From<&Principal> for Viewer {
    fn from(p: &Principal) -> Self {
        Self {
            user_id: p.user_id,
            role: p.role,
        }
    }
}

/// How the request authenticated.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// A valid token for an active user.
    User(Principal),
    /// A live customer-portal session.
    Customer(CustomerPrincipal),
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
    /// A session this request itself started (`login`, `refreshSession`): its user may read
    /// their own profile in the mutation's payload, though the request carried no token.
    pub issued: std::sync::Arc<std::sync::Mutex<Option<Principal>>>,
}

impl RequestContext {
    /// A context for a caller, with no session issued yet.
    pub fn new(caller: Caller, meta: RequestMeta) -> Self {
        Self {
            caller,
            meta,
            issued: Default::default(),
        }
    }

    /// The login session (refresh-token family) the request speaks for: the caller's, or
    /// else the one this request started.
    pub fn session_family(&self) -> Option<Uuid> {
        match &self.caller {
            Caller::User(p) => Some(p.session_family),
            Caller::Customer(_) => None,
            Caller::Anonymous | Caller::InvalidToken => self
                .issued
                .lock()
                .ok()
                .and_then(|p| p.as_ref().map(|p| p.session_family)),
        }
    }

    /// Who is reading: the caller (a portal session reads as its customer), or else the
    /// user of a session this request started.
    pub fn viewer(&self) -> Option<Viewer> {
        match &self.caller {
            Caller::User(p) => Some(Viewer::from(p)),
            Caller::Customer(c) => Some(Viewer {
                user_id: c.user_id,
                role: Role::Customer,
            }),
            Caller::Anonymous | Caller::InvalidToken => self
                .issued
                .lock()
                .ok()
                .and_then(|p| p.as_ref().map(Viewer::from)),
        }
    }

    /// Records the session a `login` or `refreshSession` in this request started.
    pub fn set_issued(&self, principal: Principal) {
        if let Ok(mut slot) = self.issued.lock() {
            *slot = Some(principal);
        }
    }

    /// The principal, if the request is authenticated.
    pub fn principal(&self) -> Option<&Principal> {
        match &self.caller {
            Caller::User(p) => Some(p),
            _ => None,
        }
    }

    /// The portal customer, if the request carries a portal session.
    pub fn customer(&self) -> Option<&CustomerPrincipal> {
        match &self.caller {
            Caller::Customer(c) => Some(c),
            _ => None,
        }
    }

    /// The acting user's id, if any: a staff (or customer) token's user, or the portal
    /// session's customer.
    pub fn actor_id(&self) -> Option<Uuid> {
        self.principal()
            .map(|p| p.user_id)
            .or_else(|| self.customer().map(|c| c.user_id))
    }

    /// The acting user's role, if any (a portal session acts as a customer).
    pub fn actor_role(&self) -> Option<Role> {
        match &self.caller {
            Caller::User(p) => Some(p.role),
            Caller::Customer(_) => Some(Role::Customer),
            _ => None,
        }
    }

    /// True when the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.principal().is_some_and(|p| p.role == Role::Admin)
    }
}
