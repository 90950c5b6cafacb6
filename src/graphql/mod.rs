//! The GraphQL schema: query and mutation roots, types, loaders, limits.

pub mod connection;
pub mod guard;
pub mod loaders;
pub mod lookahead;
pub mod mutation;
pub mod query;
pub mod types;

use async_graphql::{EmptySubscription, Schema};

use crate::app::AppState;
use mutation::MutationRoot;
use query::QueryRoot;

/// The service's schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Deepest query accepted (GraphiQL's introspection query needs about 13).
pub const MAX_DEPTH: usize = 20;
/// Most expensive query accepted, in async-graphql complexity points: roughly, the fields a
/// query could return. The admin users page (50 users, 20 bookings each with session,
/// payments, certificates) costs about 17,000; 100 users with 100 bookings each and their
/// payments cost over 100,000 and are refused before anything runs.
pub const MAX_COMPLEXITY: usize = 50_000;

/// The cost model: a list multiplies the cost of what is selected in it by the most rows
/// it can return, so a query is costed as the rows it can return, not as its text.
pub mod cost {
    /// Rows of a paginated list: `first` (default 20, at most 100).
    pub fn page(first: Option<i32>, child_complexity: usize) -> usize {
        first.unwrap_or(20).clamp(0, 100) as usize * child_complexity
    }
    /// A booking's payments, refunds or certificates (in practice one to three).
    pub const BOOKING_ROWS: usize = 5;
    /// A user's payments or certificates (unpaginated; a loyal customer has tens).
    pub const USER_ROWS: usize = 50;
    /// Attendees of a booking (at most 20) or of a session (its capacity).
    pub const ATTENDEES: usize = 50;
    /// Notes on a session.
    pub const SESSION_NOTES: usize = 20;
    /// Profiles merged into one user (at most 10 per merge; rarely more than a few).
    pub const MERGED: usize = 10;
    /// Courses or venues in the catalogue.
    pub const CATALOGUE: usize = 50;
    /// Sessions in one schedule query (at most 500).
    pub const SESSIONS: usize = 500;
}

/// The schema with limits but no data: enough to print the SDL.
pub fn build_schema_bare()
-> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(guard::PortalScope)
}

/// The schema serving requests, holding the shared application state.
/// With `RFT_INTROSPECTION=false`, introspection is refused and error messages make no
/// "did you mean" suggestions, so the schema cannot be read off a production server.
pub fn build_schema(state: AppState) -> AppSchema {
    let mut builder = build_schema_bare();
    if !state.config.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.data(state).finish()
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    build_schema_bare().finish().sdl()
}
