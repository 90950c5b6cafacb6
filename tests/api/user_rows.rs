//! How user rows are read. A page of users whose selection reads only ids and relations
//! reads only the users' ids and sort keys, and answers exactly as a page that reads whole
//! rows (the same users, cursors and bookings, and its cursors page on the same way). And
//! whole rows are decoded by position, `NULL`s included, exactly as SeaORM decodes them by
//! name, falling back to names when the columns come in another order.

use std::sync::{Arc, Mutex};

use rft_users::entities::{positional, user};
use sea_orm::{EntityTrait, Iterable, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Catalogue, TestApp, uuid_of};

const CREATE: &str = "mutation($input: CreateUserInput!) { createUser(input: $input) { id } }";

/// Every field of `User` that comes straight from a column, as GraphQL names them.
const PROFILE: &str = "id email firstName lastName phone mobile dateOfBirth addressLine1
  addressLine2 city county postcode country companyName companyRole companyDepartment
  vatNumber role status customerType customerSince firstBookingAt lastBookingAt
  totalBookings totalSpent lastActivityAt marketingConsent smsConsent newsletterSubscribed
  preferredContactMethod emergencyContactName emergencyContactPhone
  emergencyContactRelationship hasMedicalConditions medicalNotes dietaryRequirements
  shareMedicalWithTrainer adminNotes hasPassword lastLoginAt failedLoginAttempts createdAt
  updatedAt";

/// An app with statements recorded, an admin, and customers: one with every optional
/// profile field filled in, the rest with none, two of them booked on a session.
struct Recorded {
    app: TestApp,
    admin: String,
    log: Arc<Mutex<Vec<String>>>,
    full_profile: Uuid,
}

async fn recorded() -> Recorded {
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = TestApp::spawn_recording(log.clone()).await;
    let (_, admin) = app.admin().await;
    let data = app
        .gql_ok(
            CREATE,
            json!({ "input": {
                "email": "fiona.full@example.com",
                "firstName": "Fiona",
                "lastName": "Full",
                "phone": "07700 900001",
                "mobile": "07700 900002",
                "dateOfBirth": "1980-02-29",
                "addressLine1": "1 Park Row",
                "addressLine2": "Floor 2",
                "city": "Leeds",
                "county": "West Yorkshire",
                "postcode": "LS1 5AB",
                "companyName": "Acme Ltd",
                "companyRole": "Safety lead",
                "companyDepartment": "Facilities",
                "customerType": "CORPORATE",
                "marketingConsent": true,
            } }),
            Some(&admin),
        )
        .await;
    let full_profile = uuid_of(&data["createUser"]["id"]);
    let Catalogue { efaw, leeds, .. } = app.catalogue(&admin).await;
    let session = app
        .create_session(&admin, efaw, leeds, None, 7, Some(20))
        .await;
    for email in [
        "amy.a@example.com",
        "ben.b@example.com",
        "fiona.full@example.com",
    ] {
        app.book_ok(None, session, email, 1).await;
    }
    for email in ["cal.c@example.com", "dee.d@example.com"] {
        app.gql_ok(
            CREATE,
            json!({ "input": { "email": email, "firstName": "Plain", "lastName": "Customer" } }),
            Some(&admin),
        )
        .await;
    }
    log.lock().unwrap().clear();
    Recorded {
        app,
        admin,
        log,
        full_profile,
    }
}

impl Recorded {
    /// Runs `query` and returns its data with the statements it ran on the users table.
    async fn run(&self, query: &str) -> (Value, Vec<String>) {
        self.log.lock().unwrap().clear();
        let data = self.app.gql_ok(query, json!({}), Some(&self.admin)).await;
        let statements = self
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|sql| sql.contains(r#"FROM "users""#))
            .cloned()
            .collect();
        (data, statements)
    }
}

/// `(cursor, id, booking ids)` of each edge of a users connection.
fn edges(connection: &Value) -> Vec<(String, Uuid, Vec<Uuid>)> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges in {connection:#}"))
        .iter()
        .map(|e| {
            let bookings = e["node"]["bookings"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| uuid_of(&b["node"]["id"]))
                .collect();
            (
                e["cursor"].as_str().unwrap().to_string(),
                uuid_of(&e["node"]["id"]),
                bookings,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_page_reading_only_relations_reads_only_ids_and_answers_as_a_whole_page() {
    let r = recorded().await;
    let orders = [
        "{field: NAME, direction: ASC}",
        "{field: CREATED_AT, direction: DESC}",
        "{field: TOTAL_BOOKINGS, direction: DESC}",
    ];
    for order in orders {
        for search in ["", r#"search: "example", "#] {
            let page = |extra: &str, after: &str| {
                format!(
                    "query {{ users({search}first: 3, orderBy: {order}{after}) {{ totalCount \
                     edges {{ cursor node {{ id {extra} bookings {{ edges {{ node {{ id }} }} }} }} }} }} }}"
                )
            };
            let (light, light_sql) = r.run(&page("", "")).await;
            let (whole, whole_sql) = r.run(&page("email phone", "")).await;
            let (light_edges, whole_edges) = (edges(&light["users"]), edges(&whole["users"]));
            assert_eq!(light_edges, whole_edges, "{order} {search}");
            assert_eq!(light_edges.len(), 3, "{light:#}");
            assert_eq!(light["users"]["totalCount"], whole["users"]["totalCount"]);
            if search.is_empty() {
                let everyone = r.app.all_users().await.len();
                assert_eq!(light["users"]["totalCount"], json!(everyone), "{light:#}");
            }

            // The light page never read a profile column; the whole page did.
            assert!(!light_sql.is_empty(), "{order} {search}");
            assert!(
                light_sql.iter().all(|sql| !sql.contains(r#""phone""#)),
                "{order} {search}: {light_sql:#?}"
            );
            assert!(
                whole_sql.iter().any(|sql| sql.contains(r#""phone""#)),
                "{order} {search}: {whole_sql:#?}"
            );

            // A light page's cursor starts the next page where a whole page's does.
            let cursor = &light_edges[1].0;
            let after = format!(r#", after: "{cursor}""#);
            let (next_light, _) = r.run(&page("", &after)).await;
            let (next_whole, _) = r.run(&page("email", &after)).await;
            let next = edges(&next_light["users"]);
            assert_eq!(next, edges(&next_whole["users"]), "{order} {search}");
            assert_eq!(next[0].1, light_edges[2].1, "{order} {search}");
        }
    }
}

#[tokio::test]
async fn a_field_in_a_fragment_still_reads_whole_rows() {
    let r = recorded().await;
    let (data, sql) = r
        .run(
            "query { users(first: 10, orderBy: {field: NAME, direction: ASC}) { edges { node { id ...Contact } } } }
             fragment Contact on User { ... on User { email } }",
        )
        .await;
    assert!(sql.iter().any(|s| s.contains(r#""email""#)), "{sql:#?}");
    let rows = r.app.all_users().await;
    for edge in data["users"]["edges"].as_array().unwrap() {
        let id = uuid_of(&edge["node"]["id"]);
        let row = rows.iter().find(|u| u.id == id).unwrap();
        assert_eq!(edge["node"]["email"], json!(row.email));
    }
}

#[tokio::test]
async fn whole_rows_decoded_by_position_match_the_database_nulls_and_all() {
    let r = recorded().await;
    let app = &r.app;
    let page = format!(
        "query {{ users(first: 50, orderBy: {{field: NAME, direction: ASC}}) {{ edges {{ node {{ {PROFILE} }} }} }} }}"
    );
    let (data, _) = r.run(&page).await;
    let nodes: Vec<&Value> = data["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(nodes.len(), app.all_users().await.len(), "{data:#}");
    for node in nodes {
        let id = uuid_of(&node["id"]);
        // One user by id reads its row through the same decoder.
        let alone = app
            .gql_ok(
                &format!("query($id: UUID!) {{ user(id: $id) {{ {PROFILE} }} }}"),
                json!({ "id": id }),
                Some(&r.admin),
            )
            .await;
        assert_eq!(&alone["user"], node);
        // And both agree with SeaORM's own decoding of the row.
        let row = app.user_row(id).await;
        assert_eq!(node["email"], json!(row.email));
        assert_eq!(node["phone"], json!(row.phone));
        assert_eq!(node["mobile"], json!(row.mobile));
        assert_eq!(node["addressLine2"], json!(row.address_line_2));
        assert_eq!(node["county"], json!(row.county));
        assert_eq!(node["companyDepartment"], json!(row.company_department));
        assert_eq!(node["vatNumber"], json!(row.vat_number));
        assert_eq!(
            node["dateOfBirth"],
            json!(row.date_of_birth.map(|d| d.value().to_string()))
        );
        assert_eq!(node["totalBookings"], json!(row.total_bookings));
        assert_eq!(node["hasPassword"], json!(row.password_hash.is_some()));
        assert_eq!(
            node["firstBookingAt"].is_null(),
            row.first_booking_at.is_none()
        );
        assert_eq!(node["lastLoginAt"].is_null(), row.last_login_at.is_none());
        if id == r.full_profile {
            assert_eq!(node["county"], json!("West Yorkshire"));
            assert_eq!(node["dateOfBirth"], json!("1980-02-29"));
            assert_eq!(node["totalBookings"], json!(1));
        }
    }
}

#[tokio::test]
async fn rows_whose_columns_come_in_another_order_decode_by_name() {
    let r = recorded().await;
    let db = &r.app.db;
    let by_name = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(db)
        .await
        .unwrap();
    let by_position = positional::all(user::Entity::find().order_by_asc(user::Column::Id), db)
        .await
        .unwrap();
    assert_eq!(by_position, by_name);
    let reversed: Vec<user::Column> = user::Column::iter().rev().collect();
    let shuffled = positional::all(
        user::Entity::find()
            .select_only()
            .columns(reversed)
            .order_by_asc(user::Column::Id),
        db,
    )
    .await
    .unwrap();
    assert_eq!(shuffled, by_name);
    assert!(by_name.iter().any(|u| u.phone.is_some()));
    assert!(by_name.iter().any(|u| u.phone.is_none()));
}
