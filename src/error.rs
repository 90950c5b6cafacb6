//! The one error type of the service, and its mapping onto GraphQL's `extensions.code`.
//!
//! Clients only ever see one of the stable codes below. Database and internal failures are
//! logged with their cause and reach the client as a bare `INTERNAL_SERVER_ERROR`.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, RuntimeErr, SqlErr, TransactionError};

/// Every failure a resolver or service can report.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No (valid) credentials were presented.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// The named thing does not exist (or the caller may not know it exists).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input was rejected; `field` names the offending input field.
    #[error("{message}")]
    BadUserInput { field: String, message: String },
    /// The request clashes with the current state of the data.
    #[error("{0}")]
    Conflict(String),
    /// Too many requests for one of the limits this operation counts against; the same
    /// request can succeed after `retry_after_secs` seconds (`extensions.retryAfter`).
    #[error("too many requests, try again later")]
    RateLimited { retry_after_secs: u64 },
    /// The database cannot be reached right now. Nothing is wrong with the request or the
    /// caller's credentials: the same request made again shortly can succeed (HTTP 503).
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else. The cause is logged, never sent.
    #[error("internal server error")]
    Internal(#[source] anyhow::Error),
}

/// Shorthand used across services and resolvers.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A BAD_USER_INPUT error naming `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadUserInput { .. } => "BAD_USER_INPUT",
            Self::Conflict(_) => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Unavailable(_) => SERVICE_UNAVAILABLE,
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// Wraps any error as an internal one.
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

/// The code of [`AppError::Unavailable`]: the HTTP layer answers 503 when a response
/// carries it.
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";

/// The code of an Apollo automatic persisted query whose hash the server does not know; the
/// client's persisted-query link then sends the full text.
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        if is_unavailable(&e) {
            return Self::Unavailable(e.into());
        }
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Self::Conflict("this conflicts with an existing record".into())
            }
            _ if is_transient(&e) => Self::Conflict(
                "this clashed with a change made at the same moment; try again".into(),
            ),
            _ => Self::Internal(e.into()),
        }
    }
}

impl From<&DbErr> for AppError {
    fn from(e: &DbErr) -> Self {
        e.clone().into()
    }
}

/// A DataLoader's shared error.
impl From<std::sync::Arc<DbErr>> for AppError {
    fn from(e: std::sync::Arc<DbErr>) -> Self {
        (*e).clone().into()
    }
}

/// True when `e` says the database could not be reached or dropped the connection (as
/// opposed to refusing the statement): the pool could not hand out a connection, the
/// socket failed, or the server ended the session (SQLSTATE class 08, and 57P01-57P03:
/// administrator or crash shutdown, or the server still starting).
pub fn is_unavailable(e: &DbErr) -> bool {
    match e {
        // Acquiring or opening a connection failed: whatever the server said, it is not
        // about this request.
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match e {
        Error::Io(_)
        | Error::Tls(_)
        | Error::Protocol(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(d) => d.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// A PostgreSQL deadlock or serialisation failure: the transaction was rolled back, and the
/// same request made again can succeed.
fn is_transient(e: &DbErr) -> bool {
    let (DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))) = e else {
        return false;
    };
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

impl<E: Into<AppError> + std::error::Error> From<TransactionError<E>> for AppError {
    fn from(e: TransactionError<E>) -> Self {
        match e {
            TransactionError::Connection(db) => db.into(),
            TransactionError::Transaction(inner) => inner.into(),
        }
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        match self {
            // The cause's chain on one line (its Debug form spans many).
            Self::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "internal error")
            }
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            _ => {}
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Self::BadUserInput { field, .. } = self {
                ext.set("field", field.as_str());
            }
            if let Self::RateLimited { retry_after_secs } = self {
                ext.set("retryAfter", (*retry_after_secs).max(1));
            }
        })
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        e.extend()
    }
}

/// Gives every error in a response a stable code.
///
/// Errors raised before any resolver runs (syntax, validation, variable coercion, an unknown
/// enum value, depth limits) come from async-graphql without extensions: they are all the
/// client's input, so they become BAD_USER_INPUT, naming the argument or variable when the
/// message does.
pub fn normalise_errors(errors: &mut [async_graphql::ServerError]) {
    for err in errors {
        let has_code = err
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        let field = ["argument", "Variable", "variable"]
            .iter()
            .find_map(|k| quoted_name_after(&err.message, k));
        let ext = err.extensions.get_or_insert_with(Default::default);
        ext.set("code", "BAD_USER_INPUT");
        if let Some(field) = field {
            ext.set("field", field);
        }
    }
}

/// Finds `keyword "name"` or `keyword "$name"` in an async-graphql message.
fn quoted_name_after(message: &str, keyword: &str) -> Option<String> {
    let start = message.find(keyword)? + keyword.len();
    let rest = message[start..].trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    let name = rest[..end].trim_start_matches('$');
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_argument_names_in_coercion_messages() {
        let msg = r#"Invalid value for argument "status", enumeration type "UserStatus" does not contain the value "FOO""#;
        assert_eq!(
            quoted_name_after(msg, "argument").as_deref(),
            Some("status")
        );
        let msg = r#"Variable "$input" got invalid value"#;
        assert_eq!(quoted_name_after(msg, "Variable").as_deref(), Some("input"));
        assert_eq!(quoted_name_after(msg, "argument"), None);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = AppError::internal(anyhow::anyhow!("SELECT secret FROM users failed"));
        let gql: async_graphql::Error = err.into();
        assert_eq!(gql.message, "internal server error");
    }
}
