//! The last fit of the insights' models (admin only).

use async_graphql::{Context, Object};

use crate::app::AppState;
use crate::graphql::guard::RoleGuard;
use crate::graphql::types::insights::InsightsModel;
use crate::services::insights::refresh;

/// The insights' models.
#[derive(Default)]
pub struct InsightsQuery;

#[Object]
impl InsightsQuery {
    /// The last refresh of the insights (`refreshInsights`): its date, fitted models, RFM
    /// boundaries and backtest; null before the first (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn insights_model(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<InsightsModel>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(refresh::latest(db)
            .await
            .map_err(crate::error::AppError::from)?
            .map(|(row, fit)| InsightsModel::new(row, fit)))
    }
}
