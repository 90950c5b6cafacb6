//! The database-backed rate limiter, through the credential operations it guards: every
//! alias and every operation of a batch counts, instances on one database share the
//! limits, the limits survive a restart, concurrent attempts never exceed them, and the
//! buckets hold keyed hashes, never the IP address or email they count.
//!
//! The limits here allow a few attempts an hour, so no refill can happen during a test,
//! however loaded the machine.

use std::time::Duration;

use chrono::Utc;
use rft_users::auth::rate_limit::{self, Limit};
use rft_users::entities::rate_limit_bucket;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// Three attempts an hour per client.
fn three_an_hour() -> Limit {
    Limit::new(3, Duration::from_secs(3600))
}

async fn limited_app() -> TestApp {
    TestApp::spawn_with(|c| c.login_limit = three_an_hour()).await
}

async fn wrong_login(app: &TestApp) -> Value {
    app.gql(
        LOGIN,
        json!({ "e": "someone@example.com", "p": "not-the-password" }),
        None,
    )
    .await
}

/// The `retryAfter` of a RATE_LIMITED error, checked to be a whole number of seconds.
fn retry_after(error: &Value) -> u64 {
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{error:#}");
    error["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("retryAfter is a whole number: {error:#}"))
}

#[tokio::test]
async fn over_the_limit_answers_rate_limited_with_retry_after() {
    let app = limited_app().await;
    for _ in 0..3 {
        assert_eq!(
            error_code(&wrong_login(&app).await),
            Some("UNAUTHENTICATED")
        );
    }

    let fourth = wrong_login(&app).await;

    // One attempt every 20 minutes: the next is due 20 minutes after the first.
    let wait = retry_after(&fourth["errors"][0]);
    assert!(
        (1000..=1200).contains(&wait),
        "retryAfter {wait}: {fourth:#}"
    );
    assert!(fourth["data"].is_null());
    assert_eq!(app.audit_rows("auth.login_failed").await.len(), 3);
}

#[tokio::test]
async fn every_alias_in_a_document_counts() {
    let app = limited_app().await;
    let body = app
        .gql(
            "mutation($e: String!, $p: String!) { \
               a: login(email: $e, password: $p) { accessToken } \
               b: login(email: $e, password: $p) { accessToken } \
               c: login(email: $e, password: $p) { accessToken } \
               d: login(email: $e, password: $p) { accessToken } }",
            json!({ "e": "someone@example.com", "p": "not-the-password" }),
            None,
        )
        .await;

    let errors = body["errors"].as_array().expect("errors");
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["path"][0].as_str().unwrap(),
                e["extensions"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("a", "UNAUTHENTICATED"),
            ("b", "UNAUTHENTICATED"),
            ("c", "UNAUTHENTICATED"),
            ("d", "RATE_LIMITED"),
        ],
        "{body:#}"
    );
    assert!(retry_after(&errors[3]) >= 1);
    assert_eq!(app.audit_rows("auth.login_failed").await.len(), 3);
}

#[tokio::test]
async fn every_operation_of_a_batch_counts() {
    let app = limited_app().await;
    let one = json!({ "query": LOGIN, "variables": { "e": "someone@example.com", "p": "wrong" } });
    let batch: Vec<Value> = (0..4).map(|_| one.clone()).collect();

    let answers: Vec<Value> = app
        .client
        .post(app.url("/graphql"))
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let codes: Vec<_> = answers.iter().map(|a| error_code(a).unwrap()).collect();
    assert_eq!(
        codes,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "RATE_LIMITED"
        ]
    );
    assert_eq!(app.audit_rows("auth.login_failed").await.len(), 3);
}

#[tokio::test]
async fn two_instances_on_one_database_share_the_limits() {
    let first = limited_app().await;
    let second = first.spawn_beside().await;
    assert_ne!(first.addr, second.addr);

    for app in [&first, &second, &first] {
        assert_eq!(error_code(&wrong_login(app).await), Some("UNAUTHENTICATED"));
    }

    for app in [&second, &first] {
        let body = wrong_login(app).await;
        assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body:#}");
    }
    assert_eq!(first.audit_rows("auth.login_failed").await.len(), 3);
}

#[tokio::test]
async fn limits_survive_a_restart() {
    let app = limited_app().await;
    for _ in 0..3 {
        assert_eq!(
            error_code(&wrong_login(&app).await),
            Some("UNAUTHENTICATED")
        );
    }

    let app = app.restart().await;

    let body = wrong_login(&app).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body:#}");
    assert_eq!(app.audit_rows("auth.login_failed").await.len(), 3);
}

#[tokio::test]
async fn concurrent_attempts_never_exceed_the_limit() {
    let app =
        TestApp::spawn_with(|c| c.login_limit = Limit::new(5, Duration::from_secs(3600))).await;

    let answers = futures::future::join_all((0..24).map(|_| wrong_login(&app))).await;

    let limited = answers
        .iter()
        .filter(|a| error_code(a) == Some("RATE_LIMITED"))
        .count();
    let refused = answers
        .iter()
        .filter(|a| error_code(a) == Some("UNAUTHENTICATED"))
        .count();
    assert_eq!((refused, limited), (5, 19), "{answers:#?}");
    assert_eq!(app.audit_rows("auth.login_failed").await.len(), 5);
}

#[tokio::test]
async fn buckets_hold_keyed_hashes_never_the_address() {
    let app = limited_app().await;
    for _ in 0..4 {
        wrong_login(&app).await;
    }

    let rows = rate_limit_bucket::Entity::find()
        .all(&app.db)
        .await
        .unwrap();

    assert_eq!(rows.len(), 1, "one bucket: this client's");
    let key = &rows[0].key;
    let hash = key
        .strip_prefix("login-ip:")
        .expect("the kind prefixes the key");
    assert_eq!(hash.len(), 64);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    assert!(!key.contains("127.0.0.1"), "{key}");
    assert_eq!(
        *key,
        app.state.limiter.bucket_key("login-ip", "127.0.0.1"),
        "HMAC of the kind and the address"
    );
    // The bucket is full for an hour from the first attempt.
    assert!(rows[0].tat > Utc::now() + chrono::Duration::minutes(55));
}

#[tokio::test]
async fn spent_buckets_are_pruned() {
    let app = limited_app().await;
    wrong_login(&app).await;
    assert_eq!(app.count("rate_limit_buckets").await, 1);

    let now = rate_limit::prune(&app.db, Utc::now()).await.unwrap();
    assert_eq!(now, 0, "a bucket still counting stays");
    let later = rate_limit::prune(&app.db, Utc::now() + chrono::Duration::hours(2))
        .await
        .unwrap();

    assert_eq!(later, 1);
    assert_eq!(app.count("rate_limit_buckets").await, 0);
}
