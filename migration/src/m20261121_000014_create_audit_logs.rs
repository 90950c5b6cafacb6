//! Creates the `audit_logs` table (an append-only audit trail entry: who did
//! what to which entity) and its indexes.

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
                    .table(AuditLogs::Table)
                    .col(pk_uuid(AuditLogs::Id))
                    .col(uuid_null(AuditLogs::ActorId))
                    .col(string_len_null(AuditLogs::ActorRole, 20))
                    .col(string_len(AuditLogs::Action, 100))
                    .col(string_len(AuditLogs::EntityType, 50))
                    .col(uuid_null(AuditLogs::EntityId))
                    .col(json_null(AuditLogs::Changes))
                    .col(string_len_null(AuditLogs::IpAddress, 45))
                    .col(text_null(AuditLogs::UserAgent))
                    .col(timestamp_with_time_zone(AuditLogs::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_audit_logs_actor_id",
                        AuditLogs::Table,
                        AuditLogs::ActorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_audit_logs_actor_id_created_at",
                AuditLogs::Table,
                [AuditLogs::ActorId, AuditLogs::CreatedAt],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_audit_logs_entity_type_entity_id_created_at",
                AuditLogs::Table,
                [
                    AuditLogs::EntityType,
                    AuditLogs::EntityId,
                    AuditLogs::CreatedAt,
                ],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_audit_logs_action",
                AuditLogs::Table,
                [AuditLogs::Action],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_audit_logs_created_at",
                AuditLogs::Table,
                [AuditLogs::CreatedAt],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLogs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    ActorId,
    ActorRole,
    Action,
    EntityType,
    EntityId,
    Changes,
    IpAddress,
    UserAgent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
