//! Entity for the `insight_models` table: one row per refresh of the customer insights
//! (`services::insights::refresh`), the latest of which `insightsModel` reads.

use sea_orm::entity::prelude::*;

/// One fit: the date its facts were taken as of, how many customers it scored, and the
/// fitted models, quintile boundaries and backtest as JSON
/// (`services::insights::ModelFit`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "insight_models")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub as_of: Date,
    pub customers: i64,
    #[sea_orm(column_type = "Json")]
    pub fit: Json,
    pub duration_ms: i64,
    pub fitted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
