//! Creates the `user_merge_members` table: who took part in each merge (its survivor and
//! its duplicates), so a user's merge history and the later merges of the same people are
//! found through an index rather than by reading every ledger entry.

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
                    .table(UserMergeMembers::Table)
                    .col(uuid(UserMergeMembers::MergeId))
                    .col(uuid(UserMergeMembers::UserId))
                    .col(boolean(UserMergeMembers::IsSurvivor))
                    .primary_key(
                        Index::create()
                            .name("pk_user_merge_members")
                            .col(UserMergeMembers::MergeId)
                            .col(UserMergeMembers::UserId),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_user_merge_members_merge_id",
                        UserMergeMembers::Table,
                        UserMergeMembers::MergeId,
                        UserMerges::Table,
                        UserMerges::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_user_merge_members_user_id",
                        UserMergeMembers::Table,
                        UserMergeMembers::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_user_merge_members_user_id_merge_id",
                UserMergeMembers::Table,
                [UserMergeMembers::UserId, UserMergeMembers::MergeId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserMergeMembers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserMergeMembers {
    Table,
    MergeId,
    UserId,
    IsSurvivor,
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
