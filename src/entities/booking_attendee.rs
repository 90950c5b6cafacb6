//! Entity for the `booking_attendees` table.

use sea_orm::entity::prelude::*;

use super::encrypted::{AttendeeSpecialRequirements, Encrypted, bind_active};

/// A person attending a course under a booking (possibly linked to a user).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booking_attendees")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub booking_id: Uuid,
    #[sea_orm(nullable)]
    pub user_id: Option<Uuid>,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub first_name: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub last_name: String,
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable)]
    pub email: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(20))", nullable)]
    pub phone: Option<String>,
    /// Encrypted at rest.
    #[sea_orm(column_type = "Text", nullable)]
    pub special_requirements: Option<Encrypted<String, AttendeeSpecialRequirements>>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `booking_id` → `bookings.id` (ON DELETE CASCADE).
    #[sea_orm(
        belongs_to = "super::booking::Entity",
        from = "Column::BookingId",
        to = "super::booking::Column::Id",
        on_delete = "Cascade"
    )]
    Booking,
    /// `user_id` → `users.id` (ON DELETE SET NULL).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    User,
    /// Rows of `certificates` whose `attendee_id` is this row's id.
    #[sea_orm(has_one = "super::certificate::Entity")]
    Certificate,
    /// Rows of `attendance_records` whose `attendee_id` is this row's id.
    #[sea_orm(has_one = "super::attendance_record::Entity")]
    AttendanceRecord,
}

impl Related<super::booking::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Booking.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::certificate::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Certificate.def()
    }
}

impl Related<super::attendance_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AttendanceRecord.def()
    }
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    /// Binds the encrypted field to this row (see [`Encrypted`]).
    async fn before_save<C>(mut self, _db: &C, _insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        bind_active!(self; special_requirements);
        Ok(self)
    }
}

impl Model {
    /// Binds the encrypted field to this row, for a write that does not go through an
    /// active model's `save` (a multi-row insert).
    pub fn bind_encrypted(&mut self) {
        let id = self.id;
        if let Some(v) = &mut self.special_requirements {
            v.bind(id);
        }
    }
}
