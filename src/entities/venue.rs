//! Entity for the `venues` table.

use sea_orm::entity::prelude::*;

/// A training venue where course sessions are held.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "venues")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(255))", unique)]
    pub name: String,
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable)]
    pub address_line_1: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(255))", nullable)]
    pub address_line_2: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(100))", nullable)]
    pub city: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(10))", nullable)]
    pub postcode: Option<String>,
    #[sea_orm(nullable)]
    pub capacity: Option<i32>,
    #[sea_orm(column_type = "Json", nullable)]
    pub facilities: Option<Json>,
    #[sea_orm(column_type = "Text", nullable)]
    pub parking_info: Option<String>,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Rows of `course_sessions` whose `venue_id` is this row's id.
    #[sea_orm(has_many = "super::course_session::Entity")]
    CourseSessions,
}

impl Related<super::course_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CourseSessions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
