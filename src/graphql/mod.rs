//! The GraphQL schema: query and mutation roots, types, loaders, limits.

pub mod connection;
pub mod guard;
pub mod loaders;
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
/// Most expensive query accepted, in async-graphql complexity points.
pub const MAX_COMPLEXITY: usize = 20_000;

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
}

/// The schema serving requests, holding the shared application state.
pub fn build_schema(state: AppState) -> AppSchema {
    build_schema_bare().data(state).finish()
}

/// The SDL that `schema.graphql` must equal.
pub fn sdl() -> String {
    build_schema_bare().finish().sdl()
}
