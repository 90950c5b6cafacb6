//! Queries about users.

use crate::graphql::cost;
use async_graphql::{
    Context, Object,
    connection::{Connection, Edge},
};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::graphql::guard::{RoleGuard, require_customer, require_principal};
use crate::graphql::lookahead::page_reads_rows;
use crate::graphql::types::user::{User, prefetch_page};
use crate::graphql::types::user_input::{UserFilter, UserOrderBy};
use crate::services::{user_search, users};

/// Queries about users.
#[derive(Default)]
pub struct UserQuery;

/// Extra fields on `UserConnection`.
pub struct UserConnectionFields {
    /// How to count, kept (not consumed) so a failed count can be tried again.
    plan: user_search::CountPlan,
    /// The count, once made: every alias of `totalCount` on this connection reads it, and
    /// aliases resolved concurrently wait for the first one's count instead of counting again.
    total: OnceCell<i64>,
}

impl UserConnectionFields {
    /// The fields of a page whose total is already known.
    pub fn counted(total: u64) -> Self {
        Self {
            plan: user_search::CountPlan::Known(total),
            total: OnceCell::new(),
        }
    }
}

#[Object]
impl UserConnectionFields {
    /// How many users match the search and filters, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let total = self
            .total
            .get_or_try_init(|| async {
                let n = user_search::count(db, self.plan.clone()).await?;
                Ok::<_, AppError>(i64::try_from(n).unwrap_or(i64::MAX))
            })
            .await?;
        Ok(*total)
    }
}

/// A page of users.
pub type UserConnection = Connection<String, User, UserConnectionFields>;

#[Object]
impl UserQuery {
    /// The signed-in user: a staff member's or customer's own profile, or, with a
    /// customer-portal token, the portal's customer (bookings, payments and certificates
    /// included, internal notes and admin-only fields not).
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let user_id = match require_principal(ctx) {
            Ok(principal) => principal.user_id,
            Err(AppError::Forbidden) => require_customer(ctx)?.user_id,
            Err(e) => return Err(e.into()),
        };
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(User::new(users::find(db, user_id).await?))
    }

    /// A user by id (admin only). The id of a profile merged into another leads to the
    /// profile it was merged into (following merges of merges).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: Uuid,
    ) -> async_graphql::Result<Option<User>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        match users::find_current(db, id).await {
            Ok(u) => Ok(Some(User::new(u))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A user by email, in any case and with stray spaces (admin only). The email of a
    /// profile merged into another leads to the profile it was merged into.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn user_by_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The email address.")] email: String,
    ) -> async_graphql::Result<Option<User>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(users::find_current_by_email(db, &email)
            .await?
            .map(User::new))
    }

    /// Searches, filters and sorts users, a page at a time (admin only).
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Words to find in name, email, phone (any format) or company; every word must match."
        )]
        search: Option<String>,
        #[graphql(desc = "Filters; all must match.")] filter: Option<UserFilter>,
        #[graphql(desc = "Sort order; defaults to newest profiles first.")] order_by: Option<
            UserOrderBy,
        >,
        #[graphql(desc = "Page size: at most 100, default 20.")] first: Option<i32>,
        #[graphql(
            desc = "Return users after this cursor (an `endCursor` from the same search and order)."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let search = search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let node = ctx.look_ahead().field("edges").field("node");
        let page = user_search::search(
            db,
            search,
            &filter.map(Into::into).unwrap_or_default(),
            order_by.map(Into::into).unwrap_or_default(),
            first,
            after.as_deref(),
            user_search::Wanted {
                count: ctx.look_ahead().field("totalCount").exists(),
                rows: page_reads_rows(&node),
            },
        )
        .await?;
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            UserConnectionFields {
                plan: page.count,
                total: OnceCell::new(),
            },
        );
        // The relations every user's selection reads are fetched here, for the whole page.
        let (cursors, rows): (Vec<String>, Vec<_>) = page.rows.into_iter().unzip();
        let users = prefetch_page(ctx, &node, rows).await?;
        connection.edges.extend(
            cursors
                .into_iter()
                .zip(users)
                .map(|(cursor, user)| Edge::new(cursor, user)),
        );
        Ok(connection)
    }
}
