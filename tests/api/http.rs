//! The HTTP surface of `/graphql`: only JSON bodies, bounded batches, queries over GET,
//! Apollo's automatic persisted queries, the cost limit and the introspection switch.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, error_code, error_message};

const CREATE_USER: &str = r#"mutation { createUser(input: { email: "csrf@example.com", firstName: "C", lastName: "S" }) { id } }"#;

#[tokio::test]
async fn post_refuses_bodies_that_are_not_json_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let users_before = app.count("users").await;
    let body = json!({ "query": CREATE_USER }).to_string();
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let resp = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .header(CONTENT_TYPE, content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 415, "{content_type}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert!(error_message(&body).unwrap().contains("application/json"));
    }
    assert_eq!(
        app.count("users").await,
        users_before,
        "nothing was created"
    );

    // The same body as JSON runs.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.count("users").await, users_before + 1);
}

async fn post_batch(app: &TestApp, n: usize) -> (u16, Value) {
    let batch: Vec<Value> = (0..n)
        .map(|_| json!({ "query": "{ courses { id } }" }))
        .collect();
    let resp = app
        .client
        .post(app.url("/graphql"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn batches_hold_at_most_the_configured_number_of_operations() {
    let app = TestApp::spawn().await;
    let (status, body) = post_batch(&app, 10).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(10));
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("errors").is_none())
    );

    let (status, body) = post_batch(&app, 11).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert!(error_message(&body).unwrap().contains("at most 10"));

    let (status, body) = post_batch(&app, 500).await;
    assert_eq!(status, 400, "{body}");

    let small = TestApp::spawn_with(|c| c.max_batch = 2).await;
    assert_eq!(post_batch(&small, 2).await.0, 200);
    assert_eq!(post_batch(&small, 3).await.0, 400);
}

#[tokio::test]
async fn malformed_bodies_are_bad_input() {
    let app = TestApp::spawn().await;
    for body in ["{", "[]", "42", r#"{"variables": {}}"#] {
        let resp = app
            .client
            .post(app.url("/graphql"))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "{body} -> {json}");
        assert_eq!(
            error_code(&json),
            Some("BAD_USER_INPUT"),
            "{body} -> {json}"
        );
    }
}

async fn get(app: &TestApp, params: &[(&str, &str)], token: Option<&str>) -> (u16, Value) {
    let mut req = app
        .client
        .get(app.url("/graphql"))
        .header(
            ACCEPT,
            "application/graphql-response+json, application/json;q=0.9",
        )
        .query(params);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    app.create_course(&token, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;

    let (status, body) = get(
        &app,
        &[
            (
                "query",
                "query Courses($all: Boolean!) { courses(includeInactive: $all) { name } }",
            ),
            ("operationName", "Courses"),
            ("variables", r#"{"all": false}"#),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["courses"][0]["name"],
        "Emergency First Aid at Work"
    );

    let users_before = app.count("users").await;
    let (status, body) = get(&app, &[("query", CREATE_USER)], Some(&token)).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(app.count("users").await, users_before);

    // A named mutation in a document with a query, picked by operationName.
    let doc = format!(
        "query Q {{ courses {{ id }} }} {}",
        CREATE_USER.replacen("mutation", "mutation M", 1)
    );
    let (status, _) = get(
        &app,
        &[("query", &doc), ("operationName", "M")],
        Some(&token),
    )
    .await;
    assert_eq!(status, 405);
    let (status, body) = get(
        &app,
        &[("query", &doc), ("operationName", "Q")],
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.count("users").await, users_before);

    let (status, body) = get(&app, &[], None).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));

    // A browser still gets the playground.
    let page = app
        .client
        .get(app.url("/graphql"))
        .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The requests Apollo Client's `createPersistedQueryLink` (and urql's `persistedExchange`)
/// send: the hash alone; on `PersistedQueryNotFound`, the hash with the full text; later, the
/// hash alone again, over GET when `useGETForHashedQueries` is on.
#[tokio::test]
async fn automatic_persisted_queries_work_as_apollo_and_urql_send_them() {
    let app = TestApp::spawn().await;
    let query = "query Venues {\n  venues {\n    id\n    name\n    __typename\n  }\n}";
    let hash = sha256_hex(query);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    // 1. The hash alone, unknown to the server.
    let miss = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "operationName": "Venues", "variables": {}, "extensions": extensions }))
        .send()
        .await
        .unwrap();
    assert_eq!(miss.status(), 200);
    let miss: Value = miss.json().await.unwrap();
    assert_eq!(error_code(&miss), Some("PERSISTED_QUERY_NOT_FOUND"));
    assert_eq!(error_message(&miss), Some("PersistedQueryNotFound"));

    // 2. The link retries with the text.
    let full = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({
            "operationName": "Venues", "variables": {}, "extensions": extensions, "query": query
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    let full: Value = full.json().await.unwrap();
    assert!(full.get("errors").is_none(), "{full}");
    assert!(full["data"]["venues"].is_array());

    // 3. Now the hash alone works, over GET and POST.
    let (status, body) = get(
        &app,
        &[
            ("operationName", "Venues"),
            ("variables", "{}"),
            ("extensions", &extensions.to_string()),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["venues"].is_array());
    let hit: Value = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "operationName": "Venues", "variables": {}, "extensions": extensions }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(hit.get("errors").is_none(), "{hit}");

    // A hash that does not match the text is refused, and not stored.
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex("{ courses { id } }") } });
    let resp = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "extensions": wrong }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));

    // A persisted mutation over GET is still refused.
    let mutation = "mutation Logout { logout }";
    let mhash = sha256_hex(mutation);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": mhash } });
    let (status, _) = get(
        &app,
        &[("query", mutation), ("extensions", &ext.to_string())],
        None,
    )
    .await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn queries_that_could_return_too_many_rows_are_refused_before_running() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = TestApp::spawn_recording(log.clone()).await;
    let (_, token) = app.admin().await;
    log.lock().unwrap().clear();
    // 100 users x 100 bookings x their payments: about a million rows.
    let huge = "{ users(first: 100) { edges { node { id bookings(first: 100) { edges { node { id reference payments { id amount } } } } } } } }";
    let body = app.gql(huge, json!({}), Some(&token)).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(error_message(&body).unwrap().contains("complex"), "{body}");
    assert!(body["data"].is_null());
    // The token check is the only statement: the query itself never ran.
    let statements = log.lock().unwrap().clone();
    assert!(
        statements.iter().all(|s| !s.contains("bookings")),
        "{statements:#?}"
    );

    // The admin page's usual shape is well within the limit.
    let page = "{ users(first: 50) { totalCount edges { node { id email bookings(first: 20) { edges { node { id reference session { course { name } venue { name } } payments { amount } } } } certificates { expiresOn } } } } }";
    let body = app.gql(page, json!({}), Some(&token)).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn introspection_and_suggestions_can_be_switched_off() {
    let open = TestApp::spawn().await;
    let body = open
        .gql("{ __schema { queryType { name } } }", json!({}), None)
        .await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "QueryRoot");
    let body = open.gql("{ cours { id } }", json!({}), None).await;
    assert!(
        error_message(&body).unwrap().contains("Did you mean"),
        "{body}"
    );

    let closed = TestApp::spawn_with(|c| c.introspection = false).await;
    let body = closed
        .gql("{ __schema { queryType { name } } }", json!({}), None)
        .await;
    assert!(body["data"]["__schema"].is_null(), "{body}");
    let body = closed
        .gql("{ __type(name: \"User\") { name } }", json!({}), None)
        .await;
    assert!(body["data"]["__type"].is_null(), "{body}");
    let body = closed.gql("{ cours { id } }", json!({}), None).await;
    assert!(
        !error_message(&body).unwrap().contains("Did you mean"),
        "{body}"
    );
    // Ordinary queries still run.
    let body = closed.gql("{ courses { id } }", json!({}), None).await;
    assert!(body.get("errors").is_none(), "{body}");
}
