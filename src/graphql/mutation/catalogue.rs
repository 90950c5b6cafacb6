//! Managing the catalogue (admin only).

use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, request_context};
use crate::graphql::types::booking::{Course, CourseSession, Venue};
use crate::graphql::types::catalogue_input::*;
use crate::services::audit::Actor;
use crate::services::catalogue;

/// Courses, venues and sessions.
#[derive(Default)]
pub struct CatalogueMutation;

#[Object]
impl CatalogueMutation {
    /// Adds a course (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_course(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The course.")] input: CreateCourseInput,
    ) -> async_graphql::Result<Course> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(Course(
            catalogue::create_course(&state.db, &actor, input.into()).await?,
        ))
    }

    /// Changes a course (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_course(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The course's id.")] id: Uuid,
        #[graphql(desc = "The changes.")] input: UpdateCourseInput,
    ) -> async_graphql::Result<Course> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(Course(
            catalogue::update_course(&state.db, &actor, id, input.into()).await?,
        ))
    }

    /// Adds a venue (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_venue(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The venue.")] input: CreateVenueInput,
    ) -> async_graphql::Result<Venue> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(Venue(
            catalogue::create_venue(&state.db, &actor, input.into()).await?,
        ))
    }

    /// Changes a venue (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_venue(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The venue's id.")] id: Uuid,
        #[graphql(desc = "The changes.")] input: UpdateVenueInput,
    ) -> async_graphql::Result<Venue> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(Venue(
            catalogue::update_venue(&state.db, &actor, id, input.into()).await?,
        ))
    }

    /// Schedules a session (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_course_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session.")] input: CreateCourseSessionInput,
    ) -> async_graphql::Result<CourseSession> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(CourseSession::new(
            catalogue::create_session(&state.db, &actor, input.into()).await?,
        ))
    }

    /// Changes a session: venue, instructor, times, capacity or status (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_course_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's id.")] id: Uuid,
        #[graphql(desc = "The changes.")] input: UpdateCourseSessionInput,
    ) -> async_graphql::Result<CourseSession> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(CourseSession::new(
            catalogue::update_session(&state.db, &actor, id, input.into()).await?,
        ))
    }

    /// Cancels a session and every live booking on it (admin only). Refunds are separate.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn cancel_course_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's id.")] id: Uuid,
        #[graphql(desc = "Why it is cancelled (shown to customers).")] reason: String,
    ) -> async_graphql::Result<CourseSession> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(CourseSession::new(
            catalogue::cancel_session(&state.db, &actor, id, &reason).await?,
        ))
    }
}
