//! Creates the `customer_insights` table: each active customer's stored scores from the
//! latest refresh (RFM scores and segment, the repeat-booking model's inputs and outputs,
//! the renewals expected, and the backtest's actual figures), replaced as a whole by each
//! refresh and never recomputed on read.

use crate::helpers::{foreign_key, index};
use crate::m20261204_000051_create_insight_models::InsightModels;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustomerInsights::Table)
                    .col(pk_uuid(CustomerInsights::UserId))
                    .col(uuid(CustomerInsights::ModelId))
                    .col(integer(CustomerInsights::RecencyDays))
                    .col(integer(CustomerInsights::Bookings))
                    .col(big_integer(CustomerInsights::MonetaryPence))
                    .col(small_integer(CustomerInsights::RecencyScore))
                    .col(small_integer(CustomerInsights::FrequencyScore))
                    .col(small_integer(CustomerInsights::MonetaryScore))
                    .col(string_len(CustomerInsights::Segment, 20))
                    .col(double(CustomerInsights::RepeatBookings))
                    .col(double(CustomerInsights::RecencyWeeks))
                    .col(double(CustomerInsights::AgeWeeks))
                    .col(big_integer(CustomerInsights::AverageValuePence))
                    .col(double(CustomerInsights::ProbabilityActive))
                    .col(big_integer(CustomerInsights::PredictedValuePence))
                    .col(json(CustomerInsights::Renewals))
                    .col(integer_null(CustomerInsights::ActualBookings))
                    .col(big_integer_null(CustomerInsights::ActualRevenuePence))
                    .foreign_key(&mut foreign_key(
                        "fk_customer_insights_user_id",
                        CustomerInsights::Table,
                        CustomerInsights::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_customer_insights_model_id",
                        CustomerInsights::Table,
                        CustomerInsights::ModelId,
                        InsightModels::Table,
                        InsightModels::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        // `users(filter: { segment })`, the segment counts, `orderBy: PREDICTED_VALUE`, and
        // the foreign key to the model.
        for (name, col) in [
            ("idx_customer_insights_segment", CustomerInsights::Segment),
            (
                "idx_customer_insights_predicted_value_pence",
                CustomerInsights::PredictedValuePence,
            ),
            ("idx_customer_insights_model_id", CustomerInsights::ModelId),
        ] {
            manager
                .create_index(index(name, CustomerInsights::Table, [col]))
                .await?;
        }

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CustomerInsights::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CustomerInsights {
    Table,
    UserId,
    ModelId,
    RecencyDays,
    Bookings,
    MonetaryPence,
    RecencyScore,
    FrequencyScore,
    MonetaryScore,
    Segment,
    RepeatBookings,
    RecencyWeeks,
    AgeWeeks,
    AverageValuePence,
    ProbabilityActive,
    PredictedValuePence,
    Renewals,
    ActualBookings,
    ActualRevenuePence,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
