//! The query root, merged from one object per domain.

mod catalogue;
mod imports;
mod users;

pub use catalogue::CatalogueQuery;
pub use imports::ImportQuery;
pub use users::UserQuery;

/// Every query.
#[derive(async_graphql::MergedObject, Default)]
pub struct QueryRoot(UserQuery, CatalogueQuery, ImportQuery);
