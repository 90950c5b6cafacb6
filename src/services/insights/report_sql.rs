//! The small pieces of hand-written SQL the reports share: placeholders for either
//! database, the UTC day of a timestamp, keyset cursors and page sizes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{DbBackend, Statement, Value};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{AppError, AppResult};

/// A statement's values, bound in the order their placeholders were handed out (`?` on
/// SQLite, `$n` on PostgreSQL).
pub(super) struct Binds {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Binds {
    pub(super) fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// Binds `value` and returns its placeholder.
    pub(super) fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".into(),
        }
    }

    /// The statement `sql` with the values bound so far.
    pub(super) fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

/// The UTC calendar day of the timestamp column `col`, as a date.
pub(super) fn utc_date(backend: DbBackend, col: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST({col} AT TIME ZONE 'UTC' AS DATE)"),
        // Timestamps are stored as ISO 8601 text; `date()` reads any offset and gives the
        // UTC day as `YYYY-MM-DD`, which compares as the dates stored beside it do.
        _ => format!("date({col})"),
    }
}

/// `col` (a timestamp) as whole milliseconds since 1970: a sort key that orders the same
/// on both databases (SQLite keeps timestamps as text).
pub(super) fn epoch_millis(backend: DbBackend, col: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST(FLOOR(EXTRACT(EPOCH FROM {col}) * 1000) AS BIGINT)"),
        // `%f` is seconds with milliseconds (`SS.SSS`).
        _ => format!(
            "(CAST(strftime('%s', {col}) AS INTEGER) * 1000 \
             + CAST(substr(strftime('%f', {col}), 4) AS INTEGER))"
        ),
    }
}

/// `pattern` for `LIKE ... ESCAPE '\'`, matching `text` anywhere.
pub(super) fn contains_pattern(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// The most rows one page of a report may hold.
pub const MAX_PAGE: i32 = 100;
/// Rows per page when `first` is not given.
pub const DEFAULT_PAGE: i32 = 20;

/// The page size from `first`: 0 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when not given.
pub(super) fn page_size(first: Option<i32>) -> AppResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE as u64),
        Some(n) if (0..=MAX_PAGE).contains(&n) => Ok(n as u64),
        Some(_) => Err(AppError::bad_input(
            "first",
            format!("first must be between 0 and {MAX_PAGE}"),
        )),
    }
}

/// A keyset cursor: the row's sort key, as opaque text.
pub(super) fn encode_cursor<C: Serialize>(cursor: &C) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

/// Reads a cursor made by [`encode_cursor`]; anything else is BAD_USER_INPUT on `field`.
pub(super) fn decode_cursor<C: DeserializeOwned>(field: &str, raw: &str) -> AppResult<C> {
    let bad = || AppError::bad_input(field, format!("{field} is not a cursor from this list"));
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_outside_0_to_100_are_refused() {
        assert_eq!(page_size(None).unwrap(), 20);
        assert_eq!(page_size(Some(0)).unwrap(), 0);
        assert_eq!(page_size(Some(100)).unwrap(), 100);
        assert!(page_size(Some(-1)).is_err());
        assert!(page_size(Some(101)).is_err());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
