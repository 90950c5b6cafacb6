//! DataLoaders: one per relation, batching lookups with `IN (...)`. They are created per
//! request (see [`register`]), so cached rows never cross between callers.

mod relations;
mod user;

pub use relations::*;
pub use user::{MergedFromLoader, UserLoader};

use async_graphql::{Request, dataloader::DataLoader};
use sea_orm::DatabaseConnection;

/// Attaches a fresh set of loaders to a request.
pub fn register(request: &mut Request, db: &DatabaseConnection) {
    macro_rules! add {
        ($($loader:ident),* $(,)?) => {
            $(request.data.insert(DataLoader::new($loader(db.clone()), tokio::spawn));)*
        };
    }
    add!(
        UserLoader,
        MergedFromLoader,
        CourseLoader,
        VenueLoader,
        SessionLoader,
        BookingLoader,
        PaymentLoader,
        CertificateLoader,
        BookingsByUser,
        AttendeesByBooking,
        PaymentsByBooking,
        RefundsByBooking,
        PaymentsByUser,
        CertificatesByUser,
        CertificatesByBooking,
        AttendanceBySession,
    );
}
