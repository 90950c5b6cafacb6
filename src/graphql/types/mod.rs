//! API objects (wrapping entities) and input types.

pub mod auth;
pub mod user;
pub mod user_input;
