//! Users: creating, changing, suspending, annotating. Every write runs in one transaction
//! with its audit row; bad input is rejected before anything is written.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, Iterable, ModelTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use uuid::Uuid;

use crate::auth::password;
use crate::db::begin_write;
use crate::entities::encrypted::{self, Encrypted, Field};
use crate::entities::enums::{
    ConsentSource, ContactMethod, CustomerType, NoteType, ReminderFrequency, Role, UserStatus,
};
use crate::entities::{positional, user, user_note};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Activity, Actor};
use crate::services::consents::{self, Consents};
use crate::services::duplicates;
use crate::services::patch::Patch;
use crate::services::validate;

/// Longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;

/// The language a new profile starts with.
pub const DEFAULT_LANGUAGE: &str = "en-GB";

/// Profile fields shared by [`NewUser`] and [`UserChanges`], as the client sent them
/// (each is checked when applied). `None` and [`Patch::Unchanged`] leave a field alone.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub phone: Patch<String>,
    pub mobile: Patch<String>,
    pub date_of_birth: Patch<chrono::NaiveDate>,
    pub address_line1: Patch<String>,
    pub address_line2: Patch<String>,
    pub city: Patch<String>,
    pub county: Patch<String>,
    pub postcode: Patch<String>,
    pub country: Option<String>,
    pub company_name: Patch<String>,
    pub company_role: Patch<String>,
    pub company_department: Patch<String>,
    pub vat_number: Patch<String>,
    pub customer_type: Option<CustomerType>,
    pub marketing_consent: Option<bool>,
    pub sms_consent: Option<bool>,
    pub newsletter_subscribed: Option<bool>,
    pub preferred_contact_method: Option<ContactMethod>,
    /// A language tag, checked by `validate::language`.
    pub language: Option<String>,
    pub reminder_frequency: Option<ReminderFrequency>,
    pub emergency_contact_name: Patch<String>,
    pub emergency_contact_phone: Patch<String>,
    pub emergency_contact_relationship: Patch<String>,
    pub has_medical_conditions: Option<bool>,
    pub medical_notes: Patch<String>,
    pub dietary_requirements: Patch<String>,
    pub share_medical_with_trainer: Option<bool>,
    pub admin_notes: Patch<String>,
}

impl ProfilePatch {
    /// The consents this patch sets.
    pub fn consents(&self) -> Consents {
        Consents {
            marketing: self.marketing_consent,
            sms: self.sms_consent,
            newsletter: self.newsletter_subscribed,
            share_medical_with_trainer: self.share_medical_with_trainer,
        }
    }
}

/// A new user, for [`create`]. No `Debug`: it carries a password.
pub struct NewUser {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Defaults to customer.
    pub role: Option<Role>,
    /// Staff only.
    pub password: Option<String>,
    pub profile: ProfilePatch,
}

/// Changes to a user, for [`update`]; `None` leaves a field alone. No `Debug`: it carries
/// a password.
pub struct UserChanges {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
    pub profile: ProfilePatch,
}

/// A note about a user, for [`add_note`].
pub struct NewNote {
    /// Defaults to general.
    pub note_type: Option<NoteType>,
    pub content: String,
    /// Defaults to true.
    pub is_internal: Option<bool>,
}

/// A fresh user row with the schema's defaults.
pub fn blank(
    email: String,
    first_name: String,
    last_name: String,
    now: DateTime<Utc>,
) -> user::Model {
    user::Model {
        id: Uuid::now_v7(),
        email,
        first_name,
        last_name,
        phone: None,
        mobile: None,
        date_of_birth: None,
        address_line_1: None,
        address_line_2: None,
        city: None,
        county: None,
        postcode: None,
        country: "UK".into(),
        company_name: None,
        company_role: None,
        company_department: None,
        vat_number: None,
        role: Role::Customer,
        status: UserStatus::Active,
        customer_type: CustomerType::Individual,
        customer_since: None,
        first_booking_at: None,
        last_booking_at: None,
        total_bookings: 0,
        total_spent_pence: 0,
        last_activity_at: now,
        marketing_consent: false,
        sms_consent: false,
        newsletter_subscribed: true,
        preferred_contact_method: ContactMethod::Email,
        language: DEFAULT_LANGUAGE.into(),
        reminder_frequency: ReminderFrequency::BeforeExpiry,
        emergency_contact_name: None,
        emergency_contact_phone: None,
        emergency_contact_relationship: None,
        has_medical_conditions: false,
        medical_notes: None,
        dietary_requirements: None,
        share_medical_with_trainer: false,
        password_hash: None,
        last_login_at: None,
        failed_login_attempts: 0,
        account_locked_until: None,
        password_changed_at: None,
        created_by_id: None,
        notes: None,
        merged_into_id: None,
        search_text: String::new(),
        sort_name: String::new(),
        created_at: now,
        updated_at: now,
    }
}

/// Recomputes the derived search and sort columns from the profile.
pub fn refresh_derived(m: &mut user::Model) {
    let mut parts = vec![m.first_name.clone(), m.last_name.clone(), m.email.clone()];
    parts.extend(m.company_name.clone());
    for phone in [&m.phone, &m.mobile].into_iter().flatten() {
        parts.push(validate::phone_digits(phone));
    }
    m.search_text = parts.join(" ").to_lowercase();
    m.sort_name = format!("{} {}", m.last_name, m.first_name)
        .trim()
        .to_lowercase();
}

/// The active model that writes exactly the columns that differ between two versions,
/// so concurrent counter updates (bookings, spend) are never overwritten.
///
/// An encrypted field left unchanged keeps its stored envelope, so it compares equal; a
/// changed one is bound to the row and written.
pub fn changed_columns(before: &user::Model, after: &user::Model) -> user::ActiveModel {
    let mut after = after.clone();
    after.bind_encrypted();
    let mut am = after.clone().into_active_model();
    for col in user::Column::iter() {
        if before.get(col) != after.get(col) {
            am.reset(col);
        }
    }
    am
}

fn set_text(
    field: &str,
    target: &mut Option<String>,
    input: &Patch<String>,
    max: usize,
) -> AppResult<()> {
    match input {
        Patch::Unchanged => {}
        Patch::Clear => *target = None,
        Patch::Set(v) => *target = validate::optional(field, Some(v), max)?,
    }
    Ok(())
}

fn set_phone(field: &str, target: &mut Option<String>, input: &Patch<String>) -> AppResult<()> {
    match input {
        Patch::Unchanged => {}
        Patch::Clear => *target = None,
        Patch::Set(v) => *target = validate::phone(field, Some(v))?,
    }
    Ok(())
}

/// [`set_text`] on a field encrypted at rest.
fn set_secret_text<F: Field>(
    field: &str,
    target: &mut Option<Encrypted<String, F>>,
    input: &Patch<String>,
    max: usize,
) -> AppResult<()> {
    encrypted::edit(target, |plain| set_text(field, plain, input, max))
}

/// [`set_phone`] on a field encrypted at rest.
fn set_secret_phone<F: Field>(
    field: &str,
    target: &mut Option<Encrypted<String, F>>,
    input: &Patch<String>,
) -> AppResult<()> {
    encrypted::edit(target, |plain| set_phone(field, plain, input))
}

/// Applies profile changes to a user, validating each field.
pub fn apply_profile(
    m: &mut user::Model,
    p: &ProfilePatch,
    today: chrono::NaiveDate,
) -> AppResult<()> {
    set_phone("phone", &mut m.phone, &p.phone)?;
    set_phone("mobile", &mut m.mobile, &p.mobile)?;
    match p.date_of_birth {
        Patch::Unchanged => {}
        Patch::Clear => m.date_of_birth = None,
        Patch::Set(dob) => {
            let earliest = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default();
            if dob > today || dob < earliest {
                return Err(AppError::bad_input(
                    "dateOfBirth",
                    "dateOfBirth is not a plausible date of birth",
                ));
            }
            encrypted::edit(&mut m.date_of_birth, |v| *v = Some(dob));
        }
    }
    set_text("addressLine1", &mut m.address_line_1, &p.address_line1, 255)?;
    set_text("addressLine2", &mut m.address_line_2, &p.address_line2, 255)?;
    set_text("city", &mut m.city, &p.city, 100)?;
    set_text("county", &mut m.county, &p.county, 100)?;
    match &p.postcode {
        Patch::Unchanged => {}
        Patch::Clear => m.postcode = None,
        Patch::Set(v) => m.postcode = validate::postcode("postcode", Some(v))?,
    }
    if let Some(country) = &p.country {
        m.country = validate::required("country", country, 100)?;
    }
    set_text("companyName", &mut m.company_name, &p.company_name, 255)?;
    set_text("companyRole", &mut m.company_role, &p.company_role, 100)?;
    set_text(
        "companyDepartment",
        &mut m.company_department,
        &p.company_department,
        100,
    )?;
    set_text("vatNumber", &mut m.vat_number, &p.vat_number, 50)?;
    if let Some(v) = p.customer_type {
        m.customer_type = v;
    }
    p.consents().apply_to(m);
    if let Some(v) = p.preferred_contact_method {
        m.preferred_contact_method = v;
    }
    if let Some(v) = &p.language {
        m.language = validate::language("language", v)?;
    }
    if let Some(v) = p.reminder_frequency {
        m.reminder_frequency = v;
    }
    set_secret_text(
        "emergencyContactName",
        &mut m.emergency_contact_name,
        &p.emergency_contact_name,
        100,
    )?;
    set_secret_phone(
        "emergencyContactPhone",
        &mut m.emergency_contact_phone,
        &p.emergency_contact_phone,
    )?;
    set_secret_text(
        "emergencyContactRelationship",
        &mut m.emergency_contact_relationship,
        &p.emergency_contact_relationship,
        50,
    )?;
    if let Some(v) = p.has_medical_conditions {
        m.has_medical_conditions = v;
    }
    set_secret_text(
        "medicalNotes",
        &mut m.medical_notes,
        &p.medical_notes,
        MAX_NOTE_CHARS,
    )?;
    set_secret_text(
        "dietaryRequirements",
        &mut m.dietary_requirements,
        &p.dietary_requirements,
        MAX_NOTE_CHARS,
    )?;
    set_text("adminNotes", &mut m.notes, &p.admin_notes, MAX_NOTE_CHARS)?;
    Ok(())
}

/// Finds a user by id.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
pub async fn find(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<user::Model> {
    positional::one(user::Entity::find_by_id(id), conn)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// Most merges followed from one profile to its survivor. Merging refuses tombstones, so a
/// chain never loops; the bound only stops a corrupted one.
const MAX_MERGE_HOPS: usize = 32;

/// The profile `m` leads to now: itself, or (for a tombstone) the survivor it was merged
/// into, following merges of merges (docs/ARCHITECTURE.md, "Merged users"). With `lock`,
/// on PostgreSQL each survivor's row is locked until commit, as a writer about to change
/// it needs.
pub async fn follow_merges(
    conn: &impl ConnectionTrait,
    mut m: user::Model,
    lock: bool,
) -> AppResult<user::Model> {
    for _ in 0..MAX_MERGE_HOPS {
        let Some(next) = m.merged_into_id else {
            return Ok(m);
        };
        let mut q = user::Entity::find_by_id(next);
        if lock && conn.get_database_backend() == sea_orm::DbBackend::Postgres {
            q = q.lock_exclusive();
        }
        m = positional::one(q, conn)
            .await?
            .ok_or(AppError::NotFound("user"))?;
    }
    Err(AppError::internal(anyhow::anyhow!(
        "merge chain from user {} is longer than {MAX_MERGE_HOPS}",
        m.id
    )))
}

/// Finds the user an id leads to now: the user, or the survivor a merged profile was
/// merged into (see [`follow_merges`]).
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
pub async fn find_current(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<user::Model> {
    follow_merges(conn, find(conn, id).await?, false).await
}

/// Finds the user an email leads to now, whatever its case or surrounding spaces: its
/// owner, or the survivor the owner's profile was merged into.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_current_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> AppResult<Option<user::Model>> {
    match find_by_email(conn, email).await? {
        Some(m) => Ok(Some(follow_merges(conn, m, false).await?)),
        None => Ok(None),
    }
}

/// Finds a user by email, whatever its case or surrounding spaces.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> AppResult<Option<user::Model>> {
    let email = validate::normalise_email(email);
    Ok(positional::one(
        user::Entity::find().filter(user::Column::Email.eq(email)),
        conn,
    )
    .await?)
}

async fn ensure_email_free(
    conn: &impl ConnectionTrait,
    email: &str,
    except: Option<Uuid>,
) -> AppResult<()> {
    let mut q = user::Entity::find().filter(user::Column::Email.eq(email));
    if let Some(id) = except {
        q = q.filter(user::Column::Id.ne(id));
    }
    if q.count(conn).await? > 0 {
        return Err(AppError::bad_input(
            "email",
            "a user with this email already exists",
        ));
    }
    Ok(())
}

/// Inserts a user, reporting a duplicate email (even one that raced us) on `email`, and
/// keys and scores them for duplicate detection on the same connection (so inside the
/// caller's transaction; docs/ARCHITECTURE.md, "Matching keys").
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %m.id))]
pub async fn insert(conn: &impl ConnectionTrait, m: user::Model) -> AppResult<user::Model> {
    let created = m
        .into_active_model()
        .reset_all()
        .insert(conn)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => {
                AppError::bad_input("email", "a user with this email already exists")
            }
            other => other,
        })?;
    duplicates::refresh(conn, None, &created).await?;
    Ok(created)
}

/// Fails with CONFLICT when `user` is the only active admin and the change would end that.
async fn keep_an_admin(conn: &impl ConnectionTrait, user: &user::Model) -> AppResult<()> {
    if user.role != Role::Admin || user.status != UserStatus::Active {
        return Ok(());
    }
    // Lock every active admin row (PostgreSQL) so two admins cannot demote or suspend each
    // other at the same moment; SQLite write transactions are serial already.
    let mut admins = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin))
        .filter(user::Column::Status.eq(UserStatus::Active));
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        admins = admins.lock_exclusive();
    }
    let others = admins
        .all(conn)
        .await?
        .into_iter()
        .filter(|a| a.id != user.id)
        .count();
    if others == 0 {
        return Err(AppError::Conflict(
            "this is the last active admin; appoint another first".into(),
        ));
    }
    Ok(())
}

/// Ends every login session of a user; returns how many were active (see
/// `login_sessions::revoke_user_families`).
#[tracing::instrument(skip_all, fields(%user_id))]
pub async fn revoke_sessions(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    reason: &str,
) -> AppResult<u64> {
    crate::services::login_sessions::revoke_user_families(conn, user_id, None, reason).await
}

/// `createUser`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), role = ?input.role, user_id = tracing::field::Empty))]
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewUser,
) -> AppResult<user::Model> {
    let now = Utc::now();
    let email = validate::email("email", &input.email)?;
    let first_name = validate::required("firstName", &input.first_name, 100)?;
    let last_name = validate::required("lastName", &input.last_name, 100)?;
    let role = input.role.unwrap_or(Role::Customer);
    let mut m = blank(email, first_name, last_name, now);
    m.role = role;
    m.created_by_id = actor.id;
    if role == Role::Customer {
        m.customer_since = Some(now.date_naive());
    }
    apply_profile(&mut m, &input.profile, now.date_naive())?;
    if let Some(pw) = input.password {
        if role == Role::Customer {
            return Err(AppError::bad_input(
                "password",
                "customers have no password: they use their email and a booking reference",
            ));
        }
        password::check_policy("password", &pw)?;
        m.password_hash = Some(password::hash(pw).await?);
        m.password_changed_at = Some(now);
    }
    refresh_derived(&mut m);

    let txn = begin_write(db).await?;
    ensure_email_free(&txn, &m.email, None).await?;
    let created = insert(&txn, m).await?;
    tracing::Span::current().record("user_id", tracing::field::display(created.id));
    // The consents the admin set, as the profile's first entries in its consent history.
    consents::record(
        &txn,
        actor,
        ConsentSource::Admin,
        created.id,
        &Consents::default(),
        &input.profile.consents(),
    )
    .await?;
    audit::record(
        &txn,
        actor,
        "user.create",
        "user",
        Some(created.id),
        Some(audit::changes(None, Some(&created))),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: created.id,
            activity_type: "profile_created",
            description: Some("Profile created by staff".into()),
            related: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// `updateUser`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), user_id = %id))]
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: UserChanges,
) -> AppResult<user::Model> {
    let now = Utc::now();
    // Validate and hash before taking the write lock.
    let email = input
        .email
        .as_deref()
        .map(|e| validate::email("email", e))
        .transpose()?;
    let first_name = input
        .first_name
        .as_deref()
        .map(|v| validate::required("firstName", v, 100))
        .transpose()?;
    let last_name = input
        .last_name
        .as_deref()
        .map(|v| validate::required("lastName", v, 100))
        .transpose()?;
    let new_hash = match &input.password {
        Some(pw) => {
            password::check_policy("password", pw)?;
            Some(password::hash(pw.clone()).await?)
        }
        None => None,
    };

    let txn = begin_write(db).await?;
    // A merged profile's id leads to its survivor, for changes as for reads.
    let before = find_current(&txn, id).await?;
    let id = before.id;
    let mut after = before.clone();
    if let Some(email) = email {
        if email != before.email {
            ensure_email_free(&txn, &email, Some(id)).await?;
        }
        after.email = email;
    }
    if let Some(v) = first_name {
        after.first_name = v;
    }
    if let Some(v) = last_name {
        after.last_name = v;
    }
    if let Some(role) = input.role {
        if role != before.role {
            keep_an_admin(&txn, &before).await?;
        }
        after.role = role;
    }
    apply_profile(&mut after, &input.profile, now.date_naive())?;
    if let Some(hash) = new_hash {
        if after.role == Role::Customer {
            return Err(AppError::bad_input(
                "password",
                "customers have no password",
            ));
        }
        after.password_hash = Some(hash);
        after.password_changed_at = Some(now);
    }
    let demoted = after.role == Role::Customer && before.role != Role::Customer;
    if demoted {
        after.password_hash = None;
        revoke_sessions(&txn, id, "role_changed").await?;
    } else if after.password_hash != before.password_hash {
        revoke_sessions(&txn, id, "password_reset").await?;
    }
    let Some(updated) = save_changes(
        &txn,
        actor,
        &before,
        after,
        ProfileWriter {
            action: "user.update",
            activity_type: "profile_updated",
            consent_source: ConsentSource::Admin,
        },
    )
    .await?
    else {
        return Ok(before);
    };
    txn.commit().await?;
    Ok(updated)
}

/// How a profile change is recorded: the audit action, the activity type and the source
/// of any consent it changes.
#[derive(Debug, Clone, Copy)]
pub struct ProfileWriter {
    pub action: &'static str,
    pub activity_type: &'static str,
    pub consent_source: ConsentSource,
}

/// Writes a changed profile in the caller's transaction: its derived columns, the changed
/// columns only, its matching keys (`duplicates::refresh`), a consent history row per
/// consent changed (`consents::record`), the audit row (`{field: {before, after}}`,
/// medical text masked) and an activity entry naming the fields. `None` when nothing
/// changed (and nothing was written).
pub async fn save_changes(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    before: &user::Model,
    mut after: user::Model,
    writer: ProfileWriter,
) -> AppResult<Option<user::Model>> {
    let id = before.id;
    refresh_derived(&mut after);
    let am = changed_columns(before, &after);
    if !am.is_changed() {
        return Ok(None);
    }
    let mut am = am;
    am.updated_at = Set(Utc::now());
    let updated = am.update(txn).await.map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => {
            AppError::bad_input("email", "a user with this email already exists")
        }
        other => other,
    })?;
    duplicates::refresh(txn, Some(before), &updated).await?;
    consents::record_change(txn, actor, writer.consent_source, before, &updated).await?;
    let changes = audit::changes(Some(before), Some(&updated));
    audit::record(
        txn,
        actor,
        writer.action,
        "user",
        Some(id),
        Some(changes.clone()),
    )
    .await?;
    let fields: Vec<&String> = changes
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    audit::log_activity(
        txn,
        actor,
        Activity {
            user_id: id,
            activity_type: writer.activity_type,
            description: Some(format!(
                "Updated: {}",
                fields
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            related: None,
        },
    )
    .await?;
    Ok(Some(updated))
}

/// `setUserStatus`. Leaving ACTIVE ends the user's login sessions.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), user_id = %id, status = ?status))]
pub async fn set_status(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    status: UserStatus,
) -> AppResult<user::Model> {
    let txn = begin_write(db).await?;
    let before = find_current(&txn, id).await?;
    let id = before.id;
    if before.status == status {
        return Ok(before);
    }
    if status != UserStatus::Active {
        keep_an_admin(&txn, &before).await?;
        revoke_sessions(&txn, id, "status_changed").await?;
    }
    let mut am = before.clone().into_active_model();
    am.status = Set(status);
    am.updated_at = Set(Utc::now());
    let updated = am.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "user.set_status",
        "user",
        Some(id),
        Some(audit::changes(Some(&before), Some(&updated))),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: id,
            activity_type: "status_changed",
            description: Some(format!(
                "Status changed from {} to {}",
                before.status.to_value(),
                status.to_value()
            )),
            related: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// `addUserNote`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), %user_id, note_type = ?input.note_type))]
pub async fn add_note(
    db: &DatabaseConnection,
    actor: &Actor,
    user_id: Uuid,
    input: NewNote,
) -> AppResult<user_note::Model> {
    let content = validate::required("content", &input.content, MAX_NOTE_CHARS)?;
    let note_type = input.note_type.unwrap_or(NoteType::General);
    let txn = begin_write(db).await?;
    // A note about a merged profile goes to its survivor, whose notes it now shows.
    let user_id = find_current(&txn, user_id).await?.id;
    let note = user_note::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        note_type: Set(note_type),
        content: Set(content),
        is_internal: Set(input.is_internal.unwrap_or(true)),
        created_by_id: Set(actor.id),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    let mut changes = audit::changes(None, Some(&note));
    if note_type == NoteType::Medical
        && let Some(content) = changes.get_mut("content")
    {
        content["after"] = audit::REDACTED.into();
    }
    audit::record(
        &txn,
        actor,
        "user_note.create",
        "user_note",
        Some(note.id),
        Some(changes),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id,
            activity_type: "note_added",
            description: Some(format!("{} note added", note_type.to_value())),
            related: Some(("user_note", note.id)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(note)
}

/// How many admins exist (any status).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn count_admins(conn: &impl ConnectionTrait) -> AppResult<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin))
        .count(conn)
        .await?)
}
