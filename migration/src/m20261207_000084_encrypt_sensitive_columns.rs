//! Makes room for the sensitive fields encrypted at rest: on PostgreSQL, the columns that
//! will hold an envelope (`enc:v1:<key id>:<base64>`, longer than the value, and text even
//! for a date) become `TEXT`: the date of birth, and the emergency contact's name, phone
//! and relationship. (The medical notes, dietary and special requirements and trainer
//! feedback are `TEXT` already; SQLite stores any text in any column.)
//!
//! The existing plaintext is encrypted right after the migrations, by the service's
//! `db::migrate` (it needs the data keys, which the migrations do not have): in batches,
//! before the service serves, and resumed on the next start if it is interrupted.
//!
//! `down` gives the columns back their old types; PostgreSQL refuses (and changes nothing)
//! while they hold envelopes, which do not fit them: decrypting needs the keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each column and its type before this migration.
const COLUMNS: &[(&str, &str)] = &[
    ("date_of_birth", "DATE"),
    ("emergency_contact_name", "VARCHAR(100)"),
    ("emergency_contact_phone", "VARCHAR(20)"),
    ("emergency_contact_relationship", "VARCHAR(50)"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let alters: Vec<String> = COLUMNS
            .iter()
            .map(|(c, _)| format!("ALTER COLUMN {c} TYPE TEXT USING {c}::text"))
            .collect();
        manager
            .get_connection()
            .execute_unprepared(&format!("ALTER TABLE users {}", alters.join(", ")))
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let alters: Vec<String> = COLUMNS
            .iter()
            .map(|(c, t)| format!("ALTER COLUMN {c} TYPE {t} USING {c}::{t}"))
            .collect();
        manager
            .get_connection()
            .execute_unprepared(&format!("ALTER TABLE users {}", alters.join(", ")))
            .await
            .map(|_| ())
    }
}
