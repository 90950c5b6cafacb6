//! The active login sessions of each user, for a page of users in two statements.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::services::login_sessions::{self, LoginSession};

/// Loads users' active login sessions, most recently used first.
pub struct LoginSessionsByUser(pub DatabaseConnection);

impl Loader<Uuid> for LoginSessionsByUser {
    type Value = Vec<LoginSession>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut found = login_sessions::active_for_users(&self.0, keys)
            .await
            .map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|id| (*id, found.remove(id).unwrap_or_default()))
            .collect())
    }
}
