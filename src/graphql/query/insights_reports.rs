//! The admins' reports: the renewal call list, company accounts and the business dashboard.

use async_graphql::{
    Context, ID, Object,
    connection::{Connection, Edge},
};
use chrono::{NaiveDate, Utc};
use tokio::sync::OnceCell;

use crate::app::AppState;
use crate::error::AppError;
use crate::graphql::cost;
use crate::graphql::guard::RoleGuard;
use crate::graphql::types::enums::CourseType;
use crate::graphql::types::insights_reports::{
    BusinessInsights, Company, CompanyOrder, Interval, Renewal,
};
use crate::services::insights::{business, companies, renewals};

/// The reports.
#[derive(Default)]
pub struct InsightsReportsQuery;

/// Extra fields of the renewal call list.
pub struct RenewalConnectionFields {
    query: renewals::RenewalQuery,
    /// Counted once, when first asked for.
    total: OnceCell<i64>,
}

#[Object]
impl RenewalConnectionFields {
    /// How many certificates are on the list, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let total = self
            .total
            .get_or_try_init(|| async {
                let n = renewals::count(db, &self.query).await?;
                Ok::<_, AppError>(i64::try_from(n).unwrap_or(i64::MAX))
            })
            .await?;
        Ok(*total)
    }
}

/// A page of the renewal call list.
pub type RenewalConnection = Connection<String, Renewal, RenewalConnectionFields>;

/// Extra fields of the company list.
pub struct CompanyConnectionFields {
    query: companies::CompanyQuery,
    /// Counted once, when first asked for.
    total: OnceCell<i64>,
}

#[Object]
impl CompanyConnectionFields {
    /// How many companies match the search, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let total = self
            .total
            .get_or_try_init(|| async {
                let n = companies::count(db, &self.query).await?;
                Ok::<_, AppError>(i64::try_from(n).unwrap_or(i64::MAX))
            })
            .await?;
        Ok(*total)
    }
}

/// A page of companies.
pub type CompanyConnection = Connection<String, Company, CompanyConnectionFields>;

#[Object]
impl InsightsReportsQuery {
    /// The renewal call list (admin only): certificates expiring between today and
    /// `withinDays` days from now (UTC days, both included) whose holder has not booked
    /// again, that is has no booking (not cancelled) for a session of a course of the same
    /// type starting on a later day than the certificate was issued. Revoked certificates
    /// and merged profiles are left out. Soonest expiry first, then by certificate id.
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn renewals_due(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many days ahead to look: 0 (today only) to 3650.")] within_days: i32,
        #[graphql(desc = "Only certificates from courses of this type.")] course_type: Option<
            CourseType,
        >,
        #[graphql(
            desc = "Only holders who agreed to marketing; false: everyone (null counts as true).",
            default_with = "Some(true)"
        )]
        marketing_consent_only: Option<bool>,
        #[graphql(desc = "Page size: 0 to 100, default 20.")] first: Option<i32>,
        #[graphql(
            desc = "Return certificates after this cursor (an `endCursor` from the same list)."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<RenewalConnection> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let query = renewals::RenewalQuery {
            today: Utc::now().date_naive(),
            within_days,
            course_type: course_type.map(Into::into),
            marketing_consent_only: marketing_consent_only.unwrap_or(true),
            wants_reminders_only: false,
        };
        let page = renewals::due(db, &query, first, after.as_deref()).await?;
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            RenewalConnectionFields {
                query,
                total: OnceCell::new(),
            },
        );
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|(cursor, r)| Edge::new(cursor, Renewal(r))),
        );
        Ok(connection)
    }

    /// Company accounts (admin only): customers grouped by their normalised company name,
    /// with their counts and spend, a page at a time. By default the biggest spenders
    /// first.
    #[graphql(
        guard = "RoleGuard::admin()",
        complexity = "cost::page(first, child_complexity)"
    )]
    async fn companies(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Text to find in the company's name, in any case: in its id (the normalised name) or any name its customers typed."
        )]
        search: Option<String>,
        #[graphql(desc = "Sort order; defaults to NET_SPENT, largest first.")] order_by: Option<
            CompanyOrder,
        >,
        #[graphql(desc = "Page size: 0 to 100, default 20.")] first: Option<i32>,
        #[graphql(
            desc = "Return companies after this cursor (an `endCursor` from the same search and order)."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<CompanyConnection> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let query = companies::CompanyQuery {
            search,
            order: order_by.map(Into::into).unwrap_or_default(),
        };
        let page =
            companies::page(db, &query, Utc::now().date_naive(), first, after.as_deref()).await?;
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            CompanyConnectionFields {
                query,
                total: OnceCell::new(),
            },
        );
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|(cursor, c)| Edge::new(cursor, Company(c))),
        );
        Ok(connection)
    }

    /// A company account by its id (admin only); null when no customer has it.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The company's id: its normalised name, as `Company.id` gives it.")]
        id: ID,
    ) -> async_graphql::Result<Option<Company>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(companies::find(db, &id, Utc::now().date_naive())
            .await?
            .map(Company))
    }

    /// The business dashboard (admin only) from `from` to `to` (UTC days, both included,
    /// at most 10 years): revenue, bookings and new versus returning customers per week or
    /// month, every interval present, with totals, refund rate, average booking value, the
    /// top courses and venues, and customers per segment.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn business_insights(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The first day, included.")] from: NaiveDate,
        #[graphql(desc = "The last day, included (not before `from`).")] to: NaiveDate,
        #[graphql(desc = "The series' interval: weeks (from Monday) or calendar months.")]
        interval: Interval,
    ) -> async_graphql::Result<BusinessInsights> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let insights = business::overview(
            db,
            &business::BusinessQuery {
                from,
                to,
                interval: interval.into(),
            },
        )
        .await?;
        Ok(BusinessInsights(insights))
    }
}
