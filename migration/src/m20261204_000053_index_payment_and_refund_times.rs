//! Indexes the times the business dashboard (`businessInsights`) and the insights' refresh
//! filter payments and refunds on: `payments.paid_at` and `refunds.completed_at`.

use crate::helpers::index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                "idx_payments_paid_at",
                Payments::Table,
                [Payments::PaidAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_refunds_completed_at",
                Refunds::Table,
                [Refunds::CompletedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_refunds_completed_at")
                    .table(Refunds::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_payments_paid_at")
                    .table(Payments::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    PaidAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    CompletedAt,
}
