//! Entity for the `refunds` table.

use sea_orm::entity::prelude::*;

use super::enums::RefundStatus;

/// A refund requested against a booking (and optionally a specific payment).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub booking_id: Uuid,
    #[sea_orm(nullable)]
    pub payment_id: Option<Uuid>,
    pub user_id: Uuid,
    /// Human-facing refund reference; unique.
    #[sea_orm(column_type = "String(StringLen::N(20))", unique)]
    pub reference: String,
    pub amount_pence: i64,
    pub processing_fee_pence: i64,
    pub status: RefundStatus,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable, unique)]
    pub stripe_refund_id: Option<String>,
    #[sea_orm(nullable)]
    pub requested_by_id: Option<Uuid>,
    #[sea_orm(nullable)]
    pub processed_by_id: Option<Uuid>,
    pub requested_at: DateTimeUtc,
    #[sea_orm(nullable)]
    pub approved_at: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub rejected_at: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub completed_at: Option<DateTimeUtc>,
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
    /// `payment_id` → `payments.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::payment::Entity",
        from = "Column::PaymentId",
        to = "super::payment::Column::Id",
        on_delete = "SetNull"
    )]
    Payment,
    /// `user_id` → `users.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    User,
    /// `requested_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::RequestedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    RequestedBy,
    /// `processed_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ProcessedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    ProcessedBy,
}

impl Related<super::booking::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Booking.def()
    }
}

impl Related<super::payment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Payment.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
