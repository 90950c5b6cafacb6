//! Creates the `user_activity_logs` table (a timeline entry of something a user
//! did (or that was done to their record)) and its indexes.

use crate::helpers::{foreign_key, index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserActivityLogs::Table)
                    .col(pk_uuid(UserActivityLogs::Id))
                    .col(uuid(UserActivityLogs::UserId))
                    .col(string_len(UserActivityLogs::ActivityType, 100))
                    .col(text_null(UserActivityLogs::Description))
                    .col(string_len_null(UserActivityLogs::RelatedEntityType, 50))
                    .col(uuid_null(UserActivityLogs::RelatedEntityId))
                    .col(uuid_null(UserActivityLogs::ActorId))
                    .col(string_len_null(UserActivityLogs::IpAddress, 45))
                    .col(text_null(UserActivityLogs::UserAgent))
                    .col(timestamp_with_time_zone(UserActivityLogs::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_user_activity_logs_user_id",
                        UserActivityLogs::Table,
                        UserActivityLogs::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_user_activity_logs_actor_id",
                        UserActivityLogs::Table,
                        UserActivityLogs::ActorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_user_activity_logs_user_id_created_at_id",
                UserActivityLogs::Table,
                [
                    UserActivityLogs::UserId,
                    UserActivityLogs::CreatedAt,
                    UserActivityLogs::Id,
                ],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_user_activity_logs_activity_type",
                UserActivityLogs::Table,
                [UserActivityLogs::ActivityType],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_user_activity_logs_actor_id",
                UserActivityLogs::Table,
                [UserActivityLogs::ActorId],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserActivityLogs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserActivityLogs {
    Table,
    Id,
    UserId,
    ActivityType,
    Description,
    RelatedEntityType,
    RelatedEntityId,
    ActorId,
    IpAddress,
    UserAgent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
