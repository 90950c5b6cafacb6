//! Entity for the `payments` table.

use sea_orm::entity::prelude::*;

use super::enums::{PaymentMethod, PaymentRecordStatus};

/// A payment taken (or attempted) against a booking.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub booking_id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable, unique)]
    pub stripe_payment_intent_id: Option<String>,
    pub amount_pence: i64,
    #[sea_orm(column_type = "String(StringLen::N(3))")]
    pub currency: String,
    pub status: PaymentRecordStatus,
    pub method: PaymentMethod,
    #[sea_orm(nullable)]
    pub recorded_by_id: Option<Uuid>,
    #[sea_orm(nullable)]
    pub paid_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `booking_id` → `bookings.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::booking::Entity",
        from = "Column::BookingId",
        to = "super::booking::Column::Id",
        on_delete = "Restrict"
    )]
    Booking,
    /// `user_id` → `users.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    User,
    /// `recorded_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::RecordedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    RecordedBy,
    /// Rows of `refunds` whose `payment_id` is this row's id.
    #[sea_orm(has_many = "super::refund::Entity")]
    Refunds,
}

impl Related<super::booking::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Booking.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::refund::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Refunds.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The columns of a payment that its keys and `Payment.amount` read: all a page of bookings
/// reads of payments whose selection asks for nothing else (see
/// [`Partial`](super::partial::Partial)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct PaymentAmount {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub user_id: Uuid,
    pub amount_pence: i64,
}

impl super::partial::KeysOf<Model> for PaymentAmount {
    fn of(m: &Model) -> Self {
        Self {
            id: m.id,
            booking_id: m.booking_id,
            user_id: m.user_id,
            amount_pence: m.amount_pence,
        }
    }
    fn id(&self) -> Uuid {
        self.id
    }
}
