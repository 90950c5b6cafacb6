//! Creates the `rate_limit_buckets` table: one row per throttled key (a keyed hash of what
//! is counted, never the raw IP, email or reference), holding its GCRA theoretical arrival
//! time. The rows are shared by every instance of the service, so limits hold across
//! instances and restarts; a bucket whose time has passed is spent and may be pruned.

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
                    .table(RateLimitBuckets::Table)
                    .col(text(RateLimitBuckets::Key).primary_key())
                    .col(timestamp_with_time_zone(RateLimitBuckets::Tat))
                    .to_owned(),
            )
            .await?;

        // The prune deletes by time.
        manager
            .create_index(index(
                "idx_rate_limit_buckets_tat",
                RateLimitBuckets::Table,
                [RateLimitBuckets::Tat],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimitBuckets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RateLimitBuckets {
    Table,
    Key,
    Tat,
}
