//! Users by id, and the profiles merged into each user.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::{positional, user};

/// Loads users by id in one query per batch.
pub struct UserLoader(pub DatabaseConnection);

impl Loader<Uuid> for UserLoader {
    type Value = user::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let select = user::Entity::find().filter(super::key_in(&self.0, user::Column::Id, keys));
        let rows = positional::all(select, &self.0).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// The tombstones merged directly into each user (`merged_into_id`), oldest first, in one
/// query per batch: `User.mergedFrom` for a whole page without a query per user.
pub struct MergedFromLoader(pub DatabaseConnection);

impl Loader<Uuid> for MergedFromLoader {
    type Value = Vec<user::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let select = user::Entity::find()
            .filter(super::key_in(&self.0, user::Column::MergedIntoId, keys))
            .order_by_asc(user::Column::Id);
        let rows = positional::all(select, &self.0).await.map_err(Arc::new)?;
        let mut out: HashMap<Uuid, Vec<user::Model>> = HashMap::new();
        for row in rows {
            if let Some(into) = row.merged_into_id {
                out.entry(into).or_default().push(row);
            }
        }
        Ok(out)
    }
}
