//! Imports of legacy bookings, as admins see them: each job with its counts, and its rows
//! with what became of each.

use async_graphql::{Context, Object, connection::Connection, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::booking::Booking;
use super::enums::{ImportJobStatus, ImportRowStatus};
use super::user::User;
use crate::app::AppState;
use crate::entities::{import_job, import_row};
use crate::error::AppError;
use crate::graphql::connection::from_page;
use crate::graphql::cost;
use crate::graphql::loaders::{BookingLoader, UserLoader};
use crate::services::legacy_import;

/// One run of `rft-users import-legacy` over an export of the old booking service.
pub struct ImportJob(pub import_job::Model);

/// One run of `rft-users import-legacy` over an export of the old booking service.
#[Object]
impl ImportJob {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The system the file came from (`--source`): a rerun from the same source recognises
    /// the rows it imported before.
    async fn source(&self) -> &str {
        &self.0.source
    }
    /// The file imported, as named on the command line.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    /// SHA-256 of the file (hex): running the same file again resumes an unfinished job.
    async fn file_sha256(&self) -> &str {
        &self.0.file_sha256
    }
    /// A dry run did all the work and rolled it back: only this job and its rows were kept.
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    /// Running (or killed mid-run), finished, or failed.
    async fn status(&self) -> ImportJobStatus {
        self.0.status.into()
    }
    /// Why the job stopped, when it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// When the job started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// When every row had been accounted for; none while running or after a failure.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// Rows in the file. When finished, the counts add up to it.
    async fn rows_in_file(&self) -> i64 {
        self.0.rows_in_file
    }
    /// How many rows ended in each status so far.
    async fn counts(&self) -> ImportCounts {
        ImportCounts(self.0.clone())
    }
    /// Customers the job created.
    async fn customers_created(&self) -> i64 {
        self.0.customers_created
    }
    /// Venues the job created, inactive, because the file named venues not in the catalogue.
    async fn venues_created(&self) -> i64 {
        self.0.venues_created
    }
    /// Past sessions the job created for the bookings' course, venue and date.
    async fn sessions_created(&self) -> i64 {
        self.0.sessions_created
    }
    /// The job's rows in file order, with what became of each; only those with one of
    /// `status` when given.
    #[graphql(complexity = "cost::page(first, child_complexity)")]
    async fn rows(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only rows with one of these statuses (all rows when omitted).")]
        status: Option<Vec<ImportRowStatus>>,
        #[graphql(desc = "Page size: at most 100, default 20.")] first: Option<i32>,
        #[graphql(desc = "Return rows after this cursor (an `endCursor` of the same list).")]
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ImportRow>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let statuses: Vec<_> = status
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let page =
            legacy_import::rows_page(db, self.0.id, &statuses, first, after.as_deref()).await?;
        Ok(from_page(page, ImportRow))
    }
}

/// How many rows of an import ended in each status.
pub struct ImportCounts(import_job::Model);

/// How many rows of an import ended in each status.
#[Object]
impl ImportCounts {
    /// Bookings created.
    async fn created(&self) -> i64 {
        self.0.created_count
    }
    /// Bookings imported before whose row changed, updated.
    async fn updated(&self) -> i64 {
        self.0.updated_count
    }
    /// Rows imported before with the same content: nothing written.
    async fn unchanged(&self) -> i64 {
        self.0.unchanged_count
    }
    /// Duplicates of an earlier row of the same run: nothing written.
    async fn skipped(&self) -> i64 {
        self.0.skipped_count
    }
    /// Rows not imported, each with its reason.
    async fn failed(&self) -> i64 {
        self.0.failed_count
    }
    /// Rows accounted for: the sum of the above (the rows in the file, once finished).
    async fn total(&self) -> i64 {
        self.0.rows_done()
    }
}

/// What an import did with one row of its file.
pub struct ImportRow(pub import_row::Model);

/// What an import did with one row of its file.
#[Object]
impl ImportRow {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The line of the file the row starts on.
    async fn line(&self) -> i64 {
        self.0.line
    }
    /// The row's place in the file's array, from 1.
    async fn position(&self) -> i64 {
        self.0.ordinal
    }
    /// The booking's id in the legacy system.
    async fn legacy_id(&self) -> Option<&str> {
        self.0.legacy_id.as_deref()
    }
    /// The booking's reference in the legacy system.
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    /// What became of the row.
    async fn status(&self) -> ImportRowStatus {
        self.0.status.into()
    }
    /// Why the row failed or was skipped, or what was left out of an imported row.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// The row as it was in the file, for a failed row (to fix and import again).
    async fn raw_json(&self) -> Option<&str> {
        self.0.raw_json.as_deref()
    }
    /// The customer the row's booking belongs to.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.user_id else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_one(id)
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?
            .map(User::new))
    }
    /// The booking the row became.
    async fn booking(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Booking>> {
        let Some(id) = self.0.booking_id else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<DataLoader<BookingLoader>>()
            .load_one(id)
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?
            .map(Booking::new))
    }
}
