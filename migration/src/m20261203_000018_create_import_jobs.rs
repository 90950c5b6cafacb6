//! Creates the `import_jobs` table (one run of `rft-users import-legacy`: which file, from
//! which source, how far it got and what became of its rows) and its indexes.

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
                    .table(ImportJobs::Table)
                    .col(pk_uuid(ImportJobs::Id))
                    .col(string_len(ImportJobs::Source, 100))
                    .col(text(ImportJobs::FileName))
                    .col(string_len(ImportJobs::FileSha256, 64))
                    .col(boolean(ImportJobs::DryRun))
                    .col(string_len(ImportJobs::Status, 20).default("running"))
                    .col(text_null(ImportJobs::Error))
                    .col(big_integer(ImportJobs::RowsInFile))
                    .col(big_integer(ImportJobs::CreatedCount).default(0))
                    .col(big_integer(ImportJobs::UpdatedCount).default(0))
                    .col(big_integer(ImportJobs::UnchangedCount).default(0))
                    .col(big_integer(ImportJobs::SkippedCount).default(0))
                    .col(big_integer(ImportJobs::FailedCount).default(0))
                    .col(big_integer(ImportJobs::CustomersCreated).default(0))
                    .col(big_integer(ImportJobs::VenuesCreated).default(0))
                    .col(big_integer(ImportJobs::SessionsCreated).default(0))
                    .col(timestamp_with_time_zone(ImportJobs::StartedAt))
                    .col(timestamp_with_time_zone_null(ImportJobs::FinishedAt))
                    .col(timestamp_with_time_zone(ImportJobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        // A rerun of the same file from the same source looks for its unfinished job.
        manager
            .create_index(index(
                "idx_import_jobs_source_file_sha256",
                ImportJobs::Table,
                [ImportJobs::Source, ImportJobs::FileSha256],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportJobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ImportJobs {
    Table,
    Id,
    Source,
    FileName,
    FileSha256,
    DryRun,
    Status,
    Error,
    RowsInFile,
    CreatedCount,
    UpdatedCount,
    UnchangedCount,
    SkippedCount,
    FailedCount,
    CustomersCreated,
    VenuesCreated,
    SessionsCreated,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}
