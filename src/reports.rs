//! `GET /imports/{id}/rows.csv[?status=FAILED,SKIPPED]`: an import's rows as CSV (line,
//! legacy id, reference, status, reason, customer id, booking id), for an admin to fix
//! the failed ones. The bearer token is checked exactly as `/graphql` checks it: no or a
//! bad token gets 401, any role but admin 403. The rows are read and sent a thousand at a
//! time, so a large import never sits whole in memory.

use axum::{
    body::{Body, Bytes},
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use crate::app::Shared;
use crate::auth::Caller;
use crate::entities::enums::{ImportRowStatus, Role};
use crate::error::AppError;
use crate::plain::{plain, server_failure};
use crate::services::legacy_import;

/// Rows read per statement (and sent per chunk of the body).
const ROWS_PER_READ: u64 = 1000;

fn failure(e: &AppError) -> Response {
    match e {
        AppError::NotFound(_) => plain(StatusCode::NOT_FOUND, "no such import job"),
        AppError::BadUserInput { message, .. } => plain(StatusCode::BAD_REQUEST, message),
        other => server_failure(other, "import report"),
    }
}

/// The statuses asked for: `status=FAILED`, `status=FAILED,SKIPPED` or the parameter
/// repeated; every row when there is none.
fn statuses(query: Option<&str>) -> Result<Vec<ImportRowStatus>, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| AppError::bad_input("status", format!("bad query string: {e}")))?;
    let mut out = Vec::new();
    for (key, value) in pairs {
        if key == "status" {
            out.extend(legacy_import::parse_statuses(&value)?);
        }
    }
    Ok(out)
}

/// `GET /imports/{id}/rows.csv`.
pub(crate) async fn import_rows_csv(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let state = &shared.state;
    match crate::http::caller(state, &headers).await {
        Err(e) => return failure(&e),
        Ok(Caller::Anonymous) => {
            return plain(
                StatusCode::UNAUTHORIZED,
                "an admin's bearer token is required",
            );
        }
        Ok(Caller::InvalidToken) => {
            return plain(
                StatusCode::UNAUTHORIZED,
                "the access token is invalid or expired",
            );
        }
        Ok(Caller::Customer(_)) => {
            return plain(StatusCode::FORBIDDEN, "you are not allowed to do this");
        }
        Ok(Caller::User(p)) if p.role != Role::Admin => {
            return plain(StatusCode::FORBIDDEN, "you are not allowed to do this");
        }
        Ok(Caller::User(_)) => {}
    }
    let Ok(job_id) = Uuid::parse_str(&id) else {
        return plain(StatusCode::NOT_FOUND, "no such import job");
    };
    let statuses = match statuses(query.as_deref()) {
        Ok(s) => s,
        Err(e) => return failure(&e),
    };
    if let Err(e) = legacy_import::find_job(&state.db, job_id).await {
        return failure(&e);
    }

    let db = state.db.clone();
    // Each step sends the rows after the last one sent (the header first).
    let body = futures_util::stream::try_unfold((None::<i64>, true), move |(after, first)| {
        let db = db.clone();
        let statuses = statuses.clone();
        async move {
            let rows = legacy_import::rows_after(&db, job_id, &statuses, after, ROWS_PER_READ)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if rows.is_empty() && !first {
                return Ok::<_, std::io::Error>(None);
            }
            let mut csv = csv::Writer::from_writer(Vec::new());
            if first {
                csv.write_record(legacy_import::REPORT_HEADER)?;
            }
            for row in &rows {
                csv.write_record(legacy_import::report_record(row))?;
            }
            let bytes = csv
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let next = rows.last().map(|r| r.ordinal).or(after);
            Ok(Some((Bytes::from(bytes), (next, false))))
        }
    });
    let mut response = Body::from_stream(body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"import-{job_id}-rows.csv\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
