//! What the customer portal shows: the session `customerLookup` starts, and the customer's
//! own profile. `MyProfile` is a type of its own, not the staff `User`: it has no admin
//! fields (internal notes, counters, login details, insights) to guard, so none can leak.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, connection::Connection};
use chrono::{DateTime, NaiveDate, Utc};

use crate::entities::encrypted::RevealedText as _;
use crate::entities::user;
use crate::graphql::cost;
use crate::graphql::types::booking::{Booking, Certificate, Payment};
use crate::graphql::types::enums::{ContactMethod, ReminderFrequency};
use crate::graphql::types::user::{ConsentEvent, User};
use crate::services::portal::{MyProfileChanges, Started};

/// A customer-portal session.
pub struct PortalSession(Started);

impl From<Started> for PortalSession {
    fn from(s: Started) -> Self {
        Self(s)
    }
}

/// A customer-portal session: its token, when it ends, and whose it is.
#[Object]
impl PortalSession {
    /// The session token (shown once): send it as `Authorization: Bearer <token>`. It
    /// lasts 30 minutes from its last use, at most 4 hours, and reaches only the portal's
    /// operations (`me`, `myProfile`, `updateMyProfile`, `endPortalSession`).
    async fn token(&self) -> &str {
        &self.0.token
    }
    /// When the session ends if it is not used again (UTC).
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// The customer the session is for.
    async fn customer(&self) -> MyProfile {
        MyProfile::new(self.0.customer.clone())
    }
}

/// The signed-in customer's own profile, bookings, certificates and payments, as the
/// customer portal shows them.
pub struct MyProfile {
    model: user::Model,
    /// The same person, for the relations the staff type already loads.
    user: User,
}

impl MyProfile {
    /// The profile of `model`.
    pub fn new(model: user::Model) -> Self {
        Self {
            user: User::new(model.clone()),
            model,
        }
    }
}

/// The signed-in customer's own profile, bookings, certificates and payments, as the
/// customer portal shows them (no internal notes or admin fields).
#[Object]
impl MyProfile {
    /// The customer's id.
    async fn id(&self) -> uuid::Uuid {
        self.model.id
    }
    /// Email address (changed only by staff).
    async fn email(&self) -> &str {
        &self.model.email
    }
    /// First name (changed only by staff).
    async fn first_name(&self) -> &str {
        &self.model.first_name
    }
    /// Last name (changed only by staff).
    async fn last_name(&self) -> &str {
        &self.model.last_name
    }
    /// Company name (changed only by staff).
    async fn company_name(&self) -> Option<&str> {
        self.model.company_name.as_deref()
    }
    /// Main phone number, as typed.
    async fn phone(&self) -> Option<&str> {
        self.model.phone.as_deref()
    }
    /// Mobile number, as typed.
    async fn mobile(&self) -> Option<&str> {
        self.model.mobile.as_deref()
    }
    /// First address line.
    async fn address_line1(&self) -> Option<&str> {
        self.model.address_line_1.as_deref()
    }
    /// Second address line.
    async fn address_line2(&self) -> Option<&str> {
        self.model.address_line_2.as_deref()
    }
    /// Town or city.
    async fn city(&self) -> Option<&str> {
        self.model.city.as_deref()
    }
    /// County.
    async fn county(&self) -> Option<&str> {
        self.model.county.as_deref()
    }
    /// Postcode.
    async fn postcode(&self) -> Option<&str> {
        self.model.postcode.as_deref()
    }
    /// Emergency contact's name.
    async fn emergency_contact_name(&self) -> Option<&str> {
        self.model.emergency_contact_name.plain_str()
    }
    /// Emergency contact's phone.
    async fn emergency_contact_phone(&self) -> Option<&str> {
        self.model.emergency_contact_phone.plain_str()
    }
    /// Emergency contact's relationship to the customer.
    async fn emergency_contact_relationship(&self) -> Option<&str> {
        self.model.emergency_contact_relationship.plain_str()
    }
    /// Dietary requirements, for course catering.
    async fn dietary_requirements(&self) -> Option<&str> {
        self.model.dietary_requirements.plain_str()
    }
    /// Whether the customer has declared medical conditions.
    async fn has_medical_conditions(&self) -> bool {
        self.model.has_medical_conditions
    }
    /// Medical notes the customer declared.
    async fn medical_notes(&self) -> Option<&str> {
        self.model.medical_notes.plain_str()
    }
    /// Whether medical and dietary notes may be shown to the session's instructor.
    async fn share_medical_with_trainer(&self) -> bool {
        self.model.share_medical_with_trainer
    }
    /// Consent to marketing email.
    async fn marketing_consent(&self) -> bool {
        self.model.marketing_consent
    }
    /// Consent to SMS messages.
    async fn sms_consent(&self) -> bool {
        self.model.sms_consent
    }
    /// Subscribed to the newsletter.
    async fn newsletter_subscribed(&self) -> bool {
        self.model.newsletter_subscribed
    }
    /// How the customer prefers to be contacted.
    async fn preferred_contact_method(&self) -> ContactMethod {
        self.model.preferred_contact_method.into()
    }
    /// Preferred language, a BCP-47 tag (`en-GB` unless changed).
    async fn language(&self) -> &str {
        &self.model.language
    }
    /// Whether the customer wants renewal reminders.
    async fn reminder_frequency(&self) -> ReminderFrequency {
        self.model.reminder_frequency.into()
    }
    /// Every change to the customer's consents (marketing, SMS, newsletter, sharing medical
    /// details with the trainer), newest first: the new value, where it came from, who
    /// made it, from which address and when.
    #[graphql(complexity = "cost::USER_ROWS * child_complexity")]
    async fn consent_history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ConsentEvent>> {
        self.user.consent_history(ctx).await
    }
    /// The day the customer first booked.
    async fn customer_since(&self) -> Option<NaiveDate> {
        self.model.customer_since
    }
    /// The customer's bookings, newest first, cancelled ones included (with bookings made
    /// under emails since merged into this profile).
    #[graphql(complexity = "cost::page(first, child_complexity)")]
    async fn bookings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many bookings to return (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return bookings after this cursor.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Booking>> {
        self.user.bookings(ctx, first, after).await
    }
    /// The customer's payments, oldest first.
    #[graphql(complexity = "cost::USER_ROWS * child_complexity")]
    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Payment>> {
        self.user.payments(ctx).await
    }
    /// The customer's certificates, oldest first.
    #[graphql(complexity = "cost::USER_ROWS * child_complexity")]
    async fn certificates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Certificate>> {
        self.user.certificates(ctx).await
    }
}

/// What a customer may change about themself in the portal. An omitted field is left
/// alone and an explicit `null` clears it. Email, name and company are changed by staff.
#[derive(Debug, Default, InputObject)]
pub struct MyProfileInput {
    /// Landline or main phone, as typed (7 to 15 digits).
    pub phone: MaybeUndefined<String>,
    /// Mobile phone, as typed (7 to 15 digits).
    pub mobile: MaybeUndefined<String>,
    /// First address line.
    pub address_line1: MaybeUndefined<String>,
    /// Second address line.
    pub address_line2: MaybeUndefined<String>,
    /// Town or city.
    pub city: MaybeUndefined<String>,
    /// County.
    pub county: MaybeUndefined<String>,
    /// Postcode (stored uppercased).
    pub postcode: MaybeUndefined<String>,
    /// Emergency contact's name.
    pub emergency_contact_name: MaybeUndefined<String>,
    /// Emergency contact's phone (7 to 15 digits).
    pub emergency_contact_phone: MaybeUndefined<String>,
    /// Emergency contact's relationship to the customer.
    pub emergency_contact_relationship: MaybeUndefined<String>,
    /// Dietary requirements.
    pub dietary_requirements: MaybeUndefined<String>,
    /// Whether the customer has medical conditions to declare.
    pub has_medical_conditions: Option<bool>,
    /// Medical notes (masked in the audit trail).
    pub medical_notes: MaybeUndefined<String>,
    /// Whether medical and dietary notes may be shown to the session's instructor.
    pub share_medical_with_trainer: Option<bool>,
    /// Consent to marketing email.
    pub marketing_consent: Option<bool>,
    /// Consent to SMS messages.
    pub sms_consent: Option<bool>,
    /// Subscribed to the newsletter.
    pub newsletter_subscribed: Option<bool>,
    /// How the customer prefers to be contacted.
    pub preferred_contact_method: Option<ContactMethod>,
    /// Preferred language, a BCP-47 tag such as `en-GB`, `cy` or `pl`.
    pub language: Option<String>,
    /// Whether the customer wants renewal reminders: BEFORE_EXPIRY or NEVER.
    pub reminder_frequency: Option<ReminderFrequency>,
}

impl From<MyProfileInput> for MyProfileChanges {
    fn from(i: MyProfileInput) -> Self {
        Self {
            phone: i.phone.into(),
            mobile: i.mobile.into(),
            address_line1: i.address_line1.into(),
            address_line2: i.address_line2.into(),
            city: i.city.into(),
            county: i.county.into(),
            postcode: i.postcode.into(),
            emergency_contact_name: i.emergency_contact_name.into(),
            emergency_contact_phone: i.emergency_contact_phone.into(),
            emergency_contact_relationship: i.emergency_contact_relationship.into(),
            dietary_requirements: i.dietary_requirements.into(),
            has_medical_conditions: i.has_medical_conditions,
            medical_notes: i.medical_notes.into(),
            share_medical_with_trainer: i.share_medical_with_trainer,
            marketing_consent: i.marketing_consent,
            sms_consent: i.sms_consent,
            newsletter_subscribed: i.newsletter_subscribed,
            preferred_contact_method: i.preferred_contact_method.map(Into::into),
            language: i.language,
            reminder_frequency: i.reminder_frequency.map(Into::into),
        }
    }
}
