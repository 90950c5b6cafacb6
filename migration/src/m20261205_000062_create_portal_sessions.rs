//! Creates the `portal_sessions` table: one row per customer-portal session started by
//! `customerLookup`, holding only the SHA-256 of its token, when it ends (30 minutes after
//! its last use, at most 4 hours after it started) and whether it was ended early.

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
                    .table(PortalSessions::Table)
                    .col(pk_uuid(PortalSessions::Id))
                    .col(uuid(PortalSessions::UserId))
                    .col(string_len(PortalSessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(PortalSessions::CreatedAt))
                    .col(timestamp_with_time_zone(PortalSessions::ExpiresAt))
                    .col(timestamp_with_time_zone(PortalSessions::LastUsedAt))
                    .col(timestamp_with_time_zone_null(PortalSessions::RevokedAt))
                    .col(string_len_null(PortalSessions::Ip, 45))
                    .foreign_key(&mut foreign_key(
                        "fk_portal_sessions_user_id",
                        PortalSessions::Table,
                        PortalSessions::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_portal_sessions_token_hash_unique",
                PortalSessions::Table,
                [PortalSessions::TokenHash],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_portal_sessions_user_id",
                PortalSessions::Table,
                [PortalSessions::UserId],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PortalSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PortalSessions {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    Ip,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
