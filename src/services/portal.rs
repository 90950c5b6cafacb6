//! The customer portal: a customer proves who they are with their email and one of their
//! booking references (`customerLookup`), and gets a session token that reaches only their
//! own data and the portal's own operations (their profile, bookings, certificates and
//! payments; `updateMyProfile`; `endPortalSession`).
//!
//! - **One answer for every mismatch.** An unknown email, an unknown reference and a
//!   reference that belongs to someone else all get [`no_match`], after the same work: both
//!   rows are always looked up, a token is always made and hashed, and an audit row is
//!   always written.
//! - **Tokens** are `rftp_` and 256 random bits (so they are told apart from staff JWTs at a
//!   glance), stored only as their SHA-256. A session lasts 30 minutes from its last use and
//!   never more than 4 hours from its start; `endPortalSession` ends it at once.
//! - **Merged customers** (docs/ARCHITECTURE.md, "Merged users"): an email that was merged
//!   away leads to the survivor, who owns the moved bookings; a tombstone's live session
//!   stops working, like its login tokens.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use crate::auth::{CustomerPrincipal, tokens};
use crate::db::begin_write;
use crate::entities::enums::{ConsentSource, ContactMethod, ReminderFrequency, Role, UserStatus};
use crate::entities::{booking, portal_session, user};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::patch::Patch;
use crate::services::users::{self, ProfilePatch, ProfileWriter};
use crate::services::validate;

/// What every portal token starts with (a staff access token is a JWT, `eyJ…`).
pub const TOKEN_PREFIX: &str = "rftp_";
/// A session ends this long after its last use...
pub const IDLE: Duration = Duration::minutes(30);
/// ...and never later than this after it started.
pub const MAX_LIFETIME: Duration = Duration::hours(4);
/// A use moves the expiry on only when it would move by at least this much, so a burst of
/// requests writes the session row once, not once per request.
const EXTEND_STEP: Duration = Duration::minutes(1);

/// The audit action of every lookup, whatever its outcome.
pub const LOOKUP_ACTION: &str = "portal_lookup";

/// A portal session just started: the token (shown once) and whose it is.
pub struct Started {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub customer: user::Model,
}

/// The one error for every failed lookup.
pub fn no_match() -> AppError {
    AppError::Unauthenticated("no booking matches that email and reference".into())
}

/// A booking reference as stored: trimmed and in capitals.
pub fn normalise_reference(raw: &str) -> String {
    raw.trim().to_ascii_uppercase()
}

/// Audits a lookup refused by a rate limit before it looked anything up. `limit` names
/// the limit (its bucket kind), never the value counted.
#[tracing::instrument(skip_all, fields(limit = %limit))]
pub async fn record_throttled(
    db: &DatabaseConnection,
    actor: &Actor,
    limit: &str,
) -> AppResult<()> {
    let txn = begin_write(db).await?;
    audit::record(
        &txn,
        actor,
        LOOKUP_ACTION,
        "user",
        None,
        Some(json!({ "outcome": "rate_limited", "limit": limit })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// `customerLookup`: a session for the customer whose normalised `email` leads (following
/// merges) to the owner of the booking `reference`; otherwise [`no_match`]. Either way one
/// `portal_lookup` audit row records the outcome and the client's address (never the
/// email), committed even when the answer is an error.
#[tracing::instrument(skip_all)]
pub async fn lookup(
    db: &DatabaseConnection,
    actor: &Actor,
    email: &str,
    reference: &str,
) -> AppResult<Started> {
    let email = validate::normalise_email(email);
    let reference = normalise_reference(reference);
    // The same work whatever is wrong: both rows are read, a token is made and hashed.
    let owner = users::find_by_email(db, &email).await?;
    let booked_by: Option<Uuid> = booking::Entity::find()
        .select_only()
        .column(booking::Column::UserId)
        .filter(booking::Column::Reference.eq(reference))
        .into_tuple()
        .one(db)
        .await?;
    let owner = match owner {
        Some(m) => Some(users::follow_merges(db, m, false).await?),
        None => None,
    };
    let token = format!("{TOKEN_PREFIX}{}", tokens::random_token(32));
    let token_hash = tokens::digest(&token);
    let now = Utc::now();
    let customer = owner.filter(|u| {
        booked_by == Some(u.id)
            && u.role == Role::Customer
            && u.status != UserStatus::Suspended
            && u.merged_into_id.is_none()
    });

    let txn = begin_write(db).await?;
    let Some(customer) = customer else {
        audit::record(
            &txn,
            actor,
            LOOKUP_ACTION,
            "user",
            None,
            Some(json!({ "outcome": "no_match" })),
        )
        .await?;
        txn.commit().await?;
        return Err(no_match());
    };
    let session = portal_session::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(customer.id),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(now + IDLE),
        last_used_at: Set(now),
        revoked_at: Set(None),
        ip: Set(actor.meta.ip.clone()),
    }
    .insert(&txn)
    .await?;
    let as_customer = Actor {
        id: Some(customer.id),
        role: Some(Role::Customer),
        meta: actor.meta.clone(),
    };
    audit::record(
        &txn,
        &as_customer,
        LOOKUP_ACTION,
        "user",
        Some(customer.id),
        Some(json!({ "outcome": "ok", "session": session.id })),
    )
    .await?;
    txn.commit().await?;
    Ok(Started {
        token,
        expires_at: session.expires_at,
        customer,
    })
}

/// The customer behind a portal token, if the session is live (not ended, not expired, and
/// its customer neither suspended nor merged away). A use moves the expiry on: 30 minutes
/// from now, never past 4 hours from the start.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn principal_for(
    conn: &impl ConnectionTrait,
    token: &str,
) -> AppResult<Option<CustomerPrincipal>> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let now = Utc::now();
    let Some(session) = portal_session::Entity::find()
        .filter(portal_session::Column::TokenHash.eq(tokens::digest(token)))
        .filter(portal_session::Column::RevokedAt.is_null())
        .filter(portal_session::Column::ExpiresAt.gt(now))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let Some((status, merged_into)) = user::Entity::find_by_id(session.user_id)
        .select_only()
        .columns([user::Column::Status, user::Column::MergedIntoId])
        .into_tuple::<(UserStatus, Option<Uuid>)>()
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if status == UserStatus::Suspended || merged_into.is_some() {
        return Ok(None);
    }
    let expires_at = (now + IDLE).min(session.created_at + MAX_LIFETIME);
    if expires_at - session.expires_at >= EXTEND_STEP {
        portal_session::Entity::update_many()
            .col_expr(portal_session::Column::ExpiresAt, Expr::value(expires_at))
            .col_expr(portal_session::Column::LastUsedAt, Expr::value(now))
            .filter(portal_session::Column::Id.eq(session.id))
            .filter(portal_session::Column::RevokedAt.is_null())
            .exec(conn)
            .await?;
    }
    Ok(Some(CustomerPrincipal {
        user_id: session.user_id,
        session_id: session.id,
    }))
}

/// `endPortalSession`: the token stops working at once.
#[tracing::instrument(skip_all, fields(session_id = %who.session_id))]
pub async fn end(db: &DatabaseConnection, actor: &Actor, who: &CustomerPrincipal) -> AppResult<()> {
    let txn = begin_write(db).await?;
    portal_session::Entity::update_many()
        .col_expr(portal_session::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(portal_session::Column::Id.eq(who.session_id))
        .filter(portal_session::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        "portal.session_ended",
        "portal_session",
        Some(who.session_id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// What a customer may change about themself, and nothing else: never their email, name,
/// company or anything staff-only. `None` and [`Patch::Unchanged`] leave a field alone.
#[derive(Debug, Clone, Default)]
pub struct MyProfileChanges {
    pub phone: Patch<String>,
    pub mobile: Patch<String>,
    pub address_line1: Patch<String>,
    pub address_line2: Patch<String>,
    pub city: Patch<String>,
    pub county: Patch<String>,
    pub postcode: Patch<String>,
    pub emergency_contact_name: Patch<String>,
    pub emergency_contact_phone: Patch<String>,
    pub emergency_contact_relationship: Patch<String>,
    pub dietary_requirements: Patch<String>,
    pub has_medical_conditions: Option<bool>,
    pub medical_notes: Patch<String>,
    pub share_medical_with_trainer: Option<bool>,
    pub marketing_consent: Option<bool>,
    pub sms_consent: Option<bool>,
    pub newsletter_subscribed: Option<bool>,
    pub preferred_contact_method: Option<ContactMethod>,
    /// A language tag, checked by `validate::language`.
    pub language: Option<String>,
    pub reminder_frequency: Option<ReminderFrequency>,
}

impl From<MyProfileChanges> for ProfilePatch {
    fn from(c: MyProfileChanges) -> Self {
        Self {
            phone: c.phone,
            mobile: c.mobile,
            address_line1: c.address_line1,
            address_line2: c.address_line2,
            city: c.city,
            county: c.county,
            postcode: c.postcode,
            emergency_contact_name: c.emergency_contact_name,
            emergency_contact_phone: c.emergency_contact_phone,
            emergency_contact_relationship: c.emergency_contact_relationship,
            dietary_requirements: c.dietary_requirements,
            has_medical_conditions: c.has_medical_conditions,
            medical_notes: c.medical_notes,
            share_medical_with_trainer: c.share_medical_with_trainer,
            marketing_consent: c.marketing_consent,
            sms_consent: c.sms_consent,
            newsletter_subscribed: c.newsletter_subscribed,
            preferred_contact_method: c.preferred_contact_method,
            language: c.language,
            reminder_frequency: c.reminder_frequency,
            ..Self::default()
        }
    }
}

/// `updateMyProfile`: the customer's own changes, checked like staff edits
/// (BAD_USER_INPUT, nothing written), audited as `user.update_by_customer` and logged as
/// `profile_updated_by_customer` activity, in one transaction.
#[tracing::instrument(skip_all, fields(%user_id))]
pub async fn update_profile(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: Uuid,
    changes: MyProfileChanges,
) -> AppResult<user::Model> {
    let txn = begin_write(db).await?;
    let before = users::find(&txn, user_id).await?;
    let mut after = before.clone();
    users::apply_profile(&mut after, &changes.into(), Utc::now().date_naive())?;
    let writer = ProfileWriter {
        action: "user.update_by_customer",
        activity_type: "profile_updated_by_customer",
        consent_source: ConsentSource::Portal,
    };
    let Some(updated) = users::save_changes(&txn, actor, &before, after, writer).await? else {
        return Ok(before);
    };
    txn.commit().await?;
    Ok(updated)
}
