//! Entity for the `bookings` table.

use sea_orm::entity::prelude::*;

use super::encrypted::{BookingSpecialRequirements, Encrypted, bind_active};
use super::enums::{BookingStatus, PaymentStatus};

/// A customer's booking of one or more places on a course session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// Human-facing booking reference; unique.
    #[sea_orm(column_type = "String(StringLen::N(20))", unique)]
    pub reference: String,
    pub status: BookingStatus,
    pub payment_status: PaymentStatus,
    pub unit_price_pence: i64,
    pub discount_pence: i64,
    pub total_amount_pence: i64,
    pub amount_paid_pence: i64,
    pub amount_refunded_pence: i64,
    pub number_of_attendees: i32,
    /// Encrypted at rest.
    #[sea_orm(column_type = "Text", nullable)]
    pub special_requirements: Option<Encrypted<String, BookingSpecialRequirements>>,
    /// The contact details as typed at booking time.
    #[sea_orm(column_type = "Json", nullable)]
    pub contact_details: Option<Json>,
    /// Identifier from the legacy system this booking was imported from;
    /// unique.
    #[sea_orm(column_type = "String(StringLen::N(64))", nullable, unique)]
    pub legacy_id: Option<String>,
    /// The booking's reference in the legacy system (`RFT-2024-000004`), for imported
    /// bookings; the customer may still quote it.
    #[sea_orm(column_type = "String(StringLen::N(64))", nullable)]
    pub legacy_reference: Option<String>,
    pub confirmation_sent: bool,
    pub reminder_sent: bool,
    pub certificate_issued: bool,
    #[sea_orm(nullable)]
    pub cancelled_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub cancellation_reason: Option<String>,
    #[sea_orm(nullable)]
    pub created_by_id: Option<Uuid>,
    #[sea_orm(nullable)]
    pub updated_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `user_id` → `users.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    User,
    /// `session_id` → `course_sessions.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::course_session::Entity",
        from = "Column::SessionId",
        to = "super::course_session::Column::Id",
        on_delete = "Restrict"
    )]
    Session,
    /// `created_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    CreatedBy,
    /// `updated_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UpdatedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    UpdatedBy,
    /// Rows of `booking_attendees` whose `booking_id` is this row's id.
    #[sea_orm(has_many = "super::booking_attendee::Entity")]
    Attendees,
    /// Rows of `payments` whose `booking_id` is this row's id.
    #[sea_orm(has_many = "super::payment::Entity")]
    Payments,
    /// Rows of `refunds` whose `booking_id` is this row's id.
    #[sea_orm(has_many = "super::refund::Entity")]
    Refunds,
    /// Rows of `certificates` whose `booking_id` is this row's id.
    #[sea_orm(has_many = "super::certificate::Entity")]
    Certificates,
    /// Rows of `attendance_records` whose `booking_id` is this row's id.
    #[sea_orm(has_many = "super::attendance_record::Entity")]
    AttendanceRecords,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::course_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::booking_attendee::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Attendees.def()
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

impl Related<super::attendance_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AttendanceRecords.def()
    }
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// Binds the encrypted field to this row (see [`Encrypted`]).
    async fn before_save<C>(mut self, _db: &C, _insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        bind_active!(self; special_requirements);
        Ok(self)
    }
}

impl Model {
    /// Binds the encrypted field to this row, for a write that does not go through an
    /// active model's `save` (a multi-row insert).
    pub fn bind_encrypted(&mut self) {
        let id = self.id;
        if let Some(v) = &mut self.special_requirements {
            v.bind(id);
        }
    }
}

/// The columns that place a booking: whose it is, which session, and when. A page of
/// bookings whose selection reads nothing else fetches only these (see
/// [`Partial`](super::partial::Partial)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct BookingKeys {
    pub id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub created_at: DateTimeUtc,
}

impl super::partial::KeysOf<Model> for BookingKeys {
    fn of(m: &Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            session_id: m.session_id,
            created_at: m.created_at,
        }
    }
    fn id(&self) -> Uuid {
        self.id
    }
}
