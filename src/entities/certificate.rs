//! Entity for the `certificates` table.

use sea_orm::entity::prelude::*;

use super::enums::CertificateStatus;

/// A first-aid certificate issued for a booking (one per attendee).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub booking_id: Uuid,
    /// The attendee the certificate was issued to; unique (one certificate per
    /// attendee).
    #[sea_orm(nullable, unique)]
    pub attendee_id: Option<Uuid>,
    pub user_id: Uuid,
    pub course_id: Uuid,
    #[sea_orm(nullable)]
    pub session_id: Option<Uuid>,
    #[sea_orm(column_type = "String(StringLen::N(30))", unique)]
    pub certificate_number: String,
    #[sea_orm(column_type = "String(StringLen::N(210))")]
    pub holder_name: String,
    pub issued_on: Date,
    pub expires_on: Date,
    pub status: CertificateStatus,
    #[sea_orm(nullable)]
    pub revoked_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub revocation_reason: Option<String>,
    #[sea_orm(nullable)]
    pub issued_by_id: Option<Uuid>,
    #[sea_orm(column_type = "String(StringLen::N(500))", nullable)]
    pub pdf_url: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `booking_id` → `bookings.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::booking::Entity",
        from = "Column::BookingId",
        to = "super::booking::Column::Id",
        on_delete = "Restrict"
    )]
    Booking,
    /// `attendee_id` → `booking_attendees.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::booking_attendee::Entity",
        from = "Column::AttendeeId",
        to = "super::booking_attendee::Column::Id",
        on_delete = "SetNull"
    )]
    Attendee,
    /// `user_id` → `users.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Restrict"
    )]
    User,
    /// `course_id` → `courses.id` (ON DELETE RESTRICT).
    #[sea_orm(
        belongs_to = "super::course::Entity",
        from = "Column::CourseId",
        to = "super::course::Column::Id",
        on_delete = "Restrict"
    )]
    Course,
    /// `session_id` → `course_sessions.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::course_session::Entity",
        from = "Column::SessionId",
        to = "super::course_session::Column::Id",
        on_delete = "SetNull"
    )]
    Session,
    /// `issued_by_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::IssuedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    IssuedBy,
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

impl Related<super::course::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Course.def()
    }
}

impl Related<super::course_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The columns of a certificate that its id, expiry and status read: all a page of users
/// reads of certificates whose selection asks for nothing else (see
/// [`Partial`](super::partial::Partial)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct CertificateExpiry {
    pub id: Uuid,
    pub user_id: Uuid,
    pub expires_on: Date,
    pub status: CertificateStatus,
}

impl super::partial::KeysOf<Model> for CertificateExpiry {
    fn of(m: &Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            expires_on: m.expires_on,
            status: m.status,
        }
    }
    fn id(&self) -> Uuid {
        self.id
    }
}
