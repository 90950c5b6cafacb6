//! API objects (wrapping entities) and input types.

pub mod auth;
pub mod booking;
pub mod booking_input;
pub mod catalogue_input;
pub mod duplicates;
pub mod email;
pub mod enums;
pub mod import;
pub mod insights;
pub mod insights_reports;
pub mod merge;
pub mod portal;
pub mod privacy;
pub mod user;
pub mod user_input;
pub mod verification;

use async_graphql::MaybeUndefined;

use crate::services::patch::Patch;

/// An omitted input field leaves the value alone; an explicit `null` clears it.
impl<T> From<MaybeUndefined<T>> for Patch<T> {
    fn from(v: MaybeUndefined<T>) -> Self {
        match v {
            MaybeUndefined::Undefined => Patch::Unchanged,
            MaybeUndefined::Null => Patch::Clear,
            MaybeUndefined::Value(v) => Patch::Set(v),
        }
    }
}
