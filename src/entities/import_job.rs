//! Entity for the `import_jobs` table.

use sea_orm::entity::prelude::*;

use super::enums::ImportJobStatus;

/// One run of `rft-users import-legacy`: the file, its source, how far it got and what
/// became of its rows (counted per status).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The system the file came from (`--source`, default `legacy`).
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub source: String,
    /// The file's name as given on the command line.
    #[sea_orm(column_type = "Text")]
    pub file_name: String,
    /// SHA-256 of the file's bytes (hex): a rerun of the same file resumes this job.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub file_sha256: String,
    /// A dry run wrote nothing but this job and its rows.
    pub dry_run: bool,
    pub status: ImportJobStatus,
    /// Why the job stopped, when it failed.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// Rows (array elements) in the file.
    pub rows_in_file: i64,
    pub created_count: i64,
    pub updated_count: i64,
    pub unchanged_count: i64,
    pub skipped_count: i64,
    pub failed_count: i64,
    /// Customers the job created.
    pub customers_created: i64,
    /// Venues the job created (inactive: not in the catalogue before).
    pub venues_created: i64,
    /// Past sessions the job created.
    pub sessions_created: i64,
    pub started_at: DateTimeUtc,
    #[sea_orm(nullable)]
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// Rows accounted for so far, whatever their status.
    pub fn rows_done(&self) -> i64 {
        self.created_count
            + self.updated_count
            + self.unchanged_count
            + self.skipped_count
            + self.failed_count
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Rows of `import_rows` whose `job_id` is this row's id.
    #[sea_orm(has_many = "super::import_row::Entity")]
    Rows,
}

impl Related<super::import_row::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Rows.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
