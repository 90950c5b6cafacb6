//! The insights of a page of customers: their facts, stored scores and the latest fit, in a
//! fixed number of statements for any number of customers.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::entities::{customer_insight, insight_model};
use crate::services::insights::facts::{self, CustomerFacts};
use crate::services::insights::refresh::{self, ModelFit};

/// The latest refresh and its fit.
pub struct LatestFit {
    /// Its row.
    pub row: insight_model::Model,
    /// Its fitted models.
    pub fit: ModelFit,
}

/// One customer's insights: the facts now, and the scores of the latest refresh.
pub struct InsightsBundle {
    /// Computed from the facts at load time.
    pub facts: CustomerFacts,
    /// The customer's stored row, if the latest refresh scored them.
    pub stored: Option<customer_insight::Model>,
    /// The latest refresh, if any.
    pub latest: Option<Arc<LatestFit>>,
}

/// Insights by user id: four aggregate statements for the facts, one for the stored rows
/// and one for the latest fit.
pub struct InsightsLoader(pub DatabaseConnection);

impl Loader<Uuid> for InsightsLoader {
    type Value = Arc<InsightsBundle>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let today = Utc::now().date_naive();
        let mut facts = facts::load(&self.0, keys, today).await.map_err(Arc::new)?;
        let mut stored = refresh::stored(&self.0, keys).await.map_err(Arc::new)?;
        let latest = refresh::latest(&self.0)
            .await
            .map_err(Arc::new)?
            .map(|(row, fit)| Arc::new(LatestFit { row, fit }));
        Ok(keys
            .iter()
            .map(|id| {
                let bundle = InsightsBundle {
                    facts: facts.remove(id).unwrap_or_default(),
                    stored: stored.remove(id),
                    latest: latest.clone(),
                };
                (*id, Arc::new(bundle))
            })
            .collect())
    }
}
