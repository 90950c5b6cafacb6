//! Entity for the `user_merge_moves` table.

use sea_orm::entity::prelude::*;

/// One row a merge moved from a duplicate to the survivor: which table, row and column,
/// and its owner before and after.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_merge_moves")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merge_id: Uuid,
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(50))"
    )]
    pub table_name: String,
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(50))"
    )]
    pub column_name: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_id: Uuid,
    pub old_user_id: Uuid,
    pub new_user_id: Uuid,
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
}

impl Related<super::user_merge::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Merge.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
