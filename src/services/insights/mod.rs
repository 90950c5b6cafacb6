//! Customer insights: the renewal call list, company accounts and the business dashboard
//! (read-only reports over the facts).

pub mod business;
pub mod companies;
pub mod renewals;
mod report_sql;
