//! What operators see: Prometheus metrics on a listener of their own, one log line per
//! request (human-readable or JSON), and the request span every other log line sits in.
//!
//! The metric names are listed in docs/ARCHITECTURE.md ("Metrics and logs"); keep both in
//! step. Labels are bounded: methods and routes come from fixed lists, operation names are
//! capped (see [`operation_label`]), outcomes are the error codes of `src/error.rs`.

use std::{
    collections::HashSet,
    sync::{LazyLock, Mutex, OnceLock},
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseConnection, DatabaseConnectionType};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use uuid::Uuid;

use crate::config::LogFormat;

/// Most distinct operation names given a label of their own; later names count as `other`.
pub const MAX_OPERATION_NAMES: usize = 100;
/// Longest operation name kept, in characters.
pub const MAX_OPERATION_NAME_CHARS: usize = 64;

/// Histogram buckets for durations, in seconds.
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often recorded histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Starts logging to stdout: human-readable lines, or one JSON object per line. `RUST_LOG`
/// filters (default `info,sqlx=warn`).
pub fn init_logs(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only for a terminal, not for a file or a log collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => logs.init(),
        // Event fields at the top level; the spans an event sits in (the request's, with its
        // id, and the service call's, with the ids it acts on) under `spans`.
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

/// The process-wide Prometheus recorder and the process metrics it renders.
struct Recorder {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static RECORDER: OnceLock<Result<Recorder, String>> = OnceLock::new();

/// Installs the Prometheus recorder, once per process: a server started again in the same
/// process (as the tests do) shares it. It has no HTTP listener of its own; [`router`]
/// serves it.
pub fn install() -> anyhow::Result<()> {
    RECORDER
        .get_or_init(|| build_recorder().map_err(|e| e.to_string()))
        .as_ref()
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("cannot start the metrics recorder: {e}"))
}

fn build_recorder() -> Result<Recorder, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_duration_seconds".into()),
            &DURATION_BUCKETS,
        )?
        .install_recorder()?;
    let upkeep = handle.clone();
    // Without it, samples recorded between scrapes would pile up unbounded.
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread did not start; scrapes do it instead");
    }
    describe();
    let process = metrics_process::Collector::default();
    process.describe();
    Ok(Recorder { handle, process })
}

fn describe() {
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method and route."
    );
    describe_gauge!(
        "http_requests_in_flight",
        "HTTP requests being answered now."
    );
    describe_counter!(
        "graphql_operations_total",
        "GraphQL operations run, by operation name and outcome (ok, or the first error's code)."
    );
    describe_histogram!(
        "graphql_operation_duration_seconds",
        metrics::Unit::Seconds,
        "Time to run one GraphQL operation, by operation name."
    );
    describe_gauge!(
        "db_pool_connections",
        "Open database connections (idle and in use), at scrape time."
    );
    describe_gauge!(
        "db_pool_idle_connections",
        "Open database connections not in use, at scrape time."
    );
    describe_gauge!(
        "db_pool_in_use_connections",
        "Database connections in use, at scrape time. When this equals db_pool_max_connections, \
         further requests wait for a connection."
    );
    describe_gauge!(
        "db_pool_max_connections",
        "The most database connections the pool opens."
    );
}

/// The metrics listener's routes: `GET /metrics` only.
pub fn router(db: DatabaseConnection) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(db)
}

async fn scrape(State(db): State<DatabaseConnection>) -> Response {
    let Some(Ok(recorder)) = RECORDER.get() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    record_pool(&db);
    recorder.process.collect();
    recorder.handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        recorder.handle.render(),
    )
        .into_response()
}

/// Sets the pool gauges from the pool itself. sqlx does not say how many callers are
/// waiting for a connection: in use equal to the maximum is the sign that some are.
fn record_pool(db: &DatabaseConnection) {
    let (size, idle, max) = match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return,
    };
    let (size, idle) = (f64::from(size), idle as f64);
    gauge!("db_pool_connections").set(size);
    gauge!("db_pool_idle_connections").set(idle);
    gauge!("db_pool_in_use_connections").set((size - idle).max(0.0));
    gauge!("db_pool_max_connections").set(f64::from(max));
}

/// What the GraphQL handler learned about a request, handed to [`track`] in the response's
/// extensions for the request's log line.
#[derive(Debug, Clone, Default)]
pub struct GraphqlSeen {
    /// The operations run, by [`operation_name`].
    pub operations: Vec<String>,
    /// The authenticated caller, if any.
    pub user_id: Option<Uuid>,
}

/// The route a request matched (its pattern, never the raw path), for [`track`].
#[derive(Debug, Clone)]
struct Route(String);

/// Route middleware: hands the matched route's pattern to [`track`], which runs before
/// routing and so cannot see it.
pub async fn mark_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

/// Lowers the in-flight gauge however the request ends (a client that hangs up drops it).
struct InFlight;

impl InFlight {
    fn start() -> Self {
        gauge!("http_requests_in_flight").increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!("http_requests_in_flight").decrement(1.0);
    }
}

/// Middleware around every request: a `request` span carrying the request id (so every
/// log line written while answering carries it), the HTTP metrics, and one log line when
/// the answer is ready: request id, method, route, status, duration, GraphQL operations
/// and the caller's user id. Never a header, a body, a query or a variable.
/// `GET /healthz` logs at debug, so probes do not flood the log.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let method = method_label(request.method());
    let span = tracing::info_span!("request", %request_id);
    let in_flight = InFlight::start();
    let response = next.run(request).instrument(span.clone()).await;
    drop(in_flight);
    let elapsed = started.elapsed();

    let status = response.status().as_u16();
    let route = response
        .extensions()
        .get::<Route>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_string();
    counter!(
        "http_requests_total",
        "method" => method,
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    histogram!(
        "http_request_duration_seconds",
        "method" => method,
        "route" => route.clone()
    )
    .record(elapsed.as_secs_f64());

    let seen = response.extensions().get::<GraphqlSeen>();
    let operation = seen
        .filter(|s| !s.operations.is_empty())
        .map(|s| s.operations.join(","));
    let user_id = seen.and_then(|s| s.user_id).map(tracing::field::display);
    let duration_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3;
    macro_rules! request_line {
        ($level:expr) => {
            tracing::event!(
                parent: &span,
                $level,
                request_id = request_id.as_str(),
                method,
                route = route.as_str(),
                status,
                duration_ms,
                operation = operation.as_deref(),
                user_id,
                "request"
            )
        };
    }
    if route == "/healthz" {
        request_line!(tracing::Level::DEBUG);
    } else {
        request_line!(tracing::Level::INFO);
    }
    response
}

/// A method as a label: the standard ones, or `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// An operation's name as logged: the client's name when it is a GraphQL name (at most
/// [`MAX_OPERATION_NAME_CHARS`]), `anonymous` when there is none, `other` when it is not a
/// name at all.
pub fn operation_name(name: Option<&str>) -> String {
    match name.filter(|n| !n.is_empty()) {
        None => "anonymous".into(),
        Some(n) if is_graphql_name(n) => n.chars().take(MAX_OPERATION_NAME_CHARS).collect(),
        Some(_) => "other".into(),
    }
}

fn is_graphql_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The operation names that have a label of their own. Names are chosen by clients, so
/// they are capped: past [`MAX_OPERATION_NAMES`] distinct names, new ones are `other`.
struct OperationLabels {
    seen: Mutex<HashSet<String>>,
    cap: usize,
}

impl OperationLabels {
    fn new(cap: usize) -> Self {
        Self {
            seen: Mutex::new(HashSet::new()),
            cap,
        }
    }

    fn label(&self, name: &str) -> String {
        let Ok(mut seen) = self.seen.lock() else {
            return "other".into();
        };
        if seen.contains(name) {
            return name.to_string();
        }
        if seen.len() < self.cap {
            seen.insert(name.to_string());
            return name.to_string();
        }
        "other".into()
    }
}

static OPERATION_LABELS: LazyLock<OperationLabels> =
    LazyLock::new(|| OperationLabels::new(MAX_OPERATION_NAMES));

/// The `operation` label of a name from [`operation_name`].
pub fn operation_label(name: &str) -> String {
    OPERATION_LABELS.label(name)
}

/// Counts one GraphQL operation and records how long it took. `outcome` is `ok` or the
/// first error's code.
pub fn record_operation(name: &str, outcome: &str, elapsed: Duration) {
    let label = operation_label(name);
    counter!(
        "graphql_operations_total",
        "operation" => label.clone(),
        "outcome" => outcome.to_string()
    )
    .increment(1);
    histogram!("graphql_operation_duration_seconds", "operation" => label)
        .record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_graphql_names_or_stand_ins() {
        assert_eq!(operation_name(None), "anonymous");
        assert_eq!(operation_name(Some("")), "anonymous");
        assert_eq!(operation_name(Some("Me")), "Me");
        assert_eq!(operation_name(Some("a b\n{")), "other");
        assert_eq!(operation_name(Some("someone@example.com")), "other");
        let long = "A".repeat(200);
        assert_eq!(operation_name(Some(&long)).len(), MAX_OPERATION_NAME_CHARS);
    }

    #[test]
    fn operation_labels_fold_to_other_past_the_cap() {
        let labels = OperationLabels::new(2);
        assert_eq!(labels.label("One"), "One");
        assert_eq!(labels.label("Two"), "Two");
        assert_eq!(labels.label("Three"), "other");
        assert_eq!(
            labels.label("One"),
            "One",
            "names already seen keep their label"
        );
    }
}
