//! The schema contract: `schema.graphql` matches what is served, everything is described,
//! and the HTTP surface (GraphiQL, health) answers.

use serde_json::json;

use crate::helpers::TestApp;

#[test]
fn schema_file_matches_the_served_schema() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql is committed");
    let served = rft_users::graphql::sdl();
    assert!(
        committed == served,
        "schema.graphql is out of date: run `cargo run -- export-schema > schema.graphql`"
    );
}

#[tokio::test]
async fn every_type_field_argument_and_enum_value_is_described() {
    let app = TestApp::spawn().await;
    let data = app
        .gql_ok(
            r#"{ __schema { types {
                name kind description
                fields(includeDeprecated: true) { name description args { name description } }
                inputFields { name description }
                enumValues(includeDeprecated: true) { name description }
            } } }"#,
            json!({}),
            None,
        )
        .await;
    let mut missing = Vec::new();
    for t in data["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        if name.starts_with("__") || t["kind"] == "SCALAR" {
            continue;
        }
        let described = |v: &serde_json::Value| {
            v["description"]
                .as_str()
                .is_some_and(|d| !d.trim().is_empty())
        };
        // async-graphql's generic Connection/Edge wrappers have no type description of
        // their own (their fields do); every type we define must have one.
        let generic_wrapper = name.ends_with("Connection") || name.ends_with("Edge");
        if !described(t) && !generic_wrapper {
            missing.push(name.to_string());
        }
        for f in t["fields"].as_array().into_iter().flatten() {
            if !described(f) {
                missing.push(format!("{name}.{}", f["name"]));
            }
            for a in f["args"].as_array().into_iter().flatten() {
                if !described(a) {
                    missing.push(format!("{name}.{}({})", f["name"], a["name"]));
                }
            }
        }
        for f in t["inputFields"].as_array().into_iter().flatten() {
            if !described(f) {
                missing.push(format!("{name}.{}", f["name"]));
            }
        }
        for v in t["enumValues"].as_array().into_iter().flatten() {
            if !described(v) {
                missing.push(format!("{name}.{}", v["name"]));
            }
        }
    }
    assert!(missing.is_empty(), "undescribed: {missing:#?}");
}

#[tokio::test]
async fn graphiql_and_health_answer() {
    let app = TestApp::spawn().await;
    let page = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn malformed_queries_get_bad_user_input() {
    let app = TestApp::spawn().await;
    let body = app.gql("{ me { id ", json!({}), None).await;
    assert_eq!(
        crate::helpers::error_code(&body),
        Some("BAD_USER_INPUT"),
        "{body:#}"
    );
    let body = app.gql("{ noSuchField }", json!({}), None).await;
    assert_eq!(
        crate::helpers::error_code(&body),
        Some("BAD_USER_INPUT"),
        "{body:#}"
    );
}

/// Object types that are values, not rows: they have no identity of their own, so clients'
/// caches store them inside their parent. Every other object type stands for a row and must
/// have an `id`, on which Apollo's InMemoryCache and urql's graphcache normalise.
const VALUE_TYPES: &[&str] = &[
    "AuthPayload",
    // A token handed out once; its row is never read back through the API.
    "PortalSession",
    // What an erasure does (or did): computed, not a row.
    "ErasurePlan",
    "ErasureItem",
    "PageInfo",
    "QueryRoot",
    "MutationRoot",
    // Parts of a merge and its preview: they live inside their `UserMerge` / preview.
    "CustomerTotals",
    "MergePreview",
    "MergedField",
    "MovedRows",
    // A candidate is a user seen from another, with the reasons: both live in the answer.
    "DuplicateCandidate",
    "MatchReason",
    // An import job's counts per status.
    "ImportCounts",
    // A customer's insights and their parts live inside their `User`; a fit's parts inside
    // its `InsightsModel`.
    "CustomerInsights",
    "PreferredCourse",
    "PaymentMethodTotal",
    "CertificateSummary",
    "RfmScores",
    "CustomerPrediction",
    "RepeatModel",
    "ValueModel",
    "RenewalRateRow",
    "RfmQuintiles",
    "Backtest",
    // The business dashboard and its parts: figures over a range, not rows.
    "BusinessInsights",
    "InsightsPoint",
    "CourseShare",
    "VenueShare",
    "SegmentCount",
    // The public answer about a certificate number: it must carry no id (of the holder or
    // of the certificate), and lives in the query's answer.
    "CertificateVerification",
    // What a run of renewal reminders queued: counts, not a row.
    "RenewalReminderRun",
];

#[test]
fn every_row_type_has_an_id() {
    let sdl = rft_users::graphql::sdl();
    let mut objects = Vec::new();
    let mut without_id = Vec::new();
    let mut lines = sdl.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("type ") else {
            continue;
        };
        let name = rest.split([' ', '{']).next().unwrap().to_string();
        // Fields sit at one tab; descriptions and arguments deeper or in quotes.
        let mut has_id = false;
        for field in lines.by_ref() {
            if field == "}" {
                break;
            }
            if field.starts_with("\tid: UUID!") || field.starts_with("\tid: ID!") {
                has_id = true;
            }
        }
        let wrapper = name.ends_with("Connection") || name.ends_with("Edge");
        if !wrapper && !VALUE_TYPES.contains(&name.as_str()) {
            objects.push(name.clone());
            if !has_id {
                without_id.push(name);
            }
        }
    }
    assert!(
        objects.contains(&"SessionAttendee".to_string()) && objects.len() > 10,
        "the SDL scan found the row types: {objects:?}"
    );
    assert!(
        without_id.is_empty(),
        "object types standing for rows without an `id: UUID!` (add one, or list the type in \
         VALUE_TYPES if it truly is a value): {without_id:?}"
    );
}
