//! rft-users: React Fast Training's central customer record system, a GraphQL API in which
//! the user, identified by email, is the centre of everything.

pub mod app;
pub mod auth;
pub mod certificate_pdf;
pub mod config;
pub mod crypto;
pub mod data_export;
pub mod db;
pub mod entities;
pub mod error;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod mailer;
pub mod money;
mod plain;
pub mod reports;
pub mod services;
pub mod telemetry;
pub mod webhooks;
