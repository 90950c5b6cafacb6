//! SeaORM entities: one module per table (with its light projections), plus the enums
//! stored in enum-like string columns, [`partial`] rows ("keys now, the rest on demand")
//! and a prelude re-exporting every entity.

pub mod prelude;

pub mod encrypted;
pub mod enums;

pub mod attendance_record;
pub mod audit_log;
pub mod auth_session;
pub mod booking;
pub mod booking_attendee;
pub mod certificate;
pub mod consent_event;
pub mod course;
pub mod course_session;
pub mod customer_insight;
pub mod duplicate_dismissal;
pub mod duplicate_pair;
pub mod email_log;
pub mod erasure;
pub mod import_job;
pub mod import_row;
pub mod insight_model;
pub mod partial;
pub mod payment;
pub mod portal_session;
pub mod positional;
pub mod rate_limit_bucket;
pub mod refund;
pub mod session_note;
pub mod stripe_event;
pub mod user;
pub mod user_activity_log;
pub mod user_match_key;
pub mod user_merge;
pub mod user_merge_member;
pub mod user_merge_move;
pub mod user_note;
pub mod venue;
