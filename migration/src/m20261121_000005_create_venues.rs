//! Creates the `venues` table (a training venue where course sessions are held)
//! and its indexes.

use crate::helpers::{index, unique_index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Venues::Table)
                    .col(pk_uuid(Venues::Id))
                    .col(string_len(Venues::Name, 255))
                    .col(string_len_null(Venues::AddressLine1, 255))
                    .col(string_len_null(Venues::AddressLine2, 255))
                    .col(string_len_null(Venues::City, 100))
                    .col(string_len_null(Venues::Postcode, 10))
                    .col(integer_null(Venues::Capacity))
                    .col(json_null(Venues::Facilities))
                    .col(text_null(Venues::ParkingInfo))
                    .col(boolean(Venues::IsActive).default(true))
                    .col(timestamp_with_time_zone(Venues::CreatedAt))
                    .col(timestamp_with_time_zone(Venues::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_venues_name_unique",
                Venues::Table,
                [Venues::Name],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_venues_is_active",
                Venues::Table,
                [Venues::IsActive],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Venues::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Venues {
    Table,
    Id,
    Name,
    #[sea_orm(iden = "address_line_1")]
    AddressLine1,
    #[sea_orm(iden = "address_line_2")]
    AddressLine2,
    City,
    Postcode,
    Capacity,
    Facilities,
    ParkingInfo,
    IsActive,
    CreatedAt,
    UpdatedAt,
}
