//! The N+1 guard: a page of users with their bookings, each booking's session, course,
//! venue and payments, and each user's certificates, costs the same small number of SQL
//! statements whether the page holds one user or fifty.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, NaiveDate, Utc};
use futures::{StreamExt, stream};
use rft_users::entities::certificate;
use rft_users::entities::enums::CertificateStatus;
use sea_orm::{ActiveModelTrait, IntoActiveModel};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Catalogue, TestApp, uuid_of};

const PAGE: &str = "query { users(first: 50) { edges { node { email bookings { edges { node { session { course { name } venue { name } } payments { amount } } } } certificates { expiresOn } } } } }";

/// Most statements the page may cost. The issue allows 8; it takes 7: the caller's token
/// check, the users, their bookings (with each session's course and venue ids joined
/// on), the courses, the venues, the payments and the certificates.
const BUDGET: usize = 7;

const EFAW: &str = "Emergency First Aid at Work";
const FAW: &str = "First Aid at Work";

/// A server with `n` customers, each booked on an EFAW session in Leeds and a FAW session
/// in York, both paid in full, and holding one certificate. Runs the page as an admin and
/// returns how many statements the server ran for it, after checking the answer really
/// holds all that nested data.
async fn statements_for_page_of(n: usize) -> usize {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::spawn_counting(counter.clone()).await;
    let (_, admin) = app.admin().await;
    let Catalogue {
        efaw,
        faw,
        leeds,
        york,
    } = app.catalogue(&admin).await;
    let s1 = app
        .create_session(&admin, efaw, leeds, None, 7, Some(60))
        .await;
    let s2 = app
        .create_session(&admin, faw, york, None, 14, Some(60))
        .await;
    let expiry = (Utc::now() + Duration::days(3 * 365)).date_naive();

    let app_ref = &app;
    let admin_ref = admin.as_str();
    let seeded: Vec<()> = stream::iter(0..n)
        .map(|i| async move {
            let email = format!("user{i:02}@example.com");
            let b1 = uuid_of(&app_ref.book_ok(None, s1, &email, 1).await["id"]);
            let b2 = uuid_of(&app_ref.book_ok(None, s2, &email, 1).await["id"]);
            for (b, amount) in [(b1, "95.00"), (b2, "150.00")] {
                let body = app_ref.pay(admin_ref, b, amount, "CARD").await;
                assert!(body.get("errors").is_none(), "{body:#}");
            }
            let owner = rft_users::services::bookings::find(&app_ref.db, b1)
                .await
                .unwrap()
                .user_id;
            certificate::Model {
                id: Uuid::now_v7(),
                booking_id: b1,
                attendee_id: None,
                user_id: owner,
                course_id: efaw,
                session_id: Some(s1),
                certificate_number: format!("RFT-EFAW-TEST-{i:06}"),
                holder_name: "Casey Booker".into(),
                issued_on: Utc::now().date_naive(),
                expires_on: expiry,
                status: CertificateStatus::Active,
                revoked_at: None,
                revocation_reason: None,
                issued_by_id: None,
                pdf_url: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }
            .into_active_model()
            .reset_all()
            .insert(&app_ref.db)
            .await
            .unwrap();
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(seeded.len(), n);
    assert_eq!(app.count("bookings").await, 2 * n as i64);
    assert_eq!(app.count("payments").await, 2 * n as i64);
    assert_eq!(app.count("certificates").await, n as i64);

    // The DataLoaders gather keys for 1 ms before querying, so a page can occasionally be
    // split into one more batch when the machine is busy (first requests especially). A
    // warm-up request, then the least of three: a resolver querying per row still costs
    // dozens of statements every time, which is what this guards against.
    let warm_up = app.gql(PAGE, json!({}), Some(&admin)).await;
    assert!(warm_up.get("errors").is_none(), "{warm_up:#}");
    let mut counts = Vec::new();
    let mut body = Value::Null;
    for _ in 0..3 {
        counter.store(0, Ordering::SeqCst);
        body = app.gql(PAGE, json!({}), Some(&admin)).await;
        counts.push(counter.load(Ordering::SeqCst));
    }
    let statements = counts.iter().copied().min().unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");

    let customers: Vec<&Value> = body["data"]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|u| u["email"].as_str().unwrap().starts_with("user"))
        .collect();
    assert_eq!(customers.len(), n, "{body:#}");
    for u in customers {
        let mut seen: Vec<(String, String, Vec<String>)> = u["bookings"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let b = &e["node"];
                (
                    b["session"]["course"]["name"].as_str().unwrap().to_string(),
                    b["session"]["venue"]["name"].as_str().unwrap().to_string(),
                    b["payments"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["amount"].as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                (
                    EFAW.to_string(),
                    "Leeds Training Centre".to_string(),
                    vec!["95.00".to_string()]
                ),
                (
                    FAW.to_string(),
                    "York Hub".to_string(),
                    vec!["150.00".to_string()]
                ),
            ],
            "{u:#}"
        );
        let expires: Vec<NaiveDate> = u["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["expiresOn"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(expires, [expiry], "{u:#}");
    }
    statements
}

#[tokio::test]
async fn a_page_of_users_with_their_booking_graph_costs_the_same_statements_for_1_or_50() {
    let one = statements_for_page_of(1).await;
    let fifty = statements_for_page_of(50).await;
    assert_eq!(
        one, fifty,
        "statement count grows with the page: {one} for 1 user, {fifty} for 50"
    );
    assert!(
        fifty <= BUDGET,
        "the page ran {fifty} statements; at most {BUDGET} expected"
    );
}
