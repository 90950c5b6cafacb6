//! Adds `bookings.legacy_reference`: the booking reference a booking imported from the old
//! booking service had there (`RFT-2024-000004`), kept beside its own, and indexed so an
//! admin can find a booking by the reference a customer quotes from an old email.

use crate::helpers::index;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .add_column(string_len_null(Bookings::LegacyReference, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_bookings_legacy_reference",
                Bookings::Table,
                [Bookings::LegacyReference],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_bookings_legacy_reference")
                    .table(Bookings::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Bookings::Table)
                    .drop_column(Bookings::LegacyReference)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    LegacyReference,
}
