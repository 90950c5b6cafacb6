//! Creates the `import_rows` table (the ledger: what became of each row of an import's
//! file, keyed by the job and the row's place in the file, and findable by source and
//! legacy id with the row's content hash) and its indexes.

use crate::helpers::{foreign_key, index, unique_index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ImportRows::Table)
                    .col(pk_uuid(ImportRows::Id))
                    .col(uuid(ImportRows::JobId))
                    .col(string_len(ImportRows::Source, 100))
                    .col(big_integer(ImportRows::Ordinal))
                    .col(big_integer(ImportRows::Line))
                    .col(text_null(ImportRows::LegacyId))
                    .col(text_null(ImportRows::Reference))
                    .col(string_len(ImportRows::Status, 20))
                    .col(text_null(ImportRows::Reason))
                    .col(string_len(ImportRows::ContentHash, 64))
                    .col(text_null(ImportRows::RawJson))
                    .col(uuid_null(ImportRows::UserId))
                    .col(uuid_null(ImportRows::BookingId))
                    .col(timestamp_with_time_zone(ImportRows::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_import_rows_job_id",
                        ImportRows::Table,
                        ImportRows::JobId,
                        ImportJobs::Table,
                        ImportJobs::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_import_rows_user_id",
                        ImportRows::Table,
                        ImportRows::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_import_rows_booking_id",
                        ImportRows::Table,
                        ImportRows::BookingId,
                        Bookings::Table,
                        Bookings::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        // One ledger row per row of the file, in file order; a resumed job skips these.
        manager
            .create_index(unique_index(
                "idx_import_rows_job_id_ordinal_unique",
                ImportRows::Table,
                [ImportRows::JobId, ImportRows::Ordinal],
            ))
            .await?;

        // `importJob.rows(status: ...)` and `rows.csv?status=...`, in file order.
        manager
            .create_index(index(
                "idx_import_rows_job_id_status_ordinal",
                ImportRows::Table,
                [ImportRows::JobId, ImportRows::Status, ImportRows::Ordinal],
            ))
            .await?;

        // What an earlier run did with this legacy booking, and its content hash.
        manager
            .create_index(index(
                "idx_import_rows_source_legacy_id",
                ImportRows::Table,
                [ImportRows::Source, ImportRows::LegacyId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_import_rows_user_id",
                ImportRows::Table,
                [ImportRows::UserId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_import_rows_booking_id",
                ImportRows::Table,
                [ImportRows::BookingId],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportRows::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ImportRows {
    Table,
    Id,
    JobId,
    Source,
    Ordinal,
    Line,
    LegacyId,
    Reference,
    Status,
    Reason,
    ContentHash,
    RawJson,
    UserId,
    BookingId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ImportJobs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
}
