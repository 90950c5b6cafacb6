//! Importing the old booking service's export (`rft-users import-legacy FILE`): each row
//! becomes a customer (found or created by email, as `createBooking` does), a past session,
//! a booking with its attendees, and its payment and refund; every row ends in exactly one
//! status in the `import_rows` ledger.
//!
//! - **Streaming.** The file (a JSON array, one booking a line) is read element by element
//!   on a thread of its own, never whole; a first pass hashes it, counts its rows and
//!   stops a file that is not JSON with the line and column of the problem.
//! - **Chunks.** Rows are applied a chunk at a time (1,000 by default), each chunk in one
//!   transaction together with its ledger rows, the job's counts and an audit row. A
//!   process killed at any moment loses at most the chunk in flight; the next run of the
//!   same file resumes the job, skipping the rows its ledger holds.
//! - **Statuses.** CREATED; UPDATED (imported before by this source, and the row has
//!   changed: the booking is updated, never doubled); UNCHANGED (same content hash as the
//!   last import); SKIPPED (a duplicate of an earlier row of the same run); FAILED (with
//!   the reason, and the row's JSON kept).
//! - **Dry run.** Each chunk runs in its transaction and is rolled back; only the job and
//!   its ledger rows are kept, so the report can be read.
//! - **Counters.** `customer_stats::recompute` sets the counters of every customer a chunk
//!   touched, inside the chunk's transaction; they are never incremented here.
//! - **Duplicates.** Every customer the import creates or changes goes through
//!   [`after_customer_written`], the duplicate matcher's hook.

mod chunk;
mod file;
mod ledger;
mod row;

use crate::auth::rate_limit::RateLimiter;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::ImportRowStatus;
use crate::entities::{import_job, user};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::{customers, validate};

pub use file::{FileCheck, check as check_file};
pub use ledger::{
    Counts, REPORT_HEADER, find_job, jobs_page, parse_statuses, report_record, rows_after,
    rows_page, write_report,
};

/// Rows per transaction, unless told otherwise.
pub const DEFAULT_CHUNK_SIZE: usize = 1000;
/// The source name, unless told otherwise.
pub const DEFAULT_SOURCE: &str = "legacy";

/// How to run an import.
#[derive(Debug, Clone)]
pub struct Options {
    /// The system the file comes from: earlier imports from the same source are
    /// recognised by legacy id.
    pub source: String,
    /// Do all the work and roll it back.
    pub dry_run: bool,
    /// Rows per transaction.
    pub chunk_size: usize,
    /// The service's keyed hash, to recognise the emails of customers erased on request
    /// (their rows are SKIPPED, reason `erased`).
    pub hasher: RateLimiter,
}

impl Options {
    /// The defaults (source `legacy`, the default chunk), with the service's keyed hash.
    pub fn new(hasher: RateLimiter) -> Self {
        Self {
            source: DEFAULT_SOURCE.into(),
            dry_run: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            hasher,
        }
    }
}

/// Why an import could not finish.
#[derive(Debug)]
pub enum ImportError {
    /// The file could not be read.
    Io(String),
    /// The file is not a JSON array.
    Json {
        line: u64,
        column: u64,
        message: String,
    },
    /// The options make no sense.
    BadOptions(String),
    /// The database failed (the job, if it started, is resumed by the next run).
    Database(AppError),
    /// The file changed under the import, or rows went missing: the counts do not add up.
    Unaccounted(String),
    /// The reader was told to stop.
    Stopped,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(m) | Self::BadOptions(m) | Self::Unaccounted(m) => f.write_str(m),
            Self::Json {
                line,
                column,
                message,
            } => write!(
                f,
                "the file is not valid JSON at line {line}, column {column}: {message}"
            ),
            Self::Database(e) => match e {
                AppError::Internal(cause) | AppError::Unavailable(cause) => {
                    write!(f, "database error: {cause:#}")
                }
                other => write!(f, "database error: {other}"),
            },
            Self::Stopped => f.write_str("the import stopped before the end of the file"),
        }
    }
}

impl std::error::Error for ImportError {}

impl From<AppError> for ImportError {
    fn from(e: AppError) -> Self {
        Self::Database(e)
    }
}

impl From<sea_orm::DbErr> for ImportError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Database(e.into())
    }
}

/// How far a run has got.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Rows accounted for (including those a resumed job had already done).
    pub done: u64,
    /// Rows in the file.
    pub total: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The job, finished, with its counts.
    pub job: import_job::Model,
    /// Rows an earlier, interrupted run of the job had already accounted for.
    pub resumed_rows: u64,
    /// Names of the venues this run created (inactive: they were not in the catalogue).
    pub venues_created: Vec<String>,
}

/// Imports `path` (already checked by [`check_file`]), calling `progress` as rows are
/// accounted for. The job's counts add up to the rows in the file, or this fails.
#[tracing::instrument(skip_all, fields(source = %options.source, dry_run = options.dry_run))]
pub async fn run(
    db: &DatabaseConnection,
    path: &Path,
    checked: &FileCheck,
    options: &Options,
    mut progress: impl FnMut(Progress),
) -> Result<Outcome, ImportError> {
    let source = options.source.trim().to_string();
    if source.is_empty() || source.chars().count() > 100 {
        return Err(ImportError::BadOptions(
            "--source must be 1 to 100 characters".into(),
        ));
    }
    if options.chunk_size == 0 {
        return Err(ImportError::BadOptions(
            "--chunk-size must be at least 1".into(),
        ));
    }
    let file_name = path.display().to_string();
    let started = ledger::start(db, &source, &file_name, checked, options.dry_run).await?;
    let job_id = started.job.id;
    let resumed_rows = started.done.len() as u64;
    tracing::info!(%job_id, resumed_rows, "import started");
    let outcome = import_rows(db, path, checked, options, &source, started, &mut progress).await;
    match outcome {
        Ok(venues_created) => {
            let job = ledger::close(db, job_id, None).await?;
            let done = job.rows_done();
            if done != job.rows_in_file {
                let message = format!(
                    "{done} rows accounted for, but the file has {}: did the file change during the import?",
                    job.rows_in_file
                );
                ledger::close(db, job_id, Some(message.clone())).await?;
                return Err(ImportError::Unaccounted(message));
            }
            if !options.dry_run {
                let txn = begin_write(db).await?;
                audit::record(
                    &txn,
                    &Actor::system(),
                    "import.finish",
                    "import_job",
                    Some(job_id),
                    Some(serde_json::json!({
                        "source": job.source, "file": job.file_name, "rows": job.rows_in_file,
                        "created": job.created_count, "updated": job.updated_count,
                        "unchanged": job.unchanged_count, "skipped": job.skipped_count,
                        "failed": job.failed_count,
                    })),
                )
                .await?;
                txn.commit().await?;
            }
            Ok(Outcome {
                job,
                resumed_rows,
                venues_created,
            })
        }
        Err(e) => {
            // Best effort: the database may be what failed.
            if let Err(close) = ledger::close(db, job_id, Some(e.to_string())).await {
                tracing::warn!(error = %close, "could not mark the import job failed");
            }
            Err(e)
        }
    }
}

/// Reads the file on a thread of its own and applies its rows a chunk at a time; returns
/// the names of the venues created.
async fn import_rows(
    db: &DatabaseConnection,
    path: &Path,
    checked: &FileCheck,
    options: &Options,
    source: &str,
    started: ledger::Started,
    progress: &mut impl FnMut(Progress),
) -> Result<Vec<String>, ImportError> {
    let total = checked.rows;
    let mut done = started.done.len() as u64;
    progress(Progress { done, total });
    let catalogue = chunk::Catalogue::load(db).await?;
    let erased = chunk::Erased::load(db, options.hasher.clone()).await?;
    let mut state = chunk::RunState::new(
        started.job.id,
        source.to_string(),
        started.seen,
        catalogue,
        erased,
    );
    let skip = started.done;

    // Two chunks in flight at most: the reader stays just ahead of the writer.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<row::Prepared>(options.chunk_size * 2);
    let owned_path = path.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        file::stream(&owned_path, |raw| {
            if skip.contains(&(raw.ordinal as i64)) {
                return true;
            }
            tx.blocking_send(row::prepare(raw)).is_ok()
        })
    });

    let mut rows = Vec::with_capacity(options.chunk_size);
    let mut applied: Result<(), ImportError> = Ok(());
    while let Some(prepared) = rx.recv().await {
        rows.push(prepared);
        if rows.len() >= options.chunk_size {
            let n = rows.len() as u64;
            if let Err(e) =
                apply_chunk(db, &mut state, std::mem::take(&mut rows), options.dry_run).await
            {
                applied = Err(e);
                break;
            }
            done += n;
            progress(Progress { done, total });
        }
    }
    if applied.is_ok() && !rows.is_empty() {
        let n = rows.len() as u64;
        applied = apply_chunk(db, &mut state, rows, options.dry_run).await;
        if applied.is_ok() {
            done += n;
            progress(Progress { done, total });
        }
    }
    // Dropping the receiver stops a reader still running after a failure.
    drop(rx);
    let read = reader
        .await
        .map_err(|e| ImportError::Io(format!("the file reader stopped: {e}")))?;
    applied?;
    let rows_read = read?;
    if rows_read != total {
        return Err(ImportError::Unaccounted(format!(
            "the file had {total} rows when checked and {rows_read} when imported: it changed during the import"
        )));
    }
    Ok(state.venue_names)
}

/// One chunk in one transaction, with its ledger rows, its job's counts and its audit row.
/// A dry run rolls the chunk back and keeps only the ledger rows and counts.
async fn apply_chunk(
    db: &DatabaseConnection,
    state: &mut chunk::RunState,
    rows: Vec<row::Prepared>,
    dry_run: bool,
) -> Result<(), ImportError> {
    let txn = begin_write(db).await?;
    let mut result = chunk::apply(&txn, state, &rows).await?;
    let job_id = state.job_id;
    if dry_run {
        txn.rollback().await?;
        // The report of a dry run points only at customers and bookings that exist.
        let created: HashSet<Uuid> = result.customers_created.iter().copied().collect();
        for row in &mut result.ledger {
            if matches!(row.status, ImportRowStatus::Created) {
                row.booking_id = None;
            }
            if row.user_id.is_some_and(|id| created.contains(&id)) {
                row.user_id = None;
            }
        }
        let txn = begin_write(db).await?;
        ledger::record(&txn, result.ledger).await?;
        ledger::add_counts(&txn, job_id, &result.counts).await?;
        txn.commit().await?;
        return Ok(());
    }
    // A chunk that wrote nothing (all rows unchanged, skipped or failed) needs no audit row:
    // the job's own record and its closing audit row say what the run did.
    let c = &result.counts;
    if c.created + c.updated + c.customers_created + c.venues_created + c.sessions_created > 0
        || !result.customers_created.is_empty()
    {
        audit::record(
            &txn,
            &Actor::system(),
            "import.chunk",
            "import_job",
            Some(job_id),
            Some(chunk::audit_summary(&rows, &result)),
        )
        .await?;
    }
    ledger::record(&txn, result.ledger).await?;
    ledger::add_counts(&txn, job_id, &result.counts).await?;
    txn.commit().await?;
    state.catalogue.extend(result.new_catalogue);
    Ok(())
}

/// The customer who holds `email` (in any case, with stray spaces), following merged
/// customers (`users.merged_into_id`) to the survivor; locked until commit on PostgreSQL.
pub async fn find_customer_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> AppResult<Option<user::Model>> {
    let email = validate::normalise_email(email);
    Ok(find_customers_by_email(conn, vec![email.clone()])
        .await?
        .remove(&email))
}

/// [`find_customer_by_email`] for many (normalised) emails at once: the survivor for each
/// email that has a user.
async fn find_customers_by_email(
    conn: &impl ConnectionTrait,
    emails: Vec<String>,
) -> AppResult<HashMap<String, user::Model>> {
    let mut out = HashMap::with_capacity(emails.len());
    for found in customers::lock_by_email(conn, emails).await? {
        let email = found.email.clone();
        out.insert(
            email,
            crate::services::users::follow_merges(conn, found, true).await?,
        );
    }
    Ok(out)
}

/// The duplicate matcher hook: runs, in the import's transaction, for every customer the
/// import creates, so their matching keys and candidate pairs are written and probable
/// duplicates reach the admins' worklist (customers whose profile it fills are rescored by
/// `customers::save`). The import itself never merges.
pub async fn after_customer_created(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    let created = crate::services::users::find(conn, user_id).await?;
    crate::services::duplicates::refresh(conn, None, &created).await
}
