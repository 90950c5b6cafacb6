//! The mutation root, merged from one object per domain.

mod auth;
mod bookings;
mod catalogue;
mod duplicates;
mod emails;
mod insights;
mod login_sessions;
mod merge;
mod portal;
mod privacy;
mod users;

pub use auth::AuthMutation;
pub use bookings::BookingMutation;
pub use catalogue::CatalogueMutation;
pub use duplicates::DuplicateMutation;
pub use emails::EmailMutation;
pub use insights::InsightsMutation;
pub use login_sessions::LoginSessionMutation;
pub use merge::MergeMutation;
pub use portal::PortalMutation;
pub use privacy::PrivacyMutation;
pub use users::UserMutation;

/// Every mutation.
#[derive(async_graphql::MergedObject, Default)]
pub struct MutationRoot(
    AuthMutation,
    UserMutation,
    DuplicateMutation,
    CatalogueMutation,
    BookingMutation,
    MergeMutation,
    InsightsMutation,
    PortalMutation,
    PrivacyMutation,
    EmailMutation,
    LoginSessionMutation,
);
