//! Managing users (admin only).

use async_graphql::{Context, Object};
use uuid::Uuid;

use crate::app::AppState;
use crate::graphql::guard::{RoleGuard, request_context};
use crate::graphql::types::enums::UserStatus;
use crate::graphql::types::user::{User, UserNote};
use crate::graphql::types::user_input::{AddUserNoteInput, CreateUserInput, UpdateUserInput};
use crate::services::audit::Actor;
use crate::services::users;

/// Creating and changing users.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user (admin only). The email must not be in use.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new user.")] input: CreateUserInput,
    ) -> async_graphql::Result<User> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(User::new(
            users::create(&state.db, &actor, input.into()).await?,
        ))
    }

    /// Changes a user's details (admin only). Omitted fields are left alone; `null` clears.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: Uuid,
        #[graphql(desc = "The changes.")] input: UpdateUserInput,
    ) -> async_graphql::Result<User> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(User::new(
            users::update(&state.db, &actor, id, input.into()).await?,
        ))
    }

    /// Activates, deactivates or suspends a user (admin only). Leaving ACTIVE ends the
    /// user's sessions; the last active admin cannot be deactivated.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn set_user_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: Uuid,
        #[graphql(desc = "The new status.")] status: UserStatus,
    ) -> async_graphql::Result<User> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(User::new(
            users::set_status(&state.db, &actor, id, status.into()).await?,
        ))
    }

    /// Adds a note to a user's profile (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn add_user_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user the note is about.")] user_id: Uuid,
        #[graphql(desc = "The note.")] input: AddUserNoteInput,
    ) -> async_graphql::Result<UserNote> {
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        Ok(users::add_note(&state.db, &actor, user_id, input.into())
            .await?
            .into())
    }
}
