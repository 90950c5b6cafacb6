//! The query root, merged from one object per domain.

mod catalogue;
mod certificates;
mod duplicates;
mod emails;
mod imports;
mod insights;
mod insights_reports;
mod login_sessions;
mod merge;
mod portal;
mod privacy;
mod users;

pub use catalogue::CatalogueQuery;
pub use certificates::CertificateQuery;
pub use duplicates::DuplicateQuery;
pub use emails::EmailQuery;
pub use imports::ImportQuery;
pub use insights::InsightsQuery;
pub use insights_reports::InsightsReportsQuery;
pub use login_sessions::LoginSessionQuery;
pub use merge::MergeQuery;
pub use portal::PortalQuery;
pub use privacy::PrivacyQuery;
pub use users::{UserConnection, UserConnectionFields, UserQuery};

/// Every query.
#[derive(async_graphql::MergedObject, Default)]
pub struct QueryRoot(
    UserQuery,
    DuplicateQuery,
    CatalogueQuery,
    CertificateQuery,
    MergeQuery,
    ImportQuery,
    InsightsQuery,
    InsightsReportsQuery,
    PortalQuery,
    PrivacyQuery,
    EmailQuery,
    LoginSessionQuery,
);
