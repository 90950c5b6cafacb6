//! The API test suite: one binary, every test against a fresh database of its own, on
//! SQLite always and on PostgreSQL when `TEST_DATABASE_URL` is set.

mod helpers;
mod smtp_sink;

mod attendance;
mod auth;
mod booking_pages;
mod bookings;
mod certificates;
mod concurrency;
mod consents;
mod customer_stats;
mod duplicates;
mod emails;
mod encryption;
mod examples;
mod graph;
mod graphiql;
mod history;
mod http;
mod import;
mod insights;
mod insights_reports;
mod layering;
mod login_sessions;
mod lookahead;
mod merge;
mod money;
mod outage;
mod page_prefetch;
mod portal;
mod privacy;
mod rate_limit;
mod roles;
mod schema;
mod search;
mod startup;
mod telemetry;
mod user_rows;
mod users;
