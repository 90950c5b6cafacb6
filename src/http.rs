//! `/graphql` over HTTP: what is accepted, how a request is run, and what a database outage
//! looks like to a client.
//!
//! - `POST` takes only `application/json` bodies (a browser sends `text/plain` and
//!   `multipart/form-data` cross-site without a preflight, so those are refused with 415),
//!   one operation or a batch of at most `RFT_MAX_BATCH`.
//! - `GET ?query=…` runs queries (GraphQL over HTTP), never mutations (405). A browser
//!   asking for `text/html` gets the GraphiQL page instead.
//! - Apollo's automatic persisted queries (`extensions.persistedQuery`), over both, with a
//!   bounded cache of parsed documents.
//! - A database outage answers 503 with `SERVICE_UNAVAILABLE`, never `UNAUTHENTICATED`.
//!   Broken pooled connections are closed, and a read-only operation that met one is run
//!   once more; a mutation is never run again.
//! - Each operation is counted by name and outcome, and the request's log line gets the
//!   operation names and the caller's user id (`src/telemetry.rs`).

use std::{net::SocketAddr, num::NonZeroUsize, sync::Mutex, time::Instant};

use async_graphql::{
    Request, Response, ServerError, Variables,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response as HttpResponse},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::app::{AppState, Shared};
use crate::auth::{Caller, RequestContext, RequestMeta};
use crate::error::{AppError, PERSISTED_QUERY_NOT_FOUND, SERVICE_UNAVAILABLE, normalise_errors};
use crate::graphql::loaders;
use crate::services::{portal, sessions};
use crate::telemetry::{self, GraphqlSeen};

/// Parsed documents kept for Apollo's automatic persisted queries.
pub const PERSISTED_QUERY_CACHE_ENTRIES: usize = 1024;

/// The parsed documents of persisted queries, by their SHA-256 (least recently used go first).
pub struct PersistedQueries(Mutex<lru::LruCache<[u8; 32], ExecutableDocument>>);

impl PersistedQueries {
    /// An empty cache holding at most `entries` documents.
    pub fn new(entries: usize) -> Self {
        let entries = NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN);
        Self(Mutex::new(lru::LruCache::new(entries)))
    }

    fn get(&self, hash: &[u8; 32]) -> Option<ExecutableDocument> {
        self.0.lock().ok()?.get(hash).cloned()
    }

    fn put(&self, hash: [u8; 32], doc: ExecutableDocument) {
        if let Ok(mut cache) = self.0.lock() {
            cache.put(hash, doc);
        }
    }
}

/// `POST /graphql`.
pub(crate) async fn post(
    State(shared): State<Shared>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResponse {
    if !is_json(&headers) {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "POST /graphql accepts only `Content-Type: application/json` bodies",
        );
    }
    let (requests, batched) = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message),
    };
    let max = shared.state.config.max_batch;
    if batched && requests.len() > max {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!("a batch may hold at most {max} operations"),
        );
    }
    let input = Input {
        method: Method::POST,
        again: &|i| parse_body(&body).ok()?.0.into_iter().nth(i),
    };
    run(
        &shared,
        &headers,
        peer(connect_info),
        requests,
        batched,
        input,
    )
    .await
}

/// `GET /graphql`: GraphiQL for a browser, otherwise a query from the URL.
pub(crate) async fn get(
    State(shared): State<Shared>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> HttpResponse {
    let query = query.unwrap_or_default();
    // A browser, or a bare `GET /graphql` from something that did not ask for JSON.
    if accepts(&headers, "text/html") || (query.is_empty() && !accepts(&headers, "json")) {
        return crate::app::graphiql().await.into_response();
    }
    let request = match parse_query_string(&query) {
        Ok(request) => request,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", &message),
    };
    let input = Input {
        method: Method::GET,
        again: &|_| parse_query_string(&query).ok(),
    };
    run(
        &shared,
        &headers,
        peer(connect_info),
        vec![request],
        false,
        input,
    )
    .await
}

/// Where the requests came from, and how to read one of them again for a retry.
struct Input<'a> {
    method: Method,
    again: &'a (dyn Fn(usize) -> Option<Request> + Send + Sync),
}

/// Runs each operation in turn (as async-graphql's own batch execution does) and answers
/// with the worst status among them.
async fn run(
    shared: &Shared,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    requests: Vec<Request>,
    batched: bool,
    input: Input<'_>,
) -> HttpResponse {
    let state = &shared.state;
    let started = Instant::now();
    let caller = match caller(state, headers).await {
        Ok(caller) => caller,
        Err(e) => {
            tracing::warn!(error = %e, "could not check the access token");
            // None of the operations ran: each is counted as unavailable.
            let mut seen = GraphqlSeen::default();
            for request in &requests {
                let name = telemetry::operation_name(request.operation_name.as_deref());
                telemetry::record_operation(&name, SERVICE_UNAVAILABLE, started.elapsed());
                seen.operations.push(name);
            }
            let mut answer = refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                SERVICE_UNAVAILABLE,
                &e.to_string(),
            );
            answer.extensions_mut().insert(seen);
            return answer;
        }
    };
    let user_id = match &caller {
        Caller::User(p) => Some(p.user_id),
        Caller::Customer(c) => Some(c.user_id),
        _ => None,
    };
    let context = RequestContext::new(caller, request_meta(state, headers, peer));
    let mut status = StatusCode::OK;
    let mut responses = Vec::with_capacity(requests.len());
    let mut seen = GraphqlSeen {
        operations: Vec::with_capacity(requests.len()),
        user_id,
    };
    for (i, request) in requests.into_iter().enumerate() {
        let started = Instant::now();
        let (mut response, code, name) = execute(shared, &context, request, &input.method).await;
        if code == StatusCode::OK && has_code(&response, SERVICE_UNAVAILABLE) {
            response = retry_read(shared, &context, &input, i, response).await;
        }
        let name = telemetry::operation_name(name.as_deref());
        telemetry::record_operation(&name, outcome(&response), started.elapsed());
        seen.operations.push(name);
        status = worse(status, code);
        if has_code(&response, SERVICE_UNAVAILABLE) {
            status = StatusCode::SERVICE_UNAVAILABLE;
        }
        responses.push(response);
    }
    let mut answer = respond(status, responses, batched);
    answer.extensions_mut().insert(seen);
    answer
}

/// `ok`, or the code of the response's first error.
fn outcome(response: &Response) -> &str {
    let Some(first) = response.errors.first() else {
        return "ok";
    };
    match first.extensions.as_ref().and_then(|ext| ext.get("code")) {
        Some(async_graphql::Value::String(code)) => code,
        _ => "UNKNOWN",
    }
}

/// After a connection-level failure: closes the pool's broken connections, so the next
/// request gets a fresh one, and runs a read-only operation once more. A mutation's failed
/// response is returned as it is: it is never run twice.
async fn retry_read(
    shared: &Shared,
    context: &RequestContext,
    input: &Input<'_>,
    index: usize,
    failed: Response,
) -> Response {
    let evicted = crate::db::evict_broken(&shared.state.db).await;
    let Some(request) = (input.again)(index) else {
        return failed;
    };
    let (request, read_only, _) = match prepare(shared, request, &input.method) {
        Ok(prepared) => prepared,
        Err(_) => return failed,
    };
    if !read_only {
        return failed;
    }
    tracing::info!(
        evicted,
        "retrying a read-only operation after a database error"
    );
    run_prepared(shared, context, request).await
}

/// Prepares and runs one operation; the status is not OK only when it was refused before
/// running. Also returns the operation's name, if it has one.
async fn execute(
    shared: &Shared,
    context: &RequestContext,
    request: Request,
    method: &Method,
) -> (Response, StatusCode, Option<String>) {
    let requested = request.operation_name.clone();
    match prepare(shared, request, method) {
        Ok((request, _, name)) => (
            run_prepared(shared, context, request).await,
            StatusCode::OK,
            name,
        ),
        Err(refused) => {
            let (response, status) = refused.into_response_and_status();
            (response, status, requested)
        }
    }
}

async fn run_prepared(shared: &Shared, context: &RequestContext, mut request: Request) -> Response {
    loaders::register(&mut request, &shared.state.db);
    request.data.insert(context.clone());
    let mut response = shared.schema.execute(request).await;
    normalise_errors(&mut response.errors);
    response
}

/// Why an operation was not run.
enum Refused {
    /// An automatic persisted query this server does not hold (the client sends the text).
    PersistedQueryNotFound,
    /// A mutation over GET.
    MutationOverGet,
    /// A malformed persisted-query extension.
    BadInput(String),
}

impl Refused {
    fn into_response_and_status(self) -> (Response, StatusCode) {
        let (status, code, message) = match self {
            // Apollo's and urql's links match this exact message as well as the code.
            Self::PersistedQueryNotFound => (
                StatusCode::OK,
                PERSISTED_QUERY_NOT_FOUND,
                "PersistedQueryNotFound".to_string(),
            ),
            Self::MutationOverGet => (
                StatusCode::METHOD_NOT_ALLOWED,
                "BAD_USER_INPUT",
                "mutations must be sent with POST".to_string(),
            ),
            Self::BadInput(message) => (StatusCode::BAD_REQUEST, "BAD_USER_INPUT", message),
        };
        (Response::from_errors(vec![coded(message, code)]), status)
    }
}

/// Resolves a persisted query and parses the document once (async-graphql reuses it), to
/// learn whether the operation only reads, and its name.
fn prepare(
    shared: &Shared,
    mut request: Request,
    method: &Method,
) -> Result<(Request, bool, Option<String>), Refused> {
    let document = match request.extensions.remove("persistedQuery") {
        Some(extension) => Some(persisted(
            &shared.persisted_queries,
            &mut request,
            extension,
        )?),
        None => None,
    };
    let document = match document {
        Some(doc) => doc,
        None if request.query.trim().is_empty() => {
            return Err(Refused::BadInput("the request has no `query`".into()));
        }
        None => match async_graphql::parser::parse_query(&request.query) {
            Ok(doc) => doc,
            // Execution reports the syntax error; a document that does not parse changes
            // nothing.
            Err(_) => {
                let name = request.operation_name.clone();
                return Ok((request, true, name));
            }
        },
    };
    let mutation = is_mutation(&document, request.operation_name.as_deref());
    if mutation && method == Method::GET {
        return Err(Refused::MutationOverGet);
    }
    let name = operation_name(&document, request.operation_name.as_deref());
    request.set_parsed_query(document);
    Ok((request, !mutation, name))
}

/// The name of the operation that will run: the one asked for, or the document's only
/// operation's (an anonymous operation has none).
fn operation_name(doc: &ExecutableDocument, requested: Option<&str>) -> Option<String> {
    if let Some(name) = requested {
        return Some(name.to_string());
    }
    match &doc.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|name| name.to_string())
        }
        _ => None,
    }
}

/// Apollo's `persistedQuery` extension: `{ version: 1, sha256Hash }`.
fn persisted(
    cache: &PersistedQueries,
    request: &mut Request,
    extension: async_graphql::Value,
) -> Result<ExecutableDocument, Refused> {
    #[derive(Deserialize)]
    struct PersistedQuery {
        version: i32,
        #[serde(rename = "sha256Hash")]
        sha256_hash: String,
    }
    let bad = |m: &str| Refused::BadInput(m.to_string());
    let pq: PersistedQuery = async_graphql::from_value(extension)
        .map_err(|_| bad("the persistedQuery extension needs version and sha256Hash"))?;
    if pq.version != 1 {
        return Err(bad(
            "only version 1 of the persistedQuery extension is supported",
        ));
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(&pq.sha256_hash, &mut hash)
        .map_err(|_| bad("sha256Hash is not a hex SHA-256"))?;
    if request.query.is_empty() {
        return cache.get(&hash).ok_or(Refused::PersistedQueryNotFound);
    }
    if Sha256::digest(request.query.as_bytes())[..] != hash[..] {
        return Err(bad("sha256Hash does not match the query"));
    }
    let doc = async_graphql::parser::parse_query(&request.query)
        .map_err(|e| Refused::BadInput(e.to_string()))?;
    cache.put(hash, doc.clone());
    Ok(doc)
}

/// Whether the operation that will run is a mutation. With several operations and no name,
/// any mutation among them counts (execution then refuses the missing name anyway).
fn is_mutation(doc: &ExecutableDocument, name: Option<&str>) -> bool {
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => match name {
            Some(name) => ops
                .iter()
                .any(|(n, op)| n.as_str() == name && op.node.ty == OperationType::Mutation),
            None => ops.values().any(|op| op.node.ty == OperationType::Mutation),
        },
    }
}

/// A JSON body: one operation (an object) or a batch (an array).
fn parse_body(body: &[u8]) -> Result<(Vec<Request>, bool), String> {
    let batched = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let parsed = if batched {
        serde_json::from_slice::<Vec<Request>>(body)
    } else {
        serde_json::from_slice::<Request>(body).map(|r| vec![r])
    };
    match parsed {
        Ok(rs) if rs.is_empty() => Err("the batch is empty".into()),
        Ok(rs) => Ok((rs, batched)),
        Err(e) => Err(format!("the body is not a GraphQL request: {e}")),
    }
}

/// `?query=…&operationName=…&variables=…&extensions=…` (the last two JSON-encoded).
fn parse_query_string(query: &str) -> Result<Request, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Params {
        #[serde(default)]
        query: String,
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
    }
    let params: Params = serde_urlencoded::from_str(query)
        .map_err(|e| format!("the query string is not a GraphQL request: {e}"))?;
    if params.query.is_empty() && params.extensions.is_none() {
        return Err("GET /graphql needs a `query` parameter".into());
    }
    let mut request = Request::new(params.query);
    request.operation_name = params.operation_name;
    if let Some(v) = params.variables.filter(|v| !v.is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(&v).map_err(|e| format!("variables is not JSON: {e}"))?;
        request.variables = Variables::from_json(value);
    }
    if let Some(x) = params.extensions.filter(|x| !x.is_empty()) {
        request.extensions = serde_json::from_str(&x)
            .map_err(|e| format!("extensions is not a JSON object: {e}"))?;
    }
    Ok(request)
}

/// Who is calling. A database error here is an outage, not a bad token: it is retried once
/// on connections that answer, then reported as such.
pub(crate) async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return Ok(Caller::InvalidToken);
    };
    if token.starts_with(portal::TOKEN_PREFIX) {
        return portal_caller(state, token).await;
    }
    let principal = match sessions::principal_for(&state.db, &state.jwt, token).await {
        Err(AppError::Unavailable(_)) => {
            crate::db::evict_broken(&state.db).await;
            sessions::principal_for(&state.db, &state.jwt, token).await
        }
        other => other,
    };
    match principal {
        Ok(Some(p)) => Ok(Caller::User(p)),
        Ok(None) => Ok(Caller::InvalidToken),
        Err(e @ AppError::Unavailable(_)) => Err(e),
        Err(e) => Err(AppError::Unavailable(anyhow::anyhow!(
            "the token check failed: {e:?}"
        ))),
    }
}

/// The caller behind a customer-portal token, with the same outage handling as for staff
/// tokens.
async fn portal_caller(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let customer = match portal::principal_for(&state.db, token).await {
        Err(AppError::Unavailable(_)) => {
            crate::db::evict_broken(&state.db).await;
            portal::principal_for(&state.db, token).await
        }
        other => other,
    };
    match customer {
        Ok(Some(c)) => Ok(Caller::Customer(c)),
        Ok(None) => Ok(Caller::InvalidToken),
        Err(e @ AppError::Unavailable(_)) => Err(e),
        Err(e) => Err(AppError::Unavailable(anyhow::anyhow!(
            "the portal token check failed: {e:?}"
        ))),
    }
}

/// What audit and activity rows record of a request: the client's address and user agent.
pub(crate) fn request_meta(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> RequestMeta {
    RequestMeta {
        ip: client_ip(state.config.trust_proxy, headers, peer),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(500).collect()),
    }
}

/// The client's address: the peer, or the first `X-Forwarded-For` hop behind a trusted
/// proxy.
fn client_ip(trust_proxy: bool, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<String> {
    if trust_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|s| s.parse::<std::net::IpAddr>().is_ok());
        if let Some(ip) = forwarded {
            return Some(ip.to_string());
        }
    }
    peer.map(|a| a.ip().to_string())
}

pub(crate) fn peer(connect_info: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<SocketAddr> {
    connect_info.map(|Extension(ConnectInfo(a))| a)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether an `Accept` header names a media type containing `what`.
fn accepts(headers: &HeaderMap, what: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains(what))
}

fn has_code(response: &Response, code: &str) -> bool {
    response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|c| matches!(c, async_graphql::Value::String(s) if s == code))
    })
}

/// The status a whole answer gets: the highest among its operations'.
fn worse(a: StatusCode, b: StatusCode) -> StatusCode {
    if b.as_u16() > a.as_u16() { b } else { a }
}

fn coded(message: impl Into<String>, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

/// An answer for a request refused as a whole, in the GraphQL response shape.
fn refusal(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    respond(
        status,
        vec![Response::from_errors(vec![coded(message, code)])],
        false,
    )
}

fn respond(status: StatusCode, mut responses: Vec<Response>, batched: bool) -> HttpResponse {
    let body = if batched {
        serde_json::to_vec(&responses)
    } else {
        serde_json::to_vec(&responses.first())
    };
    let mut extra = HeaderMap::new();
    if !batched && let Some(r) = responses.first_mut() {
        extra = std::mem::take(&mut r.http_headers);
    }
    let mut out = match body {
        Ok(body) => (status, body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not serialise a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    let headers = out.headers_mut();
    headers.extend(extra);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    out
}
