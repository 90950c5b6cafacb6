//! Creates the `bookings` table (a customer's booking of one or more places on
//! a course session) and its indexes.

use crate::helpers::{foreign_key, index, unique_index};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Bookings::Table)
                    .col(pk_uuid(Bookings::Id))
                    .col(uuid(Bookings::UserId))
                    .col(uuid(Bookings::SessionId))
                    .col(string_len(Bookings::Reference, 20))
                    .col(string_len(Bookings::Status, 20).default("pending"))
                    .col(string_len(Bookings::PaymentStatus, 20).default("pending"))
                    .col(big_integer(Bookings::UnitPricePence))
                    .col(big_integer(Bookings::DiscountPence).default(0))
                    .col(big_integer(Bookings::TotalAmountPence))
                    .col(big_integer(Bookings::AmountPaidPence).default(0))
                    .col(big_integer(Bookings::AmountRefundedPence).default(0))
                    .col(integer(Bookings::NumberOfAttendees))
                    .col(text_null(Bookings::SpecialRequirements))
                    .col(json_null(Bookings::ContactDetails))
                    .col(string_len_null(Bookings::LegacyId, 64))
                    .col(boolean(Bookings::ConfirmationSent).default(false))
                    .col(boolean(Bookings::ReminderSent).default(false))
                    .col(boolean(Bookings::CertificateIssued).default(false))
                    .col(timestamp_with_time_zone_null(Bookings::CancelledAt))
                    .col(text_null(Bookings::CancellationReason))
                    .col(uuid_null(Bookings::CreatedById))
                    .col(uuid_null(Bookings::UpdatedById))
                    .col(timestamp_with_time_zone(Bookings::CreatedAt))
                    .col(timestamp_with_time_zone(Bookings::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_bookings_user_id",
                        Bookings::Table,
                        Bookings::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_bookings_session_id",
                        Bookings::Table,
                        Bookings::SessionId,
                        CourseSessions::Table,
                        CourseSessions::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_bookings_created_by_id",
                        Bookings::Table,
                        Bookings::CreatedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_bookings_updated_by_id",
                        Bookings::Table,
                        Bookings::UpdatedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_bookings_reference_unique",
                Bookings::Table,
                [Bookings::Reference],
            ))
            .await?;

        manager
            .create_index(unique_index(
                "idx_bookings_legacy_id_unique",
                Bookings::Table,
                [Bookings::LegacyId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_bookings_user_id_created_at_id",
                Bookings::Table,
                [Bookings::UserId, Bookings::CreatedAt, Bookings::Id],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_bookings_session_id",
                Bookings::Table,
                [Bookings::SessionId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_bookings_status",
                Bookings::Table,
                [Bookings::Status],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_bookings_payment_status",
                Bookings::Table,
                [Bookings::PaymentStatus],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_bookings_created_at_id",
                Bookings::Table,
                [Bookings::CreatedAt, Bookings::Id],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_bookings_created_by_id",
                Bookings::Table,
                [Bookings::CreatedById],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_bookings_updated_by_id",
                Bookings::Table,
                [Bookings::UpdatedById],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Bookings::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
    UserId,
    SessionId,
    Reference,
    Status,
    PaymentStatus,
    UnitPricePence,
    DiscountPence,
    TotalAmountPence,
    AmountPaidPence,
    AmountRefundedPence,
    NumberOfAttendees,
    SpecialRequirements,
    ContactDetails,
    LegacyId,
    ConfirmationSent,
    ReminderSent,
    CertificateIssued,
    CancelledAt,
    CancellationReason,
    CreatedById,
    UpdatedById,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CourseSessions {
    Table,
    Id,
}
