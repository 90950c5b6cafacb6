//! The query root, merged from one object per domain.

mod users;

pub use users::UserQuery;

/// Every query.
#[derive(async_graphql::MergedObject, Default)]
pub struct QueryRoot(UserQuery);
