//! Entity for the `duplicate_pairs` table: pairs of customers scored as likely the same
//! person (score at least `services::duplicates::STORED_MIN_SCORE`), the admins' worklist.

use sea_orm::entity::prelude::*;

/// A scored pair; `user_a < user_b`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "duplicate_pairs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_a: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_b: Uuid,
    /// The probability that the two are one person.
    pub score: f64,
    /// The log2-odds the score comes from.
    pub match_weight: f64,
    /// Each field's level and weight (`services::matching::Reason`), as JSON.
    #[sea_orm(column_type = "Json")]
    pub reasons: Json,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
