//! Data-subject access: exports and the erasure preview.

use async_graphql::{Context, Json, Object};
use chrono::Utc;
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, require_customer};
use crate::graphql::types::privacy::ErasurePlan;
use crate::services::privacy;

/// Exports and the erasure preview.
#[derive(Default)]
pub struct PrivacyQuery;

#[Object]
impl PrivacyQuery {
    /// Everything held about a customer, as one machine-readable JSON document (UK GDPR
    /// Art. 15 and 20; admin only): for every table holding personal data, the rows of the
    /// customer and of every profile merged into them, internal notes included, secrets
    /// left out. Also `GET /users/{id}/export.json`.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn export_user_data(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer's id (a merged-away id leads to the survivor).")]
        user_id: Uuid,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(Json(privacy::export(db, user_id).await?))
    }

    /// Everything held about the signed-in customer (customer portal), as `exportUserData`
    /// gives it to an admin.
    async fn export_my_data(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        let customer = require_customer(ctx)?;
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(Json(privacy::export(db, customer.user_id).await?))
    }

    /// What `eraseUser` would do to a customer today: what is erased, anonymised, deleted,
    /// and retained (with the reason and the day retention ends). Writes nothing (admin
    /// only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn erasure_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The customer's id (a merged-away id leads to the survivor).")]
        user_id: Uuid,
    ) -> async_graphql::Result<ErasurePlan> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let plan = privacy::plan(db, user_id, Utc::now().date_naive()).await?;
        Ok(ErasurePlan::preview(plan))
    }
}
