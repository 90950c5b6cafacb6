//! Entity for the `courses` table.

use sea_orm::entity::prelude::*;

use super::enums::CourseType;

/// A first-aid course in the catalogue (EFAW, FAW, paediatric).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "courses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(255))", unique)]
    pub name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub course_type: CourseType,
    pub duration_hours: i32,
    pub price_pence: i64,
    pub max_capacity: i32,
    pub certification_validity_years: i32,
    pub is_active: bool,
    #[sea_orm(nullable)]
    pub created_by_id: Option<Uuid>,
    #[sea_orm(nullable)]
    pub updated_by_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
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
    /// Rows of `course_sessions` whose `course_id` is this row's id.
    #[sea_orm(has_many = "super::course_session::Entity")]
    CourseSessions,
    /// Rows of `certificates` whose `course_id` is this row's id.
    #[sea_orm(has_many = "super::certificate::Entity")]
    Certificates,
}

impl Related<super::course_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CourseSessions.def()
    }
}

impl Related<super::certificate::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Certificates.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
