//! Creates the `auth_sessions` table (a refresh-token session (one row per
//! issued refresh token, grouped into rotation families)) and its indexes.

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
                    .table(AuthSessions::Table)
                    .col(pk_uuid(AuthSessions::Id))
                    .col(uuid(AuthSessions::UserId))
                    .col(uuid(AuthSessions::FamilyId))
                    .col(string_len(AuthSessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(AuthSessions::ExpiresAt))
                    .col(timestamp_with_time_zone(AuthSessions::CreatedAt))
                    .col(timestamp_with_time_zone_null(AuthSessions::LastUsedAt))
                    .col(uuid_null(AuthSessions::ReplacedById))
                    .col(timestamp_with_time_zone_null(AuthSessions::RevokedAt))
                    .col(string_len_null(AuthSessions::RevokedReason, 50))
                    .col(string_len_null(AuthSessions::IpAddress, 45))
                    .col(text_null(AuthSessions::UserAgent))
                    .foreign_key(&mut foreign_key(
                        "fk_auth_sessions_user_id",
                        AuthSessions::Table,
                        AuthSessions::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_auth_sessions_token_hash_unique",
                AuthSessions::Table,
                [AuthSessions::TokenHash],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_auth_sessions_user_id",
                AuthSessions::Table,
                [AuthSessions::UserId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_auth_sessions_family_id",
                AuthSessions::Table,
                [AuthSessions::FamilyId],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuthSessions {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    CreatedAt,
    LastUsedAt,
    ReplacedById,
    RevokedAt,
    RevokedReason,
    IpAddress,
    UserAgent,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
