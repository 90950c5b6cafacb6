//! Creates the `insight_models` table: one row per refresh of the customer insights
//! (`refreshInsights`, `rft-users refresh-insights`), holding the date the facts were taken
//! as of, the fitted parameters of the repeat-booking, value and renewal models, the RFM
//! quintile boundaries, and the backtest when the date is a year or more in the past.

use crate::helpers::index;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InsightModels::Table)
                    .col(pk_uuid(InsightModels::Id))
                    .col(date(InsightModels::AsOf))
                    .col(big_integer(InsightModels::Customers))
                    .col(json(InsightModels::Fit))
                    .col(big_integer(InsightModels::DurationMs))
                    .col(timestamp_with_time_zone(InsightModels::FittedAt))
                    .to_owned(),
            )
            .await?;

        // `insightsModel` reads the latest fit.
        manager
            .create_index(index(
                "idx_insight_models_fitted_at",
                InsightModels::Table,
                [InsightModels::FittedAt],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InsightModels::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum InsightModels {
    Table,
    Id,
    AsOf,
    Customers,
    Fit,
    DurationMs,
    FittedAt,
}
