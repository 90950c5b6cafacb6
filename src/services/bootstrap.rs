//! Start-up tasks: the bootstrap admin.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, DatabaseConnection, IntoActiveModel, Set};
use uuid::Uuid;

use crate::auth::password;
use crate::config::Secret;
use crate::db::begin_write;
use crate::entities::enums::{Role, UserStatus};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::{duplicates, users, validate};

/// What `ensure_admin` did.
pub enum AdminOutcome {
    /// An admin already existed; nothing changed.
    Existing,
    /// Created an admin. `generated_password` is set when the password was generated, and
    /// must be shown to the operator once.
    Created {
        user_id: Uuid,
        generated_password: Option<String>,
    },
}

/// An admin made ready by [`create_or_reset_admin`].
pub struct AdminReady {
    pub user_id: Uuid,
    /// The email, normalised.
    pub email: String,
    /// Set when the password was generated: show it to the operator once.
    pub generated_password: Option<String>,
}

/// Creates the bootstrap admin when no admin exists.
#[tracing::instrument(skip_all)]
pub async fn ensure_admin(
    db: &DatabaseConnection,
    email: &str,
    password: Option<&Secret>,
) -> AppResult<AdminOutcome> {
    if users::count_admins(db).await? > 0 {
        return Ok(AdminOutcome::Existing);
    }
    let ready = create_or_reset_admin(db, email, password, "Admin", "User").await?;
    tracing::info!(user_id = %ready.user_id, "created the bootstrap admin");
    Ok(AdminOutcome::Created {
        user_id: ready.user_id,
        generated_password: ready.generated_password,
    })
}

/// Creates an admin, or makes an existing user with that email an active admin with the
/// given password.
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
pub async fn create_or_reset_admin(
    db: &DatabaseConnection,
    email: &str,
    password: Option<&Secret>,
    first_name: &str,
    last_name: &str,
) -> AppResult<AdminReady> {
    let email = validate::email("email", email)?;
    let (plain, generated) = match password {
        Some(p) => (p.expose().to_string(), None),
        None => {
            let p = password::generate();
            (p.clone(), Some(p))
        }
    };
    password::check_policy("password", &plain)?;
    let hash = password::hash(plain).await?;
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let actor = Actor::system();
    let user_id = match users::find_by_email(&txn, &email).await? {
        Some(existing) => {
            let mut am = existing.clone().into_active_model();
            am.role = Set(Role::Admin);
            am.status = Set(UserStatus::Active);
            am.password_hash = Set(Some(hash));
            am.password_changed_at = Set(Some(now));
            am.failed_login_attempts = Set(0);
            am.account_locked_until = Set(None);
            am.updated_at = Set(now);
            let updated = am.update(&txn).await?;
            // A customer made an admin leaves the duplicate worklist.
            duplicates::refresh(&txn, Some(&existing), &updated).await?;
            users::revoke_sessions(&txn, updated.id, "password_reset").await?;
            let changes = audit::changes(Some(&existing), Some(&updated));
            audit::record(
                &txn,
                &actor,
                "admin.reset",
                "user",
                Some(updated.id),
                Some(changes),
            )
            .await?;
            updated.id
        }
        None => {
            let mut m = users::blank(email.clone(), first_name.into(), last_name.into(), now);
            m.role = Role::Admin;
            m.password_hash = Some(hash);
            m.password_changed_at = Some(now);
            users::refresh_derived(&mut m);
            let created = users::insert(&txn, m).await?;
            let changes = audit::changes(None, Some(&created));
            audit::record(
                &txn,
                &actor,
                "admin.create",
                "user",
                Some(created.id),
                Some(changes),
            )
            .await?;
            created.id
        }
    };
    tracing::Span::current().record("user_id", tracing::field::display(user_id));
    txn.commit().await.map_err(AppError::from)?;
    Ok(AdminReady {
        user_id,
        email,
        generated_password: generated,
    })
}
