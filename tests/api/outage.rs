//! A database outage is not an authentication failure: clients get 503 and
//! SERVICE_UNAVAILABLE (retry), never UNAUTHENTICATED (log out); when the database comes
//! back the next request succeeds; a mutation is never run twice. And the real binary shuts
//! down cleanly on SIGTERM, finishing what is in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

async fn post(app: &TestApp, query: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// With the pool closed, every database call fails: a valid token must not read as a bad one.
#[tokio::test]
async fn an_unreachable_database_answers_503_not_unauthenticated() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let (status, body) = post(&app, "{ me { id } }", Some(&token)).await;
    assert_eq!((status, body.get("errors")), (200, None), "{body}");

    app.state.db.close_by_ref().await.unwrap();

    for (query, token) in [
        ("{ me { id } }", Some(token.as_str())),
        ("{ courses { id } }", None),
        (
            r#"mutation { login(email: "nobody@example.com", password: "whatever-123") { accessToken } }"#,
            None,
        ),
    ] {
        let mut req = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": query }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 503, "{query}");
        assert_eq!(resp.headers()["retry-after"], "1");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            error_code(&body),
            Some("SERVICE_UNAVAILABLE"),
            "{query}: {body}"
        );
        let text = body.to_string();
        assert!(!text.contains("UNAUTHENTICATED"), "{text}");
        assert!(
            !text.to_lowercase().contains("pool"),
            "no internals leak: {text}"
        );
    }
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
}

fn test_server_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Ends every session of the app's database, as a PostgreSQL restart does.
async fn terminate_backends(app: &TestApp) {
    let server = test_server_url().expect("PostgreSQL test");
    let db_name = app
        .state
        .config
        .database_url
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let admin = Database::connect(&server).await.unwrap();
    let sql = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = '{db_name}' AND pid <> pg_backend_pid()"
    );
    admin.execute_unprepared(&sql).await.unwrap();
    // pg_terminate_backend only signals: wait until the sessions are really gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = admin
            .query_one_raw(sea_orm::Statement::from_string(
                admin.get_database_backend(),
                format!("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{db_name}'"),
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        if n == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.close().await.ok();
}

/// Warms the pool so that it holds several idle connections, all of which the restart kills.
async fn warm_pool(app: &TestApp, token: &str) {
    let queries: Vec<_> = (0..6)
        .map(|_| post(app, "{ me { id } courses { id } }", Some(token)))
        .collect();
    for (status, body) in futures::future::join_all(queries).await {
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn after_postgres_ends_every_session_the_next_requests_succeed() {
    if test_server_url().is_none() {
        eprintln!("TEST_DATABASE_URL not set: the PostgreSQL restart test runs on PostgreSQL only");
        return;
    }
    let app = TestApp::spawn().await;
    let (admin, token) = app.admin().await;
    warm_pool(&app, &token).await;

    terminate_backends(&app).await;
    // A request with a valid token: the token check meets a dead connection, closes the
    // broken ones and checks again.
    let (status, body) = post(&app, "{ me { id } }", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["me"]["id"], admin.id.to_string());
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // An anonymous read meets a dead connection in its resolver: it runs once more.
    warm_pool(&app, &token).await;
    terminate_backends(&app).await;
    let (status, body) = post(&app, "{ courses { id } venues { id } }", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");

    // /healthz recovers at once too.
    warm_pool(&app, &token).await;
    terminate_backends(&app).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_mutation_that_meets_a_dead_connection_is_not_run_again() {
    if test_server_url().is_none() {
        eprintln!("TEST_DATABASE_URL not set: the PostgreSQL restart test runs on PostgreSQL only");
        return;
    }
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let catalogue = app.catalogue(&token).await;
    let session = app
        .create_session(&token, catalogue.efaw, catalogue.leeds, None, 10, Some(12))
        .await;
    let bookings_before = app.count("bookings").await;
    warm_pool(&app, &token).await;
    terminate_backends(&app).await;
    // Counted over a connection of the test's own: the app's pool still holds dead ones.
    let own = Database::connect(&app.state.config.database_url)
        .await
        .unwrap();
    let bookings = || async {
        let row = own
            .query_one_raw(sea_orm::Statement::from_string(
                own.get_database_backend(),
                "SELECT count(*) AS n FROM bookings",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };

    // No token: the first statement the service runs is the booking's own.
    let body = app
        .book(None, session, "dead.connection@example.com", 1)
        .await;
    assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"), "{body}");
    assert_eq!(
        bookings().await,
        bookings_before,
        "the failed booking was not written, nor retried"
    );
    // The client retries, and it works.
    let body = app
        .book(None, session, "dead.connection@example.com", 1)
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(bookings().await, bookings_before + 1);
}

/// Starts the real binary on a free port over its own fresh database.
struct Server {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rft-users"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RFT_DATA_DIR", dir.path())
        .env("RFT_BIND", "127.0.0.1:0")
        .env("RFT_NO_DEMO_DATA", "true")
        .env("RFT_METRICS_BIND", "127.0.0.1:0")
        .env("RFT_SHUTDOWN_GRACE_SECONDS", "20")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server prints its address")
            .unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches("/graphql").to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        addr,
        _dir: dir,
    }
}

#[test]
fn sigterm_finishes_requests_in_flight_then_exits_zero() {
    let mut server = start_server();
    // Ten failed logins in one batch: each verifies a password hash (argon2id, 19 MiB), so
    // the request is still running when the signal arrives.
    let batch: Vec<Value> = (0..10)
        .map(|i| {
            json!({ "query": format!(
                r#"mutation {{ login(email: "nobody{i}@example.com", password: "not-the-password") {{ accessToken }} }}"#
            ) })
        })
        .collect();
    let body = serde_json::to_string(&batch).unwrap();
    let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        server.addr,
        body.len(),
        body
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());

    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let json_start = response.find("\r\n\r\n").unwrap() + 4;
    let answers: Value = serde_json::from_str(response[json_start..].trim()).unwrap_or_else(|_| {
        // A chunked body: take the JSON between the chunk sizes.
        let body = &response[json_start..];
        let start = body.find('[').unwrap();
        let end = body.rfind(']').unwrap();
        serde_json::from_str(&body[start..=end]).unwrap()
    });
    assert_eq!(answers.as_array().map(Vec::len), Some(10), "{answers}");
    assert!(
        answers
            .as_array()
            .unwrap()
            .iter()
            .all(|a| error_code(a) == Some("UNAUTHENTICATED")),
        "every login was answered: {answers}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    assert!(
        std::net::TcpStream::connect(&server.addr).is_err(),
        "no longer accepting connections"
    );
}
