//! Entity for the `portal_sessions` table.

use sea_orm::entity::prelude::*;

/// A customer-portal session, started by `customerLookup`. The token itself is never
/// stored: only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "portal_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The customer the session is for.
    pub user_id: Uuid,
    /// Hex SHA-256 of the token; unique.
    #[sea_orm(column_type = "String(StringLen::N(64))", unique)]
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    /// 30 minutes after the last use, and never more than 4 hours after `created_at`.
    pub expires_at: DateTimeUtc,
    pub last_used_at: DateTimeUtc,
    /// Set by `endPortalSession`.
    #[sea_orm(nullable)]
    pub revoked_at: Option<DateTimeUtc>,
    /// The client address that started the session.
    #[sea_orm(column_type = "String(StringLen::N(45))", nullable)]
    pub ip: Option<String>,
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
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
