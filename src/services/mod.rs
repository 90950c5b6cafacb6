//! Business rules, one module per domain. Functions take a connection (or open their own
//! write transaction), so the same code runs inside a caller's transaction.

pub mod audit;
pub mod bootstrap;
pub mod demo;
pub mod pages;
pub mod references;
pub mod sessions;
pub mod user_search;
pub mod users;
pub mod validate;
