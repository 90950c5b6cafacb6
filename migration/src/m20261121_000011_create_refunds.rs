//! Creates the `refunds` table (a refund requested against a booking (and
//! optionally a specific payment)) and its indexes.

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
                    .table(Refunds::Table)
                    .col(pk_uuid(Refunds::Id))
                    .col(uuid(Refunds::BookingId))
                    .col(uuid_null(Refunds::PaymentId))
                    .col(uuid(Refunds::UserId))
                    .col(string_len(Refunds::Reference, 20))
                    .col(big_integer(Refunds::AmountPence))
                    .col(big_integer(Refunds::ProcessingFeePence).default(0))
                    .col(string_len(Refunds::Status, 20).default("pending"))
                    .col(text(Refunds::Reason))
                    .col(string_len_null(Refunds::StripeRefundId, 255))
                    .col(uuid_null(Refunds::RequestedById))
                    .col(uuid_null(Refunds::ProcessedById))
                    .col(timestamp_with_time_zone(Refunds::RequestedAt))
                    .col(timestamp_with_time_zone_null(Refunds::ApprovedAt))
                    .col(timestamp_with_time_zone_null(Refunds::RejectedAt))
                    .col(timestamp_with_time_zone_null(Refunds::CompletedAt))
                    .col(timestamp_with_time_zone(Refunds::CreatedAt))
                    .col(timestamp_with_time_zone(Refunds::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_refunds_booking_id",
                        Refunds::Table,
                        Refunds::BookingId,
                        Bookings::Table,
                        Bookings::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_refunds_payment_id",
                        Refunds::Table,
                        Refunds::PaymentId,
                        Payments::Table,
                        Payments::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_refunds_user_id",
                        Refunds::Table,
                        Refunds::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_refunds_requested_by_id",
                        Refunds::Table,
                        Refunds::RequestedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_refunds_processed_by_id",
                        Refunds::Table,
                        Refunds::ProcessedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_refunds_reference_unique",
                Refunds::Table,
                [Refunds::Reference],
            ))
            .await?;

        manager
            .create_index(unique_index(
                "idx_refunds_stripe_refund_id_unique",
                Refunds::Table,
                [Refunds::StripeRefundId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_refunds_booking_id_created_at",
                Refunds::Table,
                [Refunds::BookingId, Refunds::CreatedAt],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_refunds_user_id_created_at",
                Refunds::Table,
                [Refunds::UserId, Refunds::CreatedAt],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_refunds_payment_id",
                Refunds::Table,
                [Refunds::PaymentId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_refunds_status",
                Refunds::Table,
                [Refunds::Status],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_refunds_requested_by_id",
                Refunds::Table,
                [Refunds::RequestedById],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_refunds_processed_by_id",
                Refunds::Table,
                [Refunds::ProcessedById],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Refunds::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    BookingId,
    PaymentId,
    UserId,
    Reference,
    AmountPence,
    ProcessingFeePence,
    Status,
    Reason,
    StripeRefundId,
    RequestedById,
    ProcessedById,
    RequestedAt,
    ApprovedAt,
    RejectedAt,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
