//! The `User` object and what hangs off it. Fields are exposed one by one, with their
//! guards: medical, emergency-contact and dietary fields and internal notes are admin-only.

use crate::entities::encrypted::{Revealed as _, RevealedText as _};
use crate::graphql::cost;
use async_graphql::{
    ComplexObject, Context, Lookahead, Object, SimpleObject, connection::Connection,
    dataloader::DataLoader,
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::app::AppState;
use crate::entities::certificate::CertificateExpiry;
use crate::entities::partial::{Partial, Prefetched};
use crate::entities::{certificate, consent_event, payment, user, user_activity_log, user_note};
use crate::error::AppError;
use crate::graphql::connection;
use crate::graphql::guard::{UserFieldGuard, request_context};
use crate::graphql::loaders::{
    BookingBundle, BookingsByUser, BookingsPageKey, CertificatesByUser, ConsentHistoryByUser,
    EmailsByUser, EmailsKey, InsightsLoader, LoginSessionsByUser, MergedFromLoader, PaymentsByUser,
    UserLoader, certificate_expiries, full_row,
};
use crate::graphql::lookahead::{
    CERTIFICATE_LIGHT_FIELDS, booking_extras, reads_beyond, shared_page_args,
};
use crate::graphql::types::auth::LoginSession;
use crate::graphql::types::booking::{Booking, Certificate, Payment};
use crate::graphql::types::email::EmailMessage;
use crate::graphql::types::enums::{
    ConsentKind, ConsentSource, ContactMethod, CustomerType, NoteType, ReminderFrequency, Role,
    UserStatus,
};
use crate::graphql::types::insights::CustomerInsights;
use crate::money;
use crate::services::pages;

/// A person known to React Fast Training: a customer, an admin or an instructor.
/// Identified by email.
pub struct User {
    /// The user's row: given, or (for a page whose selection reads only the users' ids
    /// and relations, `lookahead::USER_ID_FIELDS`) only the id, the rest loaded the first
    /// time a field reads it.
    row: Partial<Uuid, user::Model>,
    prefetch: UserPrefetch,
}

impl User {
    /// A user whose relations will come from their loaders.
    pub fn new(model: user::Model) -> Self {
        Self::from(Partial::from_full(model))
    }

    /// A user of whom only the id has been read (the row is loaded if a field needs it).
    pub(crate) fn unread(id: Uuid) -> Self {
        Self::from(Partial::from_keys(id))
    }

    /// The user's id, whichever way the row was read.
    fn user_id(&self) -> Uuid {
        *self.row.keys()
    }

    /// The user's row, read now if it has not been.
    async fn row(&self, ctx: &Context<'_>) -> async_graphql::Result<&user::Model> {
        full_row(ctx, &self.row).await
    }
}

impl From<Partial<Uuid, user::Model>> for User {
    /// A user as a page read them (whole, or only the id); relations from their loaders.
    fn from(row: Partial<Uuid, user::Model>) -> Self {
        Self {
            row,
            prefetch: UserPrefetch::default(),
        }
    }
}

/// Relations fetched along with a whole page of users (see `users`), so that each
/// user's fields resolve from memory rather than through a DataLoader batch whose size
/// depends on timing. Those not fetched are loaded by the field that reads them.
#[derive(Default)]
pub struct UserPrefetch {
    /// A page of the user's bookings, and the key it answers.
    pub bookings: Prefetched<(BookingsPageKey, Vec<BookingBundle>)>,
    /// The user's payments, oldest first.
    pub payments: Prefetched<Vec<payment::Model>>,
    /// The user's certificates, oldest first (whole, or only what their expiry needs).
    pub certificates: Prefetched<Vec<Partial<CertificateExpiry, certificate::Model>>>,
}

/// A person known to React Fast Training: a customer, an admin or an instructor.
/// Identified by email. Fields are for admins and the user themself unless they say
/// otherwise.
#[Object(guard = "UserFieldGuard::admin_or_self(self.user_id())")]
impl User {
    /// Unique id.
    #[graphql(guard = "UserFieldGuard::anyone()")]
    async fn id(&self) -> Uuid {
        self.user_id()
    }
    /// Email address (trimmed, lowercased): the user's identity.
    #[graphql(guard = "UserFieldGuard::anyone()")]
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        let m = self.row(ctx).await?;
        Ok(&m.email)
    }
    /// First name.
    #[graphql(guard = "UserFieldGuard::staff_or_self(self.user_id())")]
    async fn first_name(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        let m = self.row(ctx).await?;
        Ok(&m.first_name)
    }
    /// Last name.
    #[graphql(guard = "UserFieldGuard::staff_or_self(self.user_id())")]
    async fn last_name(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        let m = self.row(ctx).await?;
        Ok(&m.last_name)
    }
    /// First and last name together.
    #[graphql(guard = "UserFieldGuard::staff_or_self(self.user_id())")]
    async fn full_name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let m = self.row(ctx).await?;
        Ok(format!("{} {}", m.first_name, m.last_name)
            .trim()
            .to_string())
    }
    /// Main phone number, as typed.
    async fn phone(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.phone.as_deref())
    }
    /// Mobile number, as typed.
    async fn mobile(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.mobile.as_deref())
    }
    /// Date of birth (admin or the user themself).
    async fn date_of_birth(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        let m = self.row(ctx).await?;
        Ok(m.date_of_birth.plain().copied())
    }
    /// First address line.
    async fn address_line1(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.address_line_1.as_deref())
    }
    /// Second address line.
    async fn address_line2(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.address_line_2.as_deref())
    }
    /// Town or city.
    async fn city(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.city.as_deref())
    }
    /// County.
    async fn county(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.county.as_deref())
    }
    /// Postcode.
    async fn postcode(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.postcode.as_deref())
    }
    /// Country.
    async fn country(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        let m = self.row(ctx).await?;
        Ok(&m.country)
    }
    /// Company name (corporate customers).
    async fn company_name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.company_name.as_deref())
    }
    /// The person's role at their company.
    async fn company_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.company_role.as_deref())
    }
    /// The person's department at their company.
    async fn company_department(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.company_department.as_deref())
    }
    /// The company's VAT number.
    async fn vat_number(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.vat_number.as_deref())
    }
    /// Customer, admin or instructor.
    #[graphql(guard = "UserFieldGuard::staff_or_self(self.user_id())")]
    async fn role(&self, ctx: &Context<'_>) -> async_graphql::Result<Role> {
        let m = self.row(ctx).await?;
        Ok(m.role.into())
    }
    /// Active, inactive or suspended.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<UserStatus> {
        let m = self.row(ctx).await?;
        Ok(m.status.into())
    }
    /// Individual or corporate customer.
    async fn customer_type(&self, ctx: &Context<'_>) -> async_graphql::Result<CustomerType> {
        let m = self.row(ctx).await?;
        Ok(m.customer_type.into())
    }
    /// The day the person became a customer.
    async fn customer_since(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        let m = self.row(ctx).await?;
        Ok(m.customer_since)
    }
    /// When the first booking was made.
    async fn first_booking_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        let m = self.row(ctx).await?;
        Ok(m.first_booking_at)
    }
    /// When the latest booking was made.
    async fn last_booking_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        let m = self.row(ctx).await?;
        Ok(m.last_booking_at)
    }
    /// Number of bookings made (cancelled bookings excluded).
    async fn total_bookings(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let m = self.row(ctx).await?;
        Ok(m.total_bookings)
    }
    /// Lifetime spend in pounds, net of completed refunds.
    async fn total_spent(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        let m = self.row(ctx).await?;
        Ok(money::from_pence(m.total_spent_pence))
    }
    /// Average spend per booking in pounds; null before the first booking.
    async fn average_booking_value(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Decimal>> {
        let m = self.row(ctx).await?;
        Ok((m.total_bookings > 0).then(|| {
            (money::from_pence(m.total_spent_pence) / Decimal::from(m.total_bookings)).round_dp(2)
        }))
    }
    /// The last time anything happened on this profile.
    async fn last_activity_at(&self, ctx: &Context<'_>) -> async_graphql::Result<DateTime<Utc>> {
        let m = self.row(ctx).await?;
        Ok(m.last_activity_at)
    }
    /// Consent to marketing email.
    async fn marketing_consent(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let m = self.row(ctx).await?;
        Ok(m.marketing_consent)
    }
    /// Consent to SMS messages.
    async fn sms_consent(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let m = self.row(ctx).await?;
        Ok(m.sms_consent)
    }
    /// Subscribed to the newsletter.
    async fn newsletter_subscribed(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let m = self.row(ctx).await?;
        Ok(m.newsletter_subscribed)
    }
    /// Preferred way to be contacted.
    async fn preferred_contact_method(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<ContactMethod> {
        let m = self.row(ctx).await?;
        Ok(m.preferred_contact_method.into())
    }
    /// Preferred language, a BCP-47 tag (`en-GB` unless changed).
    async fn language(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        let m = self.row(ctx).await?;
        Ok(&m.language)
    }
    /// Whether the person wants renewal reminders (NEVER: the renewal reminders skip them).
    async fn reminder_frequency(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<ReminderFrequency> {
        let m = self.row(ctx).await?;
        Ok(m.reminder_frequency.into())
    }
    /// Every change to the person's consents (marketing, SMS, newsletter, sharing medical
    /// details with the trainer), newest first: the new value, where it came from, who
    /// made it, from which address and when. The proof of consent (admin or the user
    /// themself).
    #[graphql(complexity = "cost::USER_ROWS * child_complexity")]
    pub(crate) async fn consent_history(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ConsentEvent>> {
        let rows = ctx
            .data_unchecked::<DataLoader<ConsentHistoryByUser>>()
            .load_one(self.user_id())
            .await
            .map_err(loader_error)?
            .unwrap_or_default();
        Ok(rows.into_iter().map(ConsentEvent).collect())
    }
    /// Emergency contact's name (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn emergency_contact_name(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.emergency_contact_name.plain_str())
    }
    /// Emergency contact's phone (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn emergency_contact_phone(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.emergency_contact_phone.plain_str())
    }
    /// Emergency contact's relationship to the person (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn emergency_contact_relationship(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.emergency_contact_relationship.plain_str())
    }
    /// Whether medical conditions have been declared (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn has_medical_conditions(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let m = self.row(ctx).await?;
        Ok(m.has_medical_conditions)
    }
    /// Medical notes (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn medical_notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.medical_notes.plain_str())
    }
    /// Dietary requirements (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn dietary_requirements(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.dietary_requirements.plain_str())
    }
    /// Whether medical and dietary notes may be shown to the session's instructor (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn share_medical_with_trainer(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let m = self.row(ctx).await?;
        Ok(m.share_medical_with_trainer)
    }
    /// Free-text internal notes on the profile (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn admin_notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let m = self.row(ctx).await?;
        Ok(m.notes.as_deref())
    }
    /// Whether the account can log in with a password (staff with a password set).
    async fn has_password(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let m = self.row(ctx).await?;
        Ok(m.password_hash.is_some())
    }
    /// Last successful login (admin or the user themself).
    async fn last_login_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        let m = self.row(ctx).await?;
        Ok(m.last_login_at)
    }
    /// Consecutive failed logins since the last success (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn failed_login_attempts(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let m = self.row(ctx).await?;
        Ok(m.failed_login_attempts)
    }
    /// Until when the account is locked after repeated failed logins (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn account_locked_until(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        let m = self.row(ctx).await?;
        Ok(m.account_locked_until.filter(|until| *until > Utc::now()))
    }
    /// The staff member who created this profile, if any (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load_user(ctx, self.row(ctx).await?.created_by_id).await
    }
    /// The profile this one was merged into, if it was a duplicate (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn merged_into(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load_user(ctx, self.row(ctx).await?.merged_into_id).await
    }
    /// The profiles merged into this one (tombstones whose ids and emails now lead here),
    /// oldest first (admin only). Profiles merged into those are under their own
    /// `mergedFrom`.
    #[graphql(
        guard = "UserFieldGuard::admin_only()",
        complexity = "cost::MERGED * child_complexity"
    )]
    async fn merged_from(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let rows = ctx
            .data_unchecked::<DataLoader<MergedFromLoader>>()
            .load_one(self.user_id())
            .await
            .map_err(loader_error)?
            .unwrap_or_default();
        Ok(rows.into_iter().map(User::new).collect())
    }
    /// When the profile was created.
    async fn created_at(&self, ctx: &Context<'_>) -> async_graphql::Result<DateTime<Utc>> {
        let m = self.row(ctx).await?;
        Ok(m.created_at)
    }
    /// When the profile last changed.
    async fn updated_at(&self, ctx: &Context<'_>) -> async_graphql::Result<DateTime<Utc>> {
        let m = self.row(ctx).await?;
        Ok(m.updated_at)
    }
    /// Notes about this user, newest first. Admins see every note; anyone else sees only
    /// notes not marked internal.
    #[graphql(complexity = "cost::page(first, child_complexity)")]
    async fn notes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many notes to return (at most 100; default 20).")] first: Option<i32>,
        #[graphql(desc = "Return notes after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, UserNote>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let internal_visible = request_context(ctx)
            .viewer()
            .is_some_and(|v| Role::from(v.role) == Role::Admin);
        let page = pages::user_notes(
            db,
            self.user_id(),
            internal_visible,
            first,
            after.as_deref(),
        )
        .await?;
        Ok(connection::from_page(page, UserNote::from))
    }
    /// The user's bookings, newest first (admin or the user themself).
    #[graphql(complexity = "cost::page(first, child_complexity)")]
    pub(crate) async fn bookings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many bookings to return (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return bookings after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Booking>> {
        let limit = pages::page_size(first)?;
        let after = pages::parse_after(after.as_deref())?;
        let user_id = self.user_id();
        let key = BookingsPageKey {
            user_id,
            limit,
            after,
            extras: booking_extras(
                &ctx.look_ahead(),
                super::booking::may_see_money(ctx, user_id),
            ),
        };
        let rows = match &self.prefetch.bookings {
            Prefetched::Fetched((fetched, rows)) if fetched.answers(&key) => rows.clone(),
            _ => ctx
                .data_unchecked::<DataLoader<BookingsByUser>>()
                .load_one(key)
                .await
                .map_err(loader_error)?
                .unwrap_or_default(),
        };
        let page = pages::Page::from_rows(rows, limit, after.is_some(), |b| b.booking.id());
        Ok(connection::from_page(page, Booking))
    }
    /// The user's payments, oldest first (admin or the user themself).
    #[graphql(complexity = "cost::USER_ROWS * child_complexity")]
    pub(crate) async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Payment>> {
        let rows = match &self.prefetch.payments {
            Prefetched::Fetched(rows) => rows.clone(),
            Prefetched::NotFetched => ctx
                .data_unchecked::<DataLoader<PaymentsByUser>>()
                .load_one(self.user_id())
                .await
                .map_err(loader_error)?
                .unwrap_or_default(),
        };
        Ok(rows.into_iter().map(Payment::new).collect())
    }
    /// The user's certificates, oldest first (admin or the user themself).
    #[graphql(complexity = "cost::USER_ROWS * child_complexity")]
    pub(crate) async fn certificates(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<Certificate>> {
        if let Prefetched::Fetched(rows) = &self.prefetch.certificates {
            return Ok(rows.iter().cloned().map(Certificate).collect());
        }
        let rows = ctx
            .data_unchecked::<DataLoader<CertificatesByUser>>()
            .load_one(self.user_id())
            .await
            .map_err(loader_error)?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Certificate::new).collect())
    }
    /// The customer's insights: exact history from the facts, and the segment and
    /// prediction of the last refresh (admin only).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn insights(&self, ctx: &Context<'_>) -> async_graphql::Result<CustomerInsights> {
        let bundle = ctx
            .data_unchecked::<DataLoader<InsightsLoader>>()
            .load_one(self.user_id())
            .await
            .map_err(loader_error)?
            .ok_or(AppError::NotFound("user"))?;
        Ok(CustomerInsights(bundle))
    }
    /// The emails queued for this customer (confirmations, certificates, reminders),
    /// newest first, with where each one's delivery stands (admin only).
    #[graphql(
        guard = "UserFieldGuard::admin_only()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn emails(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many emails to return (at most 100; default 20).")] first: Option<
            i32,
        >,
    ) -> async_graphql::Result<Vec<EmailMessage>> {
        let key = EmailsKey {
            user_id: self.user_id(),
            limit: pages::page_size(first)?,
        };
        let rows = ctx
            .data_unchecked::<DataLoader<EmailsByUser>>()
            .load_one(key)
            .await
            .map_err(loader_error)?
            .unwrap_or_default();
        Ok(rows.into_iter().map(EmailMessage).collect())
    }
    /// The user's active login sessions, most recently used first: where and on what
    /// device they are signed in (admin only; `endUserLoginSessions` ends them all).
    #[graphql(guard = "UserFieldGuard::admin_only()")]
    async fn login_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<LoginSession>> {
        let rows = ctx
            .data_unchecked::<DataLoader<LoginSessionsByUser>>()
            .load_one(self.user_id())
            .await
            .map_err(loader_error)?
            .unwrap_or_default();
        let current = request_context(ctx).session_family();
        Ok(rows
            .into_iter()
            .map(|s| LoginSession::new(s, current))
            .collect())
    }
    /// The user's activity log, newest first (admin only).
    #[graphql(
        guard = "UserFieldGuard::admin_only()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many entries to return (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return entries after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ActivityEntry>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let page = pages::activity(db, self.user_id(), first, after.as_deref()).await?;
        Ok(connection::from_page(page, ActivityEntry::from))
    }
}

async fn load_user(ctx: &Context<'_>, id: Option<Uuid>) -> async_graphql::Result<Option<User>> {
    let Some(id) = id else { return Ok(None) };
    let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
    Ok(loader
        .load_one(id)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?
        .map(User::new))
}

/// A note about a user, written by staff.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct UserNote {
    #[graphql(skip)]
    pub inner: user_note::Model,
    /// Unique id.
    pub id: Uuid,
    /// What kind of note this is.
    pub note_type: NoteType,
    /// The note's text.
    pub content: String,
    /// Internal notes are never shown to the customer.
    pub is_internal: bool,
    /// When the note was written.
    pub created_at: DateTime<Utc>,
}

impl From<user_note::Model> for UserNote {
    fn from(m: user_note::Model) -> Self {
        Self {
            id: m.id,
            note_type: m.note_type.into(),
            content: m.content.clone(),
            is_internal: m.is_internal,
            created_at: m.created_at,
            inner: m,
        }
    }
}

#[ComplexObject]
impl UserNote {
    /// The staff member who wrote the note.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load_user(ctx, self.inner.created_by_id).await
    }
}

/// One change of one consent, from a person's consent history.
pub struct ConsentEvent(consent_event::Model);

/// One change of one consent: the proof that a person gave or withdrew it.
#[Object]
impl ConsentEvent {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Which consent changed.
    async fn consent(&self) -> ConsentKind {
        self.0.consent.into()
    }
    /// The new value: true when given, false when withdrawn or refused.
    async fn granted(&self) -> bool {
        self.0.granted
    }
    /// Where the change came from.
    async fn source(&self) -> ConsentSource {
        self.0.source.into()
    }
    /// The user who made the change (the customer, or a member of staff); none for a
    /// booking made without logging in or for the legacy import.
    async fn actor_id(&self) -> Option<Uuid> {
        self.0.actor_id
    }
    /// The IP address the change came from, when it came through the API.
    async fn ip_address(&self) -> Option<&str> {
        self.0.ip_address.as_deref()
    }
    /// When the change was made (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One entry of a user's activity log.
#[derive(SimpleObject)]
pub struct ActivityEntry {
    /// Unique id.
    pub id: Uuid,
    /// What happened, e.g. `booking_created`, `login`, `profile_updated`.
    pub activity_type: String,
    /// A readable description.
    pub description: Option<String>,
    /// The kind of record the entry is about, e.g. `booking`.
    pub related_entity_type: Option<String>,
    /// The id of that record.
    pub related_entity_id: Option<Uuid>,
    /// The IP address the action came from.
    pub ip_address: Option<String>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl From<user_activity_log::Model> for ActivityEntry {
    fn from(m: user_activity_log::Model) -> Self {
        Self {
            id: m.id,
            activity_type: m.activity_type,
            description: m.description,
            related_entity_type: m.related_entity_type,
            related_entity_id: m.related_entity_id,
            ip_address: m.ip_address,
            created_at: m.created_at,
        }
    }
}

fn loader_error(e: std::sync::Arc<sea_orm::DbErr>) -> async_graphql::Error {
    AppError::internal(anyhow::anyhow!("{e}")).into()
}

/// For a page of users, fetches what the page's selection (`node`, the look-ahead at
/// `edges.node`) reads from every user: their bookings page (with the relations its
/// selection reads), payments and certificates, in one loader call each for the whole
/// page. Fields whose selection it cannot share across users (aliased `bookings` with
/// different pages) are left to their loaders.
pub async fn prefetch_page(
    ctx: &Context<'_>,
    node: &Lookahead<'_>,
    rows: Vec<Partial<Uuid, user::Model>>,
) -> async_graphql::Result<Vec<User>> {
    let db = &ctx.data_unchecked::<AppState>().db;
    let mut users: Vec<User> = rows.into_iter().map(User::from).collect();
    let ids: Vec<Uuid> = users.iter().map(User::user_id).collect();
    if users.is_empty() {
        return Ok(users);
    }
    let bookings = node.field("bookings");
    if let Some((limit, after)) = shared_page_args(&bookings) {
        // The selection is the same for every user; only whether they may see money differs.
        let extras = [false, true].map(|money| booking_extras(&bookings, money));
        let keys: Vec<BookingsPageKey> = ids
            .iter()
            .map(|&user_id| BookingsPageKey {
                user_id,
                limit,
                after,
                extras: extras[usize::from(super::booking::may_see_money(ctx, user_id))],
            })
            .collect();
        let pages = BookingsByUser(db.clone())
            .fetch(&keys)
            .await
            .map_err(loader_error)?;
        for ((user, key), rows) in users.iter_mut().zip(keys).zip(pages) {
            user.prefetch.bookings = Prefetched::Fetched((key, rows));
        }
    }
    if node.field("payments").exists() {
        let mut rows = PaymentsByUser(db.clone())
            .fetch(&ids)
            .await
            .map_err(loader_error)?;
        for user in &mut users {
            let payments = rows.remove(&user.user_id()).unwrap_or_default();
            user.prefetch.payments = Prefetched::Fetched(payments);
        }
    }
    let certificates = node.field("certificates");
    if certificates.exists() {
        let mut rows = match reads_beyond(&certificates, CERTIFICATE_LIGHT_FIELDS) {
            true => CertificatesByUser(db.clone())
                .fetch(&ids)
                .await
                .map_err(loader_error)?
                .into_iter()
                .map(|(id, list)| (id, list.into_iter().map(Partial::from_full).collect()))
                .collect(),
            false => certificate_expiries(db, &ids).await.map_err(loader_error)?,
        };
        for user in &mut users {
            let certificates = rows.remove(&user.user_id()).unwrap_or_default();
            user.prefetch.certificates = Prefetched::Fetched(certificates);
        }
    }
    Ok(users)
}
