//! Database migrations for `rft-users`.
//!
//! One migration per table (or one change), listed in dependency order. Every migration runs
//! on both SQLite and PostgreSQL; the only backend-specific part is the
//! trigram search index over `users.search_text` (FTS5 on SQLite, `pg_trgm`
//! on PostgreSQL).

pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261121_000001_create_users;
mod m20261121_000002_create_user_activity_logs;
mod m20261121_000003_create_user_notes;
mod m20261121_000004_create_courses;
mod m20261121_000005_create_venues;
mod m20261121_000006_create_course_sessions;
mod m20261121_000007_create_session_notes;
mod m20261121_000008_create_bookings;
mod m20261121_000009_create_booking_attendees;
mod m20261121_000010_create_payments;
mod m20261121_000011_create_refunds;
mod m20261121_000012_create_certificates;
mod m20261121_000013_create_attendance_records;
mod m20261121_000014_create_audit_logs;
mod m20261121_000015_create_auth_sessions;
mod m20261121_000016_create_stripe_events;
mod m20261203_000001_create_duplicate_detection;
mod m20261203_000017_add_bookings_legacy_reference;
mod m20261203_000018_create_import_jobs;
mod m20261203_000019_create_import_rows;
mod m20261203_000041_create_user_merges;
mod m20261203_000042_create_user_merge_members;
mod m20261203_000043_create_user_merge_moves;
mod m20261204_000051_create_insight_models;
mod m20261204_000052_create_customer_insights;
mod m20261204_000053_index_payment_and_refund_times;
mod m20261205_000061_create_rate_limit_buckets;
mod m20261205_000062_create_portal_sessions;
mod m20261205_000071_create_email_logs;
mod m20261206_000081_create_consent_events;
mod m20261206_000082_add_user_preferences;
mod m20261206_000083_create_erasures;
mod m20261207_000084_encrypt_sensitive_columns;

/// Runs all of the crate's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_users::Migration),
            Box::new(m20261121_000002_create_user_activity_logs::Migration),
            Box::new(m20261121_000003_create_user_notes::Migration),
            Box::new(m20261121_000004_create_courses::Migration),
            Box::new(m20261121_000005_create_venues::Migration),
            Box::new(m20261121_000006_create_course_sessions::Migration),
            Box::new(m20261121_000007_create_session_notes::Migration),
            Box::new(m20261121_000008_create_bookings::Migration),
            Box::new(m20261121_000009_create_booking_attendees::Migration),
            Box::new(m20261121_000010_create_payments::Migration),
            Box::new(m20261121_000011_create_refunds::Migration),
            Box::new(m20261121_000012_create_certificates::Migration),
            Box::new(m20261121_000013_create_attendance_records::Migration),
            Box::new(m20261121_000014_create_audit_logs::Migration),
            Box::new(m20261121_000015_create_auth_sessions::Migration),
            Box::new(m20261121_000016_create_stripe_events::Migration),
            Box::new(m20261203_000001_create_duplicate_detection::Migration),
            Box::new(m20261203_000017_add_bookings_legacy_reference::Migration),
            Box::new(m20261203_000018_create_import_jobs::Migration),
            Box::new(m20261203_000019_create_import_rows::Migration),
            Box::new(m20261203_000041_create_user_merges::Migration),
            Box::new(m20261203_000042_create_user_merge_members::Migration),
            Box::new(m20261203_000043_create_user_merge_moves::Migration),
            Box::new(m20261204_000051_create_insight_models::Migration),
            Box::new(m20261204_000052_create_customer_insights::Migration),
            Box::new(m20261204_000053_index_payment_and_refund_times::Migration),
            Box::new(m20261205_000061_create_rate_limit_buckets::Migration),
            Box::new(m20261205_000062_create_portal_sessions::Migration),
            Box::new(m20261205_000071_create_email_logs::Migration),
            Box::new(m20261206_000081_create_consent_events::Migration),
            Box::new(m20261206_000082_add_user_preferences::Migration),
            Box::new(m20261206_000083_create_erasures::Migration),
            Box::new(m20261207_000084_encrypt_sensitive_columns::Migration),
        ]
    }
}

#[cfg(test)]
mod tests {
    //! Runs the whole migration set up, down and up again, checking that the
    //! schema (including the search index and its triggers) is created and
    //! removed completely. SQLite always runs (in memory); PostgreSQL runs when
    //! `TEST_DATABASE_URL` names a server (as for the API tests, and as `.ci/run` sets it),
    //! in a fresh database of its own that it drops afterwards.

    use super::*;
    use sea_orm_migration::sea_orm::{
        ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
    };

    /// Every table the migrations create, in creation order.
    const TABLES: [&str; 31] = [
        "users",
        "user_activity_logs",
        "user_notes",
        "courses",
        "venues",
        "course_sessions",
        "session_notes",
        "bookings",
        "booking_attendees",
        "payments",
        "refunds",
        "certificates",
        "attendance_records",
        "audit_logs",
        "auth_sessions",
        "stripe_events",
        "user_merges",
        "user_merge_members",
        "user_merge_moves",
        "user_match_keys",
        "duplicate_pairs",
        "duplicate_dismissals",
        "import_jobs",
        "import_rows",
        "insight_models",
        "customer_insights",
        "rate_limit_buckets",
        "portal_sessions",
        "email_logs",
        "consent_events",
        "erasures",
    ];

    const USER_ID: &str = "00000000-0000-4000-8000-000000000001";

    /// Runs `fut` on a fresh current-thread Tokio runtime. This crate has no
    /// direct tokio dependency, so it borrows sqlx's own helper (sqlx is
    /// built with the tokio runtime here).
    fn block_on<F: std::future::Future>(fut: F) -> F::Output {
        sea_orm_migration::sea_orm::sqlx::test_block_on(fut)
    }

    async fn existing_tables(db: &DatabaseConnection) -> Result<Vec<&'static str>, DbErr> {
        let manager = SchemaManager::new(db);
        let mut found = Vec::new();
        for table in TABLES {
            if manager.has_table(table).await? {
                found.push(table);
            }
        }
        Ok(found)
    }

    async fn count(db: &DatabaseConnection, sql: &str) -> Result<i64, DbErr> {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await?
            .expect("COUNT(*) returns a row");
        row.try_get_by_index::<i64>(0)
    }

    /// Rows matching `needle` through the backend's search index.
    async fn search_hits(db: &DatabaseConnection, needle: &str) -> Result<i64, DbErr> {
        let sql = match db.get_database_backend() {
            DbBackend::Sqlite => format!(
                "SELECT COUNT(*) FROM users WHERE rowid IN \
                 (SELECT rowid FROM users_fts WHERE users_fts MATCH '\"{needle}\"')"
            ),
            _ => format!("SELECT COUNT(*) FROM users WHERE search_text LIKE '%{needle}%'"),
        };
        count(db, &sql).await
    }

    /// Exercises the freshly migrated schema: defaults, the search index (and
    /// on SQLite its sync triggers), and foreign-key enforcement.
    async fn exercise_schema(db: &DatabaseConnection) -> Result<(), DbErr> {
        db.execute_unprepared(&format!(
            "INSERT INTO users (id, email, last_activity_at, search_text, created_at, updated_at) \
             VALUES ('{USER_ID}', 'jane@example.com', '2026-01-01T00:00:00Z', \
             'jane smith jane@example.com', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
        ))
        .await?;
        assert_eq!(
            count(
                db,
                "SELECT COUNT(*) FROM users WHERE role = 'customer' AND status = 'active' \
                 AND country = 'UK' AND total_bookings = 0 AND total_spent_pence = 0 \
                 AND language = 'en-GB' AND reminder_frequency = 'before_expiry'"
            )
            .await?,
            1,
            "column defaults applied"
        );
        assert_eq!(search_hits(db, "smit").await?, 1);

        db.execute_unprepared(&format!(
            "UPDATE users SET search_text = 'john doe john@example.com' WHERE id = '{USER_ID}'"
        ))
        .await?;
        assert_eq!(search_hits(db, "smit").await?, 0);
        assert_eq!(search_hits(db, "doe").await?, 1);

        // A booking for a user that does not exist violates fk_bookings_user_id.
        let orphan = db
            .execute_unprepared(
                "INSERT INTO bookings (id, user_id, session_id, reference, unit_price_pence, \
                 total_amount_pence, number_of_attendees, created_at, updated_at) VALUES \
                 ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-00000000dead', \
                 '00000000-0000-4000-8000-00000000beef', 'RFT-TEST', 100, 100, 1, \
                 '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            )
            .await;
        assert!(orphan.is_err(), "foreign keys are enforced");

        // ON DELETE CASCADE from users to user_notes.
        db.execute_unprepared(&format!(
            "INSERT INTO user_notes (id, user_id, content, created_at) VALUES \
             ('00000000-0000-4000-8000-000000000003', '{USER_ID}', 'hello', '2026-01-01T00:00:00Z')"
        ))
        .await?;
        db.execute_unprepared(&format!("DELETE FROM users WHERE id = '{USER_ID}'"))
            .await?;
        assert_eq!(count(db, "SELECT COUNT(*) FROM user_notes").await?, 0);
        assert_eq!(search_hits(db, "doe").await?, 0);
        Ok(())
    }

    async fn search_objects(db: &DatabaseConnection) -> Result<i64, DbErr> {
        let sql = match db.get_database_backend() {
            DbBackend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE name IN \
                 ('users_fts', 'users_fts_ai', 'users_fts_ad', 'users_fts_au')"
            }
            _ => "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'idx_users_search_trgm'",
        };
        count(db, sql).await
    }

    async fn up_down_up(db: &DatabaseConnection) -> Result<(), DbErr> {
        let expected_search_objects = match db.get_database_backend() {
            DbBackend::Sqlite => 4,
            _ => 1,
        };

        Migrator::up(db, None).await?;
        assert_eq!(existing_tables(db).await?, TABLES);
        assert_eq!(search_objects(db).await?, expected_search_objects);
        exercise_schema(db).await?;
        // A column added to an existing table, taken away again by its own down().
        assert_eq!(
            count(db, "SELECT COUNT(legacy_reference) FROM bookings").await?,
            0
        );
        assert_eq!(
            count(
                db,
                "SELECT COUNT(language) + COUNT(reminder_frequency) FROM users"
            )
            .await?,
            0
        );
        // Back past the encrypted columns' types, the erasures, the user preferences and
        // the consent history: the columns go with them.
        Migrator::down(db, Some(4)).await?;
        assert!(
            count(db, "SELECT COUNT(language) FROM users")
                .await
                .is_err()
        );
        assert!(
            count(db, "SELECT COUNT(reminder_frequency) FROM users")
                .await
                .is_err()
        );
        // Then past the outbox, the portal sessions, the rate-limit buckets, the insights'
        // three migrations, the merge ledger's three and the import's three.
        Migrator::down(db, Some(12)).await?;
        assert!(
            count(db, "SELECT COUNT(legacy_reference) FROM bookings")
                .await
                .is_err()
        );
        Migrator::up(db, None).await?;

        Migrator::down(db, None).await?;
        assert!(existing_tables(db).await?.is_empty());
        assert_eq!(search_objects(db).await?, 0);

        Migrator::up(db, None).await?;
        assert_eq!(existing_tables(db).await?, TABLES);
        assert_eq!(search_objects(db).await?, expected_search_objects);
        exercise_schema(db).await?;
        Ok(())
    }

    #[test]
    fn sqlite_up_down_up() {
        block_on(async {
            let db = Database::connect("sqlite::memory:").await?;
            up_down_up(&db).await
        })
        .expect("migrations run up, down and up on SQLite");
    }

    /// `server_url` with its database name replaced by `name` (query string kept).
    fn with_database(server_url: &str, name: &str) -> String {
        let (url, query) = server_url
            .split_once('?')
            .map_or((server_url, None), |(u, q)| (u, Some(q)));
        let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
        match query {
            Some(q) => format!("{base}/{name}?{q}"),
            None => format!("{base}/{name}"),
        }
    }

    #[test]
    fn postgres_up_down_up() {
        let Some(server_url) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!("TEST_DATABASE_URL not set; skipping the PostgreSQL check");
            return;
        };
        // A database of its own (not `rft_test_*`, which the API suite's clean-up owns), so
        // it never touches another test's data.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("rft_migration_test_{}_{nanos}", std::process::id());
        block_on(async {
            let admin = Database::connect(server_url.as_str()).await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            let outcome = async {
                let db = Database::connect(with_database(&server_url, &name).as_str()).await?;
                let outcome = async {
                    up_down_up(&db).await?;
                    Migrator::down(&db, None).await
                }
                .await;
                db.close().await?;
                outcome
            }
            .await;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
            eprintln!("ran the PostgreSQL up/down/up check in {name}");
            outcome
        })
        .expect("migrations run up, down and up on PostgreSQL");
    }
}
