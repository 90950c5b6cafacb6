//! Creates the `certificates` table (a first-aid certificate issued for a
//! booking (one per attendee)) and its indexes.

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
                    .table(Certificates::Table)
                    .col(pk_uuid(Certificates::Id))
                    .col(uuid(Certificates::BookingId))
                    .col(uuid_null(Certificates::AttendeeId))
                    .col(uuid(Certificates::UserId))
                    .col(uuid(Certificates::CourseId))
                    .col(uuid_null(Certificates::SessionId))
                    .col(string_len(Certificates::CertificateNumber, 30))
                    .col(string_len(Certificates::HolderName, 210))
                    .col(date(Certificates::IssuedOn))
                    .col(date(Certificates::ExpiresOn))
                    .col(string_len(Certificates::Status, 20).default("active"))
                    .col(timestamp_with_time_zone_null(Certificates::RevokedAt))
                    .col(text_null(Certificates::RevocationReason))
                    .col(uuid_null(Certificates::IssuedById))
                    .col(string_len_null(Certificates::PdfUrl, 500))
                    .col(timestamp_with_time_zone(Certificates::CreatedAt))
                    .col(timestamp_with_time_zone(Certificates::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_certificates_booking_id",
                        Certificates::Table,
                        Certificates::BookingId,
                        Bookings::Table,
                        Bookings::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_certificates_attendee_id",
                        Certificates::Table,
                        Certificates::AttendeeId,
                        BookingAttendees::Table,
                        BookingAttendees::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_certificates_user_id",
                        Certificates::Table,
                        Certificates::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_certificates_course_id",
                        Certificates::Table,
                        Certificates::CourseId,
                        Courses::Table,
                        Courses::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_certificates_session_id",
                        Certificates::Table,
                        Certificates::SessionId,
                        CourseSessions::Table,
                        CourseSessions::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_certificates_issued_by_id",
                        Certificates::Table,
                        Certificates::IssuedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_certificates_attendee_id_unique",
                Certificates::Table,
                [Certificates::AttendeeId],
            ))
            .await?;

        manager
            .create_index(unique_index(
                "idx_certificates_certificate_number_unique",
                Certificates::Table,
                [Certificates::CertificateNumber],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_certificates_booking_id",
                Certificates::Table,
                [Certificates::BookingId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_certificates_user_id_issued_on",
                Certificates::Table,
                [Certificates::UserId, Certificates::IssuedOn],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_certificates_course_id",
                Certificates::Table,
                [Certificates::CourseId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_certificates_session_id",
                Certificates::Table,
                [Certificates::SessionId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_certificates_expires_on",
                Certificates::Table,
                [Certificates::ExpiresOn],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_certificates_status",
                Certificates::Table,
                [Certificates::Status],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_certificates_issued_by_id",
                Certificates::Table,
                [Certificates::IssuedById],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Certificates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Certificates {
    Table,
    Id,
    BookingId,
    AttendeeId,
    UserId,
    CourseId,
    SessionId,
    CertificateNumber,
    HolderName,
    IssuedOn,
    ExpiresOn,
    Status,
    RevokedAt,
    RevocationReason,
    IssuedById,
    PdfUrl,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BookingAttendees {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Courses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CourseSessions {
    Table,
    Id,
}
