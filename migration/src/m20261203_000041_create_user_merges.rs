//! Creates the `user_merges` table: the ledger of duplicate customers merged into a
//! survivor, with everything needed to undo a merge (each profile as it was, the fields
//! chosen, what moved) and whether it was undone.

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
                    .table(UserMerges::Table)
                    .col(pk_uuid(UserMerges::Id))
                    .col(uuid(UserMerges::SurvivorId))
                    .col(json(UserMerges::DuplicateIds))
                    .col(json(UserMerges::SurvivorBefore))
                    .col(json(UserMerges::DuplicatesBefore))
                    .col(json(UserMerges::Fields))
                    .col(json(UserMerges::Moved))
                    .col(text_null(UserMerges::Reason))
                    .col(uuid_null(UserMerges::MergedById))
                    .col(timestamp_with_time_zone(UserMerges::MergedAt))
                    .col(timestamp_with_time_zone_null(UserMerges::UndoneAt))
                    .col(uuid_null(UserMerges::UndoneById))
                    .col(text_null(UserMerges::UndoReason))
                    .foreign_key(&mut foreign_key(
                        "fk_user_merges_survivor_id",
                        UserMerges::Table,
                        UserMerges::SurvivorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_user_merges_merged_by_id",
                        UserMerges::Table,
                        UserMerges::MergedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_user_merges_undone_by_id",
                        UserMerges::Table,
                        UserMerges::UndoneById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        for (name, col) in [
            ("idx_user_merges_survivor_id", UserMerges::SurvivorId),
            ("idx_user_merges_merged_by_id", UserMerges::MergedById),
            ("idx_user_merges_undone_by_id", UserMerges::UndoneById),
        ] {
            manager
                .create_index(index(name, UserMerges::Table, [col]))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserMerges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum UserMerges {
    Table,
    Id,
    SurvivorId,
    DuplicateIds,
    SurvivorBefore,
    DuplicatesBefore,
    Fields,
    Moved,
    Reason,
    MergedById,
    MergedAt,
    UndoneAt,
    UndoneById,
    UndoReason,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
