//! Queries about imports of legacy bookings (admin only).

use async_graphql::{Context, Object, connection::Connection};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::graphql::connection::from_page;
use crate::graphql::cost;
use crate::graphql::guard::RoleGuard;
use crate::graphql::types::import::ImportJob;
use crate::services::legacy_import;

/// Queries about imports of legacy bookings.
#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// Imports of legacy bookings (`rft-users import-legacy`), newest first (admin only).
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn import_jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: at most 100, default 20.")] first: Option<i32>,
        #[graphql(desc = "Return jobs after this cursor (an `endCursor` of the same list).")]
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ImportJob>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let page = legacy_import::jobs_page(db, first, after.as_deref()).await?;
        Ok(from_page(page, ImportJob))
    }

    /// One import of legacy bookings by id (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn import_job(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job's id.")] id: Uuid,
    ) -> async_graphql::Result<Option<ImportJob>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        match legacy_import::find_job(db, id).await {
            Ok(job) => Ok(Some(ImportJob(job))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
