//! DataLoaders: one per relation, batching lookups with `IN (...)`. They are created per
//! request (see [`register`]), so cached rows never cross between callers. [`full_row`]
//! completes a [`Partial`] row through them.

mod companies;
mod consents;
mod emails;
mod insights;
mod login_sessions;
mod relations;
mod user;

pub use companies::{CompanyCustomersKey, CompanyCustomersLoader};
pub use consents::ConsentHistoryByUser;
pub use emails::{EmailsByUser, EmailsKey};
pub use insights::{InsightsBundle, InsightsLoader, LatestFit};
pub use login_sessions::LoginSessionsByUser;
pub use relations::*;
pub use user::{MergedFromLoader, UserLoader};

use std::sync::Arc;

use async_graphql::{
    Context, Request,
    dataloader::{DataLoader, Loader},
};
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::entities::partial::{KeysOf, Partial};
use crate::entities::{booking, certificate, course_session, payment};
use crate::error::AppError;

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
        CompanyCustomersLoader,
        AttendanceBySession,
        InsightsLoader,
        EmailsByUser,
        LoginSessionsByUser,
        ConsentHistoryByUser,
    );
}

/// A model whose whole rows a per-request loader reads by id: what a [`Partial`] row of it
/// loads the rest from.
pub trait LoadById: Send + Sync + Sized + 'static {
    /// The loader (registered in [`register`]).
    type Loader: Loader<Uuid, Value = Self, Error = Arc<DbErr>>;
    /// What the row is, for the `NOT_FOUND` error when it has gone.
    const WHAT: &'static str;
}

macro_rules! load_by_id {
    ($($model:ty => $loader:ident, $what:literal;)*) => {
        $(impl LoadById for $model {
            type Loader = $loader;
            const WHAT: &'static str = $what;
        })*
    };
}

load_by_id! {
    crate::entities::user::Model => UserLoader, "user";
    booking::Model => BookingLoader, "booking";
    course_session::Model => SessionLoader, "course session";
    payment::Model => PaymentLoader, "payment";
    certificate::Model => CertificateLoader, "certificate";
}

/// The whole row of a [`Partial`]: as it was read, or, when only its keys were, loaded by
/// id through the model's loader the first time a field asks, and kept for the others. So
/// an answer never depends on what the look-ahead chose to read (see
/// `docs/ARCHITECTURE.md`, "Look-ahead and partial rows").
pub async fn full_row<'a, L, M>(
    ctx: &Context<'_>,
    row: &'a Partial<L, M>,
) -> async_graphql::Result<&'a M>
where
    L: KeysOf<M>,
    M: LoadById,
{
    let id = row.id();
    let full = row
        .full_or_load(|| async move {
            ctx.data_unchecked::<DataLoader<M::Loader>>()
                .load_one(id)
                .await
                .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?
                .map(Arc::new)
                .ok_or_else(|| async_graphql::Error::from(AppError::NotFound(M::WHAT)))
        })
        .await?;
    Ok(full.as_ref())
}
