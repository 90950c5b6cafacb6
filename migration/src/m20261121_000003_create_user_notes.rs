//! Creates the `user_notes` table (a staff note attached to a user's record)
//! and its indexes.

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
                    .table(UserNotes::Table)
                    .col(pk_uuid(UserNotes::Id))
                    .col(uuid(UserNotes::UserId))
                    .col(string_len(UserNotes::NoteType, 20).default("general"))
                    .col(text(UserNotes::Content))
                    .col(boolean(UserNotes::IsInternal).default(true))
                    .col(uuid_null(UserNotes::CreatedById))
                    .col(timestamp_with_time_zone(UserNotes::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_user_notes_user_id",
                        UserNotes::Table,
                        UserNotes::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_user_notes_created_by_id",
                        UserNotes::Table,
                        UserNotes::CreatedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_user_notes_user_id_created_at_id",
                UserNotes::Table,
                [UserNotes::UserId, UserNotes::CreatedAt, UserNotes::Id],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_user_notes_created_by_id",
                UserNotes::Table,
                [UserNotes::CreatedById],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserNotes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserNotes {
    Table,
    Id,
    UserId,
    NoteType,
    Content,
    IsInternal,
    CreatedById,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
