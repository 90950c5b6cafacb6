//! The mutation root, merged from one object per domain.

mod auth;
mod users;

pub use auth::AuthMutation;
pub use users::UserMutation;

/// Every mutation.
#[derive(async_graphql::MergedObject, Default)]
pub struct MutationRoot(AuthMutation, UserMutation);
