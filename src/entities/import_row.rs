//! Entity for the `import_rows` table.

use sea_orm::entity::prelude::*;

use super::enums::ImportRowStatus;

/// The ledger: what one import job did with one row of its file.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_rows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub job_id: Uuid,
    /// The job's source, so earlier imports of a legacy id are found without the job.
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub source: String,
    /// The row's place in the file's array, from 1; unique within the job.
    pub ordinal: i64,
    /// The line of the file the row starts on, from 1.
    pub line: i64,
    /// The row's `id` in the legacy system, when it has one.
    #[sea_orm(column_type = "Text", nullable)]
    pub legacy_id: Option<String>,
    /// The row's `bookingReference`, when it has one.
    #[sea_orm(column_type = "Text", nullable)]
    pub reference: Option<String>,
    pub status: ImportRowStatus,
    /// Why the row failed or was skipped, or what was left out of it.
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    /// SHA-256 (hex) of the row's content, whitespace and key order aside.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub content_hash: String,
    /// The row as it was in the file, for failed rows (to fix and import again).
    #[sea_orm(column_type = "Text", nullable)]
    pub raw_json: Option<String>,
    /// The customer the row's booking belongs to.
    #[sea_orm(nullable)]
    pub user_id: Option<Uuid>,
    /// The booking the row became.
    #[sea_orm(nullable)]
    pub booking_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `job_id` → `import_jobs.id` (ON DELETE CASCADE).
    #[sea_orm(
        belongs_to = "super::import_job::Entity",
        from = "Column::JobId",
        to = "super::import_job::Column::Id",
        on_delete = "Cascade"
    )]
    Job,
    /// `user_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    User,
    /// `booking_id` → `bookings.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::booking::Entity",
        from = "Column::BookingId",
        to = "super::booking::Column::Id",
        on_delete = "SetNull"
    )]
    Booking,
}

impl Related<super::import_job::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Job.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
