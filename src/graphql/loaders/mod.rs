//! DataLoaders: one per relation, batching lookups with `IN (...)`. They are created per
//! request (see [`register`]), so cached rows never cross between callers.

mod user;

pub use user::UserLoader;

use async_graphql::{Request, dataloader::DataLoader};
use sea_orm::DatabaseConnection;

/// Attaches a fresh set of loaders to a request.
pub fn register(request: &mut Request, db: &DatabaseConnection) {
    request
        .data
        .insert(DataLoader::new(UserLoader(db.clone()), tokio::spawn));
}
