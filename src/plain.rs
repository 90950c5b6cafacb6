//! Plain-text answers of the HTTP endpoints that are not GraphQL (import reports,
//! certificate PDFs): a status and one line saying why, with the headers that status
//! calls for.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::error::AppError;

/// A plain-text answer: `message` and a newline. A 401 names the scheme to use
/// (`WWW-Authenticate: Bearer`); a 503 asks the client to retry shortly.
pub(crate) fn plain(status: StatusCode, message: &str) -> Response {
    let mut r = (status, format!("{message}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// The answer to an error that is not the client's: 503 for an outage, else 500 (logged
/// with its cause, which the client never sees).
pub(crate) fn server_failure(e: &AppError, what: &str) -> Response {
    match e {
        AppError::Unavailable(_) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is temporarily unavailable; try again shortly",
        ),
        other => {
            tracing::error!(error = ?other, "{what} failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
    }
}
