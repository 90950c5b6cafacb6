//! Entity for the `stripe_events` table.

use sea_orm::entity::prelude::*;

/// A Stripe webhook event already received (for idempotent processing).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    /// The Stripe event id (`evt_...`).
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(255))"
    )]
    pub id: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub event_type: String,
    pub received_at: DateTimeUtc,
    #[sea_orm(nullable)]
    pub processed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
