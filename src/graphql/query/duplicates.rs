//! Queries of duplicate detection (admin only): one user's candidates, and the worklist.

use async_graphql::{
    Context, Object,
    connection::{Connection, Edge},
};
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::cost;
use crate::graphql::guard::RoleGuard;
use crate::graphql::types::duplicates::{
    DuplicateCandidate, DuplicateGroup, DuplicateGroupConnectionFields,
};
use crate::services::duplicates;

/// Queries of duplicate detection.
#[derive(Default)]
pub struct DuplicateQuery;

/// The worklist: groups of likely duplicates, best first.
pub type DuplicateGroupConnection =
    Connection<String, DuplicateGroup, DuplicateGroupConnectionFields>;

#[Object]
impl DuplicateQuery {
    /// Customers who may be the same person as this user, best first, each with its
    /// score and the reasons for it (admin only). Found through shared matching keys
    /// (mailbox, phone, surname sound and initial, company and surname) and scored from
    /// the current profiles. Dismissed pairs, staff and merged users are never candidates.
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn duplicate_candidates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user to find duplicates of.")] user_id: Uuid,
        #[graphql(desc = "Lowest score (probability, 0 to 1) to include.", default = 0.5)]
        min_score: Option<f64>,
        #[graphql(desc = "At most this many candidates (at most 100).", default = 20)]
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<DuplicateCandidate>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(duplicates::candidates(
            db,
            user_id,
            min_score.unwrap_or(duplicates::STORED_MIN_SCORE),
            first,
        )
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    /// The admins' worklist: groups of customers who are likely one person, best first
    /// (by the group's highest score, then id), a page at a time (admin only). Read from
    /// the pairs kept up to date on every profile change; never rescored on read.
    /// Dismissed pairs and merged users are left out.
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn duplicate_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Lowest pair score (probability, 0 to 1) that joins two users into a group.",
            default = 0.8
        )]
        min_score: Option<f64>,
        #[graphql(desc = "Page size: at most 100, default 20.")] first: Option<i32>,
        #[graphql(
            desc = "Return groups after this cursor (an `endCursor` from the same minScore)."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<DuplicateGroupConnection> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let page = duplicates::groups(
            db,
            min_score.unwrap_or(duplicates::WORKLIST_MIN_SCORE),
            first,
            after.as_deref(),
        )
        .await?;
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            DuplicateGroupConnectionFields {
                total_count: i64::try_from(page.total).unwrap_or(i64::MAX),
            },
        );
        connection.edges.extend(
            page.groups
                .into_iter()
                .map(|(cursor, g)| Edge::new(cursor, g.into())),
        );
        Ok(connection)
    }
}
