//! Entity for the `user_merge_members` table.

use sea_orm::entity::prelude::*;

/// One person taking part in a merge: its survivor or one of its duplicates.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_merge_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merge_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// True for the survivor, false for a duplicate.
    pub is_survivor: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `merge_id` → `user_merges.id` (ON DELETE CASCADE).
    #[sea_orm(
        belongs_to = "super::user_merge::Entity",
        from = "Column::MergeId",
        to = "super::user_merge::Column::Id",
        on_delete = "Cascade"
    )]
    Merge,
    /// `user_id` → `users.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    User,
}

impl Related<super::user_merge::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Merge.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
