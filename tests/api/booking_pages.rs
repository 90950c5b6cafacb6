//! `User.bookings`: pages newest first by creation time, cursors that walk every booking
//! once, and relations fetched along with the page (look-ahead) that match, field for
//! field, what the per-booking loaders return.

use chrono::{Duration, Utc};
use rft_users::entities::booking;
use rft_users::entities::enums::{BookingStatus, PaymentStatus, Role};
use rft_users::services::references;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Catalogue, TestApp, error_code, uuid_of};

const PAGE: &str = "query($id: UUID!, $after: String) { user(id: $id) { bookings(first: 2, after: $after) {
  edges { cursor node { id reference session { id course { name } venue { name } } payments { amount method } } }
  pageInfo { hasNextPage endCursor } } } }";

const ONE: &str = "query($id: UUID!) { booking(id: $id) {
  id reference session { id course { name } venue { name } } payments { amount method } } }";

/// A customer with five bookings over three sessions (two paid), one older booking
/// imported from the legacy system (its id is the newest, its creation date the oldest),
/// and another customer's booking on the same sessions.
struct Shop {
    app: TestApp,
    admin: String,
    customer: Uuid,
    legacy: Uuid,
}

async fn shop() -> Shop {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let Catalogue {
        efaw,
        faw,
        leeds,
        york,
    } = app.catalogue(&admin).await;
    let sessions = [
        app.create_session(&admin, efaw, leeds, None, 7, Some(30))
            .await,
        app.create_session(&admin, faw, york, None, 14, Some(30))
            .await,
        app.create_session(&admin, efaw, york, None, 21, Some(30))
            .await,
    ];
    let mut customer = None;
    for (i, session) in [0, 1, 2, 0, 1].into_iter().enumerate() {
        let b = app
            .book_ok(None, sessions[session], "pat@example.com", 1)
            .await;
        let id = uuid_of(&b["id"]);
        if i < 2 {
            let paid = app
                .pay(&admin, id, if i == 0 { "95.00" } else { "50.00" }, "CARD")
                .await;
            assert!(paid.get("errors").is_none(), "{paid:#}");
        }
        customer = Some(
            rft_users::services::bookings::find(&app.db, id)
                .await
                .unwrap()
                .user_id,
        );
    }
    app.book_ok(None, sessions[0], "someone.else@example.com", 1)
        .await;
    let customer = customer.unwrap();

    let long_ago = Utc::now() - Duration::days(400);
    let legacy = booking::Model {
        id: Uuid::now_v7(),
        user_id: customer,
        session_id: sessions[2],
        reference: references::booking_reference(),
        status: BookingStatus::Completed,
        payment_status: PaymentStatus::Paid,
        unit_price_pence: 9500,
        discount_pence: 0,
        total_amount_pence: 9500,
        amount_paid_pence: 9500,
        amount_refunded_pence: 0,
        number_of_attendees: 1,
        special_requirements: None,
        contact_details: None,
        legacy_id: Some("LEGACY-0001".into()),
        legacy_reference: Some("RFT-2019-000001".into()),
        confirmation_sent: true,
        reminder_sent: true,
        certificate_issued: false,
        cancelled_at: None,
        cancellation_reason: None,
        created_by_id: None,
        updated_by_id: None,
        created_at: long_ago,
        updated_at: long_ago,
    }
    .into_active_model()
    .reset_all()
    .insert(&app.db)
    .await
    .unwrap()
    .id;
    Shop {
        app,
        admin,
        customer,
        legacy,
    }
}

/// Every page of the customer's bookings, two at a time.
async fn walk(shop: &Shop, query: &str) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let data = shop
            .app
            .gql_ok(
                query,
                json!({ "id": shop.customer, "after": after }),
                Some(&shop.admin),
            )
            .await;
        let page = &data["user"]["bookings"];
        let edges = page["edges"].as_array().unwrap();
        assert!(edges.len() <= 2, "{page:#}");
        for e in edges {
            assert_eq!(e["cursor"], e["node"]["id"], "{e:#}");
            nodes.push(e["node"].clone());
        }
        if page["pageInfo"]["hasNextPage"] == json!(false) {
            return nodes;
        }
        after = Some(page["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    }
    panic!("the pages never ended");
}

#[tokio::test]
async fn a_customers_bookings_come_newest_first_and_every_page_matches_the_loaders() {
    let shop = shop().await;
    let nodes = walk(&shop, PAGE).await;

    // Every booking of theirs once, in the database's creation order, newest first;
    // the imported booking last although its id is the newest.
    let expected: Vec<Uuid> = booking::Entity::find()
        .filter(booking::Column::UserId.eq(shop.customer))
        .order_by_desc(booking::Column::CreatedAt)
        .order_by_desc(booking::Column::Id)
        .all(&shop.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    let got: Vec<Uuid> = nodes.iter().map(|n| uuid_of(&n["id"])).collect();
    assert_eq!(got.len(), 6);
    assert_eq!(got, expected);
    assert_eq!(*got.last().unwrap(), shop.legacy);

    // The session, course, venue and payments fetched with the page are exactly what
    // the booking's own loaders give.
    for node in &nodes {
        let alone = shop
            .app
            .gql_ok(ONE, json!({ "id": node["id"] }), Some(&shop.admin))
            .await;
        assert_eq!(&alone["booking"], node);
        assert!(node["session"]["course"]["name"].is_string(), "{node:#}");
        assert!(node["session"]["venue"]["name"].is_string(), "{node:#}");
    }
    let paid: Vec<&Value> = nodes
        .iter()
        .filter(|n| !n["payments"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(paid.len(), 2, "{nodes:#?}");
    let mut amounts: Vec<&str> = paid
        .iter()
        .map(|n| n["payments"][0]["amount"].as_str().unwrap())
        .collect();
    amounts.sort();
    assert_eq!(amounts, ["50.00", "95.00"]);
}

#[tokio::test]
async fn fragments_and_aliases_read_the_same_relations() {
    let shop = shop().await;
    let plain = walk(&shop, PAGE).await;
    let data = shop
        .app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) {
               all: bookings(first: 10) { edges { node { ...Details } } }
               newest: bookings(first: 1) { edges { node { id session { id } } } }
             } }
             fragment Details on Booking {
               id reference
               session { id ... on CourseSession { course { name } } venue { name } }
               payments { amount method }
             }",
            json!({ "id": shop.customer }),
            Some(&shop.admin),
        )
        .await;
    let all: Vec<Value> = data["user"]["all"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(all, plain);
    let newest = &data["user"]["newest"]["edges"];
    assert_eq!(newest.as_array().unwrap().len(), 1);
    assert_eq!(newest[0]["node"]["id"], plain[0]["id"]);
    assert_eq!(
        newest[0]["node"]["session"]["id"],
        plain[0]["session"]["id"]
    );
}

#[tokio::test]
async fn cursors_from_nowhere_are_refused_or_empty_and_instructors_never_see_the_page() {
    let shop = shop().await;
    let body = shop
        .app
        .gql(
            PAGE,
            json!({ "id": shop.customer, "after": "not-a-cursor" }),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");

    // A well-formed cursor that names no booking of theirs: nothing after it.
    let data = shop
        .app
        .gql_ok(
            PAGE,
            json!({ "id": shop.customer, "after": Uuid::now_v7().to_string() }),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(data["user"]["bookings"]["edges"], json!([]));

    let (_, trainer) = shop
        .app
        .logged_in(Role::Instructor, "trainer@example.com")
        .await;
    let body = shop
        .app
        .gql(PAGE, json!({ "id": shop.customer }), Some(&trainer))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    assert!(!body.to_string().contains("95.00"), "{body:#}");
}

#[tokio::test]
async fn a_page_that_reads_only_keys_agrees_with_a_full_page_and_the_database() {
    let shop = shop().await;
    let keys_only = walk(
        &shop,
        "query($id: UUID!, $after: String) { user(id: $id) { bookings(first: 2, after: $after) {
           edges { cursor node { id createdAt session { id } payments { amount } } }
           pageInfo { hasNextPage endCursor } } } }",
    )
    .await;
    // The same page, with columns beyond the keys asked for through a fragment.
    let full = walk(
        &shop,
        "query($id: UUID!, $after: String) { user(id: $id) { bookings(first: 2, after: $after) {
           edges { cursor node { id createdAt session { id } payments { amount } ...Money } }
           pageInfo { hasNextPage endCursor } } } }
         fragment Money on Booking { reference status totalAmount amountPaid }",
    )
    .await;
    assert_eq!(keys_only.len(), 6);
    assert_eq!(full.len(), keys_only.len());
    for (k, f) in keys_only.iter().zip(&full) {
        for field in ["id", "createdAt", "session", "payments"] {
            assert_eq!(k[field], f[field], "{field}: {k:#} vs {f:#}");
        }
        assert!(k.get("reference").is_none());
        let row = booking::Entity::find_by_id(uuid_of(&f["id"]))
            .one(&shop.app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f["reference"], json!(row.reference));
        let status = serde_json::to_value(row.status).unwrap();
        assert_eq!(f["status"], json!(status.as_str().unwrap().to_uppercase()));
        assert_eq!(
            f["totalAmount"],
            json!(rft_users::money::from_pence(row.total_amount_pence).to_string())
        );
        assert_eq!(
            f["amountPaid"],
            json!(rft_users::money::from_pence(row.amount_paid_pence).to_string())
        );
        let created = chrono::DateTime::parse_from_rfc3339(k["createdAt"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(created, row.created_at);
        assert_eq!(uuid_of(&k["session"]["id"]), row.session_id);
    }
}
