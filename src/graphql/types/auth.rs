//! Objects returned by the session mutations.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use super::user::User;
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
