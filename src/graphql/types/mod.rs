//! API objects (wrapping entities) and input types.

pub mod auth;
pub mod booking;
pub mod booking_input;
pub mod catalogue_input;
pub mod user;
pub mod user_input;
