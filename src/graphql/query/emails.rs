//! The outbox (admin only).

use async_graphql::{Context, Object, connection::Connection};

use crate::app::AppState;
use crate::graphql::connection::from_page;
use crate::graphql::cost;
use crate::graphql::guard::RoleGuard;
use crate::graphql::types::email::EmailMessage;
use crate::graphql::types::enums::EmailStatus;
use crate::services::email::outbox;

/// The outbox.
#[derive(Default)]
pub struct EmailQuery;

#[Object]
impl EmailQuery {
    /// Every email the service has queued, newest first, optionally only those with one
    /// status (admin only): what was sent, what waits, and why any failed.
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn email_outbox(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only emails with this status.")] status: Option<EmailStatus>,
        #[graphql(desc = "Page size: at most 100, default 20.")] first: Option<i32>,
        #[graphql(desc = "Return emails after this cursor (an `endCursor` of the same list).")]
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, EmailMessage>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let page = outbox::page(db, status.map(Into::into), first, after.as_deref()).await?;
        Ok(from_page(page, EmailMessage))
    }
}
