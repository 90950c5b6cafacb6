//! Creates the `payments` table (a payment taken (or attempted) against a
//! booking) and its indexes.

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
                    .table(Payments::Table)
                    .col(pk_uuid(Payments::Id))
                    .col(uuid(Payments::BookingId))
                    .col(uuid(Payments::UserId))
                    .col(string_len_null(Payments::StripePaymentIntentId, 255))
                    .col(big_integer(Payments::AmountPence))
                    .col(string_len(Payments::Currency, 3).default("GBP"))
                    .col(string_len(Payments::Status, 20))
                    .col(string_len(Payments::Method, 20))
                    .col(uuid_null(Payments::RecordedById))
                    .col(timestamp_with_time_zone_null(Payments::PaidAt))
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_payments_booking_id",
                        Payments::Table,
                        Payments::BookingId,
                        Bookings::Table,
                        Bookings::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_payments_user_id",
                        Payments::Table,
                        Payments::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_payments_recorded_by_id",
                        Payments::Table,
                        Payments::RecordedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_payments_stripe_payment_intent_id_unique",
                Payments::Table,
                [Payments::StripePaymentIntentId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_payments_booking_id_created_at",
                Payments::Table,
                [Payments::BookingId, Payments::CreatedAt],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_payments_user_id_created_at",
                Payments::Table,
                [Payments::UserId, Payments::CreatedAt],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_payments_status",
                Payments::Table,
                [Payments::Status],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_payments_recorded_by_id",
                Payments::Table,
                [Payments::RecordedById],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Payments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    BookingId,
    UserId,
    StripePaymentIntentId,
    AmountPence,
    Currency,
    Status,
    Method,
    RecordedById,
    PaidAt,
    CreatedAt,
    UpdatedAt,
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
