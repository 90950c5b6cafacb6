//! Objects of staff login: the session mutations' payload, and login sessions.

use async_graphql::{Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::user::User;
use crate::services::login_sessions;
use crate::services::sessions::Issued;

/// A new login session: a short-lived access token and a single-use refresh token.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// JWT to send as `Authorization: Bearer <token>`; expires after 15 minutes.
    pub access_token: String,
    /// Single-use token for `refreshSession`; each use returns a new one.
    pub refresh_token: String,
    /// When the access token expires (UTC).
    pub expires_at: DateTime<Utc>,
    /// The logged-in user.
    pub user: User,
}

impl From<Issued> for AuthPayload {
    fn from(i: Issued) -> Self {
        Self {
            access_token: i.access_token,
            refresh_token: i.refresh_token,
            expires_at: i.expires_at,
            user: User::new(i.user),
        }
    }
}

/// One active login session (`services::login_sessions`), as the caller sees it.
pub struct LoginSession {
    session: login_sessions::LoginSession,
    current: bool,
}

impl LoginSession {
    /// A session as the request's caller sees it (`current` when it is the caller's own).
    pub fn new(session: login_sessions::LoginSession, current_family: Option<Uuid>) -> Self {
        let current = current_family == Some(session.id);
        Self { session, current }
    }
}

/// One of a person's active login sessions: a login on one device, kept alive by its
/// refresh token. Ending it signs that device out at once.
#[Object]
impl LoginSession {
    /// The session's id (for `endLoginSession`).
    async fn id(&self) -> Uuid {
        self.session.id
    }
    /// When the user logged in (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.session.created_at
    }
    /// The last login or token refresh of the session (UTC). Clients refresh their access
    /// token every 15 minutes while in use, so this is at most that stale.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.session.last_used_at
    }
    /// The client's IP address at that last use.
    async fn ip_address(&self) -> Option<&str> {
        self.session.ip_address.as_deref()
    }
    /// The client's `User-Agent` header at that last use.
    async fn user_agent(&self) -> Option<&str> {
        self.session.user_agent.as_deref()
    }
    /// The device, in words, from the user agent: "Firefox on Windows", "Safari on
    /// iPhone", or "Unknown device".
    async fn device(&self) -> String {
        self.session.device()
    }
    /// Whether this is the session the request was made with.
    async fn current(&self) -> bool {
        self.current
    }
    /// When the session ends unless it is used (refreshed) before then (UTC).
    async fn expires_at(&self) -> DateTime<Utc> {
        self.session.expires_at
    }
}
