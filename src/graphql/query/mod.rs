//! The query root, merged from one object per domain.

mod catalogue;
mod duplicates;
mod imports;
mod insights;
mod merge;
mod users;

pub use catalogue::CatalogueQuery;
pub use duplicates::DuplicateQuery;
pub use imports::ImportQuery;
pub use insights::InsightsQuery;
pub use merge::MergeQuery;
pub use users::UserQuery;

/// Every query.
#[derive(async_graphql::MergedObject, Default)]
pub struct QueryRoot(
    UserQuery,
    DuplicateQuery,
    CatalogueQuery,
    MergeQuery,
    ImportQuery,
    InsightsQuery,
);
