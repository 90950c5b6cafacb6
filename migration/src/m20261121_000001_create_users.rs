//! Creates the `users` table (customers, admins and instructors), its indexes,
//! and the backend-specific trigram search index over `search_text`.

use crate::helpers::{foreign_key, index, unique_index};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// SQLite: external-content FTS5 trigram index over `users.search_text`,
/// kept in sync by triggers (joined back to `users` by `rowid`).
const SQLITE_FTS_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE users_fts USING fts5(search_text, content='users', content_rowid='rowid', tokenize='trigram');",
    "CREATE TRIGGER users_fts_ai AFTER INSERT ON users BEGIN \
     INSERT INTO users_fts(rowid, search_text) VALUES (new.rowid, new.search_text); \
     END;",
    "CREATE TRIGGER users_fts_ad AFTER DELETE ON users BEGIN \
     INSERT INTO users_fts(users_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); \
     END;",
    "CREATE TRIGGER users_fts_au AFTER UPDATE OF search_text ON users BEGIN \
     INSERT INTO users_fts(users_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); \
     INSERT INTO users_fts(rowid, search_text) VALUES (new.rowid, new.search_text); \
     END;",
];

const SQLITE_FTS_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS users_fts_au;",
    "DROP TRIGGER IF EXISTS users_fts_ad;",
    "DROP TRIGGER IF EXISTS users_fts_ai;",
    "DROP TABLE IF EXISTS users_fts;",
];

/// PostgreSQL: GIN trigram index over `users.search_text`.
const POSTGRES_TRGM_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
    "CREATE INDEX idx_users_search_trgm ON users USING gin (search_text gin_trgm_ops);",
];

const POSTGRES_TRGM_DOWN: &[&str] = &["DROP INDEX IF EXISTS idx_users_search_trgm;"];

/// Runs the backend-specific statements (nothing on other backends).
async fn run_for_backend(
    manager: &SchemaManager<'_>,
    sqlite: &[&str],
    postgres: &[&str],
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Sqlite => sqlite,
        DbBackend::Postgres => postgres,
        _ => &[],
    };
    let conn = manager.get_connection();
    for sql in statements {
        conn.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_len(Users::Email, 255))
                    .col(string_len(Users::FirstName, 100).default(""))
                    .col(string_len(Users::LastName, 100).default(""))
                    .col(string_len_null(Users::Phone, 20))
                    .col(string_len_null(Users::Mobile, 20))
                    .col(date_null(Users::DateOfBirth))
                    .col(string_len_null(Users::AddressLine1, 255))
                    .col(string_len_null(Users::AddressLine2, 255))
                    .col(string_len_null(Users::City, 100))
                    .col(string_len_null(Users::County, 100))
                    .col(string_len_null(Users::Postcode, 10))
                    .col(string_len(Users::Country, 100).default("UK"))
                    .col(string_len_null(Users::CompanyName, 255))
                    .col(string_len_null(Users::CompanyRole, 100))
                    .col(string_len_null(Users::CompanyDepartment, 100))
                    .col(string_len_null(Users::VatNumber, 50))
                    .col(string_len(Users::Role, 20).default("customer"))
                    .col(string_len(Users::Status, 20).default("active"))
                    .col(string_len(Users::CustomerType, 20).default("individual"))
                    .col(date_null(Users::CustomerSince))
                    .col(timestamp_with_time_zone_null(Users::FirstBookingAt))
                    .col(timestamp_with_time_zone_null(Users::LastBookingAt))
                    .col(integer(Users::TotalBookings).default(0))
                    .col(big_integer(Users::TotalSpentPence).default(0))
                    .col(timestamp_with_time_zone(Users::LastActivityAt))
                    .col(boolean(Users::MarketingConsent).default(false))
                    .col(boolean(Users::SmsConsent).default(false))
                    .col(boolean(Users::NewsletterSubscribed).default(true))
                    .col(string_len(Users::PreferredContactMethod, 20).default("email"))
                    .col(string_len_null(Users::EmergencyContactName, 100))
                    .col(string_len_null(Users::EmergencyContactPhone, 20))
                    .col(string_len_null(Users::EmergencyContactRelationship, 50))
                    .col(boolean(Users::HasMedicalConditions).default(false))
                    .col(text_null(Users::MedicalNotes))
                    .col(text_null(Users::DietaryRequirements))
                    .col(boolean(Users::ShareMedicalWithTrainer).default(false))
                    .col(string_len_null(Users::PasswordHash, 255))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .col(integer(Users::FailedLoginAttempts).default(0))
                    .col(timestamp_with_time_zone_null(Users::AccountLockedUntil))
                    .col(timestamp_with_time_zone_null(Users::PasswordChangedAt))
                    .col(uuid_null(Users::CreatedById))
                    .col(text_null(Users::Notes))
                    .col(uuid_null(Users::MergedIntoId))
                    .col(text(Users::SearchText).default(""))
                    .col(string_len(Users::SortName, 210).default(""))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .foreign_key(&mut foreign_key(
                        "fk_users_created_by_id",
                        Users::Table,
                        Users::CreatedById,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "fk_users_merged_into_id",
                        Users::Table,
                        Users::MergedIntoId,
                        Users::Table,
                        Users::Id,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(unique_index(
                "idx_users_email_unique",
                Users::Table,
                [Users::Email],
            ))
            .await?;

        manager
            .create_index(index("idx_users_role", Users::Table, [Users::Role]))
            .await?;

        manager
            .create_index(index("idx_users_status", Users::Table, [Users::Status]))
            .await?;

        manager
            .create_index(index(
                "idx_users_customer_type",
                Users::Table,
                [Users::CustomerType],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_company_name",
                Users::Table,
                [Users::CompanyName],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_marketing_consent",
                Users::Table,
                [Users::MarketingConsent],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_created_by_id",
                Users::Table,
                [Users::CreatedById],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_merged_into_id",
                Users::Table,
                [Users::MergedIntoId],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_last_activity_at_id",
                Users::Table,
                [Users::LastActivityAt, Users::Id],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_total_bookings_id",
                Users::Table,
                [Users::TotalBookings, Users::Id],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_total_spent_pence_id",
                Users::Table,
                [Users::TotalSpentPence, Users::Id],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_created_at_id",
                Users::Table,
                [Users::CreatedAt, Users::Id],
            ))
            .await?;

        manager
            .create_index(index(
                "idx_users_sort_name_id",
                Users::Table,
                [Users::SortName, Users::Id],
            ))
            .await?;

        run_for_backend(manager, SQLITE_FTS_UP, POSTGRES_TRGM_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, SQLITE_FTS_DOWN, POSTGRES_TRGM_DOWN).await?;

        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Email,
    FirstName,
    LastName,
    Phone,
    Mobile,
    DateOfBirth,
    #[sea_orm(iden = "address_line_1")]
    AddressLine1,
    #[sea_orm(iden = "address_line_2")]
    AddressLine2,
    City,
    County,
    Postcode,
    Country,
    CompanyName,
    CompanyRole,
    CompanyDepartment,
    VatNumber,
    Role,
    Status,
    CustomerType,
    CustomerSince,
    FirstBookingAt,
    LastBookingAt,
    TotalBookings,
    TotalSpentPence,
    LastActivityAt,
    MarketingConsent,
    SmsConsent,
    NewsletterSubscribed,
    PreferredContactMethod,
    EmergencyContactName,
    EmergencyContactPhone,
    EmergencyContactRelationship,
    HasMedicalConditions,
    MedicalNotes,
    DietaryRequirements,
    ShareMedicalWithTrainer,
    PasswordHash,
    LastLoginAt,
    FailedLoginAttempts,
    AccountLockedUntil,
    PasswordChangedAt,
    CreatedById,
    Notes,
    MergedIntoId,
    SearchText,
    SortName,
    CreatedAt,
    UpdatedAt,
}
