//! Entity for the `duplicate_dismissals` table: pairs an admin marked as two different
//! people, never proposed again (rescans keep them).

use sea_orm::entity::prelude::*;

/// A dismissed pair; `user_a < user_b`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "duplicate_dismissals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_a: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_b: Uuid,
    #[sea_orm(nullable)]
    pub dismissed_by_id: Option<Uuid>,
    pub dismissed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
