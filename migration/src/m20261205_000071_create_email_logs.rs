//! Creates the `email_logs` table: the outbox. Every email is written here in the same
//! transaction as the change that causes it (a booking, a certificate, a reminder run) and
//! sent afterwards by the mail worker, which records each attempt on the row.

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
                    .table(EmailLogs::Table)
                    .col(pk_uuid(EmailLogs::Id))
                    .col(uuid(EmailLogs::UserId))
                    .col(string_len(EmailLogs::RecipientEmail, 320))
                    .col(string_len(EmailLogs::Subject, 300))
                    .col(string_len(EmailLogs::TemplateName, 50))
                    .col(text(EmailLogs::BodyText))
                    .col(text(EmailLogs::BodyHtml))
                    .col(string_len(EmailLogs::Status, 20).default("pending"))
                    .col(integer(EmailLogs::Attempts).default(0))
                    .col(text_null(EmailLogs::ErrorMessage))
                    .col(timestamp_with_time_zone(EmailLogs::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(EmailLogs::LockedUntil))
                    .col(uuid_null(EmailLogs::ClaimToken))
                    .col(timestamp_with_time_zone_null(EmailLogs::SentAt))
                    .col(string_len_null(EmailLogs::DedupeKey, 200))
                    .col(string_len_null(EmailLogs::RelatedEntityType, 50))
                    .col(uuid_null(EmailLogs::RelatedEntityId))
                    .col(timestamp_with_time_zone(EmailLogs::CreatedAt))
                    .col(timestamp_with_time_zone(EmailLogs::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_email_logs_user_id",
                        EmailLogs::Table,
                        EmailLogs::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        // A reminder goes once per certificate and window: the key makes a rerun a no-op.
        manager
            .create_index(unique_index(
                "idx_email_logs_dedupe_key",
                EmailLogs::Table,
                [EmailLogs::DedupeKey],
            ))
            .await?;
        // `User.emails` (newest first, by the time-ordered id) and the foreign key.
        manager
            .create_index(index(
                "idx_email_logs_user_id",
                EmailLogs::Table,
                [EmailLogs::UserId, EmailLogs::Id],
            ))
            .await?;
        // The worker's claim (due rows by status and time) and `emailOutbox(status:)`.
        manager
            .create_index(index(
                "idx_email_logs_status_next_attempt_at",
                EmailLogs::Table,
                [EmailLogs::Status, EmailLogs::NextAttemptAt],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailLogs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmailLogs {
    Table,
    Id,
    UserId,
    RecipientEmail,
    Subject,
    TemplateName,
    BodyText,
    BodyHtml,
    Status,
    Attempts,
    ErrorMessage,
    NextAttemptAt,
    LockedUntil,
    ClaimToken,
    SentAt,
    DedupeKey,
    RelatedEntityType,
    RelatedEntityId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
