//! Merging duplicate customers, and undoing a merge (admin only).

use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, request_context};
use crate::graphql::types::merge::{MergeUsersInput, UserMerge};
use crate::services::audit::Actor;
use crate::services::merge;

/// Merging duplicate customers.
#[derive(Default)]
pub struct MergeMutation;

#[Object]
impl MergeMutation {
    /// Merges duplicate customer profiles into a survivor, in one transaction (admin
    /// only). The survivor's fields follow the rule (an admin's choice, else the
    /// survivor's value, else the most recently updated duplicate's; consents the most
    /// recent choice; notes all kept); every booking, attendee, payment, refund,
    /// certificate, attendance record, note and activity of the duplicates moves to the
    /// survivor; the duplicates stay as tombstones whose ids and emails lead to the
    /// survivor; totals are recomputed. BAD_USER_INPUT for an unknown id, an id given
    /// twice, the survivor among the duplicates, a profile already merged, a staff account
    /// or more than 10 duplicates; CONFLICT when one of them changed meanwhile (another
    /// merge): nothing is written either way.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn merge_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The merge.")] input: MergeUsersInput,
    ) -> async_graphql::Result<UserMerge> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(UserMerge(
            merge::merge(&state.db, &actor, input.into()).await?,
        ))
    }

    /// Undoes a merge exactly (admin only): every moved row goes back to its old owner,
    /// each duplicate's profile is restored, the survivor's fields the merge changed go
    /// back (unless edited since), and totals are recomputed. Rows made on the survivor
    /// since stay with it, except payments, refunds, certificates and attendance of the
    /// rows that go back, which follow them. CONFLICT, writing nothing, when the merge was
    /// already undone, a later merge of the same people is still in force (undo it
    /// first), or a moved row has since been moved or deleted.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn unmerge_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The merge to undo (a `UserMerge` id).")] merge_id: Uuid,
        #[graphql(desc = "Why it is undone (at most 2,000 characters).")] reason: Option<String>,
    ) -> async_graphql::Result<UserMerge> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(UserMerge(
            merge::unmerge(&state.db, &actor, merge_id, reason).await?,
        ))
    }
}
