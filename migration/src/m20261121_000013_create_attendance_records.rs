//! Creates the `attendance_records` table (whether (and how) an attendee
//! attended a course session, with assessment outcome) and its indexes.

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
                    .table(AttendanceRecords::Table)
                    .col(pk_uuid(AttendanceRecords::Id))
                    .col(uuid(AttendanceRecords::SessionId))
                    .col(uuid(AttendanceRecords::BookingId))
                    .col(uuid(AttendanceRecords::AttendeeId))
                    .col(uuid_null(AttendanceRecords::UserId))
                    .col(uuid_null(AttendanceRecords::MarkedById))
                    .col(string_len(AttendanceRecords::Status, 20))
                    .col(timestamp_with_time_zone_null(AttendanceRecords::CheckInAt))
                    .col(timestamp_with_time_zone_null(AttendanceRecords::CheckOutAt))
                    .col(boolean_null(AttendanceRecords::PassedAssessment))
                    .col(boolean(AttendanceRecords::CertificateEligible).default(false))
                    .col(integer_null(AttendanceRecords::ParticipationScore))
                    .col(text_null(AttendanceRecords::TrainerFeedback))
                    .col(timestamp_with_time_zone(AttendanceRecords::CreatedAt))
                    .col(timestamp_with_time_zone(AttendanceRecords::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_attendance_records_session_id",
                        AttendanceRecords::Table,
                        AttendanceRecords::SessionId,
                        CourseSessions::Table,
                        CourseSessions::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_attendance_records_booking_id",
                        AttendanceRecords::Table,
                        AttendanceRecords::BookingId,
                        Bookings::Table,
                        Bookings::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_attendance_records_attendee_id",
                        AttendanceRecords::Table,
                        AttendanceRecords::AttendeeId,
                        BookingAttendees::Table,
                        BookingAttendees::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_attendance_records_user_id",
                        AttendanceRecords::Table,
                        AttendanceRecords::UserId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_attendance_records_marked_by_id",
                        AttendanceRecords::Table,
                        AttendanceRecords::MarkedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_attendance_records_attendee_id_unique",
                AttendanceRecords::Table,
                [AttendanceRecords::AttendeeId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_attendance_records_session_id",
                AttendanceRecords::Table,
                [AttendanceRecords::SessionId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_attendance_records_booking_id",
                AttendanceRecords::Table,
                [AttendanceRecords::BookingId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_attendance_records_user_id",
                AttendanceRecords::Table,
                [AttendanceRecords::UserId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_attendance_records_marked_by_id",
                AttendanceRecords::Table,
                [AttendanceRecords::MarkedById],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AttendanceRecords::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AttendanceRecords {
    Table,
    Id,
    SessionId,
    BookingId,
    AttendeeId,
    UserId,
    MarkedById,
    Status,
    CheckInAt,
    CheckOutAt,
    PassedAssessment,
    CertificateEligible,
    ParticipationScore,
    TrainerFeedback,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CourseSessions {
    Table,
    Id,
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
