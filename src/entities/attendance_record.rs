//! Entity for the `attendance_records` table.

use sea_orm::entity::prelude::*;

use super::encrypted::{AttendanceTrainerFeedback, Encrypted, bind_active};
use super::enums::AttendanceStatus;

/// Whether (and how) an attendee attended a course session, with assessment
/// outcome.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attendance_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub booking_id: Uuid,
    /// The attendee this record is for; unique (one record per attendee).
    #[sea_orm(unique)]
    pub attendee_id: Uuid,
    #[sea_orm(nullable)]
    pub user_id: Option<Uuid>,
    #[sea_orm(nullable)]
    pub marked_by_id: Option<Uuid>,
    pub status: AttendanceStatus,
    #[sea_orm(nullable)]
    pub check_in_at: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub check_out_at: Option<DateTimeUtc>,
    #[sea_orm(nullable)]
    pub passed_assessment: Option<bool>,
    pub certificate_eligible: bool,
    #[sea_orm(nullable)]
    pub participation_score: Option<i32>,
    /// Encrypted at rest.
    #[sea_orm(column_type = "Text", nullable)]
    pub trainer_feedback: Option<Encrypted<String, AttendanceTrainerFeedback>>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `session_id` → `course_sessions.id` (ON DELETE CASCADE).
    #[sea_orm(
        belongs_to = "super::course_session::Entity",
        from = "Column::SessionId",
        to = "super::course_session::Column::Id",
        on_delete = "Cascade"
    )]
    Session,
    /// `booking_id` → `bookings.id` (ON DELETE CASCADE).
    #[sea_orm(
        belongs_to = "super::booking::Entity",
        from = "Column::BookingId",
        to = "super::booking::Column::Id",
        on_delete = "Cascade"
    )]
    Booking,
    /// `attendee_id` → `booking_attendees.id` (ON DELETE CASCADE).
    #[sea_orm(
        belongs_to = "super::booking_attendee::Entity",
        from = "Column::AttendeeId",
        to = "super::booking_attendee::Column::Id",
        on_delete = "Cascade"
    )]
    Attendee,
    /// `user_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    User,
    /// `marked_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::MarkedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    MarkedBy,
}

impl Related<super::course_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::booking::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Booking.def()
    }
}

impl Related<super::booking_attendee::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Attendee.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// Binds the encrypted field to this row (see [`Encrypted`]).
    async fn before_save<C>(mut self, _db: &C, _insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        bind_active!(self; trainer_feedback);
        Ok(self)
    }
}

impl Model {
    /// Binds the encrypted field to this row, for a write that does not go through an
    /// active model's `save` (a multi-row insert).
    pub fn bind_encrypted(&mut self) {
        let id = self.id;
        if let Some(v) = &mut self.trainer_feedback {
            v.bind(id);
        }
    }
}
