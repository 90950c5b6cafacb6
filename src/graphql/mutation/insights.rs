//! Refreshing the insights (admin only).

use async_graphql::{Context, Object};
use chrono::{NaiveDate, Utc};

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, request_context};
use crate::graphql::types::insights::InsightsModel;
use crate::services::audit::Actor;
use crate::services::insights::refresh::{self, RefreshInsights};

/// Refreshing the insights.
#[derive(Default)]
pub struct InsightsMutation;

#[Object]
impl InsightsMutation {
    /// Refits every customer's segment and prediction from the facts as they stood at the
    /// end of `asOf` (default today, UTC) and stores them, replacing the last refresh, in
    /// one transaction (admin only). With `asOf` a year or more ago, the answer's
    /// `backtest` compares the predictions with what happened since. BAD_USER_INPUT for a
    /// date in the future or before 2000.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn refresh_insights(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Take the facts as they stood at the end of this day (UTC); default today."
        )]
        as_of: Option<NaiveDate>,
    ) -> async_graphql::Result<InsightsModel> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        let today = Utc::now().date_naive();
        let cmd = RefreshInsights {
            as_of: as_of.unwrap_or(today),
            today,
        };
        refresh::refresh(&state.db, &actor, cmd).await?;
        let (row, fit) = refresh::latest(&state.db)
            .await
            .map_err(crate::error::AppError::from)?
            .ok_or_else(|| {
                crate::error::AppError::internal(anyhow::anyhow!("refresh not stored"))
            })?;
        Ok(InsightsModel::new(row, fit))
    }
}
