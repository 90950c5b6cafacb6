//! Business rules, one module per domain. Functions take a connection (or open their own
//! write transaction), so the same code runs inside a caller's transaction.

pub mod attendance;
pub mod audit;
pub mod bookings;
pub mod bootstrap;
pub mod catalogue;
pub mod certificates;
pub mod consents;
pub mod customer_stats;
pub mod customers;
pub mod demo;
pub mod duplicates;
pub mod email;
pub mod encryption;
pub mod history;
pub mod insights;
pub mod keys;
pub mod legacy_import;
pub mod login_sessions;
pub mod matching;
pub mod merge;
pub mod pages;
pub mod patch;
pub mod payments;
pub mod places;
pub mod portal;
pub mod privacy;
pub mod references;
pub mod sessions;
pub(crate) mod sql;
pub mod user_search;
pub mod users;
pub mod validate;
