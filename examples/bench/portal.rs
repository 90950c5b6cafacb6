//! `--scenario portal`: the customer portal's `customerLookup`, and what brute force gets.
//!
//! 1. Set-up, through the API: a course, a venue and a session (admin), and `--requests`
//!    customers who each book it on the public website.
//! 2. Lookup latency with one client: each customer opens the portal once with their own
//!    email and reference (p50, p99), on a second server over the same database whose
//!    limits are out of the way, so only the lookup itself is measured.
//! 3. Brute force against one customer's email, on the server with the default limits and
//!    `RFT_TRUST_PROXY` on: `--concurrency` clients send wrong references as fast as they
//!    can for `--seconds`, first all from one address, then each request from a different
//!    `X-Forwarded-For` address. Reported: guesses accepted (must be 0), the share answered
//!    RATE_LIMITED, and the server's CPU per request (utime + stime from `/proc/<pid>/stat`).
//!
//! Exits non-zero when a wrong guess is accepted or a lookup answers anything unexpected.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};

use super::{Args, Server, cpu_seconds, ms, percentile, wait_until_healthy};

const LOOKUP: &str = "mutation($e: String!, $r: String!) { customerLookup(email: $e, bookingReference: $r) { token } }";

/// Limits that never trigger, for the latency phase.
const NO_LIMITS: &[(&str, &str)] = &[
    ("RFT_PORTAL_LIMIT_PER_IP", "100000000/1m"),
    ("RFT_PORTAL_LIMIT_PER_EMAIL", "100000000/1m"),
    ("RFT_PORTAL_LIMIT_PER_REFERENCE", "100000000/1m"),
    ("RFT_PORTAL_LIMIT_GLOBAL", "100000000/1m"),
];

/// Runs the scenario against `server` (default limits, trusting `X-Forwarded-For`).
pub async fn run(
    client: &reqwest::Client,
    server: &Server,
    bin: &std::path::Path,
    database_url: &str,
    admin_password: &str,
    admin_token: &str,
    args: &Args,
) -> anyhow::Result<()> {
    let endpoint = &server.endpoint;
    let gql = |query: &'static str, variables: Value, token: Option<String>| {
        let client = client.clone();
        let endpoint = endpoint.clone();
        async move {
            let mut req = client
                .post(&endpoint)
                .json(&json!({ "query": query, "variables": variables }));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let body: Value = req.send().await?.json().await?;
            if body.get("errors").is_some() {
                anyhow::bail!("{query}: {body}");
            }
            Ok::<_, anyhow::Error>(body["data"].clone())
        }
    };
    let admin = Some(admin_token.to_string());
    let course = gql(
        "mutation { createCourse(input: { name: \"Emergency First Aid at Work\", courseType: \"EFAW\", durationHours: 6, price: \"95.00\", maxCapacity: 500, certificationValidityYears: 3 }) { id } }",
        json!({}),
        admin.clone(),
    )
    .await?["createCourse"]["id"]
        .clone();
    let venue = gql(
        "mutation { createVenue(input: { name: \"Leeds Training Centre\", city: \"Leeds\", postcode: \"LS1 4AP\" }) { id } }",
        json!({}),
        admin.clone(),
    )
    .await?["createVenue"]["id"]
        .clone();
    let starts = chrono::Utc::now() + chrono::Duration::days(30);
    let session = gql(
        "mutation($input: CreateCourseSessionInput!) { createCourseSession(input: $input) { id } }",
        json!({ "input": {
            "courseId": course, "venueId": venue, "startsAt": starts.to_rfc3339(),
            "endsAt": (starts + chrono::Duration::hours(6)).to_rfc3339(), "capacity": 500,
        } }),
        admin.clone(),
    )
    .await?["createCourseSession"]["id"]
        .clone();
    // One session holds at most 500 (the course's largest allowed capacity).
    let customers = args.requests.clamp(1, 500);
    let mut pairs = Vec::with_capacity(customers);
    for i in 0..customers {
        let email = format!("portal{i}@example.com");
        let booked = gql(
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { reference } }",
            json!({ "input": {
                "sessionId": session,
                "contact": { "firstName": "Pat", "lastName": format!("Portal{i}"), "email": email },
                "attendees": [{ "firstName": "Pat", "lastName": format!("Portal{i}") }],
            } }),
            None,
        )
        .await?;
        let reference = booked["createBooking"]["reference"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        pairs.push((email, reference));
    }

    // Latency of a successful lookup, limits out of the way.
    let unlimited = Server::start(
        bin,
        database_url,
        admin_password,
        args.server_threads,
        NO_LIMITS,
    )?;
    wait_until_healthy(client, &unlimited.endpoint).await;
    let mut single = Vec::with_capacity(pairs.len());
    for (email, reference) in &pairs {
        let t = Instant::now();
        let body: Value = client
            .post(&unlimited.endpoint)
            .json(&json!({ "query": LOOKUP, "variables": { "e": email, "r": reference } }))
            .send()
            .await?
            .json()
            .await?;
        single.push(t.elapsed());
        anyhow::ensure!(
            body["data"]["customerLookup"]["token"].is_string(),
            "lookup failed: {body}"
        );
    }
    drop(unlimited);
    single.sort();
    println!(
        "customerLookup, 1 client, {} lookups: p50 {:.2} ms, p99 {:.2} ms",
        single.len(),
        ms(percentile(&single, 0.50)),
        ms(percentile(&single, 0.99)),
    );

    // Brute force on the server with the default limits.
    let mut failed = false;
    for (i, many_addresses) in [false, true].into_iter().enumerate() {
        let target = pairs[i % pairs.len()].0.clone();
        let outcome = brute_force(client, server, &target, many_addresses, args).await?;
        println!(
            "brute force from {}: {} clients, {:.1} s, {} guesses ({:.0}/s): {} accepted, {:.1}% RATE_LIMITED, {:.1}% UNAUTHENTICATED; server CPU per request {:.3} ms",
            if many_addresses {
                "many addresses"
            } else {
                "one address"
            },
            args.concurrency,
            outcome.elapsed.as_secs_f64(),
            outcome.sent,
            outcome.sent as f64 / outcome.elapsed.as_secs_f64(),
            outcome.accepted,
            100.0 * outcome.limited as f64 / outcome.sent.max(1) as f64,
            100.0 * outcome.refused as f64 / outcome.sent.max(1) as f64,
            outcome.server_cpu * 1000.0 / outcome.sent.max(1) as f64,
        );
        failed |= outcome.accepted > 0 || outcome.other > 0;
    }
    anyhow::ensure!(
        !failed,
        "a wrong guess was accepted, or a lookup answered something else"
    );
    Ok(())
}

/// What one brute-force phase saw.
struct Outcome {
    sent: u64,
    accepted: u64,
    limited: u64,
    refused: u64,
    other: u64,
    elapsed: Duration,
    server_cpu: f64,
}

/// `--concurrency` clients guessing references for `email` for `--seconds`.
async fn brute_force(
    client: &reqwest::Client,
    server: &Server,
    email: &str,
    many_addresses: bool,
    args: &Args,
) -> anyhow::Result<Outcome> {
    let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let pid = server.child.id();
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, endpoint, email, counts) = (
            client.clone(),
            server.endpoint.clone(),
            email.to_string(),
            counts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let (guess, address) = {
                    let mut rng = rand::thread_rng();
                    let guess: String = (0..13)
                        .map(|_| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"[rng.gen_range(0..32)] as char)
                        .collect();
                    let address = if many_addresses {
                        format!(
                            "10.{}.{}.{}",
                            rng.gen_range(0..256),
                            rng.gen_range(0..256),
                            rng.gen_range(1..255)
                        )
                    } else {
                        "203.0.113.7".to_string()
                    };
                    (guess, address)
                };
                let reference = format!("RFT-{}-{}-{}", &guess[0..5], &guess[5..10], &guess[10..]);
                let body: Value = client
                    .post(&endpoint)
                    .header("x-forwarded-for", address)
                    .json(&json!({ "query": LOOKUP, "variables": { "e": email, "r": reference } }))
                    .send()
                    .await?
                    .json()
                    .await?;
                let slot = if body["data"]["customerLookup"]["token"].is_string() {
                    0
                } else {
                    match body["errors"][0]["extensions"]["code"].as_str() {
                        Some("RATE_LIMITED") => 1,
                        Some("UNAUTHENTICATED") => 2,
                        _ => 3,
                    }
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed();
    let server_cpu = cpu_seconds(pid) - cpu_before;
    let [accepted, limited, refused, other] =
        [0, 1, 2, 3].map(|i| counts[i].load(Ordering::Relaxed));
    Ok(Outcome {
        sent: accepted + limited + refused + other,
        accepted,
        limited,
        refused,
        other,
        elapsed,
        server_cpu,
    })
}
