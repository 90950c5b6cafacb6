//! Queries about the catalogue and the instructor's sessions.

use crate::graphql::cost;
use async_graphql::{Context, Object};
use chrono::Utc;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::graphql::guard::{RoleGuard, request_context, require_principal};
use crate::graphql::types::booking::{Booking, Course, CourseSession, Venue};
use crate::graphql::types::catalogue_input::CourseSessionFilter;
use crate::services::{bookings, catalogue};

/// The catalogue: public, no login needed.
#[derive(Default)]
pub struct CatalogueQuery;

#[Object]
impl CatalogueQuery {
    /// Courses offered. Admins may include withdrawn ones.
    #[graphql(complexity = "cost::CATALOGUE * child_complexity")]
    async fn courses(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Include courses no longer offered (admins only).",
            default = false
        )]
        include_inactive: bool,
    ) -> async_graphql::Result<Vec<Course>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let all = include_inactive && request_context(ctx).is_admin();
        Ok(catalogue::courses(db, all)
            .await?
            .into_iter()
            .map(Course)
            .collect())
    }

    /// Training venues. Admins may include ones no longer used.
    #[graphql(complexity = "cost::CATALOGUE * child_complexity")]
    async fn venues(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Include venues no longer used (admins only).", default = false)]
        include_inactive: bool,
    ) -> async_graphql::Result<Vec<Venue>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let all = include_inactive && request_context(ctx).is_admin();
        Ok(catalogue::venues(db, all)
            .await?
            .into_iter()
            .map(Venue)
            .collect())
    }

    /// Scheduled sessions, soonest first (at most 500). Without `filter.from`, only sessions
    /// that have not started yet.
    #[graphql(complexity = "cost::SESSIONS * child_complexity")]
    async fn course_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sessions to list.")] filter: Option<CourseSessionFilter>,
    ) -> async_graphql::Result<Vec<CourseSession>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        let mut filter = catalogue::SessionFilter::from(filter.unwrap_or_default());
        if filter.from.is_none() {
            filter.from = Some(Utc::now());
        }
        Ok(catalogue::sessions(db, &filter, None)
            .await?
            .into_iter()
            .map(CourseSession::new)
            .collect())
    }

    /// One session by id.
    async fn course_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's id.")] id: Uuid,
    ) -> async_graphql::Result<Option<CourseSession>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        match catalogue::find_session(db, id).await {
            Ok(s) => Ok(Some(CourseSession::new(s))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The sessions the logged-in instructor teaches, soonest first.
    #[graphql(
        guard = "RoleGuard::staff()",
        complexity = "cost::SESSIONS * child_complexity"
    )]
    async fn my_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which sessions to list; defaults to all of them.")] filter: Option<
            CourseSessionFilter,
        >,
    ) -> async_graphql::Result<Vec<CourseSession>> {
        let principal = require_principal(ctx)?;
        let db = &ctx.data_unchecked::<AppState>().db;
        let filter = filter.unwrap_or_default().into();
        Ok(catalogue::sessions(db, &filter, Some(principal.user_id))
            .await?
            .into_iter()
            .map(CourseSession::new)
            .collect())
    }

    /// A booking by id (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn booking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The booking's id.")] id: Uuid,
    ) -> async_graphql::Result<Option<Booking>> {
        let db = &ctx.data_unchecked::<AppState>().db;
        match bookings::find(db, id).await {
            Ok(b) => Ok(Some(Booking::new(b))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
