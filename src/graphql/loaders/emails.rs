//! The newest emails of each user, for a page of users in one statement.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::entities::email_log;
use crate::services::email::outbox;

/// Whose emails, and how many of the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmailsKey {
    pub user_id: Uuid,
    pub limit: u64,
}

/// Loads users' newest emails: one statement for every user asking for the same number.
pub struct EmailsByUser(pub DatabaseConnection);

impl Loader<EmailsKey> for EmailsByUser {
    type Value = Vec<email_log::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[EmailsKey],
    ) -> Result<HashMap<EmailsKey, Self::Value>, Self::Error> {
        let mut by_limit: HashMap<u64, Vec<Uuid>> = HashMap::new();
        for k in keys {
            by_limit.entry(k.limit).or_default().push(k.user_id);
        }
        let mut out = HashMap::new();
        for (limit, users) in by_limit {
            let mut rows = outbox::newest_per_user(&self.0, &users, limit)
                .await
                .map_err(Arc::new)?;
            for user_id in users {
                let emails = rows.remove(&user_id).unwrap_or_default();
                out.insert(EmailsKey { user_id, limit }, emails);
            }
        }
        Ok(out)
    }
}
