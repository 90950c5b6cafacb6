//! Entity for the `users` table.

use sea_orm::entity::prelude::*;

use super::encrypted::{
    Encrypted, UserDateOfBirth, UserDietaryRequirements, UserEmergencyContactName,
    UserEmergencyContactPhone, UserEmergencyContactRelationship, UserMedicalNotes, bind_active,
};
use super::enums::{ContactMethod, CustomerType, ReminderFrequency, Role, UserStatus};

/// A person known to the business: customer, admin or instructor, with contact,
/// company, consent, medical and login details.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Login and contact e-mail address; unique.
    #[sea_orm(column_type = "String(StringLen::N(255))", unique)]
    pub email: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub first_name: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub last_name: String,
    #[sea_orm(column_type = "String(StringLen::N(20))", nullable)]
    pub phone: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(20))", nullable)]
    pub mobile: Option<String>,
    /// Encrypted at rest.
    #[sea_orm(column_type = "Text", nullable)]
    pub date_of_birth: Option<Encrypted<Date, UserDateOfBirth>>,
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable)]
    pub address_line_1: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable)]
    pub address_line_2: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(100))", nullable)]
    pub city: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(100))", nullable)]
    pub county: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(10))", nullable)]
    pub postcode: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub country: String,
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable)]
    pub company_name: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(100))", nullable)]
    pub company_role: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(100))", nullable)]
    pub company_department: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(50))", nullable)]
    pub vat_number: Option<String>,
    pub role: Role,
    pub status: UserStatus,
    pub customer_type: CustomerType,
    #[sea_orm(nullable)]
    pub customer_since: Option<Date>,
    #[sea_orm(nullable)]
    pub first_booking_at: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub last_booking_at: Option<DateTimeUtc>,
    /// Denormalised count of the user's bookings.
    pub total_bookings: i32,
    /// Denormalised total spent, in pence.
    pub total_spent_pence: i64,
    pub last_activity_at: DateTimeUtc,
    pub marketing_consent: bool,
    pub sms_consent: bool,
    pub newsletter_subscribed: bool,
    pub preferred_contact_method: ContactMethod,
    /// Preferred language, a BCP-47 tag (`en-GB`, the default).
    #[sea_orm(column_type = "String(StringLen::N(35))")]
    pub language: String,
    /// Whether renewal reminders are wanted.
    pub reminder_frequency: ReminderFrequency,
    /// Encrypted at rest, as are the phone and relationship.
    #[sea_orm(column_type = "Text", nullable)]
    pub emergency_contact_name: Option<Encrypted<String, UserEmergencyContactName>>,
    #[sea_orm(column_type = "Text", nullable)]
    pub emergency_contact_phone: Option<Encrypted<String, UserEmergencyContactPhone>>,
    #[sea_orm(column_type = "Text", nullable)]
    pub emergency_contact_relationship: Option<Encrypted<String, UserEmergencyContactRelationship>>,
    pub has_medical_conditions: bool,
    /// Encrypted at rest, as are the dietary requirements.
    #[sea_orm(column_type = "Text", nullable)]
    pub medical_notes: Option<Encrypted<String, UserMedicalNotes>>,
    #[sea_orm(column_type = "Text", nullable)]
    pub dietary_requirements: Option<Encrypted<String, UserDietaryRequirements>>,
    pub share_medical_with_trainer: bool,
    /// Password hash (PHC string); `None` for accounts without a password.
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable)]
    pub password_hash: Option<String>,
    #[sea_orm(nullable)]
    pub last_login_at: Option<DateTimeUtc>,
    pub failed_login_attempts: i32,
    #[sea_orm(nullable)]
    pub account_locked_until: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub password_changed_at: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub created_by_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    /// Set when this record was merged into another user.
    #[sea_orm(nullable)]
    pub merged_into_id: Option<Uuid>,
    /// Lower-cased text the trigram search index covers (FTS5 on SQLite,
    /// pg_trgm on PostgreSQL).
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    /// Lower-cased "last first" name used for sorting and keyset pagination.
    #[sea_orm(column_type = "String(StringLen::N(210))")]
    pub sort_name: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `created_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::CreatedById",
        to = "Column::Id",
        on_delete = "SetNull"
    )]
    CreatedBy,
    /// `merged_into_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::MergedIntoId",
        to = "Column::Id",
        on_delete = "SetNull"
    )]
    MergedInto,
    /// Rows of `bookings` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::booking::Entity")]
    Bookings,
    /// Rows of `payments` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::payment::Entity")]
    Payments,
    /// Rows of `refunds` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::refund::Entity")]
    Refunds,
    /// Rows of `certificates` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::certificate::Entity")]
    Certificates,
    /// Rows of `auth_sessions` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::auth_session::Entity")]
    AuthSessions,
    /// Rows of `user_activity_logs` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::user_activity_log::Entity")]
    ActivityLogs,
    /// Rows of `user_notes` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::user_note::Entity")]
    UserNotes,
    /// Rows of `booking_attendees` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::booking_attendee::Entity")]
    BookingAttendees,
    /// Rows of `attendance_records` whose `user_id` is this row's id.
    #[sea_orm(has_many = "super::attendance_record::Entity")]
    AttendanceRecords,
}

impl Related<super::booking::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Bookings.def()
    }
}

impl Related<super::payment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Payments.def()
    }
}

impl Related<super::refund::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Refunds.def()
    }
}

impl Related<super::certificate::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Certificates.def()
    }
}

impl Related<super::auth_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuthSessions.def()
    }
}

impl Related<super::user_activity_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ActivityLogs.def()
    }
}

impl Related<super::user_note::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserNotes.def()
    }
}

impl Related<super::booking_attendee::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::BookingAttendees.def()
    }
}

impl Related<super::attendance_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AttendanceRecords.def()
    }
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// Binds the encrypted fields to this row (see [`Encrypted`]).
    async fn before_save<C>(mut self, _db: &C, _insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        bind_active!(self; date_of_birth, emergency_contact_name, emergency_contact_phone, emergency_contact_relationship, medical_notes, dietary_requirements);
        Ok(self)
    }
}

impl Model {
    /// Binds the encrypted fields to this row, for a write that does not go through an
    /// active model's `save` (a multi-row insert, a column-by-column update).
    pub fn bind_encrypted(&mut self) {
        let id = self.id;
        if let Some(v) = &mut self.date_of_birth {
            v.bind(id);
        }
        if let Some(v) = &mut self.emergency_contact_name {
            v.bind(id);
        }
        if let Some(v) = &mut self.emergency_contact_phone {
            v.bind(id);
        }
        if let Some(v) = &mut self.emergency_contact_relationship {
            v.bind(id);
        }
        if let Some(v) = &mut self.medical_notes {
            v.bind(id);
        }
        if let Some(v) = &mut self.dietary_requirements {
            v.bind(id);
        }
    }
}

/// A user's light projection is their id: a page of users whose selection reads only ids
/// and relations reads (besides the sort keys its cursors need) nothing else (see
/// [`Partial`](super::partial::Partial)).
impl super::partial::KeysOf<Model> for Uuid {
    fn of(m: &Model) -> Self {
        m.id
    }
    fn id(&self) -> Uuid {
        *self
    }
}
