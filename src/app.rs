//! Application wiring: shared state, the router, and the server used by `main` and by
//! the tests alike.

use std::{future::IntoFuture, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use sea_orm::DatabaseConnection;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
};

use crate::auth::{jwt::JwtKeys, rate_limit::RateLimiter};
use crate::config::AppConfig;
use crate::graphql::{AppSchema, build_schema};
use crate::http::{self, PERSISTED_QUERY_CACHE_ENTRIES, PersistedQueries};
use crate::mailer::Mailer;
use crate::services::email::Outbox;

/// State shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<AppConfig>,
    pub jwt: Arc<JwtKeys>,
    /// The database-backed rate limits (`rate_limit_buckets`).
    pub limiter: RateLimiter,
    /// Where mutations queue emails, and the mail worker's wake-up.
    pub outbox: Outbox,
}

impl AppState {
    /// State over an open (and migrated) database.
    pub fn new(db: DatabaseConnection, config: AppConfig) -> Self {
        let jwt = JwtKeys::new(&config.jwt_secret, config.access_token_ttl);
        Self {
            db,
            limiter: RateLimiter::new(&config.jwt_secret),
            outbox: Outbox::new(&config.email.public_url),
            jwt: Arc::new(jwt),
            config: Arc::new(config),
        }
    }
}

/// What the `/graphql` handlers share.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) state: AppState,
    pub(crate) schema: AppSchema,
    pub(crate) persisted_queries: Arc<PersistedQueries>,
}

/// The HTTP routes: `/graphql` (GraphiQL on GET, GraphQL on POST), `/webhooks/stripe`,
/// `/healthz`, the import reports (`/imports/{id}/rows.csv`), certificates
/// (`/certificates/{id}.pdf`) and data exports (`/users/{id}/export.json`). Never `/metrics`: that has a listener of its own
/// ([`crate::telemetry::router`]).
pub fn build_router(state: AppState) -> Router {
    let schema = build_schema(state.clone());
    let cors = cors_layer(&state.config.cors_origins);
    let webhooks = Router::new()
        .route("/webhooks/stripe", post(crate::webhooks::stripe))
        .with_state(state.clone());
    Router::new()
        .route("/graphql", get(http::get).post(http::post))
        .route("/healthz", get(healthz))
        .route(
            "/imports/{id}/rows.csv",
            get(crate::reports::import_rows_csv),
        )
        // `{id}.pdf`: the handler takes the whole segment and expects the suffix.
        .route(
            "/certificates/{file}",
            get(crate::certificate_pdf::certificate_pdf),
        )
        .route(
            "/users/{id}/export.json",
            get(crate::data_export::export_json),
        )
        .with_state(Shared {
            state,
            schema,
            persisted_queries: Arc::new(PersistedQueries::new(PERSISTED_QUERY_CACHE_ENTRIES)),
        })
        .merge(webhooks)
        .merge(crate::graphiql::routes())
        .route_layer(axum::middleware::from_fn(crate::telemetry::mark_route))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(cors)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(axum::middleware::from_fn(crate::telemetry::track))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}

/// The GraphiQL page, for a browser that asks for `/graphql`.
pub(crate) async fn graphiql() -> impl IntoResponse {
    crate::graphiql::page()
}

/// 200 when the database answers. A failed ping closes the pool's broken connections and
/// pings once more, so the check recovers as soon as the database does.
async fn healthz(State(shared): State<Shared>) -> StatusCode {
    let db = &shared.state.db;
    let first = db.ping().await;
    let result = match first {
        Ok(()) => Ok(()),
        Err(_) => {
            crate::db::evict_broken(db).await;
            db.ping().await
        }
    };
    match result {
        Ok(()) => StatusCode::OK,
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: tokio::net::TcpListener,
    /// The `/metrics` listener, when `metrics_bind` is set.
    metrics_listener: Option<tokio::net::TcpListener>,
    router: Router,
    /// The mail worker, unless this instance runs none (`RFT_MAIL_WORKER=false`).
    mailer: Option<Mailer>,
    pub state: AppState,
}

impl Application {
    /// Connects, migrates, and binds `bind` (port 0 picks a free port). Each error names
    /// the setting or address it is about.
    pub async fn build(config: AppConfig, bind: SocketAddr) -> anyhow::Result<Self> {
        let database = crate::config::describe_database(&config.database_url);
        let db = crate::db::connect(&config.database_url, config.db_pool_size)
            .await
            .with_context(|| format!("DATABASE_URL: cannot open the database {database}"))?;
        crate::db::migrate(&db)
            .await
            .with_context(|| format!("cannot migrate the database {database}"))?;
        Self::with_database(db, config, bind).await
    }

    /// Binds over an already migrated database: `bind`, and `metrics_bind` when it is set
    /// (installing the process-wide metrics recorder).
    pub async fn with_database(
        db: DatabaseConnection,
        config: AppConfig,
        bind: SocketAddr,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot bind {bind} (RFT_BIND)"))?;
        let metrics_listener = match config.metrics_bind {
            Some(addr) => {
                crate::telemetry::install()?;
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot bind {addr} (RFT_METRICS_BIND)"))?;
                Some(listener)
            }
            None => None,
        };
        let state = AppState::new(db, config);
        let email = &state.config.email;
        let mailer = match email.worker {
            true => Some(Mailer::new(state.db.clone(), state.outbox.clone(), email)?),
            false => None,
        };
        Ok(Self {
            listener,
            metrics_listener,
            router: build_router(state.clone()),
            mailer,
            state,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address `/metrics` is served on, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until Ctrl-C or SIGTERM.
    ///
    /// On the signal it stops accepting connections, gives in-flight requests up to
    /// `shutdown_grace` to finish, stops the mail worker (an email being sent is finished,
    /// within the same grace), then closes the database pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then shuts down as [`Self::run_until_stopped`] does.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let grace = self.state.config.shutdown_grace;
        // Scrapes end with the service: the task is aborted once the main server stops.
        let metrics = self.metrics_listener.map(|listener| {
            let router = crate::telemetry::router(self.state.db.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::warn!(error = %e, "the metrics listener stopped");
                }
            })
        });
        let (stop_mail, mail_stopped) = tokio::sync::watch::channel(false);
        let mailer = self.mailer.map(|m| tokio::spawn(m.run(mail_stopped)));
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop.await;
            tracing::info!("shutting down: no new connections; finishing requests in flight");
            let _ = stopping_tx.send(());
        });
        let deadline = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let served = tokio::select! {
            served = server.into_future() => served,
            () = deadline => {
                tracing::warn!(seconds = grace.as_secs(), "requests still in flight after the grace period; stopping anyway");
                Ok(())
            }
        };
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        if let Some(mut mailer) = mailer {
            let _ = stop_mail.send(true);
            if tokio::time::timeout(grace, &mut mailer).await.is_err() {
                tracing::warn!("the mail worker did not stop within the grace period; stopping it");
                mailer.abort();
            }
        }
        if let Err(e) = self.state.db.close_by_ref().await {
            tracing::warn!(error = %e, "closing the database pool");
        }
        tracing::info!("stopped");
        served
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
