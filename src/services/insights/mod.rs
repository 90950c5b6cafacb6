//! Customer insights: each customer's exact history ([`facts`]), RFM scores and segments
//! ([`segments`]), a prediction that knows about certificate expiry ([`model`],
//! [`predict`]), refitted and stored by [`refresh`]; and the read-only reports over the
//! facts: the renewal call list ([`renewals`]), company accounts ([`companies`]) and the
//! business dashboard ([`business`]).

pub mod business;
pub mod companies;
pub mod facts;
pub mod model;
pub mod predict;
pub mod refresh;
pub mod renewals;
mod report_sql;
pub mod segments;
