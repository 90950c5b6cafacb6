//! The consent history of a page of users, in one statement.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::entities::consent_event;
use crate::services::consents;

/// Loads users' consent histories, newest first.
pub struct ConsentHistoryByUser(pub DatabaseConnection);

impl Loader<Uuid> for ConsentHistoryByUser {
    type Value = Vec<consent_event::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        consents::history(&self.0, keys).await.map_err(Arc::new)
    }
}
