//! The ledger: `import_jobs` (one per run, resumed by a rerun of the same file) and
//! `import_rows` (one per row of the file, with its status, reason and content hash), and
//! the reads behind `importJobs`, `importJob.rows` and the CSV reports.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, Iterable, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::file::FileCheck;
use crate::entities::enums::{ImportJobStatus, ImportRowStatus};
use crate::entities::{import_job, import_row};
use crate::error::{AppError, AppResult};
use crate::services::keys;
use crate::services::pages::{Page, page_size, parse_after};

/// What a row of an earlier run (of the job being resumed) left behind.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    /// The line of the file it was on.
    pub line: i64,
    /// Its content hash.
    pub hash: String,
}

/// A job to run: new, or resumed with the rows it already accounted for.
pub(super) struct Started {
    pub job: import_job::Model,
    /// Ordinals of the rows already in the job's ledger.
    pub done: HashSet<i64>,
    /// The first row of each legacy id already in the job's ledger.
    pub seen: HashMap<String, Seen>,
}

/// How many rows ended in each status (and what was created along the way).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub failed: i64,
    pub customers_created: i64,
    pub venues_created: i64,
    pub sessions_created: i64,
}

impl Counts {
    /// Counts one row's status.
    pub fn add(&mut self, status: ImportRowStatus) {
        match status {
            ImportRowStatus::Created => self.created += 1,
            ImportRowStatus::Updated => self.updated += 1,
            ImportRowStatus::Unchanged => self.unchanged += 1,
            ImportRowStatus::Skipped => self.skipped += 1,
            ImportRowStatus::Failed => self.failed += 1,
        }
    }

    /// Rows counted, whatever their status.
    pub fn rows(&self) -> i64 {
        self.created + self.updated + self.unchanged + self.skipped + self.failed
    }
}

/// The job to run for this file: for a real run, the latest unfinished job of the same
/// source and file (a run that was killed or failed), resumed; otherwise a new one.
pub(super) async fn start(
    db: &DatabaseConnection,
    source: &str,
    file_name: &str,
    check: &FileCheck,
    dry_run: bool,
) -> AppResult<Started> {
    let now = Utc::now();
    let unfinished = if dry_run {
        None
    } else {
        import_job::Entity::find()
            .filter(import_job::Column::Source.eq(source))
            .filter(import_job::Column::FileSha256.eq(&check.sha256))
            .filter(import_job::Column::DryRun.eq(false))
            .filter(
                import_job::Column::Status
                    .is_in([ImportJobStatus::Running, ImportJobStatus::Failed]),
            )
            .order_by_desc(import_job::Column::Id)
            .one(db)
            .await?
    };
    if let Some(job) = unfinished {
        let mut am = job.into_active_model();
        am.status = Set(ImportJobStatus::Running);
        am.error = Set(None);
        am.file_name = Set(file_name.to_string());
        am.updated_at = Set(now);
        let job = am.update(db).await?;
        let rows: Vec<(i64, i64, Option<String>, String)> = import_row::Entity::find()
            .select_only()
            .column(import_row::Column::Ordinal)
            .column(import_row::Column::Line)
            .column(import_row::Column::LegacyId)
            .column(import_row::Column::ContentHash)
            .filter(import_row::Column::JobId.eq(job.id))
            .order_by_asc(import_row::Column::Ordinal)
            .into_tuple()
            .all(db)
            .await?;
        let mut done = HashSet::with_capacity(rows.len());
        let mut seen = HashMap::new();
        for (ordinal, line, legacy_id, hash) in rows {
            done.insert(ordinal);
            if let Some(id) = legacy_id {
                seen.entry(id).or_insert(Seen { line, hash });
            }
        }
        return Ok(Started { job, done, seen });
    }
    let job = import_job::Model {
        id: Uuid::now_v7(),
        source: source.to_string(),
        file_name: file_name.to_string(),
        file_sha256: check.sha256.clone(),
        dry_run,
        status: ImportJobStatus::Running,
        error: None,
        rows_in_file: check.rows as i64,
        created_count: 0,
        updated_count: 0,
        unchanged_count: 0,
        skipped_count: 0,
        failed_count: 0,
        customers_created: 0,
        venues_created: 0,
        sessions_created: 0,
        started_at: now,
        finished_at: None,
        updated_at: now,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await?;
    Ok(Started {
        job,
        done: HashSet::new(),
        seen: HashMap::new(),
    })
}

/// The content hash of the latest row of an earlier, real (not dry) run of `source` that
/// imported each of these legacy ids (created, updated or found unchanged).
pub(super) async fn prior_hashes(
    conn: &impl ConnectionTrait,
    source: &str,
    legacy_ids: &[String],
) -> AppResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    for ids in legacy_ids.chunks(500) {
        let rows: Vec<(Option<String>, String)> = import_row::Entity::find()
            .select_only()
            .column(import_row::Column::LegacyId)
            .column(import_row::Column::ContentHash)
            .join(JoinType::InnerJoin, import_row::Relation::Job.def())
            .filter(import_row::Column::Source.eq(source))
            .filter(keys::any_of(
                conn.get_database_backend(),
                import_row::Column::LegacyId,
                ids,
            ))
            .filter(import_row::Column::Status.is_in([
                ImportRowStatus::Created,
                ImportRowStatus::Updated,
                ImportRowStatus::Unchanged,
            ]))
            .filter(import_job::Column::DryRun.eq(false))
            .order_by_asc(import_row::Column::Id)
            .into_tuple()
            .all(conn)
            .await?;
        for (id, hash) in rows {
            if let Some(id) = id {
                out.insert(id, hash);
            }
        }
    }
    Ok(out)
}

/// Writes ledger rows, a few hundred per statement.
pub(super) async fn record(
    conn: &impl ConnectionTrait,
    rows: Vec<import_row::Model>,
) -> AppResult<()> {
    super::chunk::insert_all(conn, rows).await
}

/// Adds a chunk's counts to its job.
pub(super) async fn add_counts(
    conn: &impl ConnectionTrait,
    job_id: Uuid,
    c: &Counts,
) -> AppResult<()> {
    use import_job::Column as J;
    let plus = |col: J, n: i64| (col, Expr::col(col).add(n));
    let mut update = import_job::Entity::update_many();
    for (col, expr) in [
        plus(J::CreatedCount, c.created),
        plus(J::UpdatedCount, c.updated),
        plus(J::UnchangedCount, c.unchanged),
        plus(J::SkippedCount, c.skipped),
        plus(J::FailedCount, c.failed),
        plus(J::CustomersCreated, c.customers_created),
        plus(J::VenuesCreated, c.venues_created),
        plus(J::SessionsCreated, c.sessions_created),
    ] {
        update = update.col_expr(col, expr);
    }
    update
        .col_expr(J::UpdatedAt, Expr::value(Utc::now()))
        .filter(J::Id.eq(job_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Marks a job finished (every row accounted for) or failed (with why), and returns it.
pub(super) async fn close(
    db: &DatabaseConnection,
    job_id: Uuid,
    error: Option<String>,
) -> AppResult<import_job::Model> {
    let job = find_job(db, job_id).await?;
    let now = Utc::now();
    let mut am = job.into_active_model();
    match error {
        None => {
            am.status = Set(ImportJobStatus::Finished);
            am.finished_at = Set(Some(now));
        }
        Some(e) => {
            am.status = Set(ImportJobStatus::Failed);
            am.error = Set(Some(e));
        }
    }
    am.updated_at = Set(now);
    Ok(am.update(db).await?)
}

/// An import job by id.
#[tracing::instrument(level = "debug", skip_all, fields(job_id = %id))]
pub async fn find_job(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<import_job::Model> {
    import_job::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("import job"))
}

/// Import jobs, newest first, a page at a time (the cursor is the last job's id).
#[tracing::instrument(level = "debug", skip_all, fields(first = ?first))]
pub async fn jobs_page(
    conn: &impl ConnectionTrait,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<Page<import_job::Model>> {
    let limit = page_size(first)?;
    let after_id = parse_after(after)?;
    let mut q = import_job::Entity::find();
    if let Some(id) = after_id {
        q = q.filter(import_job::Column::Id.lt(id));
    }
    let rows = q
        .order_by_desc(import_job::Column::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    Ok(Page::from_rows(rows, limit, after_id.is_some(), |j| j.id))
}

/// Rows of a job in file order after the row at `after_ordinal`, with one of `statuses`
/// (any status when empty); at most `limit`.
pub async fn rows_after(
    conn: &impl ConnectionTrait,
    job_id: Uuid,
    statuses: &[ImportRowStatus],
    after_ordinal: Option<i64>,
    limit: u64,
) -> AppResult<Vec<import_row::Model>> {
    let mut q = import_row::Entity::find().filter(import_row::Column::JobId.eq(job_id));
    if !statuses.is_empty() {
        q = q.filter(import_row::Column::Status.is_in(statuses.iter().copied()));
    }
    if let Some(o) = after_ordinal {
        q = q.filter(import_row::Column::Ordinal.gt(o));
    }
    Ok(q.order_by_asc(import_row::Column::Ordinal)
        .limit(limit)
        .all(conn)
        .await?)
}

/// A job's rows in file order, a page at a time, with one of `statuses` (any when empty).
/// The cursor is the last row's id.
#[tracing::instrument(level = "debug", skip_all, fields(%job_id, first = ?first))]
pub async fn rows_page(
    conn: &impl ConnectionTrait,
    job_id: Uuid,
    statuses: &[ImportRowStatus],
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<Page<import_row::Model>> {
    let limit = page_size(first)?;
    let after_ordinal = match parse_after(after)? {
        None => None,
        Some(id) => Some(
            import_row::Entity::find_by_id(id)
                .filter(import_row::Column::JobId.eq(job_id))
                .select_only()
                .column(import_row::Column::Ordinal)
                .into_tuple::<i64>()
                .one(conn)
                .await?
                .ok_or_else(|| {
                    AppError::bad_input("after", "after is not a cursor from this list")
                })?,
        ),
    };
    let rows = rows_after(conn, job_id, statuses, after_ordinal, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, after_ordinal.is_some(), |r| {
        r.id
    }))
}

/// The columns of a report: one line per row of the file.
pub const REPORT_HEADER: [&str; 7] = [
    "line",
    "legacy_id",
    "reference",
    "status",
    "reason",
    "customer_id",
    "booking_id",
];

/// One report line for a ledger row, in [`REPORT_HEADER`]'s order.
pub fn report_record(row: &import_row::Model) -> [String; 7] {
    let id = |v: Option<Uuid>| v.map(|u| u.to_string()).unwrap_or_default();
    [
        row.line.to_string(),
        row.legacy_id.clone().unwrap_or_default(),
        row.reference.clone().unwrap_or_default(),
        row.status.label().to_string(),
        row.reason.clone().unwrap_or_default(),
        id(row.user_id),
        id(row.booking_id),
    ]
}

/// Writes a job's report as CSV (with a header), reading its rows a thousand at a time;
/// returns the rows written.
pub async fn write_report<W: std::io::Write>(
    conn: &impl ConnectionTrait,
    job_id: Uuid,
    statuses: &[ImportRowStatus],
    out: W,
) -> AppResult<u64> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(REPORT_HEADER)
        .map_err(AppError::internal)?;
    let mut after = None;
    let mut written = 0;
    loop {
        let rows = rows_after(conn, job_id, statuses, after, 1000).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some(last.ordinal);
        for row in &rows {
            csv.write_record(report_record(row))
                .map_err(AppError::internal)?;
            written += 1;
        }
    }
    csv.flush().map_err(AppError::internal)?;
    Ok(written)
}

/// The statuses named in a comma-separated list (`FAILED,SKIPPED`, any case).
pub fn parse_statuses(list: &str) -> AppResult<Vec<ImportRowStatus>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            ImportRowStatus::from_label(s).ok_or_else(|| {
                AppError::bad_input(
                    "status",
                    format!(
                        "unknown status {s:?}; use {}",
                        ImportRowStatus::iter()
                            .map(|s| s.label())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
        })
        .collect()
}
