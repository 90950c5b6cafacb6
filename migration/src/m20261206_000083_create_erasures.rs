//! Creates the `erasures` table: one row per profile erased on request (UK GDPR Art. 17),
//! holding the profile's id, who erased it and when, and a keyed hash of its canonical
//! email (never the email), so the legacy import can refuse to bring the person back.

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
                    .table(Erasures::Table)
                    .col(pk_uuid(Erasures::Id))
                    .col(uuid(Erasures::UserId))
                    .col(string_len(Erasures::EmailHash, 128))
                    .col(uuid_null(Erasures::ErasedById))
                    .col(timestamp_with_time_zone(Erasures::ErasedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_erasures_user_id",
                        Erasures::Table,
                        Erasures::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_erasures_email_hash",
                Erasures::Table,
                [Erasures::EmailHash],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_erasures_user_id",
                Erasures::Table,
                [Erasures::UserId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Erasures::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Erasures {
    Table,
    Id,
    UserId,
    EmailHash,
    ErasedById,
    ErasedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
