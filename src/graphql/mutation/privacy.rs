//! Erasure on request (admin only).

use async_graphql::{Context, Object};
use chrono::Utc;
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, request_context};
use crate::graphql::types::privacy::ErasurePlan;
use crate::services::audit::Actor;
use crate::services::privacy;

/// Erasure.
#[derive(Default)]
pub struct PrivacyMutation;

#[Object]
impl PrivacyMutation {
    /// Erases a customer on request (UK GDPR Art. 17), with every profile merged into
    /// them, in one transaction, as `erasurePreview` shows: personal fields are erased or
    /// anonymised (the profile becomes "Erased customer", `erased-<id>@invalid`), notes,
    /// sessions and outbox bodies go, financial records keep only what the law requires
    /// for 6 years, and certificates stay verifiable until they expire. The audit row
    /// records who, when and why. Admin only; BAD_USER_INPUT without a reason or for a
    /// staff member, CONFLICT when already erased.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn erase_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer's id (a merged-away id leads to the survivor).")]
        user_id: Uuid,
        #[graphql(desc = "Why (the request's date and channel, say), kept in the audit row.")]
        reason: String,
    ) -> async_graphql::Result<ErasurePlan> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        let erased = privacy::erase(
            &state.db,
            &state.limiter,
            &actor,
            user_id,
            &reason,
            Utc::now().date_naive(),
        )
        .await?;
        Ok(ErasurePlan::done(erased))
    }
}
