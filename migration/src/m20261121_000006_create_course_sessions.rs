//! Creates the `course_sessions` table (a scheduled run of a course at a venue,
//! optionally with an instructor) and its indexes.

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
                    .table(CourseSessions::Table)
                    .col(pk_uuid(CourseSessions::Id))
                    .col(uuid(CourseSessions::CourseId))
                    .col(uuid(CourseSessions::VenueId))
                    .col(uuid_null(CourseSessions::InstructorId))
                    .col(timestamp_with_time_zone(CourseSessions::StartsAt))
                    .col(timestamp_with_time_zone(CourseSessions::EndsAt))
                    .col(integer(CourseSessions::Capacity))
                    .col(integer(CourseSessions::BookedPlaces).default(0))
                    .col(string_len(CourseSessions::Status, 20).default("scheduled"))
                    .col(timestamp_with_time_zone_null(CourseSessions::CancelledAt))
                    .col(text_null(CourseSessions::CancellationReason))
                    .col(uuid_null(CourseSessions::CreatedById))
                    .col(uuid_null(CourseSessions::UpdatedById))
                    .col(timestamp_with_time_zone(CourseSessions::CreatedAt))
                    .col(timestamp_with_time_zone(CourseSessions::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_course_sessions_course_id",
                        CourseSessions::Table,
                        CourseSessions::CourseId,
                        Courses::Table,
                        Courses::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_course_sessions_venue_id",
                        CourseSessions::Table,
                        CourseSessions::VenueId,
                        Venues::Table,
                        Venues::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_course_sessions_instructor_id",
                        CourseSessions::Table,
                        CourseSessions::InstructorId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_course_sessions_created_by_id",
                        CourseSessions::Table,
                        CourseSessions::CreatedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_course_sessions_updated_by_id",
                        CourseSessions::Table,
                        CourseSessions::UpdatedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(index(
                "idx_course_sessions_course_id",
                CourseSessions::Table,
                [CourseSessions::CourseId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_course_sessions_venue_id",
                CourseSessions::Table,
                [CourseSessions::VenueId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_course_sessions_instructor_id",
                CourseSessions::Table,
                [CourseSessions::InstructorId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_course_sessions_starts_at_id",
                CourseSessions::Table,
                [CourseSessions::StartsAt, CourseSessions::Id],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_course_sessions_status",
                CourseSessions::Table,
                [CourseSessions::Status],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_course_sessions_created_by_id",
                CourseSessions::Table,
                [CourseSessions::CreatedById],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_course_sessions_updated_by_id",
                CourseSessions::Table,
                [CourseSessions::UpdatedById],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CourseSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CourseSessions {
    Table,
    Id,
    CourseId,
    VenueId,
    InstructorId,
    StartsAt,
    EndsAt,
    Capacity,
    BookedPlaces,
    Status,
    CancelledAt,
    CancellationReason,
    CreatedById,
    UpdatedById,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Courses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Venues {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
