//! Creates the `user_merge_moves` table: every row a merge moved from a duplicate to the
//! survivor (table, row id, column, old and new owner), written set-based by the merge and
//! read back, set-based, by its undo.

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
                    .table(UserMergeMoves::Table)
                    .col(uuid(UserMergeMoves::MergeId))
                    .col(string_len(UserMergeMoves::TableName, 50))
                    .col(string_len(UserMergeMoves::ColumnName, 50))
                    .col(uuid(UserMergeMoves::RowId))
                    .col(uuid(UserMergeMoves::OldUserId))
                    .col(uuid(UserMergeMoves::NewUserId))
                    // The undo looks moves up by merge, table and row: the key's order.
                    .primary_key(
                        Index::create()
                            .name("pk_user_merge_moves")
                            .col(UserMergeMoves::MergeId)
                            .col(UserMergeMoves::TableName)
                            .col(UserMergeMoves::ColumnName)
                            .col(UserMergeMoves::RowId),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_user_merge_moves_merge_id",
                        UserMergeMoves::Table,
                        UserMergeMoves::MergeId,
                        UserMerges::Table,
                        UserMerges::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_user_merge_moves_old_user_id",
                        UserMergeMoves::Table,
                        UserMergeMoves::OldUserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_user_merge_moves_new_user_id",
                        UserMergeMoves::Table,
                        UserMergeMoves::NewUserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        for (name, col) in [
            (
                "idx_user_merge_moves_old_user_id",
                UserMergeMoves::OldUserId,
            ),
            (
                "idx_user_merge_moves_new_user_id",
                UserMergeMoves::NewUserId,
            ),
        ] {
            manager
                .create_index(index(name, UserMergeMoves::Table, [col]))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserMergeMoves::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum UserMergeMoves {
    Table,
    MergeId,
    TableName,
    ColumnName,
    RowId,
    OldUserId,
    NewUserId,
}

#[derive(DeriveIden)]
enum UserMerges {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
