//! Input objects for creating, changing and finding users, and their conversions into
//! the services' own types.

use async_graphql::{InputObject, MaybeUndefined};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::graphql::types::enums::{
    ContactMethod, CustomerSegment, CustomerType, NoteType, ReminderFrequency, Role, UserStatus,
};
use crate::services::{user_search, users};

/// Profile fields shared by `createUser` and `updateUser`. On update, an omitted field is
/// left alone and an explicit `null` clears it.
#[derive(Debug, Default, InputObject)]
pub struct ProfileInput {
    /// Landline or main phone, as typed (7 to 15 digits).
    pub phone: MaybeUndefined<String>,
    /// Mobile phone, as typed (7 to 15 digits).
    pub mobile: MaybeUndefined<String>,
    /// Date of birth.
    pub date_of_birth: MaybeUndefined<NaiveDate>,
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
    /// Country; defaults to UK.
    pub country: Option<String>,
    /// Company name, for corporate customers.
    pub company_name: MaybeUndefined<String>,
    /// The person's role at their company.
    pub company_role: MaybeUndefined<String>,
    /// The person's department at their company.
    pub company_department: MaybeUndefined<String>,
    /// The company's VAT number.
    pub vat_number: MaybeUndefined<String>,
    /// Individual or corporate customer.
    pub customer_type: Option<CustomerType>,
    /// Consent to marketing email.
    pub marketing_consent: Option<bool>,
    /// Consent to SMS messages.
    pub sms_consent: Option<bool>,
    /// Subscribed to the newsletter.
    pub newsletter_subscribed: Option<bool>,
    /// How the person prefers to be contacted.
    pub preferred_contact_method: Option<ContactMethod>,
    /// Preferred language, a BCP-47 tag such as `en-GB` (the default), `cy` or `pl`.
    pub language: Option<String>,
    /// Whether the person wants renewal reminders (BEFORE_EXPIRY by default).
    pub reminder_frequency: Option<ReminderFrequency>,
    /// Emergency contact's name (admin-only field).
    pub emergency_contact_name: MaybeUndefined<String>,
    /// Emergency contact's phone (admin-only field).
    pub emergency_contact_phone: MaybeUndefined<String>,
    /// Emergency contact's relationship to the person (admin-only field).
    pub emergency_contact_relationship: MaybeUndefined<String>,
    /// Whether the person has declared medical conditions (admin-only field).
    pub has_medical_conditions: Option<bool>,
    /// Medical notes (admin-only field; masked in the audit trail).
    pub medical_notes: MaybeUndefined<String>,
    /// Dietary requirements (admin-only field; masked in the audit trail).
    pub dietary_requirements: MaybeUndefined<String>,
    /// Whether medical and dietary notes may be shown to the session's instructor.
    pub share_medical_with_trainer: Option<bool>,
    /// Free-text internal notes on the profile (admin-only).
    pub admin_notes: MaybeUndefined<String>,
}

/// A new user. Customers have no password; staff (admins, instructors) need one to log in.
#[derive(Debug, InputObject)]
pub struct CreateUserInput {
    /// Email address: the user's identity. Stored trimmed and lowercased; must be unique.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Role; defaults to CUSTOMER.
    pub role: Option<Role>,
    /// Password for staff accounts (at least 12 characters). Not allowed for customers.
    pub password: Option<String>,
    /// Profile details.
    #[graphql(flatten)]
    pub profile: ProfileInput,
}

/// Changes to a user. Omitted fields are left as they are.
#[derive(Debug, InputObject)]
pub struct UpdateUserInput {
    /// New email address (trimmed, lowercased, unique).
    pub email: Option<String>,
    /// New first name.
    pub first_name: Option<String>,
    /// New last name.
    pub last_name: Option<String>,
    /// New role. Demoting a user to CUSTOMER removes their password and ends their sessions.
    pub role: Option<Role>,
    /// New password, for staff accounts only (at least 12 characters).
    pub password: Option<String>,
    /// Profile details.
    #[graphql(flatten)]
    pub profile: ProfileInput,
}

/// A note about a user, written by staff.
#[derive(Debug, InputObject)]
pub struct AddUserNoteInput {
    /// What kind of note this is; defaults to GENERAL.
    pub note_type: Option<NoteType>,
    /// The note's text (at most 10,000 characters).
    pub content: String,
    /// Internal notes are never shown to the customer; defaults to true.
    pub is_internal: Option<bool>,
}

/// An inclusive range of instants; either end may be omitted.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct DateTimeRange {
    /// Earliest instant, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Latest instant, inclusive.
    pub to: Option<DateTime<Utc>>,
}

/// An inclusive range of whole numbers; either end may be omitted.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct IntRange {
    /// Smallest value, inclusive.
    pub min: Option<i32>,
    /// Largest value, inclusive.
    pub max: Option<i32>,
}

/// An inclusive range of money amounts in pounds; either end may be omitted.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct MoneyRange {
    /// Smallest amount, inclusive.
    pub min: Option<Decimal>,
    /// Largest amount, inclusive.
    pub max: Option<Decimal>,
}

/// Filters for the `users` query; all given filters must match.
#[derive(Debug, Clone, Default, InputObject)]
pub struct UserFilter {
    /// Only users with this role.
    pub role: Option<Role>,
    /// Only users with this status.
    pub status: Option<UserStatus>,
    /// Only individual or only corporate customers.
    pub customer_type: Option<CustomerType>,
    /// Only users who have (or have not) consented to marketing.
    pub marketing_consent: Option<bool>,
    /// Last activity within this range.
    pub last_activity: Option<DateTimeRange>,
    /// Lifetime spend (net of refunds) within this range, in pounds.
    pub total_spent: Option<MoneyRange>,
    /// Number of bookings within this range.
    pub total_bookings: Option<IntRange>,
    /// Profile creation within this range.
    pub created_at: Option<DateTimeRange>,
    /// Only customers in one of these segments (as of the last refresh of the insights).
    pub segment: Option<Vec<CustomerSegment>>,
    /// Include profiles merged into another; defaults to false.
    pub include_merged: Option<bool>,
}

/// Fields users can be sorted by. Ties are broken by id, so pages never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::services::user_search::UserSortField")]
pub enum UserSortField {
    /// Most or least recently active.
    LastActivity,
    /// Number of bookings.
    TotalBookings,
    /// Lifetime spend.
    TotalSpent,
    /// Net spent (payments less refunds): the same figure as TOTAL_SPENT, as
    /// `insights.netSpent` names it.
    NetSpent,
    /// When the profile was created.
    CreatedAt,
    /// Last name, then first name (case-insensitive).
    Name,
    /// The predicted value of the customer's next 36 months (at 10% a year), as stored by
    /// the last refresh of the insights; customers without one sort as -1.
    PredictedValue,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::services::user_search::SortDirection")]
pub enum SortDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// How to order the `users` query.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct UserOrderBy {
    /// The sort key.
    pub field: UserSortField,
    /// The direction; defaults to DESC.
    #[graphql(default_with = "SortDirection::Desc")]
    pub direction: SortDirection,
}

impl Default for UserOrderBy {
    fn default() -> Self {
        Self {
            field: UserSortField::CreatedAt,
            direction: SortDirection::Desc,
        }
    }
}

impl From<ProfileInput> for users::ProfilePatch {
    fn from(p: ProfileInput) -> Self {
        Self {
            phone: p.phone.into(),
            mobile: p.mobile.into(),
            date_of_birth: p.date_of_birth.into(),
            address_line1: p.address_line1.into(),
            address_line2: p.address_line2.into(),
            city: p.city.into(),
            county: p.county.into(),
            postcode: p.postcode.into(),
            country: p.country,
            company_name: p.company_name.into(),
            company_role: p.company_role.into(),
            company_department: p.company_department.into(),
            vat_number: p.vat_number.into(),
            customer_type: p.customer_type.map(Into::into),
            marketing_consent: p.marketing_consent,
            sms_consent: p.sms_consent,
            newsletter_subscribed: p.newsletter_subscribed,
            preferred_contact_method: p.preferred_contact_method.map(Into::into),
            language: p.language,
            reminder_frequency: p.reminder_frequency.map(Into::into),
            emergency_contact_name: p.emergency_contact_name.into(),
            emergency_contact_phone: p.emergency_contact_phone.into(),
            emergency_contact_relationship: p.emergency_contact_relationship.into(),
            has_medical_conditions: p.has_medical_conditions,
            medical_notes: p.medical_notes.into(),
            dietary_requirements: p.dietary_requirements.into(),
            share_medical_with_trainer: p.share_medical_with_trainer,
            admin_notes: p.admin_notes.into(),
        }
    }
}

impl From<CreateUserInput> for users::NewUser {
    fn from(i: CreateUserInput) -> Self {
        Self {
            email: i.email,
            first_name: i.first_name,
            last_name: i.last_name,
            role: i.role.map(Into::into),
            password: i.password,
            profile: i.profile.into(),
        }
    }
}

impl From<UpdateUserInput> for users::UserChanges {
    fn from(i: UpdateUserInput) -> Self {
        Self {
            email: i.email,
            first_name: i.first_name,
            last_name: i.last_name,
            role: i.role.map(Into::into),
            password: i.password,
            profile: i.profile.into(),
        }
    }
}

impl From<AddUserNoteInput> for users::NewNote {
    fn from(i: AddUserNoteInput) -> Self {
        Self {
            note_type: i.note_type.map(Into::into),
            content: i.content,
            is_internal: i.is_internal,
        }
    }
}

impl From<DateTimeRange> for user_search::TimeRange {
    fn from(r: DateTimeRange) -> Self {
        Self {
            from: r.from,
            to: r.to,
        }
    }
}

impl From<IntRange> for user_search::Bounds<i32> {
    fn from(r: IntRange) -> Self {
        Self {
            min: r.min,
            max: r.max,
        }
    }
}

impl From<MoneyRange> for user_search::Bounds<Decimal> {
    fn from(r: MoneyRange) -> Self {
        Self {
            min: r.min,
            max: r.max,
        }
    }
}

impl From<UserFilter> for user_search::UserFilter {
    fn from(f: UserFilter) -> Self {
        Self {
            role: f.role.map(Into::into),
            status: f.status.map(Into::into),
            customer_type: f.customer_type.map(Into::into),
            marketing_consent: f.marketing_consent,
            last_activity: f.last_activity.map(Into::into),
            total_spent: f.total_spent.map(Into::into),
            total_bookings: f.total_bookings.map(Into::into),
            created_at: f.created_at.map(Into::into),
            segments: f.segment.map(|s| s.into_iter().map(Into::into).collect()),
            include_merged: f.include_merged.unwrap_or(false),
        }
    }
}

impl From<UserOrderBy> for user_search::UserOrder {
    fn from(o: UserOrderBy) -> Self {
        Self {
            field: o.field.into(),
            direction: o.direction.into(),
        }
    }
}
