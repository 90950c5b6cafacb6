//! [`Encrypted<T, F>`]: the column type of a sensitive field, encrypted at rest.
//!
//! A model's field of this type holds the plaintext; the database holds only the envelope
//! ([`crate::crypto`]). The value is sealed when SeaORM turns it into a statement value and
//! opened when SeaORM decodes the row, so no service can write plaintext or forget to
//! decrypt. The envelope's associated data is the field's table and column (from the
//! marker type `F`) and the row's id: on read, the id comes from the same row (`{prefix}id`,
//! so a select that reads an encrypted column also reads the id); on write, the value is
//! bound to its row by the entity's `before_save` (or [`Encrypted::bind`] where rows are
//! inserted without an active model).
//!
//! A value read and written back unchanged keeps its stored envelope (so comparing two
//! versions of a model finds no change, and no update rewrites it). Its `Debug` never
//! shows the plaintext; its serde form is the plaintext (for the merge ledger's values,
//! which seal what they keep).

use std::marker::PhantomData;
use std::sync::Arc;

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, Value, ValueType, ValueTypeErr};
use sea_orm::sqlx::{Column, Row};
use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable};
use uuid::Uuid;

use crate::crypto;

/// Where an encrypted field lives: its table and column (a marker type per field).
pub trait Field: Send + Sync + 'static {
    const TABLE: &'static str;
    const COLUMN: &'static str;
}

/// A plaintext type an encrypted field holds, as the text that is encrypted.
pub trait Plain: Sized + Clone {
    fn to_text(&self) -> String;
    fn from_text(text: &str) -> Option<Self>;
}

impl Plain for String {
    fn to_text(&self) -> String {
        self.clone()
    }
    fn from_text(text: &str) -> Option<Self> {
        Some(text.to_string())
    }
}

impl Plain for chrono::NaiveDate {
    fn to_text(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
    fn from_text(text: &str) -> Option<Self> {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
    }
}

/// A value of type `T` stored encrypted in the column `F` names.
pub struct Encrypted<T, F> {
    value: T,
    /// The row it belongs to; `None` for a new value not yet bound to a row.
    row: Option<Uuid>,
    /// The envelope it was read as, while it is unchanged and in the same row.
    stored: Option<Arc<str>>,
    field: PhantomData<fn() -> F>,
}

impl<T: Plain, F: Field> Encrypted<T, F> {
    /// A new value, bound to its row when it is saved.
    pub fn new(value: T) -> Self {
        Self {
            value,
            row: None,
            stored: None,
            field: PhantomData,
        }
    }

    /// The plaintext.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The plaintext, owned.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Binds the value to row `row` (the row it is written to). A value moved to another
    /// row is encrypted afresh for that row.
    pub fn bind(&mut self, row: Uuid) {
        if self.row != Some(row) {
            self.row = Some(row);
            self.stored = None;
        }
    }

    /// The envelope to store: the one it was read as when unchanged, else a new one under
    /// the active key.
    fn envelope(&self) -> String {
        if let Some(stored) = &self.stored {
            return stored.to_string();
        }
        // A value not bound to a row (a model being compared before it is saved, as the
        // audit trail does) is sealed to no row: such an envelope never opens, so a write
        // path that forgot to bind would show on the first read. Every write path binds
        // (the entities' `before_save`, `Model::bind_encrypted`).
        let row = self.row.unwrap_or(Uuid::nil());
        let keys = crypto::keyring().unwrap_or_else(|e| panic!("{e}"));
        keys.seal(F::TABLE, F::COLUMN, row, self.value.to_text().as_bytes())
    }
}

impl<T: Plain, F: Field> From<T> for Encrypted<T, F> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<F: Field> From<&str> for Encrypted<String, F> {
    fn from(value: &str) -> Self {
        Self::new(value.to_string())
    }
}

impl<T: Clone, F> Clone for Encrypted<T, F> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            row: self.row,
            stored: self.stored.clone(),
            field: PhantomData,
        }
    }
}

/// Two values are equal when their plaintexts are.
impl<T: PartialEq, F> PartialEq for Encrypted<T, F> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq, F> Eq for Encrypted<T, F> {}

/// Never the plaintext.
impl<T, F: Field> std::fmt::Debug for Encrypted<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encrypted({}.{})", F::TABLE, F::COLUMN)
    }
}

impl<T: serde::Serialize, F> serde::Serialize for Encrypted<T, F> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Plain + serde::Deserialize<'de>, F: Field> serde::Deserialize<'de>
    for Encrypted<T, F>
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Self::new)
    }
}

impl<T: Plain, F: Field> From<Encrypted<T, F>> for Value {
    fn from(v: Encrypted<T, F>) -> Self {
        Value::String(Some(v.envelope()))
    }
}

impl<T: Plain, F: Field> Nullable for Encrypted<T, F> {
    fn null() -> Value {
        Value::String(None)
    }
}

/// Needed by SeaORM's generic setters; an envelope alone cannot be opened (its row is not
/// known), so setting an encrypted column from a bare value is refused.
impl<T: Plain, F: Field> ValueType for Encrypted<T, F> {
    fn try_from(_: Value) -> Result<Self, ValueTypeErr> {
        Err(ValueTypeErr)
    }
    fn type_name() -> String {
        format!("Encrypted<{}.{}>", F::TABLE, F::COLUMN)
    }
    fn array_type() -> ArrayType {
        ArrayType::String
    }
    fn column_type() -> ColumnType {
        ColumnType::Text
    }
}

impl<T: Plain, F: Field> TryGetable for Encrypted<T, F> {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let text = String::try_get_by(res, index)?;
        let name = match (index.as_str(), index.as_usize()) {
            (Some(name), _) => name.to_string(),
            (None, Some(&i)) => column_name(res, i).unwrap_or_else(|| F::COLUMN.to_string()),
            _ => F::COLUMN.to_string(),
        };
        let prefix = name.strip_suffix(F::COLUMN).unwrap_or("");
        let id_column = format!("{prefix}id");
        let row = Uuid::try_get_by(res, id_column.as_str()).map_err(|_| {
            decode_error(format!(
                "{}.{} is read without its row's id ({id_column})",
                F::TABLE,
                F::COLUMN
            ))
        })?;
        let keys = crypto::keyring().map_err(|e| decode_error(e.to_string()))?;
        let plain = keys
            .open(F::TABLE, F::COLUMN, row, &text)
            .map_err(|e| decode_error(e.to_string()))?;
        let value = std::str::from_utf8(&plain)
            .ok()
            .and_then(T::from_text)
            .ok_or_else(|| {
                decode_error(format!(
                    "{}.{} of row {row} holds no valid value",
                    F::TABLE,
                    F::COLUMN
                ))
            })?;
        Ok(Self {
            value,
            row: Some(row),
            stored: Some(text.into()),
            field: PhantomData,
        })
    }
}

fn decode_error(message: String) -> TryGetError {
    TryGetError::DbErr(DbErr::Type(message))
}

/// The name of the column at `index`.
fn column_name(res: &QueryResult, index: usize) -> Option<String> {
    if let Some(row) = res.try_as_pg_row() {
        return row.columns().get(index).map(|c| c.name().to_string());
    }
    if let Some(row) = res.try_as_sqlite_row() {
        return row.columns().get(index).map(|c| c.name().to_string());
    }
    None
}

/// Declares the marker type of each encrypted field, and [`FIELDS`].
macro_rules! encrypted_fields {
    ($($marker:ident => $table:literal . $column:literal;)*) => {
        $(
            #[doc = concat!("`", $table, ".", $column, "`, encrypted at rest.")]
            #[derive(Debug, Clone, Copy)]
            pub struct $marker;
            impl Field for $marker {
                const TABLE: &'static str = $table;
                const COLUMN: &'static str = $column;
            }
        )*
        /// Every encrypted column, as (table, column).
        pub const FIELDS: &[(&str, &str)] = &[$(($table, $column)),*];
    };
}

encrypted_fields! {
    UserDateOfBirth => "users"."date_of_birth";
    UserMedicalNotes => "users"."medical_notes";
    UserDietaryRequirements => "users"."dietary_requirements";
    UserEmergencyContactName => "users"."emergency_contact_name";
    UserEmergencyContactPhone => "users"."emergency_contact_phone";
    UserEmergencyContactRelationship => "users"."emergency_contact_relationship";
    BookingSpecialRequirements => "bookings"."special_requirements";
    AttendeeSpecialRequirements => "booking_attendees"."special_requirements";
    AttendanceTrainerFeedback => "attendance_records"."trainer_feedback";
}

/// The encrypted columns of `table`.
pub fn columns_of(table: &str) -> impl Iterator<Item = &'static str> + '_ {
    FIELDS
        .iter()
        .filter(move |(t, _)| *t == table)
        .map(|(_, c)| *c)
}

/// Whether `table.column` is encrypted at rest.
pub fn is_encrypted(table: &str, column: &str) -> bool {
    FIELDS.iter().any(|(t, c)| *t == table && *c == column)
}

/// Opens an envelope of `table.column` read by plain SQL (the export and the key rotation,
/// which do not go through a model), given its row. `table` and `column` must be one of
/// [`FIELDS`].
pub fn open_text(
    table: &str,
    column: &str,
    row: Uuid,
    envelope: &str,
) -> Result<String, crypto::CryptoError> {
    let (table, column) = FIELDS
        .iter()
        .copied()
        .find(|(t, c)| *t == table && *c == column)
        .ok_or(crypto::CryptoError::NotAnEnvelope {
            table: "?",
            column: "?",
            row,
        })?;
    let plain = crypto::keyring()?.open(table, column, row, envelope)?;
    String::from_utf8(plain).map_err(|_| crypto::CryptoError::Tampered { table, column, row })
}

/// Binds every encrypted field of an active model to the model's id (see
/// [`Encrypted::bind`]); the entities' `before_save` calls it.
macro_rules! bind_active {
    ($am:expr; $($field:ident),* $(,)?) => {{
        use sea_orm::ActiveValue;
        if let ActiveValue::Set(id) | ActiveValue::Unchanged(id) = &$am.id {
            let id = *id;
            $(
                if let ActiveValue::Set(Some(v)) | ActiveValue::Unchanged(Some(v)) = &mut $am.$field {
                    v.bind(id);
                }
            )*
        }
    }};
}
pub(crate) use bind_active;

/// Reading an optional encrypted field's plaintext.
pub trait Revealed<T> {
    /// The plaintext, if there is a value.
    fn plain(&self) -> Option<&T>;
}

impl<T: Plain, F: Field> Revealed<T> for Option<Encrypted<T, F>> {
    fn plain(&self) -> Option<&T> {
        self.as_ref().map(Encrypted::value)
    }
}

/// Reading an optional encrypted text field as `&str`.
pub trait RevealedText {
    /// The plaintext, if there is a value.
    fn plain_str(&self) -> Option<&str>;
}

impl<F: Field> RevealedText for Option<Encrypted<String, F>> {
    fn plain_str(&self) -> Option<&str> {
        self.as_ref().map(|e| e.value().as_str())
    }
}

/// An optional plaintext as an optional encrypted field.
pub fn seal<T: Plain, F: Field>(value: Option<T>) -> Option<Encrypted<T, F>> {
    value.map(Encrypted::new)
}

/// Edits an optional encrypted field through its plaintext: `edit` gets the plaintext to
/// change; a field left equal keeps its stored envelope (and so is not rewritten).
pub fn edit<T: Plain + PartialEq, F: Field, R>(
    target: &mut Option<Encrypted<T, F>>,
    edit: impl FnOnce(&mut Option<T>) -> R,
) -> R {
    let mut plain = target.plain().cloned();
    let out = edit(&mut plain);
    if plain.as_ref() != target.plain() {
        *target = seal(plain);
    }
    out
}

/// An optional plaintext as an optional encrypted field of row `row`.
pub fn seal_at<T: Plain, F: Field>(value: Option<T>, row: Uuid) -> Option<Encrypted<T, F>> {
    value.map(|v| {
        let mut e = Encrypted::new(v);
        e.bind(row);
        e
    })
}
