//! Benchmarks of the service at scale, against the real `rft-users` binary.
//!
//! The benchmark seeds a fresh database, starts `target/release/rft-users` on a free local
//! port as a child process, logs in as an admin, and measures one scenario, first with one
//! client (median and p99 latency), then with `--concurrency` clients (throughput). It
//! reports the server's peak resident memory (VmHWM) at the end.
//!
//! Scenarios:
//! - `search` (default): 100,000 users; the admin's search page
//!   `users(search: "smith", first: 50, orderBy: {field: LAST_ACTIVITY, direction: DESC})
//!    { totalCount edges { node { id email firstName lastName totalSpent } } }`.
//! - `nested`: 100,000 users and 400,000 bookings (with sessions, payments and
//!   certificates); the nested customer query of 50 users with their bookings, sessions,
//!   courses, venues, payments and certificates.
//! - `book`: `createBooking` from many clients at once, then a check that every
//!   customer's `total_bookings` equals their bookings.
//! - `duplicates`: 100,000 users of whom about 2% are realistic duplicates (a renewal from
//!   a new email and employer, a typo in the email, a `+tag`, the same name at the same
//!   postcode); one client's `duplicateCandidates` for random users and the worklist's
//!   first page of 50 groups (p50 and p99), and the time of a full rescan as a ratio of
//!   one full scan of `users` in the same run.
//! - `import`: `rft-users import-legacy` over a generated export of `--rows` rows (100,000)
//!   with the sample's traps, against the floor (the same rows as plain multi-row INSERTs,
//!   no checks) in the same run; rows per second, the ratio, the import's peak RSS. See
//!   `bench/import.rs`.
//! - `insights`: the history generator's customers (`services::history`, 100,000 users and
//!   about 400,000 bookings over 12 years, renewing certificates near expiry);
//!   `refreshInsights` timed against one full aggregate scan of bookings, a page of 50
//!   users with full insights (p50 and p99, then throughput with `--concurrency` clients),
//!   `renewalsDue(withinDays: 90)` and `businessInsights` over 3 years by month (p50 and
//!   p99). Exits non-zero, printing them, on any GraphQL error. See `bench/insights.rs`.
//! - `pdf`: certificate PDFs rendered in-process for `--seconds`, one thread: renders per
//!   second. Needs no database or server. See `bench/pdf.rs`.
//! - `portal`: `customerLookup` p50 with one client (`--requests` customers, each booked
//!   through the API), then brute force: `--concurrency` clients sending wrong references
//!   for `--seconds`, from one address and from many (`X-Forwarded-For`): guesses accepted
//!   (must be 0), the share answered RATE_LIMITED, server CPU per request. Run it with
//!   `--users 1000` or so: the users are only background. See `bench/portal.rs`.
//! - `privacy`: the `nested` data with every sensitive field set: the encryption of that
//!   plaintext after the migrations (rows/s), the nested query selecting the encrypted
//!   fields with them present against with them empty (p50 ratio), `rotate-keys` (rows/s)
//!   and `exportUserData` of a customer with 500 bookings (p50). See `bench/privacy.rs`.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench -- --scenario search
//! cargo run --release --example bench -- --scenario nested --database-url postgres://postgres@127.0.0.1:5432/test
//! cargo run --release --example bench -- --scenario import [--database-url …]
//! cargo run --release --example bench -- --scenario insights [--database-url …] [--requests 200]
//! cargo run --release --example bench -- --scenario pdf [--seconds 10]
//! cargo run --release --example bench -- --scenario portal --users 1000 [--requests 200] [--database-url …]
//! cargo run --release --example bench -- --scenario privacy [--requests 200] [--database-url …]
//! ```
//!
//! With a PostgreSQL URL it creates (and afterwards drops, unless `--keep`) a database
//! `rft_bench` (or `--bench-database NAME`) on that server. Load generator, server and
//! database all share the machine's cores.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use clap::{Parser, ValueEnum};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rft_users::auth::tokens::random_token;
use rft_users::config::Secret;
use rft_users::entities::{enums::*, *};
use rft_users::services::history::{self, HistoryConfig};
use rft_users::services::{bootstrap, demo::add_years, duplicates, references, users};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, IntoActiveModel,
    PaginatorTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

#[path = "bench/import.rs"]
mod import;
#[path = "bench/insights.rs"]
mod insights;
#[path = "bench/pdf.rs"]
mod pdf;
#[path = "bench/portal.rs"]
mod portal;
#[path = "bench/privacy.rs"]
mod privacy;

/// The data keys of this run: `bench` (active) and `next` (what `rotate-keys` moves to),
/// random per run; the server and every command are given both.
fn bench_keys() -> &'static str {
    &keys().0
}

/// The same keys with `next` active.
fn rotated_bench_keys() -> &'static str {
    &keys().1
}

fn keys() -> &'static (String, String) {
    static KEYS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        use rft_users::crypto::Keyring;
        let (bench, next) = (
            Keyring::generate_spec("bench"),
            Keyring::generate_spec("next"),
        );
        (format!("{bench},{next}"), format!("{next},{bench}"))
    })
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Search,
    Nested,
    Book,
    Duplicates,
    Import,
    Insights,
    Pdf,
    Portal,
    Privacy,
}

#[derive(Parser)]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value = "search")]
    scenario: Scenario,
    /// How many users to seed (insights scenario: customers of the history generator).
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Bookings per user (nested scenario).
    #[arg(long, default_value_t = 4)]
    bookings_per_user: usize,
    /// A PostgreSQL server URL; SQLite in a temporary directory when omitted.
    #[arg(long)]
    database_url: Option<String>,
    /// Keep the SQLite database in this file (reused, unseeded, if it already has users).
    #[arg(long)]
    sqlite_file: Option<std::path::PathBuf>,
    /// Keep (and reuse) the PostgreSQL benchmark database instead of recreating it.
    #[arg(long)]
    keep: bool,
    /// The PostgreSQL benchmark database's name (created on the `--database-url` server),
    /// so benchmarks of two builds or branches need not share one.
    #[arg(long, default_value = "rft_bench")]
    bench_database: String,
    /// Requests measured with a single client.
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Concurrent clients in the throughput phase.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Runtime worker threads of the server (default: one per core).
    #[arg(long)]
    server_threads: Option<usize>,
    /// Length of the throughput phase, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Measure this GraphQL query instead of the scenario's own (same data).
    #[arg(long)]
    query: Option<String>,
    /// Rows in the generated export (import scenario).
    #[arg(long, default_value_t = 100_000)]
    rows: usize,
    /// Rows per transaction of the import (import scenario; the command's default if unset).
    #[arg(long)]
    chunk_size: Option<usize>,
    /// The `rft-users` binary to run; the release build beside this example by default.
    #[arg(long)]
    bin: Option<std::path::PathBuf>,
}

/// The server binary: `--bin`, or the release build beside this example.
fn server_binary(args: &Args) -> anyhow::Result<std::path::PathBuf> {
    if let Some(bin) = &args.bin {
        return Ok(bin.clone());
    }
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("rft-users"))
        .filter(|p| p.exists())
        .ok_or_else(|| anyhow::anyhow!("build the server first: cargo build --release"))
}

const SEARCH: &str = r#"query { users(search: "smith", first: 50, orderBy: {field: LAST_ACTIVITY, direction: DESC}) {
  totalCount edges { node { id email firstName lastName totalSpent } } } }"#;

const NESTED: &str = r#"query { users(first: 50) { edges { node { bookings { edges { node {
  session { course { name } venue { name } } payments { amount } } } } certificates { expiresOn } } } } }"#;

const BOOK: &str =
    r#"mutation($i: CreateBookingInput!) { createBooking(input: $i) { reference totalAmount } }"#;

const FIRST: &[&str] = &[
    "Olivia", "Jack", "Amelia", "Harry", "Isla", "Oliver", "Zoë", "George", "Siân", "Noah",
    "Emily", "Charlie", "Grace", "Thomas", "Sophie", "James", "Ava", "William", "Ruby", "Dafydd",
    "Aisha", "Mohammed", "Priya", "Connor",
];
/// Common UK surnames; "Smith" is drawn 1.3% of the time, about as in the population.
const LAST: &[&str] = &[
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "O'Brien",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Wright",
    "Robinson",
    "Thompson",
    "Hughes",
    "Khan",
    "Patel",
    "Clarke",
    "Hall",
    "Green",
    "Wood",
    "Harris",
    "Lewis",
    "Martin",
    "Jackson",
    "Clark",
    "Turner",
    "Hill",
    "Scott",
    "Cooper",
    "Morris",
    "Ward",
    "Moore",
    "King",
    "Watson",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "Young",
    "Mitchell",
    "Anderson",
    "Kelly",
    "Bell",
    "Shaw",
    "Lloyd",
    "Ellis",
    "Price",
    "Carter",
    "Murphy",
    "Bennett",
    "Grey",
    "Cook",
    "Marshall",
    "Bailey",
    "Adams",
    "Chapman",
    "Collins",
    "Pearson",
    "Stevens",
    "Russell",
    "Webb",
    "Butler",
    "Phillips",
    "Hunt",
    "Palmer",
    "Fox",
    "Mills",
    "Lee",
    "Griffiths",
    "Richards",
];

/// The `p` quantile of sorted latencies; zero when there are none (`--seconds 0` or
/// `--requests 0` skip a phase).
/// Waits (up to 10 s) until the server at `endpoint` answers `/healthz`.
async fn wait_until_healthy(client: &reqwest::Client, endpoint: &str) {
    for _ in 0..100 {
        if client
            .get(endpoint.replace("/graphql", "/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let Some(last) = sorted.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    let idx = (last as f64 * p).round() as usize;
    sorted[idx.min(last)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What the load generator reads of a response: its errors, if any.
#[derive(serde::Deserialize)]
struct Checked {
    #[serde(default)]
    errors: Option<Value>,
}

/// The server under test: the release binary beside this example.
struct Server {
    child: Child,
    endpoint: String,
}

impl Server {
    fn start(
        bin: &std::path::Path,
        database_url: &str,
        admin_password: &str,
        threads: Option<usize>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data_dir = tempfile::tempdir()?.keep();
        let mut command = Command::new(bin);
        if let Some(n) = threads {
            command.env("TOKIO_WORKER_THREADS", n.to_string());
        }
        command.envs(env.iter().copied());
        let child = command
            .args([
                "serve",
                "--no-demo-data",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .env("DATABASE_URL", database_url)
            .env("RFT_DATA_DIR", &data_dir)
            .env("RFT_JWT_SECRET", random_token(48))
            .env("RFT_DATA_KEYS", bench_keys())
            .env("RFT_ADMIN_EMAIL", "bench-admin@example.com")
            .env("RFT_ADMIN_PASSWORD", admin_password)
            .env("RFT_LOGIN_RATE_PER_MINUTE", "1000")
            .env("RUST_LOG", "warn")
            .env("RFT_METRICS_BIND", "127.0.0.1:0")
            .stdout(Stdio::null())
            .spawn()?;
        Ok(Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}/graphql"),
        })
    }

    /// Peak resident memory of the server so far (VmHWM), in MiB. On SQLite this includes
    /// the file pages SQLite maps into memory, once per connection.
    fn peak_rss_mib(&self) -> Option<f64> {
        status_mib(self.child.id(), "VmHWM:")
    }
}

/// A `/proc/<pid>/status` memory line, in MiB.
fn status_mib(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    // The clock tick comes from `getconf CLK_TCK` (100 on Linux).
    ticks / clock_ticks_per_second()
}

/// CPU time used so far by every process named `postgres` (the database server and its
/// backends), in seconds; backends that exit in between are missed, but the benchmark's
/// pooled connections live throughout.
fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// Asked of `getconf` once, not once for every process sampled.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rft_users::crypto::install(rft_users::crypto::Keyring::parse(bench_keys())?);
    if args.scenario == Scenario::Pdf {
        return pdf::run(args.seconds);
    }
    let bin = server_binary(&args)?;
    if args.scenario == Scenario::Import {
        return import::run(
            args.database_url.as_deref(),
            &bin,
            args.rows,
            args.chunk_size,
        )
        .await;
    }
    let (url, _dir, pg_admin) = match &args.database_url {
        Some(server) => {
            let name = &args.bench_database;
            anyhow::ensure!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "--bench-database: letters, digits and underscores only"
            );
            let admin = Database::connect(server).await?;
            if !args.keep {
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
            }
            let _ = admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await;
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
            (format!("{base}/{name}"), None, Some(admin))
        }
        None => match &args.sqlite_file {
            Some(path) => (format!("sqlite://{}?mode=rwc", path.display()), None, None),
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                (url, Some(dir), None)
            }
        },
    };
    let backend = if pg_admin.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let db = rft_users::db::connect(&url, 4).await?;
    rft_users::db::migrate(&db).await?;

    let started = Instant::now();
    if args.scenario == Scenario::Insights && user::Entity::find().count(&db).await? == 0 {
        let config = HistoryConfig {
            customers: args.users,
            ..HistoryConfig::benchmark()
        };
        let truth = history::generate(&db, &config)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!(
            "history {} to {}: {} customers ({} companies), {} bookings ({} renewals, {} cancelled), {} certificates, in {:.1}s",
            truth.start,
            truth.until,
            truth.customers,
            truth.corporate_customers,
            truth.bookings,
            truth.renewal_bookings,
            truth.cancelled_bookings,
            truth.certificates,
            started.elapsed().as_secs_f64()
        );
    } else if user::Entity::find().count(&db).await? == 0 {
        let with_duplicates = args.scenario == Scenario::Duplicates;
        seed_users(&db, args.users, with_duplicates).await?;
        if matches!(args.scenario, Scenario::Nested | Scenario::Privacy) {
            seed_bookings(&db, args.bookings_per_user).await?;
        }
        // Keys (and pairs) for the users written in bulk, as the server would at start.
        duplicates::backfill_missing(&db)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    if pg_admin.is_some() {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    } else {
        db.execute_unprepared("PRAGMA optimize").await?;
    }
    let bookings = booking::Entity::find().count(&db).await?;
    let users_n = user::Entity::find().count(&db).await?;
    eprintln!(
        "data ready in {:.1}s: {users_n} users, {bookings} bookings",
        started.elapsed().as_secs_f64()
    );

    let password = random_token(18);
    bootstrap::create_or_reset_admin(
        &db,
        "bench-admin@example.com",
        Some(&Secret::new(password.clone())),
        "Bench",
        "Admin",
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let booking_session = if args.scenario == Scenario::Book {
        Some(open_session(&db).await?)
    } else {
        None
    };
    // The portal's brute force comes from many addresses through a (pretend) proxy.
    let env: &[(&str, &str)] = match args.scenario {
        Scenario::Portal => &[("RFT_TRUST_PROXY", "true")],
        _ => &[],
    };
    let server = Server::start(&bin, &url, &password, args.server_threads, env)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let endpoint = server.endpoint.clone();
    wait_until_healthy(&client, &endpoint).await;
    let login: Value = client
        .post(&endpoint)
        .json(&json!({"query": "mutation($e:String!,$p:String!){login(email:$e,password:$p){accessToken}}", "variables": {"e": "bench-admin@example.com", "p": password}}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?
        .to_string();

    if args.scenario == Scenario::Duplicates {
        let outcome = duplicates_scenario(&db, &client, &endpoint, &token, &args, backend).await;
        drop(server);
        drop_bench_database(db, pg_admin, &args).await;
        return outcome;
    }

    if args.scenario == Scenario::Privacy {
        let outcome = privacy::run(
            &db,
            &client,
            &endpoint,
            &token,
            &bin,
            &url,
            args.requests,
            backend,
            users_n,
            bookings,
        )
        .await;
        drop(server);
        drop_bench_database(db, pg_admin, &args).await;
        return outcome;
    }

    if args.scenario == Scenario::Portal {
        let outcome = portal::run(&client, &server, &bin, &url, &password, &token, &args).await;
        drop(server);
        drop_bench_database(db, pg_admin, &args).await;
        return outcome;
    }

    if args.scenario == Scenario::Insights {
        let outcome = insights::run(
            &url,
            &client,
            &endpoint,
            &token,
            args.requests,
            args.concurrency,
            args.seconds,
            backend,
            users_n,
            bookings,
        )
        .await;
        drop(server);
        drop_bench_database(db, pg_admin, &args).await;
        return outcome;
    }

    let query: &'static str = match (&args.query, args.scenario) {
        (Some(q), _) => q.clone().leak(),
        (None, Scenario::Search) => SEARCH,
        (None, Scenario::Nested) => NESTED,
        (None, Scenario::Book) => BOOK,
        (None, Scenario::Duplicates) => unreachable!("measured by duplicates_scenario"),
        (None, Scenario::Import) => unreachable!("the import scenario returned above"),
        (None, Scenario::Insights) => unreachable!("measured by insights::run"),
        (None, Scenario::Pdf) => unreachable!("the pdf scenario returned above"),
        (None, Scenario::Portal) => unreachable!("measured by portal::run"),
        (None, Scenario::Privacy) => unreachable!("measured by privacy::run"),
    };
    let run_one = move |client: reqwest::Client, endpoint: String, token: String, n: u64| async move {
        let body = match booking_session {
            Some(session) => json!({"query": query, "variables": {"i": {
                "sessionId": session,
                "contact": {"firstName": "Bench", "lastName": "Booker", "email": format!("booker{}@example.com", n % 5000)},
                "attendees": [{"firstName": "Bench", "lastName": "Booker"}]
            }}}),
            None => json!({"query": query}),
        };
        let t = Instant::now();
        let resp = client
            .post(&endpoint)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await?
            .bytes()
            .await?;
        // Every response is parsed as JSON and checked for errors, skipping over `data`
        // without building a tree of it, so the load generator takes less of the cores
        // it shares with the server.
        let checked: Checked = serde_json::from_slice(&resp)?;
        if let Some(errors) = checked.errors {
            anyhow::bail!("request failed: {errors}");
        }
        Ok::<_, anyhow::Error>((t.elapsed(), resp))
    };

    let (_, sample) = run_one(client.clone(), endpoint.clone(), token.clone(), 0).await?;
    let sample: Value = serde_json::from_slice(&sample)?;
    let mut counter = 1u64;
    for _ in 0..50 {
        run_one(client.clone(), endpoint.clone(), token.clone(), counter).await?;
        counter += 1;
    }
    let mut single = Vec::with_capacity(args.requests);
    for _ in 0..args.requests {
        single.push(
            run_one(client.clone(), endpoint.clone(), token.clone(), counter)
                .await?
                .0,
        );
        counter += 1;
    }
    single.sort();

    // Sample the server's anonymous (heap) memory through the throughput phase.
    let pid = server.child.id();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(anon) = status_mib(pid, "RssAnon:") {
                    peak = peak.max(anon);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        })
    };
    let server_cpu_before = cpu_seconds(pid);
    let own_cpu_before = cpu_seconds(std::process::id());
    let db_cpu_before = postgres_cpu_seconds();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for c in 0..args.concurrency {
        let (client, endpoint, token) = (client.clone(), endpoint.clone(), token.clone());
        let base = counter + (c as u64) * 1_000_000;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = base;
            while Instant::now() < deadline {
                lat.push(
                    run_one(client.clone(), endpoint.clone(), token.clone(), n)
                        .await?
                        .0,
                );
                n += 1;
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let phase = Instant::now();
    let mut concurrent = Vec::new();
    for t in tasks {
        concurrent.extend(t.await??);
    }
    let elapsed = phase.elapsed();
    let server_cpu = cpu_seconds(pid) - server_cpu_before;
    let own_cpu = cpu_seconds(std::process::id()) - own_cpu_before;
    let db_cpu = postgres_cpu_seconds() - db_cpu_before;
    concurrent.sort();
    let peak = server.peak_rss_mib();

    match args.scenario {
        Scenario::Search => println!(
            "backend: {backend}; {users_n} users; matches for \"smith\": {}; page: {} rows",
            sample["data"]["users"]["totalCount"],
            sample["data"]["users"]["edges"]
                .as_array()
                .map_or(0, Vec::len)
        ),
        Scenario::Nested => {
            let edges = sample["data"]["users"]["edges"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let nested: usize = edges
                .iter()
                .map(|e| {
                    e["node"]["bookings"]["edges"]
                        .as_array()
                        .map_or(0, Vec::len)
                })
                .sum();
            println!(
                "backend: {backend}; {users_n} users, {bookings} bookings; page: {} users, {nested} bookings",
                edges.len()
            );
        }
        Scenario::Book => println!("backend: {backend}; {users_n} users before; createBooking"),
        Scenario::Duplicates => {}
        Scenario::Import => {}
        Scenario::Insights => {}
        Scenario::Pdf => {}
        Scenario::Portal => {}
        Scenario::Privacy => {}
    }
    println!(
        "1 client, {} requests: p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms",
        single.len(),
        ms(percentile(&single, 0.50)),
        ms(percentile(&single, 0.99)),
        ms(single.iter().sum::<Duration>() / single.len().max(1) as u32),
    );
    println!(
        "{} clients, {:.1} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms ({} requests)",
        args.concurrency,
        elapsed.as_secs_f64(),
        concurrent.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&concurrent, 0.50)),
        ms(percentile(&concurrent, 0.99)),
        concurrent.len(),
    );
    let per_request = |cpu: f64| cpu * 1000.0 / concurrent.len().max(1) as f64;
    let db_share = match backend {
        "PostgreSQL" => format!(", PostgreSQL {:.2} ms", per_request(db_cpu)),
        _ => String::new(),
    };
    println!(
        "CPU per request: server {:.2} ms, load generator {:.2} ms{db_share} ({:.1} of the machine's {} cores busy)",
        per_request(server_cpu),
        per_request(own_cpu),
        (server_cpu + own_cpu + db_cpu) / elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let anon_peak = sampler.await.unwrap_or(0.0);
    if let Some(peak) = peak {
        println!(
            "server memory: peak heap (RssAnon, sampled) {anon_peak:.1} MiB; peak RSS incl. mapped database pages (VmHWM) {peak:.1} MiB"
        );
    }
    if args.scenario == Scenario::Book {
        verify_stats(&db).await?;
    }
    drop(server);
    drop_bench_database(db, pg_admin, &args).await;
    Ok(())
}

/// After a run on PostgreSQL: closes the benchmark's connection and drops its database,
/// unless `--keep`.
async fn drop_bench_database(
    db: DatabaseConnection,
    pg_admin: Option<DatabaseConnection>,
    args: &Args,
) {
    if let Some(admin) = pg_admin.filter(|_| !args.keep) {
        db.close().await.ok();
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                args.bench_database
            ))
            .await
            .ok();
    }
}

/// Every bench customer's `total_bookings` must equal their live bookings.
async fn verify_stats(db: &DatabaseConnection) -> anyhow::Result<()> {
    let sql = "SELECT COUNT(*) AS n FROM users u WHERE u.email LIKE 'booker%' AND u.total_bookings <> \
               (SELECT COUNT(*) FROM bookings b WHERE b.user_id = u.id AND b.status <> 'cancelled')";
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row"))?;
    let wrong: i64 = row.try_get("", "n")?;
    let total: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM bookings b JOIN users u ON u.id = b.user_id WHERE u.email LIKE 'booker%'",
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row"))?
        .try_get("", "n")?;
    println!(
        "bookings made: {total}; customers whose total_bookings disagrees with their bookings: {wrong}"
    );
    anyhow::ensure!(wrong == 0, "stats drifted");
    Ok(())
}

/// A far-future session with room for every booking the benchmark can make.
async fn open_session(db: &DatabaseConnection) -> anyhow::Result<Uuid> {
    let (course, venue) = catalogue(db).await?;
    let now = Utc::now();
    let s = course_session::Model {
        id: Uuid::now_v7(),
        course_id: course[0],
        venue_id: venue[0],
        instructor_id: None,
        starts_at: now + ChronoDuration::days(60),
        ends_at: now + ChronoDuration::days(60) + ChronoDuration::hours(6),
        capacity: 500,
        booked_places: 0,
        status: SessionStatus::Scheduled,
        cancelled_at: None,
        cancellation_reason: None,
        created_by_id: None,
        updated_by_id: None,
        created_at: now,
        updated_at: now,
    };
    let mut am = s.into_active_model().reset_all();
    am.capacity = sea_orm::Set(i32::MAX / 2);
    Ok(am.insert(db).await?.id)
}

/// The three courses and two venues (created once).
async fn catalogue(db: &DatabaseConnection) -> anyhow::Result<(Vec<Uuid>, Vec<Uuid>)> {
    let existing = course::Entity::find().all(db).await?;
    if !existing.is_empty() {
        let venues = venue::Entity::find().all(db).await?;
        return Ok((
            existing.iter().map(|c| c.id).collect(),
            venues.iter().map(|v| v.id).collect(),
        ));
    }
    let now = Utc::now();
    let mut courses = Vec::new();
    for (name, t, price) in [
        ("Emergency First Aid at Work", CourseType::Efaw, 7500),
        ("First Aid at Work", CourseType::Faw, 9500),
        ("Paediatric First Aid", CourseType::Paediatric, 8500),
    ] {
        let c = course::Model {
            id: Uuid::now_v7(),
            name: name.into(),
            description: None,
            course_type: t,
            duration_hours: 6,
            price_pence: price,
            max_capacity: 12,
            certification_validity_years: 3,
            is_active: true,
            created_by_id: None,
            updated_by_id: None,
            created_at: now,
            updated_at: now,
        };
        courses.push(c.into_active_model().reset_all().insert(db).await?.id);
    }
    let mut venues = Vec::new();
    for name in ["Leeds City Centre Training Venue", "York Conference Centre"] {
        let v = venue::Model {
            id: Uuid::now_v7(),
            name: name.into(),
            address_line_1: None,
            address_line_2: None,
            city: None,
            postcode: None,
            capacity: Some(20),
            facilities: None,
            parking_info: None,
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        venues.push(v.into_active_model().reset_all().insert(db).await?.id);
    }
    Ok((courses, venues))
}

/// Syllables of the duplicates scenario's less common surnames (40 × 25 = 1,000 of them).
const TAIL_START: &[&str] = &[
    "Ash", "Black", "Brad", "Brook", "Craw", "Dun", "Elling", "Fair", "Gar", "Hather", "Ing",
    "Kirk", "Lang", "Mid", "Nor", "Old", "Pen", "Rad", "Sel", "Thorn", "Under", "Wel", "Whit",
    "Yar", "Bir", "Cal", "Dal", "Eas", "Fen", "Gil", "Hol", "Ken", "Lind", "Mar", "New", "Ox",
    "Rom", "Stan", "Tad", "War",
];
const TAIL_END: &[&str] = &[
    "ford", "ley", "ton", "wood", "field", "worth", "by", "ham", "well", "dale", "stone", "bury",
    "croft", "gate", "hurst", "land", "more", "shaw", "thwaite", "wick", "cliffe", "brook",
    "holme", "ridge", "sall",
];

/// Yorkshire postcode districts, for the duplicates scenario's addresses.
const DISTRICTS: &[&str] = &[
    "LS1", "LS2", "LS6", "LS11", "LS17", "LS28", "BD1", "BD7", "BD18", "HG1", "HG2", "YO1", "YO10",
    "YO24", "S1", "S10", "S11", "HD1", "HX1", "WF1", "DN1", "HU1",
];

/// Inserts `n` customers in batches, with plausible names, phones, companies and stats.
/// With `duplicates`, each has a postcode, and about 2% of the `n` are second records of
/// another customer (see [`duplicate_of`]).
async fn seed_users(db: &DatabaseConnection, n: usize, duplicates: bool) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(42);
    let now = Utc::now();
    let mut batch = Vec::with_capacity(500);
    let mut originals: Vec<user::Model> = Vec::new();
    let mut emails = std::collections::HashSet::new();
    for i in 0..n {
        if duplicates && i > 1000 && rng.gen_bool(0.02) {
            let original = &originals[rng.gen_range(0..originals.len())];
            let mut m = duplicate_of(original, i, &mut rng);
            if !emails.insert(m.email.clone()) {
                // The same typo twice (or a swap of two equal letters): tag it instead.
                m.email = m.email.replacen('@', &format!("+dup{i}@"), 1);
            }
            users::refresh_derived(&mut m);
            batch.push(m.into_active_model().reset_all());
            if batch.len() == 500 || i + 1 == n {
                user::Entity::insert_many(std::mem::take(&mut batch))
                    .exec_without_returning(db)
                    .await?;
            }
            continue;
        }
        let first = FIRST[rng.gen_range(0..FIRST.len())];
        let tail;
        let last = if rng.gen_bool(0.013) {
            "Smith"
        } else if duplicates && rng.gen_bool(0.7) {
            // The long tail of surnames that real customers have (the 73 common ones cover
            // about 30% of people), so name blocks are as large as they would be.
            tail = format!(
                "{}{}",
                TAIL_START[rng.gen_range(0..TAIL_START.len())],
                TAIL_END[rng.gen_range(0..TAIL_END.len())]
            );
            tail.as_str()
        } else {
            LAST[rng.gen_range(0..LAST.len())]
        };
        let email = format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase().replace('\'', ""),
            i
        );
        let created = now - ChronoDuration::minutes(rng.gen_range(0..(5 * 365 * 24 * 60)));
        let mut m = users::blank(email, first.into(), last.into(), created);
        m.phone = Some(format!("07{:03} {:06}", rng.gen_range(700..999), i));
        if rng.gen_bool(0.2) {
            m.customer_type = CustomerType::Corporate;
            m.company_name = Some(format!("{} & Sons Ltd", LAST[rng.gen_range(0..LAST.len())]));
        }
        m.total_bookings = rng.gen_range(0..12);
        m.total_spent_pence = i64::from(m.total_bookings) * 8500;
        m.last_activity_at = created + ChronoDuration::minutes(rng.gen_range(0..(365 * 24 * 60)));
        m.marketing_consent = rng.gen_bool(0.4);
        if duplicates {
            m.postcode = Some(format!(
                "{} {}{}{}",
                DISTRICTS[rng.gen_range(0..DISTRICTS.len())],
                rng.gen_range(1..10),
                (b'A' + rng.gen_range(0..26)) as char,
                (b'A' + rng.gen_range(0..26)) as char,
            ));
        }
        users::refresh_derived(&mut m);
        if duplicates {
            emails.insert(m.email.clone());
            originals.push(m.clone());
        }
        batch.push(m.into_active_model().reset_all());
        if batch.len() == 500 || i + 1 == n {
            user::Entity::insert_many(std::mem::take(&mut batch))
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(())
}

/// A second record of `original`, made the ways real duplicates are: a renewal from a new
/// email and employer with the phone written another way; a typo in the email; the same
/// mailbox with a `+tag`; the same name at the same postcode from another address.
fn duplicate_of(original: &user::Model, i: usize, rng: &mut StdRng) -> user::Model {
    let now = Utc::now();
    let (local, domain) = original
        .email
        .split_once('@')
        .unwrap_or((&original.email, "example.com"));
    let email = match rng.gen_range(0..4) {
        0 => format!("{}{i}@newemployer{}.co.uk", local.replace('.', ""), i % 97),
        1 => {
            let mut chars: Vec<char> = local.chars().collect();
            let last = chars.len().saturating_sub(1);
            let k = 1 + rng.gen_range(0..last.saturating_sub(1).max(1));
            chars.swap(k - 1, k.min(last));
            format!("{}@{domain}", chars.into_iter().collect::<String>())
        }
        2 => format!("{local}+courses{i}@{domain}"),
        _ => format!(
            "{}.{i}@home{}.net",
            original.first_name.to_lowercase(),
            i % 89
        ),
    };
    let mut m = users::blank(
        email,
        original.first_name.clone(),
        original.last_name.clone(),
        now - ChronoDuration::days(rng.gen_range(0..365)),
    );
    match m.email.contains("newemployer") {
        // A renewal: the phone as typed elsewhere, a new company.
        true => {
            m.mobile = original
                .phone
                .as_deref()
                .map(|p| format!("+44 {}", p.trim_start_matches('0')));
            m.company_name = Some(format!("New Employer {} Ltd", i % 500));
            m.customer_type = CustomerType::Corporate;
        }
        false => m.postcode = original.postcode.clone(),
    }
    m.total_bookings = 1;
    m.total_spent_pence = 8500;
    m
}

/// The duplicates scenario: candidates of one user and the worklist's first page, one
/// client each, then a full rescan timed against a full scan of `users`.
async fn duplicates_scenario(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    args: &Args,
    backend: &str,
) -> anyhow::Result<()> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    const CANDIDATES: &str = "query($id: UUID!) { duplicateCandidates(userId: $id) { score matchWeight user { id email fullName phone companyName } reasons { field level weight left right } } }";
    const WORKLIST: &str = "query { duplicateGroups(first: 50) { totalCount edges { cursor node { id bestScore users { id email fullName phone companyName } pairs { id score reasons { field level weight left right } } } } pageInfo { hasNextPage endCursor } } }";
    let ids: Vec<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Role.eq(Role::Customer))
        .into_tuple()
        .all(db)
        .await?;
    let pairs = duplicate_pair::Entity::find().count(db).await?;
    let post = |body: Value| {
        let client = client.clone();
        async move {
            let t = Instant::now();
            let resp: Value = client
                .post(endpoint)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?
                .json()
                .await?;
            if let Some(errors) = resp.get("errors") {
                anyhow::bail!("request failed: {errors}");
            }
            Ok::<_, anyhow::Error>((t.elapsed(), resp))
        }
    };
    let mut rng = StdRng::seed_from_u64(9);
    let mut candidates = Vec::with_capacity(args.requests);
    let mut found = 0usize;
    for i in 0..(args.requests + 50) {
        let id = ids[rng.gen_range(0..ids.len())];
        let (t, resp) = post(json!({"query": CANDIDATES, "variables": {"id": id}})).await?;
        if i >= 50 {
            candidates.push(t);
            found += resp["data"]["duplicateCandidates"]
                .as_array()
                .map_or(0, Vec::len);
        }
    }
    candidates.sort();
    let mut worklist = Vec::with_capacity(args.requests);
    let mut groups = Value::Null;
    for i in 0..(args.requests + 20) {
        let (t, resp) = post(json!({"query": WORKLIST})).await?;
        if i >= 20 {
            worklist.push(t);
        }
        groups = resp["data"]["duplicateGroups"]["totalCount"].clone();
    }
    worklist.sort();

    // A full scan of users, as the service reads rows, before and after the rescan.
    let scan = || async {
        let t = Instant::now();
        let n = positional::all(user::Entity::find(), db)
            .await
            .map(|r| r.len())
            .unwrap_or_default();
        (t.elapsed(), n)
    };
    let (scan_before, scanned) = scan().await;
    let t = Instant::now();
    let summary = duplicates::rescan(db, &mut |_, _| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rescan = t.elapsed();
    let (scan_after, _) = scan().await;
    let scan_time = (scan_before + scan_after) / 2;

    println!(
        "backend: {backend}; {} users; {pairs} stored pairs; {groups} groups at 0.8",
        ids.len()
    );
    println!(
        "duplicateCandidates, 1 client, {} random users: p50 {:.2} ms, p99 {:.2} ms ({:.2} candidates a user at 0.5)",
        candidates.len(),
        ms(percentile(&candidates, 0.50)),
        ms(percentile(&candidates, 0.99)),
        found as f64 / candidates.len().max(1) as f64,
    );
    println!(
        "duplicateGroups(first: 50), 1 client, {} requests: p50 {:.2} ms, p99 {:.2} ms",
        worklist.len(),
        ms(percentile(&worklist, 0.50)),
        ms(percentile(&worklist, 0.99)),
    );
    println!(
        "rescan-duplicates: {:.2} s ({} users, {} blocked pairs scored, {} stored); full scan of users ({scanned} rows): {:.3} s; ratio {:.1}",
        rescan.as_secs_f64(),
        summary.users,
        summary.compared,
        summary.pairs,
        scan_time.as_secs_f64(),
        rescan.as_secs_f64() / scan_time.as_secs_f64(),
    );
    Ok(())
}

/// Gives every customer `per_user` bookings on past sessions, each with a payment and,
/// for one booking in two, a certificate.
async fn seed_bookings(db: &DatabaseConnection, per_user: usize) -> anyhow::Result<()> {
    let (courses, venues) = catalogue(db).await?;
    let now = Utc::now();
    let mut sessions = Vec::new();
    for i in 0..200i64 {
        let starts = now - ChronoDuration::days(3 + i * 5);
        let s = course_session::Model {
            id: Uuid::now_v7(),
            course_id: courses[(i % 3) as usize],
            venue_id: venues[(i % 2) as usize],
            instructor_id: None,
            starts_at: starts,
            ends_at: starts + ChronoDuration::hours(6),
            capacity: 100_000,
            booked_places: 0,
            status: SessionStatus::Completed,
            cancelled_at: None,
            cancellation_reason: None,
            created_by_id: None,
            updated_by_id: None,
            created_at: starts,
            updated_at: starts,
        };
        sessions.push(s.into_active_model().reset_all().insert(db).await?);
    }
    let user_ids: Vec<Uuid> = user::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    let mut rng = StdRng::seed_from_u64(7);
    let (mut bookings, mut payments, mut certs) = (Vec::new(), Vec::new(), Vec::new());
    for (i, user_id) in user_ids.iter().enumerate() {
        for b in 0..per_user {
            let s = &sessions[rng.gen_range(0..sessions.len())];
            let price =
                [7500, 9500, 8500][courses.iter().position(|c| *c == s.course_id).unwrap_or(0)];
            let at = s.starts_at - ChronoDuration::days(rng.gen_range(1..30));
            let bk = booking::Model {
                id: Uuid::now_v7(),
                user_id: *user_id,
                session_id: s.id,
                reference: references::booking_reference(),
                status: BookingStatus::Completed,
                payment_status: PaymentStatus::Paid,
                unit_price_pence: price,
                discount_pence: 0,
                total_amount_pence: price,
                amount_paid_pence: price,
                amount_refunded_pence: 0,
                number_of_attendees: 1,
                special_requirements: None,
                contact_details: None,
                legacy_id: None,
                legacy_reference: None,
                confirmation_sent: true,
                reminder_sent: true,
                certificate_issued: b % 2 == 0,
                cancelled_at: None,
                cancellation_reason: None,
                created_by_id: None,
                updated_by_id: None,
                created_at: at,
                updated_at: at,
            };
            payments.push(
                payment::Model {
                    id: Uuid::now_v7(),
                    booking_id: bk.id,
                    user_id: *user_id,
                    stripe_payment_intent_id: None,
                    amount_pence: price,
                    currency: "GBP".into(),
                    status: PaymentRecordStatus::Succeeded,
                    method: PaymentMethod::Card,
                    recorded_by_id: None,
                    paid_at: Some(at),
                    created_at: at,
                    updated_at: at,
                }
                .into_active_model()
                .reset_all(),
            );
            if b % 2 == 0 {
                let issued = s.starts_at.date_naive();
                certs.push(
                    certificate::Model {
                        id: Uuid::now_v7(),
                        booking_id: bk.id,
                        attendee_id: None,
                        user_id: *user_id,
                        course_id: s.course_id,
                        session_id: Some(s.id),
                        certificate_number: format!("BENCH-{i}-{b}"),
                        holder_name: "Bench Holder".into(),
                        issued_on: issued,
                        expires_on: add_years(issued, 3),
                        status: CertificateStatus::Active,
                        revoked_at: None,
                        revocation_reason: None,
                        issued_by_id: None,
                        pdf_url: None,
                        created_at: at,
                        updated_at: at,
                    }
                    .into_active_model()
                    .reset_all(),
                );
            }
            bookings.push(bk.into_active_model().reset_all());
        }
        if bookings.len() >= 400 || i + 1 == user_ids.len() {
            booking::Entity::insert_many(std::mem::take(&mut bookings))
                .exec_without_returning(db)
                .await?;
            payment::Entity::insert_many(std::mem::take(&mut payments))
                .exec_without_returning(db)
                .await?;
            if !certs.is_empty() {
                certificate::Entity::insert_many(std::mem::take(&mut certs))
                    .exec_without_returning(db)
                    .await?;
            }
        }
    }
    Ok(())
}
