//! Customer insights: each customer's exact history ([`facts`]), RFM scores and segments
//! ([`segments`]), and a prediction that knows about certificate expiry ([`model`],
//! [`predict`]), refitted and stored by [`refresh`].

pub mod facts;
pub mod model;
pub mod predict;
pub mod refresh;
pub mod segments;
