//! Loaders for every relation of the booking graph. Each batches its keys into one
//! `IN (...)` query; per-parent lists come back in a stable order.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::{
    attendance_record, booking, booking_attendee, certificate, course, course_session, payment,
    refund, venue,
};

/// A loader of rows by primary key.
macro_rules! by_id_loader {
    ($(#[$doc:meta])* $name:ident, $entity:ident) => {
        $(#[$doc])*
        pub struct $name(pub DatabaseConnection);

        impl Loader<Uuid> for $name {
            type Value = $entity::Model;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                let rows = $entity::Entity::find()
                    .filter($entity::Column::Id.is_in(keys.iter().copied()))
                    .all(&self.0)
                    .await
                    .map_err(Arc::new)?;
                Ok(rows.into_iter().map(|m| (m.id, m)).collect())
            }
        }
    };
}

/// A loader of child rows grouped by a foreign key, in creation order.
macro_rules! has_many_loader {
    ($(#[$doc:meta])* $name:ident, $entity:ident, $fk:ident, $fk_field:ident) => {
        $(#[$doc])*
        pub struct $name(pub DatabaseConnection);

        impl Loader<Uuid> for $name {
            type Value = Vec<$entity::Model>;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
                let rows = $entity::Entity::find()
                    .filter($entity::Column::$fk.is_in(keys.iter().copied()))
                    .order_by_asc($entity::Column::Id)
                    .all(&self.0)
                    .await
                    .map_err(Arc::new)?;
                let mut out: HashMap<Uuid, Self::Value> = HashMap::new();
                for row in rows {
                    out.entry(row.$fk_field).or_default().push(row);
                }
                Ok(out)
            }
        }
    };
}

by_id_loader!(
    /// Courses by id.
    CourseLoader,
    course
);
by_id_loader!(
    /// Venues by id.
    VenueLoader,
    venue
);
by_id_loader!(
    /// Course sessions by id.
    SessionLoader,
    course_session
);
by_id_loader!(
    /// Bookings by id.
    BookingLoader,
    booking
);
has_many_loader!(
    /// A booking's attendees.
    AttendeesByBooking,
    booking_attendee,
    BookingId,
    booking_id
);
has_many_loader!(
    /// A booking's payments.
    PaymentsByBooking,
    payment,
    BookingId,
    booking_id
);
has_many_loader!(
    /// A booking's refunds.
    RefundsByBooking,
    refund,
    BookingId,
    booking_id
);
has_many_loader!(
    /// A user's payments.
    PaymentsByUser,
    payment,
    UserId,
    user_id
);
has_many_loader!(
    /// A user's certificates.
    CertificatesByUser,
    certificate,
    UserId,
    user_id
);
has_many_loader!(
    /// A session's attendance records.
    AttendanceBySession,
    attendance_record,
    SessionId,
    session_id
);
has_many_loader!(
    /// A booking's certificates.
    CertificatesByBooking,
    certificate,
    BookingId,
    booking_id
);

/// One page of a user's bookings, newest first: `limit + 1` rows (the extra one says
/// whether another page follows), after the booking `after` if given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BookingsPageKey {
    pub user_id: Uuid,
    pub limit: u64,
    pub after: Option<Uuid>,
}

/// Users' booking pages: one windowed query for every user asking for the same page.
pub struct BookingsByUser(pub DatabaseConnection);

impl Loader<BookingsPageKey> for BookingsByUser {
    type Value = Vec<booking::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[BookingsPageKey],
    ) -> Result<HashMap<BookingsPageKey, Self::Value>, Self::Error> {
        let mut groups: HashMap<(u64, Option<Uuid>), Vec<Uuid>> = HashMap::new();
        for k in keys {
            groups
                .entry((k.limit, k.after))
                .or_default()
                .push(k.user_id);
        }
        let mut out = HashMap::new();
        for ((limit, after), user_ids) in groups {
            let rows = crate::services::bookings::newest_per_user(&self.0, &user_ids, limit, after)
                .await
                .map_err(Arc::new)?;
            for id in &user_ids {
                out.insert(
                    BookingsPageKey {
                        user_id: *id,
                        limit,
                        after,
                    },
                    Vec::new(),
                );
            }
            for row in rows {
                if let Some(list) = out.get_mut(&BookingsPageKey {
                    user_id: row.user_id,
                    limit,
                    after,
                }) {
                    list.push(row);
                }
            }
        }
        Ok(out)
    }
}
