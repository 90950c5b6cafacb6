//! Entity for the `consent_events` table: the append-only history of a person's consents.

use sea_orm::entity::prelude::*;

use super::enums::{ConsentKind, ConsentSource};

/// One change of one consent: its new value, where it came from, who made it, from which
/// address and when. Written by `services::consents::record` in the transaction of the
/// change itself, never updated.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Whose consent.
    pub user_id: Uuid,
    pub consent: ConsentKind,
    /// The new value: true when given, false when withdrawn or refused.
    pub granted: bool,
    pub source: ConsentSource,
    /// Who made the change: the customer, a member of staff, or none (a booking made
    /// without logging in, the import).
    #[sea_orm(nullable)]
    pub actor_id: Option<Uuid>,
    /// The address the change came from, when it came through the API.
    #[sea_orm(column_type = "String(StringLen::N(45))", nullable)]
    pub ip_address: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `user_id` → `users.id` (ON DELETE CASCADE).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// `actor_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Actor,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
