//! Creates the `booking_attendees` table (a person attending a course under a
//! booking (possibly linked to a user)) and its indexes.

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
                    .table(BookingAttendees::Table)
                    .col(pk_uuid(BookingAttendees::Id))
                    .col(uuid(BookingAttendees::BookingId))
                    .col(uuid_null(BookingAttendees::UserId))
                    .col(string_len(BookingAttendees::FirstName, 100))
                    .col(string_len(BookingAttendees::LastName, 100))
                    .col(string_len_null(BookingAttendees::Email, 255))
                    .col(string_len_null(BookingAttendees::Phone, 20))
                    .col(text_null(BookingAttendees::SpecialRequirements))
                    .col(timestamp_with_time_zone(BookingAttendees::CreatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_booking_attendees_booking_id",
                        BookingAttendees::Table,
                        BookingAttendees::BookingId,
                        Bookings::Table,
                        Bookings::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_booking_attendees_user_id",
                        BookingAttendees::Table,
                        BookingAttendees::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_booking_attendees_booking_id",
                BookingAttendees::Table,
                [BookingAttendees::BookingId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_booking_attendees_user_id",
                BookingAttendees::Table,
                [BookingAttendees::UserId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_booking_attendees_email",
                BookingAttendees::Table,
                [BookingAttendees::Email],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BookingAttendees::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum BookingAttendees {
    Table,
    Id,
    BookingId,
    UserId,
    FirstName,
    LastName,
    Email,
    Phone,
    SpecialRequirements,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
