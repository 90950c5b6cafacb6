//! Entity for the `course_sessions` table.

use sea_orm::entity::prelude::*;

use super::enums::SessionStatus;

/// A scheduled run of a course at a venue, optionally with an instructor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "course_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub course_id: Uuid,
    pub venue_id: Uuid,
    #[sea_orm(nullable)]
    pub instructor_id: Option<Uuid>,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub capacity: i32,
    pub booked_places: i32,
    pub status: SessionStatus,
    #[sea_orm(nullable)]
    pub cancelled_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub cancellation_reason: Option<String>,
    #[sea_orm(nullable)]
    pub created_by_id: Option<Uuid>,
    #[sea_orm(nullable)]
    pub updated_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `course_id` → `courses.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::course::Entity",
        from = "Column::CourseId",
        to = "super::course::Column::Id",
        on_delete = "Restrict"
    )]
    Course,
    /// `venue_id` → `venues.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::venue::Entity",
        from = "Column::VenueId",
        to = "super::venue::Column::Id",
        on_delete = "Restrict"
    )]
    Venue,
    /// `instructor_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::InstructorId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Instructor,
    /// `created_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    CreatedBy,
    /// `updated_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UpdatedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    UpdatedBy,
    /// Rows of `bookings` whose `session_id` is this row's id.
    #[sea_orm(has_many = "super::booking::Entity")]
    Bookings,
    /// Rows of `session_notes` whose `session_id` is this row's id.
    #[sea_orm(has_many = "super::session_note::Entity")]
    SessionNotes,
    /// Rows of `attendance_records` whose `session_id` is this row's id.
    #[sea_orm(has_many = "super::attendance_record::Entity")]
    AttendanceRecords,
    /// Rows of `certificates` whose `session_id` is this row's id.
    #[sea_orm(has_many = "super::certificate::Entity")]
    Certificates,
}

impl Related<super::course::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Course.def()
    }
}

impl Related<super::venue::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Venue.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Instructor.def()
    }
}

impl Related<super::booking::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Bookings.def()
    }
}

impl Related<super::session_note::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SessionNotes.def()
    }
}

impl Related<super::attendance_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AttendanceRecords.def()
    }
}

impl Related<super::certificate::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Certificates.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The columns of a session that its id, course and venue read: all a page of bookings
/// reads of a session whose selection asks for nothing else (see
/// [`Partial`](super::partial::Partial)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct SessionKeys {
    pub id: Uuid,
    pub course_id: Uuid,
    pub venue_id: Uuid,
}

impl super::partial::KeysOf<Model> for SessionKeys {
    fn of(m: &Model) -> Self {
        Self {
            id: m.id,
            course_id: m.course_id,
            venue_id: m.venue_id,
        }
    }
    fn id(&self) -> Uuid {
        self.id
    }
}
