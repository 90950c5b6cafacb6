//! A page of users fetches its bookings pages, payments and certificates in one go; the
//! answer is the same as each user's own (loader) answer, whether the prefetch runs or is
//! skipped (aliased pages of different sizes), and whether payments are read light (id and
//! amount) or whole. And the booking flow's lock order: a session cancelled while
//! customers book it keeps no live booking and exact counts, and a booking refused for
//! want of places writes nothing.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::future::join_all;
use rft_users::entities::enums::{BookingStatus, SessionStatus};
use rft_users::entities::{booking, certificate, course, course_session, payment, user, venue};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Catalogue, TestApp, error_code, error_field, uuid_of};

/// The fields of each user that the page and the single-user query both ask for.
const USER_FIELDS: &str = "id email
  bookings(first: 2) {
    edges { node { id reference session { id course { name } venue { name } } payments { id amount } } }
    pageInfo { hasNextPage } }
  payments { id amount method }
  certificates { id expiresOn certificateNumber }";

const SHEET: &str =
    "query($id: UUID!) { courseSession(id: $id) { attendees { id firstName lastName } } }";
const MARK: &str = "mutation($s: UUID!, $a: UUID!) { markAttendance(sessionId: $s, attendeeId: $a, status: PRESENT, passedAssessment: true) { id } }";
const ISSUE: &str = "mutation($s: UUID!) { issueCertificates(sessionId: $s) { id } }";

/// Four customers with one to four bookings each over three sessions, some paid (one in
/// two instalments), and certificates for the two who attended a session that has
/// happened.
struct Shop {
    app: TestApp,
    admin: String,
    customers: Vec<Uuid>,
}

/// A payment to record: amount and method.
type Payment = (&'static str, &'static str);

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
        app.create_session(&admin, efaw, york, None, 2, Some(30))
            .await,
    ];
    let emails = [
        "ann@example.com",
        "bob@example.com",
        "cat@example.com",
        "dan@example.com",
    ];
    // (customer, session, payments), in booking order.
    let plan: [(usize, usize, &[Payment]); 10] = [
        (0, 0, &[("95.00", "CARD")]),
        (1, 0, &[("40.00", "CASH"), ("55.00", "CARD")]),
        (3, 0, &[]),
        (0, 1, &[("50.00", "BANK_TRANSFER")]),
        (2, 1, &[]),
        (3, 1, &[("150.00", "CARD")]),
        (0, 2, &[]),
        (1, 2, &[("95.00", "INVOICE")]),
        (3, 0, &[]),
        (3, 1, &[("20.00", "CASH")]),
    ];
    let mut customers: Vec<Option<Uuid>> = vec![None; emails.len()];
    for (who, session, payments) in plan {
        let b = app.book_ok(None, sessions[session], emails[who], 1).await;
        let id = uuid_of(&b["id"]);
        for (amount, method) in payments {
            let paid = app.pay(&admin, id, amount, method).await;
            assert!(paid.get("errors").is_none(), "{paid:#}");
        }
        let row = booking::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        customers[who] = Some(row.user_id);
    }

    // The third session happens; everyone on it attends and passes.
    app.move_session(sessions[2], -1).await;
    let sheet = app
        .gql_ok(SHEET, json!({ "id": sessions[2] }), Some(&admin))
        .await;
    let attendees = sheet["courseSession"]["attendees"].as_array().unwrap();
    assert_eq!(attendees.len(), 2, "{sheet:#}");
    for a in attendees {
        app.gql_ok(
            MARK,
            json!({ "s": sessions[2], "a": a["id"] }),
            Some(&admin),
        )
        .await;
    }
    let issued = app
        .gql_ok(ISSUE, json!({ "s": sessions[2] }), Some(&admin))
        .await;
    assert_eq!(
        issued["issueCertificates"].as_array().unwrap().len(),
        2,
        "{issued:#}"
    );
    Shop {
        app,
        admin,
        customers: customers.into_iter().map(Option::unwrap).collect(),
    }
}

/// Pounds and pence as the API writes a `Decimal` amount, e.g. `95.00`.
fn pounds(pence: i64) -> String {
    assert!(pence >= 0);
    format!("{}.{:02}", pence / 100, pence % 100)
}

/// A GraphQL enum value for a snake_case serde enum, e.g. `BANK_TRANSFER`.
fn enum_name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_uppercase()
}

/// The `edges.node` values of a connection, by their `id`.
fn nodes_by_id(connection: &Value) -> HashMap<Uuid, Value> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection:#}"))
        .iter()
        .map(|e| (uuid_of(&e["node"]["id"]), e["node"].clone()))
        .collect()
}

/// The `edges.node` values of a connection, in order.
fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection:#}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// A user's bookings in the database, newest first by (created_at, id).
async fn newest_bookings(app: &TestApp, user_id: Uuid) -> Vec<booking::Model> {
    booking::Entity::find()
        .filter(booking::Column::UserId.eq(user_id))
        .order_by_desc(booking::Column::CreatedAt)
        .order_by_desc(booking::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// A booking's payments in the database, oldest first.
async fn booking_payments(app: &TestApp, booking_id: Uuid) -> Vec<payment::Model> {
    payment::Entity::find()
        .filter(payment::Column::BookingId.eq(booking_id))
        .order_by_asc(payment::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// A page of users answers, for every customer, exactly what `user(id)` answers for that
/// customer alone, and both are what the database holds.
/// A user's certificates in the database, oldest first.
async fn user_certificates(app: &TestApp, user_id: Uuid) -> Vec<certificate::Model> {
    certificate::Entity::find()
        .filter(certificate::Column::UserId.eq(user_id))
        .order_by_asc(certificate::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_page_of_users_answers_as_each_user_does_alone() {
    let shop = shop().await;
    let app = &shop.app;
    let data = app
        .gql_ok(
            &format!("query {{ users(first: 50) {{ edges {{ node {{ {USER_FIELDS} }} }} }} }}"),
            json!({}),
            Some(&shop.admin),
        )
        .await;
    let page = nodes_by_id(&data["users"]);
    let mut certificates_seen = 0;
    let mut booking_payments_seen = 0;
    for &customer in &shop.customers {
        let node = page
            .get(&customer)
            .unwrap_or_else(|| panic!("customer {customer} missing from {data:#}"));

        // The loaders' answer for the customer alone.
        let alone = app
            .gql_ok(
                &format!("query($id: UUID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}"),
                json!({ "id": customer }),
                Some(&shop.admin),
            )
            .await;
        assert_eq!(&alone["user"], node, "page and user(id) differ");

        // Their newest two bookings, and whether more follow.
        let all = newest_bookings(app, customer).await;
        let got = nodes(&node["bookings"]);
        let expected: Vec<&booking::Model> = all.iter().take(2).collect();
        assert_eq!(
            got.iter().map(|n| uuid_of(&n["id"])).collect::<Vec<_>>(),
            expected.iter().map(|b| b.id).collect::<Vec<_>>(),
            "{node:#}"
        );
        assert_eq!(
            node["bookings"]["pageInfo"]["hasNextPage"],
            json!(all.len() > 2),
            "{node:#}"
        );
        for (n, row) in got.iter().zip(&expected) {
            assert_eq!(n["reference"], json!(row.reference));
            assert_eq!(uuid_of(&n["session"]["id"]), row.session_id);
            let (_, course, venue) = session_with_catalogue(app, row.session_id).await;
            assert_eq!(n["session"]["course"]["name"], json!(course.name));
            assert_eq!(n["session"]["venue"]["name"], json!(venue.name));
            let paid: Vec<Value> = booking_payments(app, row.id)
                .await
                .into_iter()
                .map(|p| json!({ "id": p.id, "amount": pounds(p.amount_pence) }))
                .collect();
            booking_payments_seen += paid.len();
            assert_eq!(n["payments"], json!(paid), "{n:#}");
        }

        // Every payment of theirs, oldest first.
        let paid: Vec<Value> = payment::Entity::find()
            .filter(payment::Column::UserId.eq(customer))
            .order_by_asc(payment::Column::Id)
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| {
                json!({ "id": p.id, "amount": pounds(p.amount_pence), "method": enum_name(p.method) })
            })
            .collect();
        assert_eq!(node["payments"], json!(paid), "{node:#}");

        // Every certificate of theirs, oldest first.
        let certs: Vec<Value> = user_certificates(app, customer)
            .await
            .into_iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "expiresOn": c.expires_on.format("%Y-%m-%d").to_string(),
                    "certificateNumber": c.certificate_number,
                })
            })
            .collect();
        certificates_seen += certs.len();
        assert_eq!(node["certificates"], json!(certs), "{node:#}");
    }
    // The same page asking only for the certificates' expiry reads light rows; they agree
    // with the database, and a revoked certificate reads as revoked.
    let revoked = certificate::Entity::find()
        .order_by_asc(certificate::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let revoke = app
        .gql(
            "mutation($id: UUID!) { revokeCertificate(id: $id, reason: \"Issued in error\") { id status } }",
            json!({ "id": revoked.id }),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(
        revoke["data"]["revokeCertificate"]["status"],
        json!("REVOKED"),
        "{revoke:#}"
    );
    let light = app
        .gql_ok(
            "query { users(first: 50) { edges { node { id certificates { id expiresOn status } } } } }",
            json!({}),
            Some(&shop.admin),
        )
        .await;
    let light = nodes_by_id(&light["users"]);
    for &customer in &shop.customers {
        let expected: Vec<Value> = user_certificates(app, customer)
            .await
            .into_iter()
            .map(|c| {
                let status = if c.id == revoked.id {
                    "REVOKED"
                } else {
                    "ACTIVE"
                };
                json!({
                    "id": c.id,
                    "expiresOn": c.expires_on.format("%Y-%m-%d").to_string(),
                    "status": status,
                })
            })
            .collect();
        assert_eq!(light[&customer]["certificates"], json!(expected));
    }

    // The set-up gave the page something to get wrong.
    assert_eq!(certificates_seen, 2);
    assert!(booking_payments_seen >= 2, "{data:#}");
    assert_eq!(app.count("payments").await, 7);
}

/// Aliased `bookings` with different page sizes cannot share one prefetched page; each
/// still gets its own, right page. Aliases with the same page but different selections
/// share one page that answers both.
#[tokio::test]
async fn aliased_bookings_pages_of_different_sizes_each_get_their_own_page() {
    let shop = shop().await;
    let app = &shop.app;
    let data = app
        .gql_ok(
            "query { users(first: 50) { edges { node { id
               a: bookings(first: 1) { edges { node { id } } }
               b: bookings(first: 3) { edges { node { id reference } } }
             } } } }",
            json!({}),
            Some(&shop.admin),
        )
        .await;
    let page = nodes_by_id(&data["users"]);
    for &customer in &shop.customers {
        let node = &page[&customer];
        let all = newest_bookings(app, customer).await;
        let a = nodes(&node["a"]);
        let b = nodes(&node["b"]);
        let newest3: Vec<Value> = all
            .iter()
            .take(3)
            .map(|r| json!({ "id": r.id, "reference": r.reference }))
            .collect();
        assert_eq!(b, newest3, "{node:#}");
        assert_eq!(a.len(), 1, "{node:#}");
        assert_eq!(a[0]["id"], b[0]["id"], "{node:#}");
    }
    // Dan's four bookings: `b` stops at three.
    assert_eq!(newest_bookings(app, shop.customers[3]).await.len(), 4);

    // The same page under two aliases, one reading more than the other.
    let data = app
        .gql_ok(
            "query { users(first: 50) { edges { node { id
               keys: bookings(first: 2) { edges { node { id } } pageInfo { hasNextPage } }
               full: bookings(first: 2) { edges { node { id reference payments { id amount method } } } pageInfo { hasNextPage } }
             } } } }",
            json!({}),
            Some(&shop.admin),
        )
        .await;
    let page = nodes_by_id(&data["users"]);
    for &customer in &shop.customers {
        let node = &page[&customer];
        let all = newest_bookings(app, customer).await;
        let mut full = Vec::new();
        for row in all.iter().take(2) {
            let paid: Vec<Value> = booking_payments(app, row.id)
                .await
                .into_iter()
                .map(|p| {
                    json!({ "id": p.id, "amount": pounds(p.amount_pence), "method": enum_name(p.method) })
                })
                .collect();
            full.push(json!({ "id": row.id, "reference": row.reference, "payments": paid }));
        }
        assert_eq!(nodes(&node["full"]), full, "{node:#}");
        let keys: Vec<Value> = full.iter().map(|n| json!({ "id": n["id"] })).collect();
        assert_eq!(nodes(&node["keys"]), keys, "{node:#}");
        for alias in ["keys", "full"] {
            assert_eq!(
                node[alias]["pageInfo"]["hasNextPage"],
                json!(all.len() > 2),
                "{node:#}"
            );
        }
    }
}

/// Payments read light (keys and amount) and payments read whole agree, and every field
/// of a whole payment, however it is asked for, is the database's.
#[tokio::test]
async fn light_and_full_payment_selections_agree_with_the_database() {
    let shop = shop().await;
    let app = &shop.app;
    let page = |payments: &str, fragments: &str| {
        format!(
            "query {{ users(first: 50) {{ edges {{ node {{ id
               bookings(first: 10) {{ edges {{ node {{ id {payments} }} }} }}
             }} }} }} }} {fragments}"
        )
    };
    // (name, query, whether the payments carry the whole row's fields)
    let variants = [
        ("light", page("payments { id amount }", ""), None::<&str>),
        (
            "light with keys",
            page("payments { __typename id amount booking { id } }", ""),
            None,
        ),
        (
            "full",
            page("payments { id amount currency method status paidAt }", ""),
            Some("payments"),
        ),
        (
            "full through a fragment",
            page(
                "payments { id amount ...Details }",
                "fragment Details on Payment { currency method status paidAt }",
            ),
            Some("payments"),
        ),
        (
            "full through an inline fragment",
            page(
                "payments { id amount ... on Payment { currency method status paidAt } }",
                "",
            ),
            Some("payments"),
        ),
        (
            "light and full aliases",
            page(
                "payments { id amount } whole: payments { id amount currency method status paidAt }",
                "",
            ),
            Some("whole"),
        ),
    ];

    // Booking id -> [(payment id, amount)] as the light page reads them.
    let mut light: Option<HashMap<Uuid, Vec<(Value, Value)>>> = None;
    let mut payments_seen = 0;
    for (name, query, full_field) in &variants {
        let data = app.gql_ok(query, json!({}), Some(&shop.admin)).await;
        let users = nodes_by_id(&data["users"]);
        for &customer in &shop.customers {
            assert!(users.contains_key(&customer), "{name}: {data:#}");
        }
        let mut answer: HashMap<Uuid, Vec<(Value, Value)>> = HashMap::new();
        for (user_id, node) in &users {
            let all = newest_bookings(app, *user_id).await;
            let got = nodes(&node["bookings"]);
            assert_eq!(
                got.iter().map(|n| uuid_of(&n["id"])).collect::<Vec<_>>(),
                all.iter().map(|b| b.id).collect::<Vec<_>>(),
                "{name}: {node:#}"
            );
            for n in &got {
                let booking_id = uuid_of(&n["id"]);
                let rows = booking_payments(app, booking_id).await;
                let pays = n["payments"].as_array().unwrap();
                assert_eq!(pays.len(), rows.len(), "{name}: {n:#}");
                for (p, row) in pays.iter().zip(&rows) {
                    assert_eq!(uuid_of(&p["id"]), row.id, "{name}: {n:#}");
                    assert_eq!(p["amount"], json!(pounds(row.amount_pence)), "{name}");
                    if *name == "light with keys" {
                        assert_eq!(p["__typename"], "Payment");
                        assert_eq!(uuid_of(&p["booking"]["id"]), booking_id);
                    }
                }
                if let Some(field) = full_field {
                    let whole = n[*field].as_array().unwrap();
                    assert_eq!(whole.len(), rows.len(), "{name}: {n:#}");
                    for (p, row) in whole.iter().zip(&rows) {
                        assert_eq!(uuid_of(&p["id"]), row.id, "{name}: {n:#}");
                        assert_eq!(p["amount"], json!(pounds(row.amount_pence)), "{name}");
                        assert_eq!(p["currency"], json!(row.currency), "{name}: {p:#}");
                        assert_eq!(p["method"], json!(enum_name(row.method)), "{name}");
                        assert_eq!(p["status"], json!(enum_name(row.status)), "{name}");
                        let paid_at = p["paidAt"].as_str().map(|s| {
                            chrono::DateTime::parse_from_rfc3339(s)
                                .unwrap()
                                .with_timezone(&chrono::Utc)
                        });
                        assert_eq!(paid_at, row.paid_at, "{name}: {p:#}");
                    }
                } else {
                    for p in pays {
                        assert!(p.get("currency").is_none(), "{name}: {p:#}");
                    }
                }
                payments_seen += rows.len();
                answer.insert(
                    booking_id,
                    pays.iter()
                        .map(|p| (p["id"].clone(), p["amount"].clone()))
                        .collect(),
                );
            }
        }
        match &light {
            None => light = Some(answer),
            Some(light) => assert_eq!(&answer, light, "{name} differs from the light page"),
        }
    }
    assert_eq!(payments_seen, 7 * variants.len());
}

/// Sends `cancelCourseSession`; returns the whole response body.
async fn cancel_session(app: &TestApp, admin: &str, session: Uuid) -> Value {
    app.gql(
        "mutation($id: UUID!, $r: String!) { cancelCourseSession(id: $id, reason: $r) { id status bookedPlaces } }",
        json!({ "id": session, "r": "Trainer unwell" }),
        Some(admin),
    )
    .await
}

/// Bookings racing the cancellation of their session: each is refused (session
/// cancelled, or a coded clash) or cancelled with the session; no booking stays live, no
/// place stays taken, and every customer's count of bookings is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_a_session_while_customers_book_it_leaves_no_live_booking_and_exact_counts() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let Catalogue { efaw, leeds, .. } = app.catalogue(&admin).await;
    let session = app
        .create_session(&admin, efaw, leeds, None, 10, Some(40))
        .await;
    let regulars: Vec<String> = (0..5).map(|i| format!("regular{i}@example.com")).collect();
    for email in &regulars {
        app.book_ok(None, session, email, 1).await;
    }
    let users_before = app.count("users").await;

    let (app_ref, admin_ref, regulars_ref) = (&app, admin.as_str(), &regulars);
    let bookings = join_all((0..20).map(|i| async move {
        let email = if i % 2 == 0 {
            regulars_ref[i / 2 % regulars_ref.len()].clone()
        } else {
            format!("newcomer{i:02}@example.com")
        };
        // Spread over the moment of the cancellation.
        tokio::time::sleep(Duration::from_millis(2 * i as u64)).await;
        let body = app_ref.book(None, session, &email, 1).await;
        (email, body)
    }));
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(15)).await;
        cancel_session(app_ref, admin_ref, session).await
    };
    let (answers, mut cancelled) = tokio::join!(bookings, cancel);

    let mut booked = Vec::new();
    let (mut clashed, mut closed) = (0, 0);
    for (email, body) in &answers {
        match error_code(body) {
            None => booked.push((email.clone(), uuid_of(&body["data"]["createBooking"]["id"]))),
            Some("CONFLICT") => clashed += 1,
            Some("BAD_USER_INPUT") => {
                assert_eq!(error_field(body), Some("sessionId"), "{email}: {body:#}");
                closed += 1;
            }
            Some(other) => panic!("{email}: unexpected {other}: {body:#}"),
        }
    }
    assert_eq!(booked.len() + clashed + closed, 20);
    // The cancellation may itself lose a clash (CONFLICT, rolled back): the admin tries
    // again, as the message says.
    let mut attempts = 1;
    while error_code(&cancelled) == Some("CONFLICT") && attempts < 5 {
        eprintln!("cancelCourseSession clashed: {cancelled:#}; retrying");
        attempts += 1;
        cancelled = cancel_session(&app, &admin, session).await;
    }
    assert!(cancelled.get("errors").is_none(), "{cancelled:#}");
    assert_eq!(
        cancelled["data"]["cancelCourseSession"]["status"],
        "CANCELLED"
    );
    assert_eq!(cancelled["data"]["cancelCourseSession"]["bookedPlaces"], 0);
    eprintln!(
        "{} booked, {closed} refused as cancelled, {clashed} CONFLICT; cancel attempts: {attempts}",
        booked.len()
    );

    let row = session_row(&app, session).await;
    assert_eq!(row.status, SessionStatus::Cancelled);
    assert_eq!(row.booked_places, 0);

    // Every booking on the session, the first five and each one that got through, is
    // cancelled; refused bookings left nothing behind.
    let on_session = booking::Entity::find()
        .filter(booking::Column::SessionId.eq(session))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(on_session.len(), 5 + booked.len());
    let live: Vec<&booking::Model> = on_session
        .iter()
        .filter(|b| b.status != BookingStatus::Cancelled)
        .collect();
    assert!(live.is_empty(), "live bookings left: {live:#?}");
    let ids: BTreeSet<Uuid> = on_session.iter().map(|b| b.id).collect();
    for (email, id) in &booked {
        assert!(ids.contains(id), "{email}'s booking {id} is missing");
    }
    assert_eq!(app.count("bookings").await, 5 + booked.len() as i64);
    assert_eq!(
        app.count("booking_attendees").await,
        5 + booked.len() as i64
    );
    let newcomers: BTreeSet<&String> = booked
        .iter()
        .map(|(e, _)| e)
        .filter(|e| e.starts_with("newcomer"))
        .collect();
    assert_eq!(
        app.count("users").await,
        users_before + newcomers.len() as i64
    );

    // Every user's count is their number of bookings not cancelled (here: none).
    for u in app.all_users().await {
        let live = booking::Entity::find()
            .filter(booking::Column::UserId.eq(u.id))
            .filter(booking::Column::Status.ne(BookingStatus::Cancelled))
            .all(&app.db)
            .await
            .unwrap()
            .len();
        assert_eq!(u.total_bookings as usize, live, "{}", u.email);
        assert_eq!(u.total_bookings, 0, "{}", u.email);
    }
}

/// The row counts a booking writes to.
async fn counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "users",
        "bookings",
        "booking_attendees",
        "audit_logs",
        "user_activity_logs",
        "payments",
    ] {
        out.push((table, app.count(table).await));
    }
    out
}

async fn session_row(app: &TestApp, id: Uuid) -> course_session::Model {
    course_session::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

/// A session as the database holds it, with its course and venue.
async fn session_with_catalogue(
    app: &TestApp,
    id: Uuid,
) -> (course_session::Model, course::Model, venue::Model) {
    let session = session_row(app, id).await;
    let course = course::Entity::find_by_id(session.course_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let venue = venue::Entity::find_by_id(session.venue_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    (session, course, venue)
}

/// A booking that cannot have its places is refused with CONFLICT before anything is
/// written: no customer, booking, attendee, audit or activity row, no profile filled in,
/// and the session's row as it was.
#[tokio::test]
async fn a_booking_refused_for_want_of_places_writes_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let Catalogue { efaw, leeds, .. } = app.catalogue(&admin).await;
    let full = app
        .create_session(&admin, efaw, leeds, None, 10, Some(2))
        .await;
    let pair = app.book_ok(None, full, "pair@example.com", 2).await;
    let pair_owner = booking::Entity::find_by_id(uuid_of(&pair["id"]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .user_id;
    let before = counts(&app).await;
    let session_before = session_row(&app, full).await;
    assert_eq!(session_before.booked_places, 2);

    // A newcomer: no customer is created for a booking that fails.
    let body = app.book(None, full, "newcomer@example.com", 1).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert!(body["data"].is_null() || body["data"]["createBooking"].is_null());
    assert_eq!(counts(&app).await, before);
    assert_eq!(session_row(&app, full).await, session_before);
    let newcomer = user::Entity::find()
        .filter(user::Column::Email.eq("newcomer@example.com"))
        .one(&app.db)
        .await
        .unwrap();
    assert!(newcomer.is_none(), "{newcomer:#?}");

    // A returning customer whose profile the booking would fill in: left as it was.
    let owner_before = app.user_row(pair_owner).await;
    assert!(owner_before.phone.is_none() && owner_before.company_name.is_none());
    let body = app
        .gql(
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { id } }",
            json!({ "input": {
                "sessionId": full,
                "contact": { "firstName": "Casey", "lastName": "Booker", "email": "pair@example.com",
                             "phone": "07700 900123", "company": "Acme Ltd" },
                "attendees": [{ "firstName": "Casey", "lastName": "Booker" }],
            } }),
            None,
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(counts(&app).await, before);
    assert_eq!(app.user_row(pair_owner).await, owner_before);
    assert_eq!(session_row(&app, full).await, session_before);

    // More attendees than a fresh session has places.
    let fresh = app
        .create_session(&admin, efaw, leeds, None, 12, Some(2))
        .await;
    let before = counts(&app).await;
    let fresh_before = session_row(&app, fresh).await;
    let body = app.book(None, fresh, "trio@example.com", 3).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(counts(&app).await, before);
    assert_eq!(session_row(&app, fresh).await, fresh_before);
    assert_eq!(fresh_before.booked_places, 0);
    let trio = user::Entity::find()
        .filter(user::Column::Email.eq("trio@example.com"))
        .one(&app.db)
        .await
        .unwrap();
    assert!(trio.is_none(), "{trio:#?}");

    // The places are still there to be had.
    app.book_ok(None, fresh, "trio@example.com", 2).await;
    assert_eq!(session_row(&app, fresh).await.booked_places, 2);
}

/// A bookings page whose session selection reads only its id, course and venue reads only
/// those session columns; one that reads more reads whole rows. Both agree with the
/// database, field for field.
#[tokio::test]
async fn light_and_full_session_selections_agree_with_the_database() {
    let shop = shop().await;
    let app = &shop.app;
    let page = |session: &str| {
        format!(
            "query {{ users(first: 50) {{ edges {{ node {{ id
               bookings(first: 10) {{ edges {{ node {{ id session {{ {session} }} }} }} }}
             }} }} }} }}"
        )
    };
    let light = app
        .gql_ok(
            &page("id course { name } venue { name }"),
            json!({}),
            Some(&shop.admin),
        )
        .await;
    let full = app
        .gql_ok(
            &page("id course { name } venue { name } startsAt capacity bookedPlaces remainingPlaces status"),
            json!({}),
            Some(&shop.admin),
        )
        .await;
    let (light, full) = (nodes_by_id(&light["users"]), nodes_by_id(&full["users"]));
    let mut seen = 0;
    for &customer in &shop.customers {
        let light = nodes(&light[&customer]["bookings"]);
        let full = nodes(&full[&customer]["bookings"]);
        assert_eq!(light.len(), full.len());
        assert!(!light.is_empty());
        for (l, f) in light.iter().zip(&full) {
            assert_eq!(l["id"], f["id"]);
            let row = booking::Entity::find_by_id(uuid_of(&l["id"]))
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            let (session, course, venue) = session_with_catalogue(app, row.session_id).await;
            let expected_light = json!({
                "id": session.id, "course": { "name": course.name }, "venue": { "name": venue.name },
            });
            assert_eq!(l["session"], expected_light);
            let left = (session.capacity - session.booked_places).max(0);
            assert_eq!(f["session"]["id"], json!(session.id));
            assert_eq!(f["session"]["course"], expected_light["course"]);
            assert_eq!(f["session"]["venue"], expected_light["venue"]);
            assert_eq!(f["session"]["capacity"], json!(session.capacity));
            assert_eq!(f["session"]["bookedPlaces"], json!(session.booked_places));
            assert_eq!(f["session"]["remainingPlaces"], json!(left));
            assert_eq!(f["session"]["status"], json!("SCHEDULED"));
            let starts =
                chrono::DateTime::parse_from_rfc3339(f["session"]["startsAt"].as_str().unwrap())
                    .unwrap();
            assert_eq!(starts.timestamp(), session.starts_at.timestamp());
            seen += 1;
        }
    }
    assert!(seen >= 4, "the set-up gave the page sessions to get wrong");
}
