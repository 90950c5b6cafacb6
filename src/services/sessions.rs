//! Staff login sessions: password login with lockout, refresh-token rotation with reuse
//! detection, logout and password changes.
//!
//! Every credential failure gives the same UNAUTHENTICATED error, whether the email is
//! unknown, the password wrong, the account locked, disabled or a customer's.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use crate::auth::{jwt::JwtKeys, password, tokens};
use crate::db::begin_write;
use crate::entities::enums::{Role, UserStatus};
use crate::entities::{auth_session, user};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Activity, Actor};
use crate::services::users;

/// Consecutive failures that lock an account.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a lock lasts.
pub const LOCKOUT_MINUTES: i64 = 15;

/// What a successful login or refresh hands back.
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: user::Model,
    /// The session family the tokens belong to.
    pub session_family: Uuid,
}

fn invalid_credentials() -> AppError {
    AppError::Unauthenticated("invalid email or password".into())
}

fn invalid_refresh() -> AppError {
    AppError::Unauthenticated("the refresh token is invalid or expired".into())
}

fn is_staff(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Instructor)
}

/// `login`.
#[tracing::instrument(skip_all)]
pub async fn login(
    db: &DatabaseConnection,
    jwt: &JwtKeys,
    refresh_ttl: std::time::Duration,
    actor: &Actor,
    email: &str,
    password_attempt: String,
) -> AppResult<Issued> {
    let found = users::find_by_email(db, email).await?;
    let stored_hash = found.as_ref().and_then(|u| u.password_hash.clone());
    // Always do the argon2 work, so timing does not reveal which emails exist.
    let password_ok = password::verify(password_attempt, stored_hash).await?;
    let now = Utc::now();

    let txn = begin_write(db).await?;
    let Some(user) = found else {
        audit::record(
            &txn,
            actor,
            "auth.login_failed",
            "user",
            None,
            Some(serde_json::json!({"reason": "unknown_email"})),
        )
        .await?;
        txn.commit().await?;
        return Err(invalid_credentials());
    };
    let as_user = Actor {
        id: Some(user.id),
        role: Some(user.role),
        meta: actor.meta.clone(),
    };
    let locked = user.account_locked_until.is_some_and(|until| until > now);
    let fail_reason = if !is_staff(user.role) || user.password_hash.is_none() {
        Some("no_password_login")
    } else if locked {
        Some("account_locked")
    } else if !password_ok {
        Some("wrong_password")
    } else if user.status != UserStatus::Active {
        Some("account_disabled")
    } else {
        None
    };
    if let Some(reason) = fail_reason {
        if reason == "wrong_password" {
            record_failure(&txn, &user, now).await?;
        }
        audit::record(
            &txn,
            &as_user,
            "auth.login_failed",
            "user",
            Some(user.id),
            Some(serde_json::json!({"reason": reason})),
        )
        .await?;
        audit::log_activity(
            &txn,
            &as_user,
            Activity {
                user_id: user.id,
                activity_type: "login_failed",
                description: None,
                related: None,
            },
        )
        .await?;
        txn.commit().await?;
        return Err(invalid_credentials());
    }

    let mut am = user.clone().into_active_model();
    am.failed_login_attempts = Set(0);
    am.account_locked_until = Set(None);
    am.last_login_at = Set(Some(now));
    am.last_activity_at = Set(now);
    let user = am.update(&txn).await?;
    let issued = start_session(&txn, jwt, refresh_ttl, actor, user).await?;
    audit::record(
        &txn,
        &as_user,
        "auth.login",
        "user",
        Some(issued.user.id),
        None,
    )
    .await?;
    audit::log_activity(
        &txn,
        &as_user,
        Activity {
            user_id: issued.user.id,
            activity_type: "login",
            description: None,
            related: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(issued)
}

/// Starts a new session family for a user: a refresh token row and an access token.
/// The caller commits the transaction.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn start_session(
    conn: &impl ConnectionTrait,
    jwt: &JwtKeys,
    refresh_ttl: std::time::Duration,
    actor: &Actor,
    user: user::Model,
) -> AppResult<Issued> {
    let family = Uuid::now_v7();
    let (_, refresh_token) = new_session(conn, user.id, family, refresh_ttl, actor).await?;
    let (access_token, expires_at) = jwt.issue(user.id, user.role, family)?;
    Ok(Issued {
        access_token,
        refresh_token,
        expires_at,
        user,
        session_family: family,
    })
}

/// Counts a wrong password with SQL increments (safe under concurrent attempts) and locks
/// the account when the count reaches the limit. A lock that has run out starts a new count.
async fn record_failure(
    conn: &impl ConnectionTrait,
    user: &user::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if user.account_locked_until.is_some_and(|until| until <= now) {
        user::Entity::update_many()
            .col_expr(user::Column::FailedLoginAttempts, Expr::value(0))
            .col_expr(
                user::Column::AccountLockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(user::Column::Id.eq(user.id))
            .exec(conn)
            .await?;
    }
    user::Entity::update_many()
        .col_expr(
            user::Column::FailedLoginAttempts,
            Expr::col(user::Column::FailedLoginAttempts).add(1),
        )
        .filter(user::Column::Id.eq(user.id))
        .exec(conn)
        .await?;
    user::Entity::update_many()
        .col_expr(
            user::Column::AccountLockedUntil,
            Expr::value(now + chrono::Duration::minutes(LOCKOUT_MINUTES)),
        )
        .filter(user::Column::Id.eq(user.id))
        .filter(user::Column::FailedLoginAttempts.gte(MAX_FAILED_LOGINS))
        .filter(user::Column::AccountLockedUntil.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

async fn new_session(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    family: Uuid,
    ttl: std::time::Duration,
    actor: &Actor,
) -> AppResult<(Uuid, String)> {
    let token = tokens::random_token(32);
    let now = Utc::now();
    let id = Uuid::now_v7();
    auth_session::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        family_id: Set(family),
        token_hash: Set(tokens::digest(&token)),
        expires_at: Set(now + chrono::Duration::from_std(ttl).map_err(AppError::internal)?),
        created_at: Set(now),
        last_used_at: Set(None),
        replaced_by_id: Set(None),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        ip_address: Set(actor.meta.ip.clone()),
        user_agent: Set(actor.meta.user_agent.clone()),
    }
    .insert(conn)
    .await?;
    Ok((id, token))
}

/// Revokes every live token of a session family.
#[tracing::instrument(skip_all, fields(session_family = %family))]
pub async fn revoke_family(
    conn: &impl ConnectionTrait,
    family: Uuid,
    reason: &str,
) -> AppResult<u64> {
    let res = auth_session::Entity::update_many()
        .col_expr(auth_session::Column::RevokedAt, Expr::value(Utc::now()))
        .col_expr(auth_session::Column::RevokedReason, Expr::value(reason))
        .filter(auth_session::Column::FamilyId.eq(family))
        .filter(auth_session::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// `refreshSession`: swaps a refresh token for a new pair. A token used twice means it was
/// stolen: the whole family is revoked and both holders must log in again.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    db: &DatabaseConnection,
    jwt: &JwtKeys,
    refresh_ttl: std::time::Duration,
    actor: &Actor,
    refresh_token: &str,
) -> AppResult<Issued> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let Some(session) = auth_session::Entity::find()
        .filter(auth_session::Column::TokenHash.eq(tokens::digest(refresh_token)))
        .one(&txn)
        .await?
    else {
        return Err(invalid_refresh());
    };
    let session_actor = Actor {
        id: Some(session.user_id),
        role: None,
        meta: actor.meta.clone(),
    };
    if session.replaced_by_id.is_some() {
        revoke_family(&txn, session.family_id, "reuse_detected").await?;
        audit::record(
            &txn,
            &session_actor,
            "auth.refresh_reuse_detected",
            "auth_session",
            Some(session.family_id),
            None,
        )
        .await?;
        txn.commit().await?;
        return Err(invalid_refresh());
    }
    if session.revoked_at.is_some() || session.expires_at <= now {
        return Err(invalid_refresh());
    }
    let user = users::find(&txn, session.user_id).await?;
    if !is_staff(user.role) || user.status != UserStatus::Active {
        return Err(invalid_refresh());
    }
    let (new_id, new_token) =
        new_session(&txn, user.id, session.family_id, refresh_ttl, actor).await?;
    // Only one concurrent refresh with the same token may win.
    let claimed = auth_session::Entity::update_many()
        .col_expr(
            auth_session::Column::ReplacedById,
            Expr::value(Some(new_id)),
        )
        .col_expr(auth_session::Column::LastUsedAt, Expr::value(now))
        .filter(auth_session::Column::Id.eq(session.id))
        .filter(auth_session::Column::ReplacedById.is_null())
        .filter(auth_session::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(invalid_refresh());
    }
    let as_user = Actor {
        id: Some(user.id),
        role: Some(user.role),
        meta: actor.meta.clone(),
    };
    audit::record(
        &txn,
        &as_user,
        "auth.refresh",
        "auth_session",
        Some(session.family_id),
        None,
    )
    .await?;
    txn.commit().await?;
    let (access_token, expires_at) = jwt.issue(user.id, user.role, session.family_id)?;
    Ok(Issued {
        access_token,
        refresh_token: new_token,
        expires_at,
        user,
        session_family: session.family_id,
    })
}

/// `logout`: ends the caller's session family (or every session, with `all`).
#[tracing::instrument(skip_all, fields(%user_id, session_family = %family, all = all))]
pub async fn logout(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: Uuid,
    family: Uuid,
    all: bool,
) -> AppResult<()> {
    let txn = begin_write(db).await?;
    if all {
        users::revoke_sessions(&txn, user_id, "logout_all").await?;
    } else {
        revoke_family(&txn, family, "logout").await?;
    }
    audit::record(
        &txn,
        actor,
        if all {
            "auth.logout_all"
        } else {
            "auth.logout"
        },
        "auth_session",
        Some(family),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// `changePassword`: checks the current password, sets the new one, and ends every other
/// session of the user.
#[tracing::instrument(skip_all, fields(%user_id, session_family = %family))]
pub async fn change_password(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: Uuid,
    family: Uuid,
    current: String,
    new: String,
) -> AppResult<()> {
    password::check_policy("newPassword", &new)?;
    if current == new {
        return Err(AppError::bad_input(
            "newPassword",
            "the new password must differ from the current one",
        ));
    }
    let before = users::find(db, user_id).await?;
    if !password::verify(current, before.password_hash.clone()).await? {
        return Err(AppError::bad_input(
            "currentPassword",
            "the current password is not correct",
        ));
    }
    let hash = password::hash(new).await?;
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let mut am = before.clone().into_active_model();
    am.password_hash = Set(Some(hash));
    am.password_changed_at = Set(Some(now));
    am.updated_at = Set(now);
    let after = am.update(&txn).await?;
    auth_session::Entity::update_many()
        .col_expr(auth_session::Column::RevokedAt, Expr::value(now))
        .col_expr(
            auth_session::Column::RevokedReason,
            Expr::value("password_changed"),
        )
        .filter(auth_session::Column::UserId.eq(user_id))
        .filter(auth_session::Column::FamilyId.ne(family))
        .filter(auth_session::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        "auth.change_password",
        "user",
        Some(user_id),
        Some(audit::changes(Some(&before), Some(&after))),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id,
            activity_type: "password_changed",
            description: None,
            related: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Resolves an access token into a live principal: the user must still exist, be active,
/// and the token's session family must not be revoked.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn principal_for(
    conn: &impl ConnectionTrait,
    jwt: &JwtKeys,
    token: &str,
) -> AppResult<Option<crate::auth::Principal>> {
    let Some(claims) = jwt.verify(token) else {
        return Ok(None);
    };
    // One statement: the user, provided their session family is still live.
    let live_session = Query::select()
        .expr(Expr::val(1))
        .from(auth_session::Entity)
        .and_where(Expr::col((auth_session::Entity, auth_session::Column::FamilyId)).eq(claims.sid))
        .and_where(Expr::col((auth_session::Entity, auth_session::Column::UserId)).eq(claims.sub))
        .and_where(Expr::col((auth_session::Entity, auth_session::Column::RevokedAt)).is_null())
        .to_owned();
    // Only what decides the principal: this runs on every authenticated request.
    let Some((user_id, role, status, merged_into)) = user::Entity::find_by_id(claims.sub)
        .select_only()
        .columns([
            user::Column::Id,
            user::Column::Role,
            user::Column::Status,
            user::Column::MergedIntoId,
        ])
        .filter(Expr::exists(live_session))
        .into_tuple::<(Uuid, Role, UserStatus, Option<Uuid>)>()
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if status != UserStatus::Active || merged_into.is_some() {
        return Ok(None);
    }
    Ok(Some(crate::auth::Principal {
        user_id,
        role,
        session_family: claims.sid,
    }))
}
