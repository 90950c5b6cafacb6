//! Creates the duplicate-detection tables: `user_match_keys` (each user's normalised
//! matching keys), `duplicate_pairs` (scored candidate pairs, the admins' worklist) and
//! `duplicate_dismissals` (pairs an admin marked as two different people).
//!
//! Why a side table rather than columns on `users`: the hot `users` row stays as it is (its
//! rows are decoded by position and read light, see docs/ARCHITECTURE.md), while the keys
//! are still indexed for blocking and written in the same transaction as the profile
//! (`services::duplicates::refresh`). One row per user, removed with the user.
//!
//! Filling the keys of existing users needs Rust (libphonenumber, Double Metaphone), which
//! this crate cannot call: the service does it right after migrating (`db::migrate` runs
//! `duplicates::backfill_missing`, which keys every user without a row and scores them),
//! so `cargo run`, `rft-users migrate up` and the tests all leave every user keyed.

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
                    .table(UserMatchKeys::Table)
                    .col(uuid(UserMatchKeys::UserId).primary_key())
                    .col(text_null(UserMatchKeys::MailboxKey))
                    .col(text_null(UserMatchKeys::PhoneKey))
                    .col(text_null(UserMatchKeys::MobileKey))
                    .col(text_null(UserMatchKeys::FirstNameKey))
                    .col(text_null(UserMatchKeys::LastNameKey))
                    .col(text_null(UserMatchKeys::FirstNameSound))
                    .col(text_null(UserMatchKeys::LastNameSound))
                    .col(text_null(UserMatchKeys::NameKey))
                    .col(text_null(UserMatchKeys::CompanyKey))
                    .col(text_null(UserMatchKeys::PostcodeKey))
                    .col(text_null(UserMatchKeys::PostcodeOutward))
                    .col(timestamp_with_time_zone(UserMatchKeys::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_user_match_keys_user_id",
                        UserMatchKeys::Table,
                        UserMatchKeys::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // One index per blocking key (see services::duplicates::BLOCKING_SQL).
        for (name, cols) in [
            (
                "idx_user_match_keys_mailbox_key",
                vec![UserMatchKeys::MailboxKey],
            ),
            (
                "idx_user_match_keys_phone_key",
                vec![UserMatchKeys::PhoneKey],
            ),
            (
                "idx_user_match_keys_mobile_key",
                vec![UserMatchKeys::MobileKey],
            ),
            ("idx_user_match_keys_name_key", vec![UserMatchKeys::NameKey]),
            (
                "idx_user_match_keys_company_last_name",
                vec![UserMatchKeys::CompanyKey, UserMatchKeys::LastNameKey],
            ),
        ] {
            manager
                .create_index(index(name, UserMatchKeys::Table, cols))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(DuplicatePairs::Table)
                    .col(uuid(DuplicatePairs::UserA))
                    .col(uuid(DuplicatePairs::UserB))
                    .col(double(DuplicatePairs::Score))
                    .col(double(DuplicatePairs::MatchWeight))
                    .col(json(DuplicatePairs::Reasons))
                    .col(timestamp_with_time_zone(DuplicatePairs::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(DuplicatePairs::UserA)
                            .col(DuplicatePairs::UserB),
                    )
                    .check(Expr::col(DuplicatePairs::UserA).lt(Expr::col(DuplicatePairs::UserB)))
                    .foreign_key(&mut foreign_key(
                        "fk_duplicate_pairs_user_a",
                        DuplicatePairs::Table,
                        DuplicatePairs::UserA,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_duplicate_pairs_user_b",
                        DuplicatePairs::Table,
                        DuplicatePairs::UserB,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_duplicate_pairs_user_b",
                DuplicatePairs::Table,
                [DuplicatePairs::UserB],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_duplicate_pairs_score",
                DuplicatePairs::Table,
                [DuplicatePairs::Score],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DuplicateDismissals::Table)
                    .col(uuid(DuplicateDismissals::UserA))
                    .col(uuid(DuplicateDismissals::UserB))
                    .col(uuid_null(DuplicateDismissals::DismissedById))
                    .col(timestamp_with_time_zone(DuplicateDismissals::DismissedAt))
                    .primary_key(
                        Index::create()
                            .col(DuplicateDismissals::UserA)
                            .col(DuplicateDismissals::UserB),
                    )
                    .check(
                        Expr::col(DuplicateDismissals::UserA)
                            .lt(Expr::col(DuplicateDismissals::UserB)),
                    )
                    .foreign_key(&mut foreign_key(
                        "fk_duplicate_dismissals_user_a",
                        DuplicateDismissals::Table,
                        DuplicateDismissals::UserA,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_duplicate_dismissals_user_b",
                        DuplicateDismissals::Table,
                        DuplicateDismissals::UserB,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_duplicate_dismissals_dismissed_by_id",
                        DuplicateDismissals::Table,
                        DuplicateDismissals::DismissedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_duplicate_dismissals_user_b",
                DuplicateDismissals::Table,
                [DuplicateDismissals::UserB],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_duplicate_dismissals_dismissed_by_id",
                DuplicateDismissals::Table,
                [DuplicateDismissals::DismissedById],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DuplicateDismissals::Table.into_iden(),
            DuplicatePairs::Table.into_iden(),
            UserMatchKeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserMatchKeys {
    Table,
    UserId,
    MailboxKey,
    PhoneKey,
    MobileKey,
    FirstNameKey,
    LastNameKey,
    FirstNameSound,
    LastNameSound,
    NameKey,
    CompanyKey,
    PostcodeKey,
    PostcodeOutward,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum DuplicatePairs {
    Table,
    UserA,
    UserB,
    Score,
    MatchWeight,
    Reasons,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum DuplicateDismissals {
    Table,
    UserA,
    UserB,
    DismissedById,
    DismissedAt,
}
