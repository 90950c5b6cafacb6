//! Entity for the `erasures` table.

use sea_orm::entity::prelude::*;

/// A profile erased on request. Holds no personal data: the id of the (now anonymous)
/// profile, and a keyed hash of the email it had, so a re-import can be refused.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "erasures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The erased profile (the survivor, when merged profiles were erased with it).
    pub user_id: Uuid,
    /// `erased-email:` and the hex HMAC-SHA256 of the canonical email.
    #[sea_orm(column_type = "String(StringLen::N(128))")]
    pub email_hash: String,
    /// The admin who erased it.
    #[sea_orm(nullable)]
    pub erased_by_id: Option<Uuid>,
    pub erased_at: DateTimeUtc,
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
