//! Login sessions as the people who own them see them: listing a user's active sessions
//! (with the device each was opened on) and ending them.
//!
//! A login session is one refresh-token family of `auth_sessions` (the rows a login and
//! its refreshes leave); its id is the family id, which is also the access token's `sid`,
//! so ending it revokes the family and `sessions::principal_for` refuses its access token
//! on the very next request. No table of its own: see docs/ARCHITECTURE.md, "Login
//! sessions are refresh-token families".

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::auth_session;
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Activity, Actor};
use crate::services::{sessions, users};

/// One active login session (one refresh-token family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// The family id (the access token's `sid`).
    pub id: Uuid,
    pub user_id: Uuid,
    /// The login: the family's first row.
    pub created_at: DateTime<Utc>,
    /// The latest login or token refresh in the family.
    pub last_used_at: DateTime<Utc>,
    /// From the family's most recent row (the last login or refresh).
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// When the live refresh token expires (unless it is refreshed first).
    pub expires_at: DateTime<Utc>,
}

impl LoginSession {
    /// A short description of the device the session was last used from.
    pub fn device(&self) -> String {
        describe_device(self.user_agent.as_deref())
    }
}

/// Why `end_*` revoked a family (kept in `auth_sessions.revoked_reason`).
const ENDED_BY_USER: &str = "ended_by_user";
const ENDED_BY_ADMIN: &str = "ended_by_admin";

/// "Firefox on Windows", "Safari on iPhone", "Chrome on macOS"; "Unknown device" when the
/// user agent is missing or not recognised. Crawlers and libraries are named as they are
/// ("HTTP Library"), so a script's session is recognisable too.
pub fn describe_device(user_agent: Option<&str>) -> String {
    const UNKNOWN: &str = "UNKNOWN";
    let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua.trim()));
    let Some(parsed) = parsed else {
        return "Unknown device".into();
    };
    let browser = (parsed.name != UNKNOWN).then_some(parsed.name);
    let os = (parsed.os != UNKNOWN).then(|| os_family(parsed.os));
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => format!("Unknown browser on {o}"),
        (None, None) => "Unknown device".into(),
    }
}

/// Woothee names Windows and macOS by version ("Windows 10", "Mac OSX"); a person
/// recognises the family.
fn os_family(os: &str) -> &str {
    match os {
        "Windows Phone OS" => "Windows Phone",
        "Mac OSX" => "macOS",
        _ if os.starts_with("Windows") => "Windows",
        _ => os,
    }
}

/// The active login sessions of each of `user_ids` (a family with an unrevoked,
/// unexpired row), most recently used first. Two statements, whatever the number of users.
#[tracing::instrument(skip_all, fields(users = user_ids.len()))]
pub async fn active_for_users(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<LoginSession>>, DbErr> {
    let mut by_user: HashMap<Uuid, Vec<LoginSession>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(by_user);
    }
    let now = Utc::now();
    // Each active family's newest row: rotation never revokes, and every revocation covers
    // the whole family, so the row nothing replaced is the live one.
    let live = auth_session::Entity::find()
        .filter(auth_session::Column::UserId.is_in(user_ids.iter().copied()))
        .filter(auth_session::Column::RevokedAt.is_null())
        .filter(auth_session::Column::ReplacedById.is_null())
        .filter(auth_session::Column::ExpiresAt.gt(now))
        .all(conn)
        .await?;
    if live.is_empty() {
        return Ok(by_user);
    }
    // When each family began and was last used (a refresh stamps the row it replaces).
    let spans: HashMap<Uuid, (DateTime<Utc>, Option<DateTime<Utc>>)> = auth_session::Entity::find()
        .select_only()
        .column(auth_session::Column::FamilyId)
        .expr(Expr::col(auth_session::Column::CreatedAt).min())
        .expr(Expr::col(auth_session::Column::LastUsedAt).max())
        .filter(auth_session::Column::FamilyId.is_in(live.iter().map(|r| r.family_id)))
        .group_by(auth_session::Column::FamilyId)
        .into_tuple::<(Uuid, DateTime<Utc>, Option<DateTime<Utc>>)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(family, first, last_used)| (family, (first, last_used)))
        .collect();
    for row in live {
        let (created_at, last_used) = spans
            .get(&row.family_id)
            .copied()
            .unwrap_or((row.created_at, None));
        let last_used_at = [Some(row.created_at), row.last_used_at, last_used]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(row.created_at);
        by_user.entry(row.user_id).or_default().push(LoginSession {
            id: row.family_id,
            user_id: row.user_id,
            created_at,
            last_used_at,
            ip_address: row.ip_address,
            user_agent: row.user_agent,
            expires_at: row.expires_at,
        });
    }
    for sessions in by_user.values_mut() {
        sessions.sort_by(|a, b| b.last_used_at.cmp(&a.last_used_at).then(b.id.cmp(&a.id)));
    }
    Ok(by_user)
}

/// The active login sessions of one user, most recently used first.
#[tracing::instrument(skip_all, fields(%user_id))]
pub async fn active_for_user(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
) -> AppResult<Vec<LoginSession>> {
    Ok(active_for_users(conn, &[user_id])
        .await?
        .remove(&user_id)
        .unwrap_or_default())
}

/// `endLoginSession`: ends one of the user's own active sessions (the current one too).
/// Someone else's session, or one already ended, is NOT_FOUND, so ids reveal nothing.
#[tracing::instrument(skip_all, fields(%user_id, session_family = %family))]
pub async fn end_own(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: Uuid,
    family: Uuid,
) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let owned = auth_session::Entity::find()
        .select_only()
        .column(auth_session::Column::Id)
        .filter(auth_session::Column::FamilyId.eq(family))
        .filter(auth_session::Column::UserId.eq(user_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .filter(auth_session::Column::ExpiresAt.gt(Utc::now()))
        .order_by_asc(auth_session::Column::Id)
        .into_tuple::<Uuid>()
        .one(&txn)
        .await?;
    if owned.is_none() {
        return Err(AppError::NotFound("login session"));
    }
    sessions::revoke_family(&txn, family, ENDED_BY_USER).await?;
    audit::record(
        &txn,
        actor,
        "auth.session_ended",
        "auth_session",
        Some(family),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// `endOtherLoginSessions`: ends every active session of the user but `current`; returns
/// how many it ended.
#[tracing::instrument(skip_all, fields(%user_id, session_family = %current, ended = tracing::field::Empty))]
pub async fn end_others(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: Uuid,
    current: Uuid,
) -> AppResult<u64> {
    let txn = begin_write(db).await?;
    let ended = revoke_user_families(&txn, user_id, Some(current), ENDED_BY_USER).await?;
    tracing::Span::current().record("ended", ended);
    audit::record(
        &txn,
        actor,
        "auth.other_sessions_ended",
        "auth_session",
        Some(current),
        Some(serde_json::json!({ "ended": ended })),
    )
    .await?;
    txn.commit().await?;
    Ok(ended)
}

/// `endUserLoginSessions` (admins): ends every active session of another user, as
/// suspending them does; returns how many it ended.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), %user_id, ended = tracing::field::Empty))]
pub async fn end_all_of_user(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: Uuid,
) -> AppResult<u64> {
    let txn = begin_write(db).await?;
    let user = users::find(&txn, user_id).await?;
    let ended = users::revoke_sessions(&txn, user.id, ENDED_BY_ADMIN).await?;
    tracing::Span::current().record("ended", ended);
    audit::record(
        &txn,
        actor,
        "auth.user_sessions_ended",
        "user",
        Some(user.id),
        Some(serde_json::json!({ "ended": ended })),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: user.id,
            activity_type: "login_sessions_ended",
            description: Some(format!("Login sessions ended by an admin: {ended}")),
            related: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ended)
}

/// Revokes every unrevoked row of the user's families (all but `except`'s), in one
/// statement; returns how many ACTIVE sessions that ended (families that still had an
/// unexpired row), read from the rows the statement changed.
#[tracing::instrument(skip_all, fields(%user_id))]
pub async fn revoke_user_families(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    except: Option<Uuid>,
    reason: &str,
) -> AppResult<u64> {
    let now = Utc::now();
    let mut update = auth_session::Entity::update_many()
        .col_expr(auth_session::Column::RevokedAt, Expr::value(now))
        .col_expr(auth_session::Column::RevokedReason, Expr::value(reason))
        .filter(auth_session::Column::UserId.eq(user_id))
        .filter(auth_session::Column::RevokedAt.is_null());
    if let Some(family) = except {
        update = update.filter(auth_session::Column::FamilyId.ne(family));
    }
    let changed = update.exec_with_returning(conn).await?;
    let mut ended: Vec<Uuid> = changed
        .into_iter()
        .filter(|row| row.expires_at > now)
        .map(|row| row.family_id)
        .collect();
    ended.sort_unstable();
    ended.dedup();
    Ok(ended.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::describe_device;

    #[test]
    fn devices_are_named_by_browser_and_os_family() {
        for (ua, device) in [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                "Chrome on macOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "HTTP Library"),
            ("", "Unknown device"),
            ("something odd", "Unknown device"),
        ] {
            assert_eq!(describe_device(Some(ua)), device, "{ua}");
        }
        assert_eq!(describe_device(None), "Unknown device");
    }
}
