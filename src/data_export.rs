//! `GET /users/{id}/export.json`: everything held about a customer, as `exportUserData`
//! gives it, for an admin's token or the customer's own portal token. The bearer token
//! is checked exactly as `/graphql` checks it. No or a bad token 401; an instructor, a
//! customer's staff-login token or another customer's portal token 403; an unknown id 404.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use crate::app::Shared;
use crate::auth::Caller;
use crate::entities::enums::Role;
use crate::error::AppError;
use crate::plain::{plain, server_failure};
use crate::services::privacy;

const NOT_FOUND: &str = "no such user";

/// `GET /users/{id}/export.json`.
pub(crate) async fn export_json(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = &shared.state;
    let caller = match crate::http::caller(state, &headers).await {
        Ok(caller) => caller,
        Err(e) => return server_failure(&e, "the export's token check"),
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return plain(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    match &caller {
        Caller::Anonymous => return plain(StatusCode::UNAUTHORIZED, "a bearer token is required"),
        Caller::InvalidToken => {
            return plain(
                StatusCode::UNAUTHORIZED,
                "the access token is invalid or expired",
            );
        }
        Caller::User(p) if p.role == Role::Admin => {}
        Caller::Customer(c) if c.user_id == id => {}
        Caller::User(_) | Caller::Customer(_) => {
            return plain(StatusCode::FORBIDDEN, "you are not allowed to do this");
        }
    }
    match privacy::export(&state.db, id).await {
        Ok(document) => {
            let mut response = axum::Json(document).into_response();
            let h = response.headers_mut();
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"rft-user-{id}.json\""))
            {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            response
        }
        Err(AppError::NotFound(_)) => plain(StatusCode::NOT_FOUND, NOT_FOUND),
        Err(e) => server_failure(&e, "data export"),
    }
}
