//! Decoding whole rows by position.
//!
//! SeaORM's derived `FromQueryResult` looks every column up by name (a hash of the name
//! per column per row) and, for each `NULL` in an `Option` column, first builds and then
//! discards an error message naming the column. A user row has about 40 nullable columns,
//! mostly empty, so a page of 50 users spent more on those messages than on the data.
//! [`Positional<M>`] decodes the same columns by their place in the select list instead:
//! it checks that the column there has the expected name and whether it is `NULL`, and
//! only then decodes. A row whose columns are not in the model's order (a different
//! select list) is still decoded correctly, by name, column by column.
//!
//! A model gets this with `positional_model!` below; its field list must name every
//! field, in the entity's column order, or the model does not compile.

use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, QuerySelect, Select,
    TryGetable,
    sqlx::{Column, Row, ValueRef},
};

/// A model decoded by position: select with `.into_model::<Positional<Model>>()` and
/// take `.0`.
#[derive(Debug, Clone)]
pub struct Positional<M>(pub M);

/// Every row `select` returns, decoded by position.
pub async fn all<E, C>(select: Select<E>, conn: &C) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
    Positional<E::Model>: FromQueryResult + Send + Sync,
{
    let rows = select
        .into_model::<Positional<E::Model>>()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|p| p.0).collect())
}

/// The first row `select` returns, decoded by position.
pub async fn one<E, C>(select: Select<E>, conn: &C) -> Result<Option<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
    Positional<E::Model>: FromQueryResult + Send + Sync,
{
    Ok(all(select.limit(1), conn).await?.into_iter().next())
}

/// A column type, and what a `NULL` in it decodes to.
pub trait ColumnValue: TryGetable {
    /// The value for `NULL`: `None` for a type that has no such value (the column must not
    /// be `NULL`, and decoding reports the error).
    fn null() -> Option<Self>;
}

impl<T: TryGetable> ColumnValue for Option<T> {
    fn null() -> Option<Self> {
        Some(None)
    }
}

/// Types with no `NULL` value.
macro_rules! not_null {
    ($($ty:ty),* $(,)?) => {
        $(impl ColumnValue for $ty {
            fn null() -> Option<Self> {
                None
            }
        })*
    };
}

not_null!(
    String,
    uuid::Uuid,
    bool,
    i32,
    i64,
    rust_decimal::Decimal,
    chrono::NaiveDate,
    chrono::DateTime<chrono::Utc>,
    serde_json::Value,
    super::enums::Role,
    super::enums::UserStatus,
    super::enums::CustomerType,
    super::enums::ContactMethod,
    super::enums::ReminderFrequency,
);

/// The columns of one row, read in order.
pub struct Columns<'a> {
    res: &'a QueryResult,
    pre: &'a str,
    next: usize,
}

impl<'a> Columns<'a> {
    /// The row `res`, whose columns may carry the prefix `pre` (as in a join).
    pub fn new(res: &'a QueryResult, pre: &'a str) -> Self {
        Self { res, pre, next: 0 }
    }

    /// The next column, which should be called `name`.
    pub fn next<T: ColumnValue>(&mut self, name: &str) -> Result<T, DbErr> {
        let index = self.next;
        self.next += 1;
        if self.pre.is_empty() {
            match is_null_at(self.res, index, name) {
                Some(true) => {
                    if let Some(null) = T::null() {
                        return Ok(null);
                    }
                    return Ok(T::try_get_by_index(self.res, index)?);
                }
                Some(false) => return Ok(T::try_get_by_index(self.res, index)?),
                None => {}
            }
        }
        Ok(T::try_get(self.res, self.pre, name)?)
    }
}

/// Whether the column at `index` is `NULL`, if that column is called `name`; `None` if it
/// is not (or the row is of another kind), and the caller looks the column up by name.
fn is_null_at(res: &QueryResult, index: usize, name: &str) -> Option<bool> {
    if let Some(row) = res.try_as_pg_row() {
        let column = row.columns().get(index)?;
        if column.name() != name {
            return None;
        }
        return row.try_get_raw(index).ok().map(|v| v.is_null());
    }
    if let Some(row) = res.try_as_sqlite_row() {
        let column = row.columns().get(index)?;
        if column.name() != name {
            return None;
        }
        return row.try_get_raw(index).ok().map(|v| v.is_null());
    }
    None
}

/// Implements `FromQueryResult` for `Positional<$model>`, reading `$model`'s fields in the
/// order given, which must be the entity's column order (and each column named as its
/// field).
macro_rules! positional_model {
    ($($model:ident)::+ { $($field:ident),* $(,)? }) => {
        impl Positional<$($model)::+> {
            /// The columns, in the order they are read.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];
        }

        impl FromQueryResult for Positional<$($model)::+> {
            fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
                let mut columns = Columns::new(res, pre);
                Ok(Self($($model)::+ {
                    $($field: columns.next(stringify!($field))?,)*
                }))
            }
        }
    };
}

positional_model!(super::user::Model {
    id,
    email,
    first_name,
    last_name,
    phone,
    mobile,
    date_of_birth,
    address_line_1,
    address_line_2,
    city,
    county,
    postcode,
    country,
    company_name,
    company_role,
    company_department,
    vat_number,
    role,
    status,
    customer_type,
    customer_since,
    first_booking_at,
    last_booking_at,
    total_bookings,
    total_spent_pence,
    last_activity_at,
    marketing_consent,
    sms_consent,
    newsletter_subscribed,
    preferred_contact_method,
    language,
    reminder_frequency,
    emergency_contact_name,
    emergency_contact_phone,
    emergency_contact_relationship,
    has_medical_conditions,
    medical_notes,
    dietary_requirements,
    share_medical_with_trainer,
    password_hash,
    last_login_at,
    failed_login_attempts,
    account_locked_until,
    password_changed_at,
    created_by_id,
    notes,
    merged_into_id,
    search_text,
    sort_name,
    created_at,
    updated_at,
});

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::Positional;
    use crate::entities::user;

    /// A field list out of the entity's order would still decode correctly, but by name:
    /// this keeps the fast path in use.
    #[test]
    fn user_columns_are_read_in_the_entitys_order() {
        let entity: Vec<&str> = user::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(Positional::<user::Model>::COLUMNS, entity.as_slice());
    }
}
