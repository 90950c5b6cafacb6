//! Creates the `courses` table (a first-aid course in the catalogue (EFAW, FAW,
//! paediatric)) and its indexes.

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
                    .table(Courses::Table)
                    .col(pk_uuid(Courses::Id))
                    .col(string_len(Courses::Name, 255))
                    .col(text_null(Courses::Description))
                    .col(string_len(Courses::CourseType, 20))
                    .col(integer(Courses::DurationHours))
                    .col(big_integer(Courses::PricePence))
                    .col(integer(Courses::MaxCapacity))
                    .col(integer(Courses::CertificationValidityYears))
                    .col(boolean(Courses::IsActive).default(true))
                    .col(uuid_null(Courses::CreatedById))
                    .col(uuid_null(Courses::UpdatedById))
                    .col(timestamp_with_time_zone(Courses::CreatedAt))
                    .col(timestamp_with_time_zone(Courses::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_courses_created_by_id",
                        Courses::Table,
                        Courses::CreatedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_courses_updated_by_id",
                        Courses::Table,
                        Courses::UpdatedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_courses_name_unique",
                Courses::Table,
                [Courses::Name],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_courses_course_type",
                Courses::Table,
                [Courses::CourseType],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_courses_is_active",
                Courses::Table,
                [Courses::IsActive],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_courses_created_by_id",
                Courses::Table,
                [Courses::CreatedById],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_courses_updated_by_id",
                Courses::Table,
                [Courses::UpdatedById],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Courses::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Courses {
    Table,
    Id,
    Name,
    Description,
    CourseType,
    DurationHours,
    PricePence,
    MaxCapacity,
    CertificationValidityYears,
    IsActive,
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
