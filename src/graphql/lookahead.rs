//! What a query's selection reads, decided before resolving it: which relations a page
//! fetches with itself, and whether its rows are read whole or only their keys (a
//! [`Partial`](crate::entities::partial::Partial) row). See `docs/ARCHITECTURE.md`,
//! "Look-ahead and partial rows".
//!
//! The field lists below name GraphQL fields, so a renamed field would silently drop out of
//! them; [`LIGHT_FIELD_LISTS`] pairs each with its type, and a test
//! (`tests/api/lookahead.rs`) checks every name against the schema. A list that misses a
//! field costs speed (a whole row read when the keys would do), never correctness: any field
//! beyond the keys loads the whole row on demand.

use async_graphql::{Lookahead, Value};
use uuid::Uuid;

use crate::graphql::loaders::BookingExtras;
use crate::services::pages;

/// The fields of `User` that read nothing of the user's row but its id.
pub const USER_ID_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "bookings",
    "payments",
    "certificates",
    "mergedFrom",
    "insights",
    "consentHistory",
];

/// The fields of `Booking` that read only its keys (`booking::BookingKeys`): a page whose
/// selection asks for nothing else reads only the key columns.
pub const BOOKING_KEY_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "createdAt",
    "user",
    "session",
    "attendees",
    "payments",
    "refunds",
    "certificates",
];

/// The fields of `CourseSession` that read only its keys (`course_session::SessionKeys`:
/// id, course and venue): a page of bookings whose session selection asks for nothing else
/// reads only those columns.
pub const SESSION_KEY_FIELDS: &[&str] = &["__typename", "id", "course", "venue"];

/// The fields of `Payment` that read only its keys and amount (`payment::PaymentAmount`): a
/// page whose payments selection asks for nothing else reads only those columns.
pub const PAYMENT_LIGHT_FIELDS: &[&str] = &["__typename", "id", "amount", "booking"];

/// The fields of `Certificate` that read only its id, expiry and status
/// (`certificate::CertificateExpiry`): a page of users whose certificates selection asks
/// for nothing else reads only those columns.
pub const CERTIFICATE_LIGHT_FIELDS: &[&str] = &["__typename", "id", "expiresOn", "status"];

/// Every list above, with the GraphQL object type whose fields it names. A new list goes
/// here too, so the schema test checks it.
pub const LIGHT_FIELD_LISTS: &[(&str, &[&str])] = &[
    ("User", USER_ID_FIELDS),
    ("Booking", BOOKING_KEY_FIELDS),
    ("CourseSession", SESSION_KEY_FIELDS),
    ("Payment", PAYMENT_LIGHT_FIELDS),
    ("Certificate", CERTIFICATE_LIGHT_FIELDS),
];

/// Whether a selection (`at`, any of its occurrences, fragments included) reads a field
/// outside `fields`.
pub fn reads_beyond(at: &Lookahead<'_>, fields: &[&str]) -> bool {
    at.selection_fields()
        .iter()
        .any(|n| n.selection_set().any(|f| !fields.contains(&f.name())))
}

/// Whether a page of users whose node selection is `node` must read the users' rows, or
/// their ids will do (any other field that reads the row still gets it, loaded then).
pub fn page_reads_rows(node: &Lookahead<'_>) -> bool {
    reads_beyond(node, USER_ID_FIELDS)
}

/// The relations a `bookings` selection (`bookings` is the look-ahead at that field) will
/// read from every booking, so its page loads them along with the bookings (payments only
/// when the viewer may see them), and whether it reads any column beyond the keys.
pub fn booking_extras(bookings: &Lookahead<'_>, may_see_money: bool) -> BookingExtras {
    let node = bookings.field("edges").field("node");
    let session = node.field("session");
    BookingExtras {
        session: session.exists(),
        session_full: reads_beyond(&session, SESSION_KEY_FIELDS),
        course: session.field("course").exists(),
        venue: session.field("venue").exists(),
        payments: node.field("payments").exists() && may_see_money,
        payments_full: reads_beyond(&node.field("payments"), PAYMENT_LIGHT_FIELDS),
        full: reads_beyond(&node, BOOKING_KEY_FIELDS),
    }
}

/// The `first` and `after` arguments that every occurrence of a `bookings` selection
/// shares, or `None` when there is none, or occurrences differ (aliases with other pages)
/// or are invalid.
pub fn shared_page_args(bookings: &Lookahead<'_>) -> Option<(u64, Option<Uuid>)> {
    let mut shared = None;
    for field in bookings.selection_fields() {
        let (mut first, mut after) = (None, None);
        for (name, value) in field.arguments().ok()? {
            match (name.as_str(), value) {
                ("first", Value::Number(n)) => first = Some(i32::try_from(n.as_i64()?).ok()?),
                ("after", Value::String(s)) => after = Some(s),
                (_, Value::Null) => {}
                _ => return None,
            }
        }
        let args = (
            pages::page_size(first).ok()?,
            pages::parse_after(after.as_deref()).ok()?,
        );
        match shared {
            None => shared = Some(args),
            Some(seen) if seen == args => {}
            Some(_) => return None,
        }
    }
    shared
}
