//! `GET /certificates/{id}.pdf`: a certificate as a PDF, for its holder or an admin
//! (`services::certificates::download::may_download` decides). The bearer token is
//! checked exactly as `/graphql` checks it. Answers, each with a plain-text body like
//! the import reports': no or a bad token 401, an instructor 403, an unknown id or another
//! customer's certificate 404, a revoked certificate 410. Every download is logged on the
//! holder's activity (`certificate_downloaded`).

use std::net::SocketAddr;

use axum::{
    Extension,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use crate::app::Shared;
use crate::auth::{Caller, RequestContext};
use crate::plain::{plain, server_failure};
use crate::services::audit::Actor;
use crate::services::certificates::download::{self, Download, Refusal};

const NOT_FOUND: &str = "no such certificate";

/// `GET /certificates/{id}.pdf`.
pub(crate) async fn certificate_pdf(
    State(shared): State<Shared>,
    Path(file): Path<String>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let state = &shared.state;
    let caller = match crate::http::caller(state, &headers).await {
        Ok(caller) => caller,
        Err(e) => return server_failure(&e, "the certificate's token check"),
    };
    // Nothing is looked up for a caller who is nobody.
    match &caller {
        Caller::Anonymous => {
            return plain(StatusCode::UNAUTHORIZED, "a bearer token is required");
        }
        Caller::InvalidToken => {
            return plain(
                StatusCode::UNAUTHORIZED,
                "the access token is invalid or expired",
            );
        }
        _ => {}
    }
    let Some(id) = file
        .strip_suffix(".pdf")
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        return plain(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let meta = crate::http::request_meta(state, &headers, crate::http::peer(connect_info));
    let context = RequestContext::new(caller, meta);
    let actor = Actor::from_request(&context);
    let result = download::download(
        &state.db,
        &context.caller,
        &actor,
        id,
        &state.config.email.public_url,
    )
    .await;
    match result {
        Ok(Ok(download)) => pdf_response(download),
        Ok(Err(Refusal::Unauthenticated)) => plain(
            StatusCode::UNAUTHORIZED,
            "the access token is invalid or expired",
        ),
        Ok(Err(Refusal::Forbidden)) => {
            plain(StatusCode::FORBIDDEN, "you are not allowed to do this")
        }
        Ok(Err(Refusal::NotFound)) => plain(StatusCode::NOT_FOUND, NOT_FOUND),
        Ok(Err(Refusal::Revoked)) => plain(StatusCode::GONE, "this certificate was revoked"),
        Err(e) => server_failure(&e, "certificate download"),
    }
}

fn pdf_response(download: Download) -> Response {
    let mut response = download.pdf.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    // Certificate numbers are letters, digits and dashes; anything else is left out.
    let name: String = download
        .certificate_number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"certificate-{name}.pdf\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}
