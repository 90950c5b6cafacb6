//! Entity for the `user_match_keys` table: each user's normalised matching keys, kept by
//! `services::duplicates` in the same transaction as the profile they come from.

use sea_orm::entity::prelude::*;

/// One user's matching keys (see `services::matching::MatchKeys`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_match_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(column_type = "Text", nullable)]
    pub mailbox_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub phone_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub mobile_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub first_name_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_name_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub first_name_sound: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_name_sound: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub name_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub company_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub postcode_key: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub postcode_outward: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
