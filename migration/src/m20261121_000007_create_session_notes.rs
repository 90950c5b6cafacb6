//! Creates the `session_notes` table (a note written about a course session (by
//! an instructor or admin)) and its indexes.

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
                    .table(SessionNotes::Table)
                    .col(pk_uuid(SessionNotes::Id))
                    .col(uuid(SessionNotes::SessionId))
                    .col(uuid_null(SessionNotes::AuthorId))
                    .col(text(SessionNotes::Content))
                    .col(timestamp_with_time_zone(SessionNotes::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_session_notes_session_id",
                        SessionNotes::Table,
                        SessionNotes::SessionId,
                        CourseSessions::Table,
                        CourseSessions::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_session_notes_author_id",
                        SessionNotes::Table,
                        SessionNotes::AuthorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_session_notes_session_id_created_at",
                SessionNotes::Table,
                [SessionNotes::SessionId, SessionNotes::CreatedAt],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_session_notes_author_id",
                SessionNotes::Table,
                [SessionNotes::AuthorId],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SessionNotes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SessionNotes {
    Table,
    Id,
    SessionId,
    AuthorId,
    Content,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CourseSessions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
