//! What operators see: Prometheus metrics on a listener of their own (never on the main
//! one), JSON log lines with the request's facts and no personal data, and start-up errors
//! that are one line naming the setting at fault.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

/// One sample of the Prometheus text format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        // Label values here never hold `",`; the test's own names are plain.
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
            map.insert(k.to_string(), v.trim_end_matches('"').to_string());
        }
        samples.push(Sample {
            name: name.to_string(),
            labels: map,
            value,
        });
    }
    samples
}

/// The value of the sample called `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

async fn scrape(app: &TestApp) -> (String, Vec<Sample>) {
    let addr = app
        .metrics_addr
        .expect("the test asked for a metrics listener");
    let resp = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = resp.text().await.unwrap();
    let samples = parse_metrics(&text);
    (text, samples)
}

async fn metrics_app() -> TestApp {
    TestApp::spawn_with(|c| c.metrics_bind = Some("127.0.0.1:0".parse().unwrap())).await
}

#[tokio::test]
async fn metrics_count_operations_requests_and_the_pool_on_their_own_listener() {
    let app = metrics_app().await;
    let ok = app
        .gql("query TelemetryProbeOk { courses { id } }", json!({}), None)
        .await;
    assert!(ok.get("errors").is_none(), "{ok}");
    let denied = app
        .gql(
            "query TelemetryProbeDenied { users(first: 1) { totalCount } }",
            json!({}),
            None,
        )
        .await;
    let denied_code = error_code(&denied).expect("anonymous callers may not list users");
    let bad = app
        .gql("query TelemetryProbeBad { noSuchField }", json!({}), None)
        .await;
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"), "{bad}");
    let long_name = "TelemetryProbe".to_string() + &"X".repeat(100);
    app.gql(
        &format!("query {long_name} {{ __typename }}"),
        json!({}),
        None,
    )
    .await;
    let (_, token) = app.admin().await;
    app.gql_ok("{ me { id } }", json!({}), Some(&token)).await;

    let (text, m) = scrape(&app).await;
    let ops = "graphql_operations_total";
    for (operation, outcome) in [
        ("TelemetryProbeOk", "ok"),
        ("TelemetryProbeDenied", denied_code),
        ("TelemetryProbeBad", "BAD_USER_INPUT"),
        ("anonymous", "ok"),
    ] {
        let n = value(&m, ops, &[("operation", operation), ("outcome", outcome)]);
        assert!(n >= Some(1.0), "{operation}/{outcome} counted:\n{text}");
    }
    let truncated = &long_name[..rft_users::telemetry::MAX_OPERATION_NAME_CHARS];
    assert!(
        value(&m, ops, &[("operation", truncated), ("outcome", "ok")]).is_some(),
        "a long operation name is cut to {} characters:\n{text}",
        rft_users::telemetry::MAX_OPERATION_NAME_CHARS
    );
    assert!(!text.contains(&long_name), "never the whole long name");

    let post = [("method", "POST"), ("route", "/graphql"), ("status", "200")];
    assert!(
        value(&m, "http_requests_total", &post) >= Some(5.0),
        "{text}"
    );
    let buckets = [("operation", "TelemetryProbeOk"), ("le", "+Inf")];
    assert!(
        value(&m, "graphql_operation_duration_seconds_bucket", &buckets) >= Some(1.0),
        "a histogram with buckets:\n{text}"
    );
    assert!(
        value(
            &m,
            "http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/graphql")]
        ) >= Some(5.0),
        "{text}"
    );

    let sqlite = app.state.config.database_url.starts_with("sqlite:");
    let max = if sqlite { 4.0 } else { 8.0 };
    assert_eq!(
        value(&m, "db_pool_max_connections", &[]),
        Some(max),
        "{text}"
    );
    let open = value(&m, "db_pool_connections", &[]).expect("pool size");
    let idle = value(&m, "db_pool_idle_connections", &[]).expect("idle connections");
    let in_use = value(&m, "db_pool_in_use_connections", &[]).expect("connections in use");
    assert!(open >= 1.0 && open <= max, "{text}");
    assert!(idle >= 0.0 && in_use >= 0.0, "{text}");
    assert!(
        value(&m, "process_resident_memory_bytes", &[]) > Some(1_000_000.0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE graphql_operations_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
}

#[tokio::test]
async fn the_main_listener_does_not_serve_metrics() {
    let app = metrics_app().await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let metrics = app.metrics_addr.unwrap();
    let resp = app
        .client
        .get(format!("http://{metrics}/graphql"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        404,
        "the metrics listener serves only /metrics"
    );
    let (text, m) = scrape(&app).await;
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(
        value(&m, "http_requests_total", &unmatched) >= Some(1.0),
        "unknown paths share one label:\n{text}"
    );
    assert!(!text.contains("route=\"/metrics\""), "{text}");
}

#[tokio::test]
async fn without_a_metrics_address_no_metrics_listener_is_opened() {
    let app = TestApp::spawn().await;
    assert_eq!(app.metrics_addr, None);
}

/// The real binary, killed when the test ends, with its output collected line by line.
struct Server {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    errors: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// A command for the binary with a clean environment and a fresh data directory.
fn binary(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rft-users"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RFT_DATA_DIR", dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("logs.db").display()),
        )
        .env("RFT_BIND", "127.0.0.1:0")
        .env("RFT_METRICS_BIND", "127.0.0.1:0")
        .env("RFT_NO_DEMO_DATA", "true");
    cmd
}

const ADMIN_EMAIL: &str = "ops.person@example.com";
const ADMIN_PASSWORD: &str = "correct-horse-battery-staple";

fn start_json_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut child = binary(dir.path())
        .env("RFT_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("RFT_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("RFT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let lines = collect(child.stdout.take().unwrap());
    let errors = collect(child.stderr.take().unwrap());
    Server {
        child,
        lines,
        errors,
        _dir: dir,
    }
}

impl Server {
    /// The address from the `serving` log line.
    async fn addr(&mut self) -> String {
        let started = Instant::now();
        loop {
            let found = self.lines.lock().unwrap().iter().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["message"] == "serving").then(|| v["addr"].as_str().map(String::from))?
            });
            if let Some(addr) = found {
                return addr;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the server exited ({status}): {:?}", self.errors.lock());
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no serving line"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every stdout line as JSON, once the request line for `request_id` is there.
    async fn json_lines_through(&self, request_id: &str) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let lines: Vec<Value> = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .map(|l| {
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
                })
                .collect();
            if lines.iter().any(|l| l["request_id"] == request_id) {
                return lines;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{lines:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn json_logs_give_each_request_its_facts_and_no_personal_data() {
    let mut server = start_json_server();
    let addr = server.addr().await;
    let client = reqwest::Client::new();
    let post = |body: Value, request_id: &str, token: Option<&str>| {
        let mut req = client
            .post(format!("http://{addr}/graphql"))
            .header("x-request-id", request_id)
            .json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    let login: Value = post(
        json!({
            "query": "mutation LogIn($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken user { id } } }",
            "variables": { "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD },
        }),
        "telemetry-login",
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let access = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("login: {login}"))
        .to_string();
    let refresh = login["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let admin_id = login["data"]["login"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let me = post(
        json!({ "query": "query WhoAmI { me { id email } }" }),
        "telemetry-me",
        Some(&access),
    )
    .await
    .unwrap();
    assert_eq!(me.status(), 200);
    let wrong = post(
        json!({
            "query": "mutation LogIn($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            "variables": { "e": ADMIN_EMAIL, "p": "not-the-password-at-all" },
        }),
        "telemetry-wrong",
        None,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 200);

    let lines = server.json_lines_through("telemetry-wrong").await;
    let request_line = |id: &str| {
        lines
            .iter()
            .find(|l| l["request_id"] == id && l["message"] == "request")
            .unwrap_or_else(|| panic!("a request line for {id}: {lines:#?}"))
            .clone()
    };
    let me = request_line("telemetry-me");
    assert_eq!(me["operation"], "WhoAmI", "{me}");
    assert_eq!(me["user_id"], admin_id.as_str(), "{me}");
    assert_eq!(me["status"], 200, "{me}");
    assert_eq!(me["route"], "/graphql", "{me}");
    assert_eq!(me["method"], "POST", "{me}");
    assert!(me["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{me}");
    assert_eq!(me["level"], "INFO", "{me}");
    let login = request_line("telemetry-login");
    assert_eq!(login["operation"], "LogIn", "{login}");
    assert!(login.get("user_id").is_none(), "no caller yet: {login}");
    // The request's span carries its id, for every line written while answering.
    assert_eq!(login["span"]["name"], "request", "{login}");
    assert_eq!(login["span"]["request_id"], "telemetry-login", "{login}");

    let stdout = server.lines.lock().unwrap().join("\n");
    let stderr = server.errors.lock().unwrap().join("\n");
    for secret in [ADMIN_EMAIL, ADMIN_PASSWORD, &access, &refresh] {
        assert!(!stdout.contains(secret), "logs hold {secret}:\n{stdout}");
        assert!(
            !stderr.contains(secret),
            "the console holds {secret}:\n{stderr}"
        );
    }
    assert!(!stdout.contains('@'), "no email address at all:\n{stdout}");
    assert!(
        stderr.contains(&admin_id),
        "the bootstrap admin is named by id:\n{stderr}"
    );
}

/// Runs the binary until it exits (it must, within a minute); returns its exit code and
/// stderr.
fn run_to_exit(mut cmd: Command) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let errors = collect(child.stderr.take().unwrap());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the binary did not exit: {:?}", errors.lock());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The reader thread finishes at end of stream, just after exit.
    std::thread::sleep(Duration::from_millis(100));
    let stderr = errors.lock().unwrap().join("\n");
    (status.code(), stderr)
}

fn assert_one_line(stderr: &str, names: &[&str]) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line:\n{stderr}");
    assert!(lines[0].starts_with("rft-users: "), "{stderr}");
    for name in names {
        assert!(lines[0].contains(name), "names {name}: {stderr}");
    }
    assert!(!stderr.contains("backtrace"), "{stderr}");
    assert!(!stderr.contains("Caused by"), "{stderr}");
}

#[test]
fn a_bad_metrics_address_is_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = binary(dir.path());
    cmd.env("RFT_METRICS_BIND", "x");
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, Some(0));
    assert_one_line(&stderr, &["RFT_METRICS_BIND", "\"x\""]);
}

#[test]
fn a_database_path_that_cannot_be_created_is_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    // A directory cannot be made under a file, even by root.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let db = file.join("nested").join("x.db");
    let mut cmd = binary(dir.path());
    cmd.env(
        "DATABASE_URL",
        format!("sqlite://{}?mode=rwc", db.display()),
    );
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, Some(0));
    assert_one_line(&stderr, &["DATABASE_URL", &file.display().to_string()]);
}

#[test]
fn an_address_in_use_is_one_line_naming_the_variable_and_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for variable in ["RFT_BIND", "RFT_METRICS_BIND"] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = binary(dir.path());
        cmd.env(variable, &addr)
            .env("RFT_ADMIN_PASSWORD", ADMIN_PASSWORD);
        let (code, stderr) = run_to_exit(cmd);
        assert_ne!(code, Some(0));
        assert_one_line(&stderr, &[variable, &addr]);
    }
}
