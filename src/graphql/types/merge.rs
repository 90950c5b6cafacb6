//! Merging duplicate customers: the input of `mergePreview` and `mergeUsers`, the preview,
//! and `UserMerge`, an entry of the merge history.

use async_graphql::{
    ComplexObject, Context, InputObject, Object, SimpleObject, dataloader::DataLoader,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::entities::user_merge;
use crate::error::AppError;
use crate::graphql::loaders::UserLoader;
use crate::graphql::types::user::User;
use crate::money;
use crate::services::customer_stats::Counters;
use crate::services::merge as service;

/// A profile field a merge decides. The email (each profile keeps its own, which leads to
/// the survivor), role, status, password and the counters (recomputed from the bookings,
/// payments and refunds) never merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::services::merge::MergeField")]
pub enum MergeField {
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// Main phone number.
    Phone,
    /// Mobile number.
    Mobile,
    /// Date of birth.
    DateOfBirth,
    /// First address line (the address is taken whole from one profile).
    AddressLine1,
    /// Second address line.
    AddressLine2,
    /// Town or city.
    City,
    /// County.
    County,
    /// Postcode.
    Postcode,
    /// Country.
    Country,
    /// Company name (the company details are taken whole from one profile).
    CompanyName,
    /// The person's role at their company.
    CompanyRole,
    /// The person's department at their company.
    CompanyDepartment,
    /// The company's VAT number.
    VatNumber,
    /// Individual or corporate customer.
    CustomerType,
    /// Preferred way to be contacted.
    PreferredContactMethod,
    /// Emergency contact's name (the emergency contact is taken whole from one profile).
    EmergencyContactName,
    /// Emergency contact's phone.
    EmergencyContactPhone,
    /// Emergency contact's relationship to the person.
    EmergencyContactRelationship,
    /// Whether medical conditions have been declared (taken with the medical notes).
    HasMedicalConditions,
    /// Medical notes.
    MedicalNotes,
    /// Dietary requirements.
    DietaryRequirements,
    /// Consent to marketing email: the most recent explicit choice.
    MarketingConsent,
    /// Consent to SMS messages: the most recent explicit choice.
    SmsConsent,
    /// Subscribed to the newsletter: the most recent explicit choice.
    NewsletterSubscribed,
    /// Whether medical notes may be shown to the trainer: the most recent explicit choice.
    ShareMedicalWithTrainer,
    /// Internal notes on the profile: every profile's are kept (not choosable).
    AdminNotes,
    /// The day the person became a customer: the earliest (not choosable).
    CustomerSince,
    /// The last activity on the profile: the latest (not choosable).
    LastActivityAt,
}

/// How a merged value was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::services::merge::MergeRule")]
pub enum MergeRule {
    /// The admin chose the profile to take it from (`fieldChoices`).
    AdminChoice,
    /// The survivor's own value (also when no profile has one).
    Survivor,
    /// The most recently updated duplicate's, the survivor having none.
    MostRecentDuplicate,
    /// A consent: the explicit choice of the most recently updated profile.
    MostRecentChoice,
    /// Every profile's value is kept, the survivor's first.
    AllKept,
    /// The earliest of any profile's.
    Earliest,
    /// The latest of any profile's.
    Latest,
}

/// An admin's choice of the profile a field's value is taken from.
#[derive(Debug, InputObject)]
pub struct MergeFieldChoice {
    /// The field.
    pub field: MergeField,
    /// The survivor or one of the duplicates.
    pub from_user_id: Uuid,
}

/// Duplicate customer profiles to merge into one survivor.
#[derive(Debug, InputObject)]
pub struct MergeUsersInput {
    /// The profile that stays: it keeps its id and email and receives everything.
    pub survivor_id: Uuid,
    /// The duplicates, 1 to 10 customers: they stay as tombstones leading to the survivor.
    pub duplicate_ids: Vec<Uuid>,
    /// Fields to take from a given profile, overriding the rule (at most one per field).
    pub field_choices: Option<Vec<MergeFieldChoice>>,
    /// Why the profiles are merged (at most 2,000 characters), kept in the history.
    pub reason: Option<String>,
}

impl From<MergeUsersInput> for service::MergePlan {
    fn from(i: MergeUsersInput) -> Self {
        Self {
            survivor_id: i.survivor_id,
            duplicate_ids: i.duplicate_ids,
            field_choices: i
                .field_choices
                .unwrap_or_default()
                .into_iter()
                .map(|c| service::FieldChoice {
                    field: c.field.into(),
                    from_user_id: c.from_user_id,
                })
                .collect(),
            reason: i.reason,
        }
    }
}

/// One field of a merged profile.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct MergedField {
    /// The field.
    pub field: MergeField,
    /// Its merged value as text (dates as ISO 8601, enum values as in this schema, booleans
    /// as `true` or `false`); null when empty.
    pub value: Option<String>,
    /// How the value was chosen.
    pub rule: MergeRule,
    #[graphql(skip)]
    pub from_user_id: Uuid,
}

impl From<service::MergedValue> for MergedField {
    fn from(v: service::MergedValue) -> Self {
        let enum_valued = matches!(
            v.field,
            service::MergeField::CustomerType | service::MergeField::PreferredContactMethod
        );
        let value = match v.value {
            Json::Null => None,
            Json::String(s) if enum_valued => Some(s.to_uppercase()),
            Json::String(s) => Some(s),
            other => Some(other.to_string()),
        };
        Self {
            field: v.field.into(),
            value,
            rule: v.rule.into(),
            from_user_id: v.from_user_id,
        }
    }
}

#[ComplexObject]
impl MergedField {
    /// The profile the value was taken from.
    #[graphql(name = "fromUser")]
    async fn source_user(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        load_user(ctx, self.from_user_id).await
    }
}

/// How many rows of one kind moved (or would move) from the duplicates to the survivor.
#[derive(SimpleObject)]
pub struct MovedRows {
    /// The table: `bookings`, `booking_attendees`, `payments`, `refunds`, `certificates`,
    /// `attendance_records`, `user_notes` or `user_activity_logs`.
    pub table: String,
    /// How many of its rows.
    pub count: i64,
}

impl From<service::MovedCount> for MovedRows {
    fn from(m: service::MovedCount) -> Self {
        Self {
            table: m.table,
            count: m.count,
        }
    }
}

/// A customer's totals, as recomputed from their bookings, payments and refunds.
#[derive(SimpleObject)]
pub struct CustomerTotals {
    /// Bookings not cancelled.
    pub total_bookings: i32,
    /// Spend in pounds, net of completed refunds.
    pub total_spent: Decimal,
    /// Average spend per booking in pounds; null without bookings.
    pub average_booking_value: Option<Decimal>,
    /// When the first booking was made.
    pub first_booking_at: Option<DateTime<Utc>>,
    /// When the latest booking was made.
    pub last_booking_at: Option<DateTime<Utc>>,
}

impl From<Counters> for CustomerTotals {
    fn from(c: Counters) -> Self {
        let spent = money::from_pence(c.total_spent_pence);
        Self {
            total_bookings: c.total_bookings,
            total_spent: spent,
            average_booking_value: (c.total_bookings > 0)
                .then(|| (spent / Decimal::from(c.total_bookings)).round_dp(2)),
            first_booking_at: c.first_booking_at,
            last_booking_at: c.last_booking_at,
        }
    }
}

/// What a merge would do; nothing has been written.
pub struct MergePreview(pub service::MergePreview);

/// What a merge would do; nothing has been written.
#[Object]
impl MergePreview {
    /// The survivor as it is now.
    async fn survivor(&self) -> User {
        User::new(self.0.survivor.clone())
    }
    /// The duplicates as they are now, in the order given.
    async fn duplicates(&self) -> Vec<User> {
        self.0.duplicates.iter().cloned().map(User::new).collect()
    }
    /// The survivor's profile after the merge, field by field, each with the profile it
    /// comes from and the rule that chose it.
    async fn fields(&self) -> Vec<MergedField> {
        self.0
            .fields
            .iter()
            .cloned()
            .map(MergedField::from)
            .collect()
    }
    /// How many rows of each kind would move to the survivor.
    async fn moved(&self) -> Vec<MovedRows> {
        self.0.moved.iter().cloned().map(MovedRows::from).collect()
    }
    /// The survivor's totals after the merge, as the merge would recompute them.
    async fn totals(&self) -> CustomerTotals {
        self.0.totals.clone().into()
    }
}

/// A merge of duplicate customers into a survivor: an entry of the merge history.
pub struct UserMerge(pub user_merge::Model);

/// A merge of duplicate customers into a survivor: an entry of the merge history.
#[Object]
impl UserMerge {
    /// Unique id (the `mergeId` that `unmergeUsers` takes).
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The profile the duplicates were merged into.
    async fn survivor(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        load_user(ctx, self.0.survivor_id).await
    }
    /// The profiles merged into the survivor, in the order given (tombstones while the
    /// merge is in force).
    async fn duplicates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let ids = service::duplicate_ids_of(&self.0)?;
        let mut found = ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_many(ids.iter().copied())
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id))
            .map(User::new)
            .collect())
    }
    /// The survivor's profile as the merge made it, field by field.
    async fn fields(&self) -> async_graphql::Result<Vec<MergedField>> {
        Ok(service::fields_of(&self.0)?
            .into_iter()
            .map(MergedField::from)
            .collect())
    }
    /// How many rows of each kind moved to the survivor.
    async fn moved(&self) -> async_graphql::Result<Vec<MovedRows>> {
        Ok(service::moved_of(&self.0)?
            .into_iter()
            .map(MovedRows::from)
            .collect())
    }
    /// The admin who merged.
    async fn merged_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load_optional_user(ctx, self.0.merged_by_id).await
    }
    /// When the merge was made.
    async fn merged_at(&self) -> DateTime<Utc> {
        self.0.merged_at
    }
    /// Why the profiles were merged.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When the merge was undone; null while it is in force.
    async fn undone_at(&self) -> Option<DateTime<Utc>> {
        self.0.undone_at
    }
    /// The admin who undid the merge.
    async fn undone_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load_optional_user(ctx, self.0.undone_by_id).await
    }
    /// Why the merge was undone.
    async fn undo_reason(&self) -> Option<&str> {
        self.0.undo_reason.as_deref()
    }
}

async fn load_user(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<User> {
    load_optional_user(ctx, Some(id))
        .await?
        .ok_or_else(|| AppError::NotFound("user").into())
}

async fn load_optional_user(
    ctx: &Context<'_>,
    id: Option<Uuid>,
) -> async_graphql::Result<Option<User>> {
    let Some(id) = id else { return Ok(None) };
    Ok(ctx
        .data_unchecked::<DataLoader<UserLoader>>()
        .load_one(id)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?
        .map(User::new))
}
