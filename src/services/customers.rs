//! Customers found or created by email, the one way every writer does it: `createBooking`
//! (`bookings::create`, one customer) and the legacy import (`legacy_import`, a chunk of
//! customers at once). A customer is keyed by their normalised email; a new one is a
//! customer with no password; an existing one only has blank profile fields filled,
//! never overwritten, and their counters are never touched here (see docs/ARCHITECTURE.md,
//! "Customer counters").

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, sea_query::OnConflict,
};
use uuid::Uuid;

use crate::entities::{positional, user};
use crate::error::{AppError, AppResult};
use crate::services::consents::Consents;
use crate::services::{duplicates, keys, users, validate};

/// Contact details of whoever is booking, checked and normalised: the email trimmed and
/// lowercased, texts trimmed, blank optional fields `None`; and the consents they chose,
/// which a new customer starts with (a known customer's are never changed by a booking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub consents: Consents,
}

impl Contact {
    /// Checks contact details as a client typed them, naming each offending field under
    /// `contact.` (`contact.email`, ...).
    pub fn clean(
        first_name: &str,
        last_name: &str,
        email: &str,
        phone: Option<&str>,
        company: Option<&str>,
    ) -> AppResult<Self> {
        Ok(Self {
            email: validate::email("contact.email", email)?,
            first_name: validate::required("contact.firstName", first_name, 100)?,
            last_name: validate::required("contact.lastName", last_name, 100)?,
            phone: validate::phone("contact.phone", phone)?,
            company: validate::optional("contact.company", company, 255)?,
            consents: Consents::default(),
        })
    }
}

/// A new customer row for `contact`: role customer, no password, the schema's defaults
/// but for the consents the contact chose, customer since `customer_since`. Counters start at zero; the writer that adds the
/// customer's first booking brings them up to date.
pub fn new_customer(
    contact: &Contact,
    created_by_id: Option<Uuid>,
    customer_since: NaiveDate,
    now: DateTime<Utc>,
) -> user::Model {
    let mut fresh = users::blank(
        contact.email.clone(),
        contact.first_name.clone(),
        contact.last_name.clone(),
        now,
    );
    fresh.phone = contact.phone.clone();
    fresh.company_name = contact.company.clone();
    contact.consents.apply_to(&mut fresh);
    fresh.customer_since = Some(customer_since);
    fresh.created_by_id = created_by_id;
    users::refresh_derived(&mut fresh);
    fresh
}

/// Fills the customer's blank profile fields (names, phone, company) from `contact`;
/// never overwrites what is there. Returns the API names of the fields filled.
pub fn fill_blanks(customer: &mut user::Model, contact: &Contact) -> Vec<&'static str> {
    let mut filled = Vec::new();
    if customer.first_name.is_empty() {
        customer.first_name = contact.first_name.clone();
        filled.push("firstName");
    }
    if customer.last_name.is_empty() {
        customer.last_name = contact.last_name.clone();
        filled.push("lastName");
    }
    if customer.phone.is_none() && contact.phone.is_some() {
        customer.phone = contact.phone.clone();
        filled.push("phone");
    }
    if customer.company_name.is_none() && contact.company.is_some() {
        customer.company_name = contact.company.clone();
        filled.push("companyName");
    }
    filled
}

/// Writes the columns that differ between two versions of a customer, with the derived
/// search and sort columns refreshed. Counters are left alone (they are not changed in
/// `after`, and only changed columns are written).
pub async fn save(
    conn: &impl ConnectionTrait,
    before: &user::Model,
    mut after: user::Model,
) -> AppResult<user::Model> {
    users::refresh_derived(&mut after);
    if &after == before {
        return Ok(after);
    }
    let saved = users::changed_columns(before, &after).update(conn).await?;
    // Matching keys and candidate pairs follow the profile in the same transaction.
    duplicates::refresh(conn, Some(before), &saved).await?;
    Ok(saved)
}

/// Inserts each of `fresh` (from [`new_customer`]) unless a user with its email exists, and
/// returns, in the same order, the row that now holds each email and whether it was created
/// here. Safe when two writers create the same customer at once: the unique email decides,
/// and both get the one row. On PostgreSQL the rows are locked until commit (in email
/// order, so writers locking several customers never deadlock on each other), because the
/// caller goes on to fill their profile.
pub async fn insert_or_find(
    conn: &impl ConnectionTrait,
    fresh: Vec<user::Model>,
) -> AppResult<Vec<(user::Model, bool)>> {
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<(String, Uuid)> = fresh.iter().map(|u| (u.email.clone(), u.id)).collect();
    // Users are wide: at most this many rows per statement keeps within SQLite's limit on
    // bound parameters.
    const ROWS_PER_INSERT: usize = 400;
    let mut rows = fresh.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<user::ActiveModel> = rows
            .by_ref()
            .take(ROWS_PER_INSERT)
            .map(|mut u| {
                u.bind_encrypted();
                u.into_active_model().reset_all()
            })
            .collect();
        user::Entity::insert_many(batch)
            .on_conflict(
                OnConflict::column(user::Column::Email)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    let found = lock_by_email(conn, wanted.iter().map(|(e, _)| e.clone()).collect()).await?;
    wanted
        .into_iter()
        .map(|(email, fresh_id)| {
            let row = found
                .iter()
                .find(|u| u.email == email)
                .cloned()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("customer vanished")))?;
            let created = row.id == fresh_id;
            Ok((row, created))
        })
        .collect()
}

/// The users with these (normalised) emails, locked until commit on PostgreSQL, in email
/// order.
pub async fn lock_by_email(
    conn: &impl ConnectionTrait,
    mut emails: Vec<String>,
) -> AppResult<Vec<user::Model>> {
    emails.sort_unstable();
    emails.dedup();
    let mut out = Vec::with_capacity(emails.len());
    for chunk in emails.chunks(500) {
        let mut q = user::Entity::find()
            .filter(keys::any_of(
                conn.get_database_backend(),
                user::Column::Email,
                chunk,
            ))
            .order_by_asc(user::Column::Email);
        if conn.get_database_backend() == DbBackend::Postgres {
            q = q.lock_exclusive();
        }
        out.extend(positional::all(q, conn).await?);
    }
    Ok(out)
}
