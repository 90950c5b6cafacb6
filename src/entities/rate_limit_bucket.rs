//! Entity for the `rate_limit_buckets` table (written by `auth::rate_limit` alone).

use sea_orm::entity::prelude::*;

/// One throttled key and its GCRA theoretical arrival time.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_buckets")]
pub struct Model {
    /// The kind, a colon, and the hex HMAC-SHA256 of `kind:value` (never the value).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub key: String,
    /// When the bucket is empty again; requests are allowed while it is at most one
    /// period ahead of now.
    pub tat: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
