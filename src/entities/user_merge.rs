//! Entity for the `user_merges` table: the merge ledger.

use sea_orm::entity::prelude::*;

/// One merge of duplicate customers into a survivor, with what is needed to undo it.
/// See docs/ARCHITECTURE.md, "Merged users".
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_merges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The profile the duplicates were merged into.
    pub survivor_id: Uuid,
    /// The duplicates' ids, in the order the admin gave them (a JSON array).
    #[sea_orm(column_type = "Json")]
    pub duplicate_ids: Json,
    /// The survivor's profile as it was before the merge (column name to value).
    #[sea_orm(column_type = "Json")]
    pub survivor_before: Json,
    /// Each duplicate's profile as it was, by id.
    #[sea_orm(column_type = "Json")]
    pub duplicates_before: Json,
    /// The merged profile, field by field: value, the user it came from and the rule.
    #[sea_orm(column_type = "Json")]
    pub fields: Json,
    /// How many rows moved, by table.
    #[sea_orm(column_type = "Json")]
    pub moved: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    #[sea_orm(nullable)]
    pub merged_by_id: Option<Uuid>,
    pub merged_at: DateTimeUtc,
    #[sea_orm(nullable)]
    pub undone_at: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub undone_by_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub undo_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `survivor_id` → `users.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::SurvivorId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    Survivor,
    /// `merged_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::MergedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    MergedBy,
    /// `undone_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UndoneById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    UndoneBy,
    /// Rows of `user_merge_members` of this merge.
    #[sea_orm(has_many = "super::user_merge_member::Entity")]
    Members,
    /// Rows of `user_merge_moves` of this merge.
    #[sea_orm(has_many = "super::user_merge_move::Entity")]
    Moves,
}

impl Related<super::user_merge_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Members.def()
    }
}

impl Related<super::user_merge_move::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Moves.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
