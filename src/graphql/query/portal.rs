//! What a customer-portal session reads.

use async_graphql::{Context, Object};

use crate::app::AppState;
use crate::graphql::guard::{PortalGuard, require_customer};
use crate::graphql::types::portal::MyProfile;
use crate::services::users;

/// The customer portal's queries.
#[derive(Default)]
pub struct PortalQuery;

#[Object]
impl PortalQuery {
    /// The signed-in customer's own profile, bookings, certificates and payments (a portal
    /// session's token only; staff use `me`).
    #[graphql(guard = "PortalGuard")]
    async fn my_profile(&self, ctx: &Context<'_>) -> async_graphql::Result<MyProfile> {
        let customer = require_customer(ctx)?;
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(MyProfile::new(users::find(db, customer.user_id).await?))
    }
}
