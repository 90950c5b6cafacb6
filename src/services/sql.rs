//! Hand-written SQL statements' values: bound as `$1`, `$2`, ... (PostgreSQL's
//! placeholders, which sqlx reads on SQLite too), so one value can be used more than once.

use sea_orm::{DbBackend, Statement, Value};
use uuid::Uuid;

/// A statement's values, in the order their placeholders were handed out.
#[derive(Default)]
pub(crate) struct Sql {
    values: Vec<Value>,
}

impl Sql {
    /// Binds `value` and returns its placeholder.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    /// Binds each id and returns the placeholders, comma-separated (for `IN (...)`).
    pub(crate) fn list(&mut self, ids: &[Uuid]) -> String {
        ids.iter()
            .map(|id| self.bind(*id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `IN (...)` with each id bound, or on PostgreSQL `= ANY($n)` with one array value, so
    /// the statement's text is the same for any number of ids (as `keys::any_of`).
    pub(crate) fn any_of(&mut self, backend: DbBackend, ids: &[Uuid]) -> String {
        match backend {
            DbBackend::Postgres => format!("= ANY({})", self.bind(ids.to_vec())),
            _ => format!("IN ({})", self.list(ids)),
        }
    }

    /// The statement, with its values.
    pub(crate) fn statement(self, backend: DbBackend, sql: String) -> Statement {
        Statement::from_sql_and_values(backend, sql, self.values)
    }
}
