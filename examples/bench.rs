//! Benchmark of the admin's user search page at scale.
//!
//! Seeds a fresh database with `--users` customers (default 100,000), starts the real
//! server on a free local port, logs in as an admin and measures
//!
//! ```graphql
//! users(search: "smith", first: 50, orderBy: {field: LAST_ACTIVITY, direction: DESC}) {
//!   totalCount edges { node { id email firstName lastName totalSpent } } }
//! ```
//!
//! first with one client (median and p99 latency), then with `--concurrency` clients
//! (throughput). Run it with a release build:
//!
//! ```text
//! cargo run --release --example bench -- --users 100000
//! cargo run --release --example bench -- --users 100000 --database-url postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! With a PostgreSQL URL it creates (and afterwards drops) a database `rft_bench` on that
//! server. The load generator runs in the same process as the server, so both share the
//! machine's cores: the figures are a lower bound for the server alone.

use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use clap::Parser;
use rand::{Rng, SeedableRng, rngs::StdRng};
use rft_users::app::Application;
use rft_users::auth::tokens::random_token;
use rft_users::config::{AppConfig, Secret};
use rft_users::entities::{enums::*, user};
use rft_users::services::{bootstrap, users};
use sea_orm::{ConnectionTrait, Database, EntityTrait, IntoActiveModel, PaginatorTrait};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// How many users to seed.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// A PostgreSQL server URL; SQLite in a temporary directory when omitted.
    #[arg(long)]
    database_url: Option<String>,
    /// Requests measured with a single client.
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Concurrent clients in the throughput phase.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Keep the SQLite database in this file (reused, unseeded, if it already has users).
    #[arg(long)]
    sqlite_file: Option<std::path::PathBuf>,
    /// Database connections in the server's pool.
    #[arg(long, default_value_t = 16)]
    pool: u32,
    /// Length of the throughput phase, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

const QUERY: &str = r#"query { users(search: "smith", first: 50, orderBy: {field: LAST_ACTIVITY, direction: DESC}) {
  totalCount edges { node { id email firstName lastName totalSpent } } } }"#;

const FIRST: &[&str] = &[
    "Olivia", "Jack", "Amelia", "Harry", "Isla", "Oliver", "Zoë", "George", "Siân", "Noah",
    "Emily", "Charlie", "Grace", "Thomas", "Sophie", "James", "Ava", "William", "Ruby", "Dafydd",
    "Aisha", "Mohammed", "Priya", "Connor",
];
/// Common UK surnames; "Smith" is drawn about 1.3% of the time, as in the population.
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (url, _dir, pg_admin) = match &args.database_url {
        Some(server) => {
            let admin = Database::connect(server).await?;
            admin
                .execute_unprepared("DROP DATABASE IF EXISTS rft_bench WITH (FORCE)")
                .await?;
            admin
                .execute_unprepared("CREATE DATABASE rft_bench")
                .await?;
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
            (format!("{base}/rft_bench"), None, Some(admin))
        }
        None if args.sqlite_file.is_some() => {
            let path = args.sqlite_file.clone().unwrap_or_default();
            (format!("sqlite://{}?mode=rwc", path.display()), None, None)
        }
        None => {
            let dir = tempfile::tempdir()?;
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            );
            (url, Some(dir), None)
        }
    };
    let backend = if pg_admin.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut config = AppConfig::new(url, Secret::new(random_token(48)));
    config.login_rate_per_minute = 1000;
    config.db_pool_size = args.pool;
    let app = Application::build(config, "127.0.0.1:0".parse()?).await?;
    let db = app.state.db.clone();
    let addr = app.local_addr()?;

    let started = Instant::now();
    let existing = user::Entity::find().count(&db).await?;
    if existing == 0 {
        seed(&db, args.users).await?;
    }
    if pg_admin.is_some() {
        db.execute_unprepared("ANALYZE").await?;
    } else {
        db.execute_unprepared("PRAGMA optimize").await?;
    }
    eprintln!(
        "seeded {} users in {:.1}s",
        args.users,
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
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let endpoint = format!("http://{addr}/graphql");
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

    let run_one = |client: reqwest::Client, endpoint: String, token: String| async move {
        let t = Instant::now();
        let body: Value = client
            .post(&endpoint)
            .bearer_auth(&token)
            .json(&json!({"query": QUERY}))
            .send()
            .await?
            .json()
            .await?;
        if body.get("errors").is_some() {
            anyhow::bail!("query failed: {body}");
        }
        Ok::<(Duration, Value), anyhow::Error>((t.elapsed(), body))
    };

    // Warm up, and show what the query returns.
    let (_, sample) = run_one(client.clone(), endpoint.clone(), token.clone()).await?;
    let total = sample["data"]["users"]["totalCount"].as_i64().unwrap_or(0);
    let page = sample["data"]["users"]["edges"]
        .as_array()
        .map_or(0, Vec::len);
    for _ in 0..50 {
        run_one(client.clone(), endpoint.clone(), token.clone()).await?;
    }

    let mut single = Vec::with_capacity(args.requests);
    for _ in 0..args.requests {
        single.push(
            run_one(client.clone(), endpoint.clone(), token.clone())
                .await?
                .0,
        );
    }
    single.sort();

    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, endpoint, token) = (client.clone(), endpoint.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                lat.push(
                    run_one(client.clone(), endpoint.clone(), token.clone())
                        .await?
                        .0,
                );
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
    concurrent.sort();

    println!(
        "backend: {backend}; users: {}; matches for \"smith\": {total}; page: {page} rows",
        args.users
    );
    println!(
        "1 client, {} requests: p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms",
        single.len(),
        ms(percentile(&single, 0.50)),
        ms(percentile(&single, 0.99)),
        ms(single.iter().sum::<Duration>() / single.len() as u32),
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
    if let Some(admin) = pg_admin {
        db.close().await.ok();
        admin
            .execute_unprepared("DROP DATABASE IF EXISTS rft_bench WITH (FORCE)")
            .await
            .ok();
    }
    Ok(())
}

/// Inserts `n` customers in batches, with plausible names, phones, companies and stats.
async fn seed(db: &sea_orm::DatabaseConnection, n: usize) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(42);
    let now = Utc::now();
    let mut batch = Vec::with_capacity(500);
    for i in 0..n {
        let first = FIRST[rng.gen_range(0..FIRST.len())];
        let last = if rng.gen_bool(0.013) {
            "Smith"
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
        users::refresh_derived(&mut m);
        batch.push(sea_orm::ActiveModelTrait::reset_all(m.into_active_model()));
        if batch.len() == 500 || i + 1 == n {
            user::Entity::insert_many(std::mem::take(&mut batch))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}
