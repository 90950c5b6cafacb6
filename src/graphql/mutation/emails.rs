//! Sending renewal reminders (admin only).

use async_graphql::{Context, Object};
use chrono::Utc;

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, request_context};
use crate::graphql::types::email::RenewalReminderRun;
use crate::services::audit::Actor;
use crate::services::email::reminders;

/// Emails sent on demand.
#[derive(Default)]
pub struct EmailMutation;

#[Object]
impl EmailMutation {
    /// Queues a renewal reminder for each certificate expiring from today to `withinDays`
    /// ahead whose holder agreed to marketing, has not booked that kind of course again
    /// (the `renewalsDue` list) and has not asked for no reminders (`reminderFrequency:
    /// NEVER`), in one transaction (admin only). Each certificate gets one
    /// reminder per window: running it again with the same window queues nothing new.
    /// BAD_USER_INPUT for a window outside 0 to 3650 days.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn send_renewal_reminders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The window, in days from today (UTC).")] within_days: i32,
    ) -> async_graphql::Result<RenewalReminderRun> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        let today = Utc::now().date_naive();
        let run = reminders::send(&state.db, &state.outbox, &actor, today, within_days).await?;
        Ok(run.into())
    }
}
