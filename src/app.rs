//! Application wiring: shared state, the router, and the server used by `main` and by
//! the tests alike.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::{
    Extension, Router,
    extract::{ConnectInfo, DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use sea_orm::DatabaseConnection;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::auth::{
    Caller, RequestContext, RequestMeta, jwt::JwtKeys, rate_limit::CredentialLimiter,
};
use crate::config::AppConfig;
use crate::error::normalise_errors;
use crate::graphql::{AppSchema, build_schema, loaders};
use crate::services::sessions;

/// State shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<AppConfig>,
    pub jwt: Arc<JwtKeys>,
    pub limiter: CredentialLimiter,
}

impl AppState {
    /// State over an open (and migrated) database.
    pub fn new(db: DatabaseConnection, config: AppConfig) -> Self {
        let jwt = JwtKeys::new(&config.jwt_secret, config.access_token_ttl);
        Self {
            db,
            limiter: CredentialLimiter::per_minute(config.login_rate_per_minute),
            jwt: Arc::new(jwt),
            config: Arc::new(config),
        }
    }
}

#[derive(Clone)]
struct Shared {
    state: AppState,
    schema: AppSchema,
}

/// The HTTP routes: `/graphql` (GraphiQL on GET, GraphQL on POST) and `/healthz`.
pub fn build_router(state: AppState) -> Router {
    let schema = build_schema(state.clone());
    let cors = cors_layer(&state.config.cors_origins);
    let webhooks = Router::new()
        .route("/webhooks/stripe", post(crate::webhooks::stripe))
        .with_state(state.clone());
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/healthz", get(healthz))
        .with_state(Shared { state, schema })
        .merge(webhooks)
        .merge(crate::graphiql::routes())
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(cors)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}

async fn graphiql() -> impl IntoResponse {
    crate::graphiql::page()
}

async fn healthz(State(shared): State<Shared>) -> StatusCode {
    match shared.state.db.ping().await {
        Ok(()) => StatusCode::OK,
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

async fn graphql(
    State(shared): State<Shared>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    request: GraphQLBatchRequest,
) -> GraphQLResponse {
    let state = &shared.state;
    let context = RequestContext::new(
        caller(state, &headers).await,
        RequestMeta {
            ip: client_ip(
                state.config.trust_proxy,
                &headers,
                connect_info.map(|Extension(ConnectInfo(a))| a),
            ),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(500).collect()),
        },
    );
    let mut batch = request.into_inner();
    for req in batch.iter_mut() {
        loaders::register(req, &state.db);
        req.data.insert(context.clone());
    }
    let mut response = shared.schema.execute_batch(batch).await;
    match &mut response {
        async_graphql::BatchResponse::Single(r) => normalise_errors(&mut r.errors),
        async_graphql::BatchResponse::Batch(rs) => {
            rs.iter_mut().for_each(|r| normalise_errors(&mut r.errors))
        }
    }
    response.into()
}

async fn caller(state: &AppState, headers: &HeaderMap) -> Caller {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Caller::Anonymous;
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
        return Caller::InvalidToken;
    };
    match sessions::principal_for(&state.db, &state.jwt, token).await {
        Ok(Some(p)) => Caller::User(p),
        Ok(None) => Caller::InvalidToken,
        Err(e) => {
            tracing::error!(error = ?e, "could not resolve access token");
            Caller::InvalidToken
        }
    }
}

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

/// A bound, ready-to-run server.
pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
    pub state: AppState,
}

impl Application {
    /// Connects, migrates, and binds `bind` (port 0 picks a free port).
    pub async fn build(config: AppConfig, bind: SocketAddr) -> anyhow::Result<Self> {
        let db = crate::db::connect(&config.database_url, config.db_pool_size).await?;
        crate::db::migrate(&db).await?;
        Self::with_database(db, config, bind).await
    }

    /// Binds over an already migrated database.
    pub async fn with_database(
        db: DatabaseConnection,
        config: AppConfig,
        bind: SocketAddr,
    ) -> anyhow::Result<Self> {
        let state = AppState::new(db, config);
        let listener = tokio::net::TcpListener::bind(bind).await?;
        Ok(Self {
            listener,
            router: build_router(state.clone()),
            state,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
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
