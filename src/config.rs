//! Command line and environment configuration, typed and checked at start-up.
//!
//! Every flag can also be set through the environment variable named beside it. Secrets live
//! in [`Secret`], whose `Debug` output never shows the value.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::auth::rate_limit::Limit;

/// The minimum length of the JWT signing secret, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// A secret string: its `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// `rft-users`: React Fast Training's central customer record service.
#[derive(Debug, Parser)]
#[command(
    name = "rft-users",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for `serve`, which runs when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Log format: `text` (human-readable) or `json` (one object per line).
    #[arg(long, env = "RFT_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where Prometheus metrics are served: an address of its own, or nowhere (`off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsBind(pub Option<SocketAddr>);

impl FromStr for MetricsBind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        s.parse()
            .map(|addr| Self(Some(addr)))
            .map_err(|_| format!("invalid socket address {s:?} (use host:port, or off)"))
    }
}

/// The subcommands.
// Parsed once at start-up: the size of `Serve`'s options costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the GraphQL service (the default).
    Serve(Box<ServeArgs>),
    /// Apply, roll back or list database migrations.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Create an admin, or reset an existing admin's password.
    CreateAdmin(CreateAdminArgs),
    /// Print the GraphQL schema (SDL); `schema.graphql` must equal it.
    ExportSchema,
    /// List every customer whose stored counters (bookings, spend, first and last booking)
    /// differ from their bookings, payments and refunds; exit 1 if any do.
    VerifyStats {
        #[command(flatten)]
        db: DbArgs,
        /// Repair the counters that differ (each repair is audited) and exit 0.
        #[arg(long)]
        fix: bool,
    },
    /// Rebuild every user's matching keys and every likely-duplicate pair from the
    /// profiles, in batches (dismissed pairs are kept).
    RescanDuplicates {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Import bookings exported from the old booking service (a JSON array): customers,
    /// sessions, bookings, payments. Every row ends CREATED, UPDATED, UNCHANGED, SKIPPED or
    /// FAILED in the import ledger; running it again is safe, and resumes a killed run.
    ImportLegacy(ImportLegacyArgs),
    /// Refit every customer's segment and prediction from the facts as they stood at the
    /// end of a day (default today) and store them, as `refreshInsights` does; with a date a
    /// year or more ago, print the backtest.
    RefreshInsights {
        #[command(flatten)]
        db: DbArgs,
        /// The day (YYYY-MM-DD, UTC) whose facts to use; default today.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Queue a renewal reminder for each certificate expiring within the window whose
    /// holder agreed to marketing and has not booked that kind of course again; once per
    /// certificate and window, so running it again queues nothing new. The server's mail
    /// worker sends them.
    SendRenewalReminders {
        #[command(flatten)]
        db: DbArgs,
        /// The window: certificates expiring from today to this many days ahead.
        #[arg(long, default_value_t = 60)]
        within_days: i32,
        /// The public address the reminders link to.
        #[arg(long, env = "RFT_PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
        public_url: String,
    },
    /// Remove what was kept of customers erased on request once its period has ended: a
    /// certificate's holder and number after it expires, the name and billing details on
    /// financial records 6 years after the last transaction. Safe to run daily
    ApplyRetention {
        #[command(flatten)]
        db: DbArgs,
        /// Report what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Re-encrypt every field encrypted at rest under the active data key (the first of
    /// `RFT_DATA_KEYS`), in batches, with a progress bar. Resumable: run it again after an
    /// interruption. The service keeps serving meanwhile if it has the same keys. Once it
    /// reports nothing left under an old key, that key can be removed.
    RotateKeys {
        #[command(flatten)]
        db: DbArgs,
        /// Report how many values are under which key, open each (so a missing key is
        /// found), and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows re-encrypted per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u64,
    },
}

fn legacy_import_chunk() -> usize {
    crate::services::legacy_import::DEFAULT_CHUNK_SIZE
}

/// Options for `import-legacy`.
#[derive(Debug, Clone, Args)]
pub struct ImportLegacyArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The export: a JSON array of bookings (one a line).
    pub file: PathBuf,
    /// Do all the work, then roll it back: nothing is written but the job's own record
    /// and report, and the summary is the one a real run would print.
    #[arg(long)]
    pub dry_run: bool,
    /// The system the file comes from; a later run from the same source recognises the
    /// rows it imported (UNCHANGED or UPDATED).
    #[arg(long, default_value = "legacy")]
    pub source: String,
    /// Also write one CSV line per row (line, legacy id, reference, status, reason,
    /// customer id, booking id) to this file.
    #[arg(long, value_name = "FILE.csv")]
    pub report: Option<PathBuf>,
    /// Rows committed per transaction (with their ledger rows). Larger chunks are faster
    /// (fewer statements, fewer commits) and take more memory; see docs/PERFORMANCE.md.
    #[arg(long, env = "RFT_IMPORT_CHUNK_SIZE", default_value_t = legacy_import_chunk())]
    pub chunk_size: usize,
    /// The service's JWT secret, whose keyed hash recognises customers erased on request
    /// (their rows are skipped). Read from beside the database file on SQLite; required on
    /// PostgreSQL.
    #[arg(long, env = "RFT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
}

/// What `migrate` does.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last `steps` migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://path?mode=rwc` or `postgres://user@host/db`. Defaults to an
    /// embedded SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for the embedded database when `DATABASE_URL` is unset. The generated JWT
    /// secret is kept beside the SQLite database file, wherever that is.
    #[arg(long, env = "RFT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Keys of the sensitive fields encrypted at rest: `kid:base64key,...`, each key 32
    /// random bytes (`openssl rand -base64 32`), the first the one new values are written
    /// under. On SQLite one is generated once and kept in `data-keys` beside the database
    /// file; required on PostgreSQL. Keep every key some value is still under until
    /// `rotate-keys` has run.
    #[arg(long, env = "RFT_DATA_KEYS", hide_env_values = true)]
    pub data_keys: Option<Secret>,
}

impl DbArgs {
    /// The database URL to use. For SQLite (the data directory's file by default) it also
    /// creates the database file's directory, so any `sqlite://` path works on a fresh machine.
    pub fn resolve_url(&self) -> anyhow::Result<String> {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("rft-users.db").display()
            ),
        };
        if let Some(dir) = sqlite_file(&url).as_deref().and_then(file_dir) {
            let from = if self.database_url.is_some() {
                "DATABASE_URL"
            } else {
                "RFT_DATA_DIR"
            };
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "{from}: cannot create the database directory {}",
                    dir.display()
                )
            })?;
        }
        Ok(url)
    }

    /// Where the generated JWT secret is kept: beside the SQLite database file (for the
    /// default URL that is the data directory), or in the data directory for an in-memory
    /// database.
    fn jwt_secret_path(&self, database_url: &str) -> PathBuf {
        let dir = match sqlite_file(database_url) {
            Some(file) => file_dir(&file).map_or_else(|| PathBuf::from("."), PathBuf::from),
            None => self.data_dir.clone(),
        };
        dir.join("jwt-secret")
    }

    /// Where the generated data key is kept: beside the JWT secret.
    fn data_keys_path(&self, database_url: &str) -> PathBuf {
        self.jwt_secret_path(database_url)
            .with_file_name("data-keys")
    }

    /// The data keys: `RFT_DATA_KEYS`, or on SQLite the key file beside the database
    /// (generated now if there is none yet).
    pub fn data_keys(&self, database_url: &str) -> anyhow::Result<crate::crypto::Keyring> {
        use crate::crypto::Keyring;
        if let Some(spec) = &self.data_keys {
            return Ok(Keyring::parse(spec.expose())?);
        }
        if !is_sqlite(database_url) {
            bail!(
                "RFT_DATA_KEYS is not set: it is required when DATABASE_URL is not the embedded SQLite \
                 database (`kid:base64key`, e.g. `k1:$(openssl rand -base64 32)`)"
            );
        }
        let path = self.data_keys_path(database_url);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Keyring::parse(existing.trim())
                .with_context(|| format!("the data key file {}", path.display()));
        }
        let generated = Keyring::generate_spec("k1");
        write_private_file(&path, &generated)
            .with_context(|| format!("cannot write the data key to {}", path.display()))?;
        tracing::info!(path = %path.display(), "generated a data key for the fields encrypted at rest");
        Ok(Keyring::parse(&generated)?)
    }

    /// Loads the data keys ([`DbArgs::data_keys`]) and makes them the process's.
    pub fn install_data_keys(&self, database_url: &str) -> anyhow::Result<()> {
        crate::crypto::install(self.data_keys(database_url)?);
        Ok(())
    }
}

/// The file a SQLite URL names, as SQLite will open it; `None` for other databases and
/// for in-memory SQLite.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    use sea_orm::sqlx::sqlite::SqliteConnectOptions;
    if !is_sqlite(url) {
        return None;
    }
    // The same split sqlx makes; it has no public "is in memory" to ask.
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = database == ":memory:" || params.split('&').any(|p| p == "mode=memory");
    if in_memory {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    Some(options.get_filename().to_path_buf())
}

/// The database a URL names, for error messages: the SQLite file, or the PostgreSQL user,
/// host and database (never the password).
pub fn describe_database(url: &str) -> String {
    use sea_orm::sqlx::postgres::PgConnectOptions;
    if is_sqlite(url) {
        return match sqlite_file(url) {
            Some(file) => file.display().to_string(),
            None => "in memory".into(),
        };
    }
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or_default()
        ),
        Err(_) => "(the URL does not parse)".into(),
    }
}

/// The directory a file is in, unless that is the working directory.
fn file_dir(file: &std::path::Path) -> Option<&std::path::Path> {
    file.parent().filter(|dir| !dir.as_os_str().is_empty())
}

/// Options for `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "RFT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Address of the Prometheus `GET /metrics` listener, kept apart from `--bind` so it is
    /// never public by accident; `off` turns it off.
    #[arg(long, env = "RFT_METRICS_BIND", default_value = "127.0.0.1:9464")]
    pub metrics_bind: MetricsBind,
    /// HS256 signing secret for access tokens, at least 32 bytes. On SQLite it is generated
    /// once and kept in `jwt-secret` beside the database file; required on PostgreSQL.
    #[arg(long, env = "RFT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Email of the bootstrap admin, created at start when no admin exists.
    #[arg(
        long,
        env = "RFT_ADMIN_EMAIL",
        default_value = "admin@reactfasttraining.co.uk"
    )]
    pub admin_email: String,
    /// Password of the bootstrap admin. When unset a strong one is generated and printed once.
    #[arg(long, env = "RFT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,
    /// Do not seed demo data into an empty database.
    #[arg(long, env = "RFT_NO_DEMO_DATA")]
    pub no_demo_data: bool,
    /// Access token lifetime, in minutes.
    #[arg(long, env = "RFT_ACCESS_TOKEN_MINUTES", default_value_t = 15)]
    pub access_token_minutes: u64,
    /// Refresh token lifetime, in days.
    #[arg(long, env = "RFT_REFRESH_TOKEN_DAYS", default_value_t = 30)]
    pub refresh_token_days: u64,
    /// Login and token-refresh attempts allowed per client IP per minute.
    #[arg(long, env = "RFT_LOGIN_RATE_PER_MINUTE", default_value_t = 20)]
    pub login_rate_per_minute: u32,
    /// `customerLookup` attempts per client IP, as COUNT/PERIOD (period in s, m, h or d).
    #[arg(long, env = "RFT_PORTAL_LIMIT_PER_IP", default_value = "10/1m")]
    pub portal_limit_per_ip: Limit,
    /// `customerLookup` attempts per (normalised) email, as COUNT/PERIOD.
    #[arg(long, env = "RFT_PORTAL_LIMIT_PER_EMAIL", default_value = "5/15m")]
    pub portal_limit_per_email: Limit,
    /// `customerLookup` attempts per booking reference, as COUNT/PERIOD.
    #[arg(long, env = "RFT_PORTAL_LIMIT_PER_REFERENCE", default_value = "5/15m")]
    pub portal_limit_per_reference: Limit,
    /// `customerLookup` attempts from everyone together, as COUNT/PERIOD: a ceiling on
    /// guessing from many addresses at once.
    #[arg(long, env = "RFT_PORTAL_LIMIT_GLOBAL", default_value = "300/1m")]
    pub portal_limit_global: Limit,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted reverse proxy).
    #[arg(long, env = "RFT_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Comma-separated browser origins allowed by CORS (e.g. the booking website).
    #[arg(long, env = "RFT_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Database connection pool size (at most 4 on SQLite).
    #[arg(long, env = "RFT_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,
    /// Signing secret of the Stripe webhook endpoint (`whsec_...`). Without it,
    /// `POST /webhooks/stripe` answers 503.
    #[arg(long, env = "RFT_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<Secret>,
    /// Most operations in one batched request (a JSON array body); more is refused with 400.
    #[arg(long, env = "RFT_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,
    /// Serve introspection and "did you mean" field suggestions. Turn off in production
    /// with `false`.
    #[arg(long, env = "RFT_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,
    /// On SIGTERM or Ctrl-C, how long requests in flight get to finish, in seconds.
    #[arg(long, env = "RFT_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
    /// `verifyCertificate` calls allowed per client IP per minute.
    #[arg(long, env = "RFT_VERIFY_RATE_PER_MINUTE", default_value_t = 30)]
    pub verify_rate_per_minute: u32,
    #[command(flatten)]
    pub email: EmailArgs,
}

/// Options for emails: where they link to, and how the mail worker sends them.
#[derive(Debug, Clone, Args)]
pub struct EmailArgs {
    /// The public address customers reach the portal at, which emails link to.
    #[arg(long, env = "RFT_PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
    pub public_url: String,
    /// SMTP server the mail worker sends through: `smtp://host:port` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host`
    /// (TLS). Unset: emails stay in the outbox as NOT_SENT.
    #[arg(long, env = "RFT_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,
    /// The sender of every email, e.g. `React Fast Training <bookings@example.com>`.
    #[arg(long, env = "RFT_MAIL_FROM", default_value = DEFAULT_MAIL_FROM)]
    pub mail_from: String,
    /// Run the mail worker in this instance (`false` for an instance that only serves the
    /// API; emails are still queued, and another instance sends them).
    #[arg(long, env = "RFT_MAIL_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub mail_worker: bool,
    /// How often the mail worker looks for due emails when nothing wakes it, in seconds.
    #[arg(long, env = "RFT_MAIL_POLL_SECONDS", default_value_t = 30)]
    pub mail_poll_seconds: u64,
    /// Wait before retrying a failed delivery, in seconds; doubled after each failure.
    #[arg(long, env = "RFT_MAIL_RETRY_SECONDS", default_value_t = 60)]
    pub mail_retry_seconds: u64,
    /// Delivery attempts before an email is FAILED.
    #[arg(long, env = "RFT_MAIL_MAX_ATTEMPTS", default_value_t = 8)]
    pub mail_max_attempts: u32,
}

/// Where emails link to unless `RFT_PUBLIC_URL` says otherwise.
pub const DEFAULT_PUBLIC_URL: &str = "https://www.reactfasttraining.co.uk";
/// The sender unless `RFT_MAIL_FROM` says otherwise.
pub const DEFAULT_MAIL_FROM: &str = "React Fast Training <bookings@reactfasttraining.co.uk>";

impl EmailArgs {
    /// The settings, checked: a public URL that is http(s), and at least one attempt.
    pub fn resolve(&self) -> anyhow::Result<EmailConfig> {
        Ok(EmailConfig {
            public_url: public_url(&self.public_url)?,
            smtp_url: self.smtp_url.clone(),
            mail_from: self.mail_from.clone(),
            worker: self.mail_worker,
            poll_interval: Duration::from_secs(self.mail_poll_seconds.max(1)),
            retry_base: Duration::from_secs(self.mail_retry_seconds.max(1)),
            max_attempts: self.mail_max_attempts.max(1),
            claim_lease: Duration::from_secs(5 * 60),
            batch: 20,
        })
    }
}

/// `RFT_PUBLIC_URL`, checked: an http(s) address, without a trailing slash.
pub fn public_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let plain = !url.contains(|c: char| c.is_whitespace() || "\"'<>".contains(c));
    if !(url.starts_with("https://") || url.starts_with("http://")) || !plain {
        bail!("RFT_PUBLIC_URL: {url:?} is not an http:// or https:// address");
    }
    Ok(url.to_string())
}

/// How emails are made and sent (see [`EmailArgs`]).
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub public_url: String,
    /// `None`: nothing is sent; the worker marks emails NOT_SENT.
    pub smtp_url: Option<Secret>,
    pub mail_from: String,
    /// Whether this instance runs the mail worker.
    pub worker: bool,
    /// The worker's sleep when nothing wakes it.
    pub poll_interval: Duration,
    /// The wait before the first retry, doubled after each failure (at most a day).
    pub retry_base: Duration,
    /// Attempts before an email is FAILED.
    pub max_attempts: u32,
    /// How long a worker's claim on an email lasts: a worker that dies mid-send loses it
    /// after this, and the email is sent by the next claim.
    pub claim_lease: Duration,
    /// Emails claimed at a time.
    pub batch: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            public_url: DEFAULT_PUBLIC_URL.into(),
            smtp_url: None,
            mail_from: DEFAULT_MAIL_FROM.into(),
            worker: true,
            poll_interval: Duration::from_secs(30),
            retry_base: Duration::from_secs(60),
            max_attempts: 8,
            claim_lease: Duration::from_secs(5 * 60),
            batch: 20,
        }
    }
}

/// Options for `create-admin`.
#[derive(Debug, Clone, Args)]
pub struct CreateAdminArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The admin's email.
    #[arg(long, env = "RFT_ADMIN_EMAIL")]
    pub email: String,
    /// The admin's password; generated and printed when unset.
    #[arg(long, env = "RFT_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: Option<Secret>,
    /// First name.
    #[arg(long, default_value = "Admin")]
    pub first_name: String,
    /// Last name.
    #[arg(long, default_value = "User")]
    pub last_name: String,
}

/// What the running application needs, resolved from [`ServeArgs`] (or built by tests).
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub database_url: String,
    pub jwt_secret: Secret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Login, token-refresh and password-change attempts per client IP.
    pub login_limit: Limit,
    /// The customer portal's lookup limits.
    pub portal_limits: PortalLimits,
    pub trust_proxy: bool,
    pub cors_origins: Vec<String>,
    pub db_pool_size: u32,
    pub stripe_webhook_secret: Option<Secret>,
    /// Most operations in one batched request.
    pub max_batch: usize,
    /// Whether introspection and field suggestions are served.
    pub introspection: bool,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_grace: Duration,
    /// Where `GET /metrics` is served; `None` serves no metrics.
    pub metrics_bind: Option<SocketAddr>,
    /// `verifyCertificate` calls allowed per client IP per minute.
    pub verify_rate_per_minute: u32,
    /// Emails: links, SMTP and the mail worker.
    pub email: EmailConfig,
}

/// The limits on `customerLookup`: each attempt counts against all four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalLimits {
    pub per_ip: Limit,
    pub per_email: Limit,
    pub per_reference: Limit,
    pub global: Limit,
}

impl Default for PortalLimits {
    /// 10 a minute per client, 5 per 15 minutes per email and per reference, 300 a minute
    /// in all.
    fn default() -> Self {
        let quarter = Duration::from_secs(15 * 60);
        Self {
            per_ip: Limit::per_minute(10),
            per_email: Limit::new(5, quarter),
            per_reference: Limit::new(5, quarter),
            global: Limit::per_minute(300),
        }
    }
}

/// Token issuer, checked on every access token.
pub const JWT_ISSUER: &str = "rft-users";
/// Token audience, checked on every access token.
pub const JWT_AUDIENCE: &str = "rft-users-api";

impl AppConfig {
    /// Sensible defaults around a database URL and secret (used by tests and tools); no
    /// metrics listener.
    pub fn new(database_url: impl Into<String>, jwt_secret: Secret) -> Self {
        Self {
            database_url: database_url.into(),
            jwt_secret,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            login_limit: Limit::per_minute(20),
            portal_limits: PortalLimits::default(),
            trust_proxy: false,
            cors_origins: Vec::new(),
            db_pool_size: 16,
            stripe_webhook_secret: None,
            max_batch: 10,
            introspection: true,
            shutdown_grace: Duration::from_secs(10),
            metrics_bind: None,
            verify_rate_per_minute: 30,
            email: EmailConfig::default(),
        }
    }

    /// Resolves `serve`'s arguments, loading or generating the JWT secret.
    pub fn from_serve_args(args: &ServeArgs) -> anyhow::Result<Self> {
        let database_url = args.db.resolve_url()?;
        args.db.install_data_keys(&database_url)?;
        let jwt_secret = resolve_jwt_secret(args.jwt_secret.as_ref(), &args.db, &database_url)?;
        Ok(Self {
            database_url,
            jwt_secret,
            access_token_ttl: Duration::from_secs(args.access_token_minutes.max(1) * 60),
            refresh_token_ttl: Duration::from_secs(args.refresh_token_days.max(1) * 24 * 3600),
            login_limit: Limit::per_minute(args.login_rate_per_minute),
            portal_limits: PortalLimits {
                per_ip: args.portal_limit_per_ip,
                per_email: args.portal_limit_per_email,
                per_reference: args.portal_limit_per_reference,
                global: args.portal_limit_global,
            },
            trust_proxy: args.trust_proxy,
            cors_origins: args.cors_origins.clone(),
            db_pool_size: args.db_pool_size.max(2),
            stripe_webhook_secret: args.stripe_webhook_secret.clone(),
            max_batch: args.max_batch.max(1),
            introspection: args.introspection,
            shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
            metrics_bind: args.metrics_bind.0,
            verify_rate_per_minute: args.verify_rate_per_minute.max(1),
            email: args.email.resolve()?,
        })
    }
}

/// True when the URL points at the embedded SQLite backend.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// The JWT secret: the one given, or on SQLite the one generated beside the database file
/// (generated now if there is none yet). Also the key of the service's keyed hashes, so
/// the command-line tools that need those (`import-legacy`) resolve it the same way.
pub fn resolve_jwt_secret(
    given: Option<&Secret>,
    db: &DbArgs,
    database_url: &str,
) -> anyhow::Result<Secret> {
    if let Some(secret) = given {
        if secret.expose().len() < MIN_JWT_SECRET_BYTES {
            bail!("RFT_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes long");
        }
        return Ok(secret.clone());
    }
    if !is_sqlite(database_url) {
        bail!(
            "RFT_JWT_SECRET is not set: it is required when DATABASE_URL is not the embedded SQLite \
             database (use at least {MIN_JWT_SECRET_BYTES} random bytes, e.g. `openssl rand -base64 48`)"
        );
    }
    let path = db.jwt_secret_path(database_url);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if existing.len() >= MIN_JWT_SECRET_BYTES {
            return Ok(Secret::new(existing));
        }
    }
    let generated = crate::auth::tokens::random_token(48);
    write_private_file(&path, &generated)
        .with_context(|| format!("cannot write the JWT secret to {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a JWT signing secret");
    Ok(Secret::new(generated))
}

/// Writes a file readable only by its owner (on Unix).
fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_args(url: Option<&str>) -> DbArgs {
        DbArgs {
            database_url: url.map(String::from),
            data_dir: PathBuf::from("data"),
            data_keys: None,
        }
    }

    #[test]
    fn the_jwt_secret_is_kept_beside_the_sqlite_file() {
        let cases = [
            (None, "data/jwt-secret"),
            (
                Some("sqlite://data/rft-users.db?mode=rwc"),
                "data/jwt-secret",
            ),
            (
                Some("sqlite:///srv/rft/x.db?mode=rwc"),
                "/srv/rft/jwt-secret",
            ),
            (Some("sqlite:x.db"), "./jwt-secret"),
            (Some("sqlite::memory:"), "data/jwt-secret"),
            (Some("sqlite://x.db?mode=memory"), "data/jwt-secret"),
        ];
        for (url, expected) in cases {
            let args = db_args(url);
            let url = url.map_or_else(
                || {
                    format!(
                        "sqlite://{}?mode=rwc",
                        args.data_dir.join("rft-users.db").display()
                    )
                },
                String::from,
            );
            assert_eq!(args.jwt_secret_path(&url), PathBuf::from(expected), "{url}");
        }
    }

    #[test]
    fn only_sqlite_files_have_a_file() {
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(
            sqlite_file("sqlite:///elsewhere/x.db?mode=rwc"),
            Some(PathBuf::from("/elsewhere/x.db"))
        );
    }
}
