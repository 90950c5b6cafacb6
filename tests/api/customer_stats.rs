//! Customers' stored counters against the facts: `customer_stats::recompute` repairs
//! corrupted counters, `rft-users verify-stats [--fix]` reports and repairs them, and a
//! random mix of bookings, cancellations, payments, refunds and session cancellations run
//! concurrently from several clients leaves every customer's counters equal to the facts.

use std::collections::BTreeMap;
use std::process::Output;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rft_users::entities::enums::{BookingStatus, PaymentRecordStatus, RefundStatus};
use rft_users::entities::{booking, payment, refund, user};
use rft_users::services::customer_stats::{self, Counters};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, payment_succeeded, uuid_of};

const CANCEL_BOOKING: &str =
    "mutation($id: UUID!, $r: String!) { cancelBooking(id: $id, reason: $r) { id } }";
const CANCEL_SESSION: &str =
    "mutation($id: UUID!, $r: String!) { cancelCourseSession(id: $id, reason: $r) { id } }";
const REQUEST_REFUND: &str = "mutation($b: UUID!, $a: Decimal!, $r: String!) { requestRefund(bookingId: $b, amount: $a, reason: $r) { id } }";
const APPROVE_REFUND: &str = "mutation($id: UUID!) { approveRefund(id: $id) { id } }";
const COMPLETE_REFUND: &str = "mutation($id: UUID!) { completeRefund(id: $id) { id } }";
const TOTALS: &str = "query($id: UUID!) { user(id: $id) { totalBookings totalSpent } }";

/// The counters as the `users` row holds them.
fn stored(u: &user::Model) -> Counters {
    Counters {
        total_bookings: u.total_bookings,
        total_spent_pence: u.total_spent_pence,
        first_booking_at: u.first_booking_at,
        last_booking_at: u.last_booking_at,
    }
}

/// The counters every customer should have, worked out here from the rows, independently
/// of the service's SQL: bookings not cancelled, first and last booking made (any
/// status), succeeded payments less completed refunds.
async fn counters_from_rows(app: &TestApp) -> BTreeMap<Uuid, Counters> {
    let mut out: BTreeMap<Uuid, Counters> = app
        .all_users()
        .await
        .iter()
        .map(|u| {
            (
                u.id,
                Counters {
                    total_bookings: 0,
                    total_spent_pence: 0,
                    first_booking_at: None,
                    last_booking_at: None,
                },
            )
        })
        .collect();
    let widen = |t: &mut Option<DateTime<Utc>>, at: DateTime<Utc>, earlier: bool| {
        *t = Some(match *t {
            None => at,
            Some(cur) if earlier => cur.min(at),
            Some(cur) => cur.max(at),
        });
    };
    for b in booking::Entity::find().all(&app.db).await.unwrap() {
        let c = out.get_mut(&b.user_id).unwrap();
        if b.status != BookingStatus::Cancelled {
            c.total_bookings += 1;
        }
        widen(&mut c.first_booking_at, b.created_at, true);
        widen(&mut c.last_booking_at, b.created_at, false);
    }
    for p in payment::Entity::find().all(&app.db).await.unwrap() {
        if p.status == PaymentRecordStatus::Succeeded {
            out.get_mut(&p.user_id).unwrap().total_spent_pence += p.amount_pence;
        }
    }
    for r in refund::Entity::find().all(&app.db).await.unwrap() {
        if r.status == RefundStatus::Completed {
            out.get_mut(&r.user_id).unwrap().total_spent_pence -= r.amount_pence;
        }
    }
    out
}

/// Asserts that every user's stored counters equal both `customer_stats::diff`'s view and
/// the independent count from the rows.
async fn assert_counters_match_facts(app: &TestApp, context: &str) {
    let mismatches = customer_stats::diff(&app.db).await.unwrap();
    assert!(
        mismatches.is_empty(),
        "{context}: stored counters differ from recompute's: {mismatches:#?}"
    );
    let expected = counters_from_rows(app).await;
    for u in app.all_users().await {
        assert_eq!(
            stored(&u),
            expected[&u.id],
            "{context}: customer {} differs from the rows",
            u.id
        );
    }
}

/// A server with an admin and a future session of a £95 course.
async fn shop() -> (TestApp, String, Uuid) {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let session = app
        .create_session(&admin, course, venue, None, 10, Some(40))
        .await;
    (app, admin, session)
}

/// A customer with two bookings (one paid, part refunded, the other cancelled) and one
/// with a single unpaid booking; returns their ids.
async fn two_customers(app: &TestApp, admin: &str, session: Uuid) -> (Uuid, Uuid) {
    let first = uuid_of(&app.book_ok(None, session, "ann@example.com", 2).await["id"]);
    let second = uuid_of(&app.book_ok(None, session, "ann@example.com", 1).await["id"]);
    let paid = app.pay(admin, first, "190.00", "CARD").await;
    assert!(paid.get("errors").is_none(), "{paid:#}");
    let r = app
        .gql_ok(
            REQUEST_REFUND,
            json!({ "b": first, "a": "40.00", "r": "One attendee dropped out" }),
            Some(admin),
        )
        .await;
    let refund = uuid_of(&r["requestRefund"]["id"]);
    app.gql_ok(APPROVE_REFUND, json!({ "id": refund }), Some(admin))
        .await;
    app.gql_ok(COMPLETE_REFUND, json!({ "id": refund }), Some(admin))
        .await;
    app.gql_ok(
        CANCEL_BOOKING,
        json!({ "id": second, "r": "Changed plans" }),
        Some(admin),
    )
    .await;
    let other = uuid_of(&app.book_ok(None, session, "bob@example.com", 1).await["id"]);
    let owner = |id| async move {
        booking::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .user_id
    };
    (owner(first).await, owner(other).await)
}

/// Overwrites a customer's counters directly in the database.
async fn corrupt(app: &TestApp, id: Uuid, bookings: i32, spent: i64) {
    let mut am = app.user_row(id).await.into_active_model();
    am.total_bookings = Set(bookings);
    am.total_spent_pence = Set(spent);
    am.first_booking_at = Set(None);
    am.last_booking_at = Set(Some(Utc::now() + chrono::Duration::days(3)));
    am.update(&app.db).await.unwrap();
}

#[tokio::test]
async fn recompute_repairs_counters_corrupted_in_the_database() {
    let (app, admin, session) = shop().await;
    let (ann, bob) = two_customers(&app, &admin, session).await;
    assert_counters_match_facts(&app, "after the API calls").await;
    let right = stored(&app.user_row(ann).await);
    assert_eq!(
        right.total_bookings, 1,
        "the cancelled booking is not counted"
    );
    assert_eq!(
        right.total_spent_pence,
        19_000 - 4_000,
        "£190 paid less £40 refunded"
    );
    assert!(right.first_booking_at.is_some() && right.first_booking_at < right.last_booking_at);

    corrupt(&app, ann, 7, 12_345).await;
    let found = customer_stats::diff(&app.db).await.unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].user_id, ann);
    assert_eq!(found[0].expected, right);
    let fields: Vec<&str> = found[0].fields().iter().map(|(f, _, _)| *f).collect();
    assert_eq!(
        fields,
        [
            "total_bookings",
            "total_spent_pence",
            "first_booking_at",
            "last_booking_at"
        ]
    );

    let changed = customer_stats::recompute(&app.db, &[ann, bob])
        .await
        .unwrap();
    assert_eq!(changed, 1, "only the corrupted customer is written");
    assert_eq!(stored(&app.user_row(ann).await), right);
    assert_counters_match_facts(&app, "after recompute").await;
    let data = app.gql_ok(TOTALS, json!({ "id": ann }), Some(&admin)).await;
    assert_eq!(data["user"]["totalBookings"], 1);
    assert_eq!(data["user"]["totalSpent"], "150.00");
}

/// Runs the real `rft-users verify-stats` against the test server's database.
async fn verify_stats(app: &TestApp, fix: bool) -> Output {
    let url = app.state.config.database_url.clone();
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rft-users"));
        cmd.arg("verify-stats")
            .env("DATABASE_URL", url)
            .env("RFT_DATA_KEYS", crate::helpers::data_keys());
        if fix {
            cmd.arg("--fix");
        }
        cmd.output().expect("rft-users runs")
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn verify_stats_lists_corrupted_customers_and_fix_repairs_them() {
    let (app, admin, session) = shop().await;
    let (ann, bob) = two_customers(&app, &admin, session).await;

    let clean = verify_stats(&app, false).await;
    let out = String::from_utf8_lossy(&clean.stdout).to_string();
    assert!(clean.status.success(), "clean database: {clean:?}");
    assert!(out.contains("All customer counters match"), "{out}");

    corrupt(&app, bob, 5, 99).await;
    let wrong = verify_stats(&app, false).await;
    let out = String::from_utf8_lossy(&wrong.stdout).to_string();
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    assert!(out.contains(&bob.to_string()), "{out}");
    assert!(out.contains("total_bookings stored 5, expected 1"), "{out}");
    assert!(
        out.contains("total_spent_pence stored 99, expected 0"),
        "{out}"
    );
    assert!(out.contains("1 customer(s)"), "{out}");
    assert!(
        !out.contains(&ann.to_string()),
        "only the corrupted customer: {out}"
    );
    assert!(!out.contains('@'), "no email addresses: {out}");
    assert_eq!(
        app.user_row(bob).await.total_bookings,
        5,
        "no --fix, no change"
    );

    let fixed = verify_stats(&app, true).await;
    let out = String::from_utf8_lossy(&fixed.stdout).to_string();
    assert!(fixed.status.success(), "{fixed:?}");
    assert!(out.contains(&format!("{bob} repaired")), "{out}");
    assert!(
        out.contains("Repaired the counters of 1 customer(s)"),
        "{out}"
    );
    let row = app.user_row(bob).await;
    assert_eq!((row.total_bookings, row.total_spent_pence), (1, 0));
    let audit = app.audit_rows("user.stats_recomputed").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entity_id, Some(bob));
    assert_eq!(
        audit[0].changes.as_ref().unwrap()["total_bookings"],
        json!({ "before": "5", "after": "1" })
    );
    assert_counters_match_facts(&app, "after --fix").await;

    let again = verify_stats(&app, false).await;
    assert!(again.status.success(), "second run: {again:?}");
}

// ---------------------------------------------------------------------------------------
// The property: any interleaving of the writers keeps stored equal to recomputed.

/// What the clients have learnt so far, shared between them.
#[derive(Default)]
struct Known {
    /// Bookings made, with their references.
    bookings: Vec<(Uuid, String)>,
    refunds: Vec<Uuid>,
    /// How many operations of each kind succeeded.
    succeeded: BTreeMap<&'static str, usize>,
}

struct World {
    app: TestApp,
    admin: String,
    sessions: Vec<Uuid>,
    known: Mutex<Known>,
}

const CLIENTS: u64 = 4;
const OPERATIONS: usize = 25;
const EMAILS: [&str; 4] = [
    "ann@example.com",
    "bob@example.com",
    "cat@example.com",
    "dan@example.com",
];

impl World {
    fn pick_booking(&self, rng: &mut StdRng) -> Option<(Uuid, String)> {
        let k = self.known.lock().unwrap();
        (!k.bookings.is_empty()).then(|| k.bookings[rng.gen_range(0..k.bookings.len())].clone())
    }

    fn pick_refund(&self, rng: &mut StdRng) -> Option<Uuid> {
        let k = self.known.lock().unwrap();
        (!k.refunds.is_empty()).then(|| k.refunds[rng.gen_range(0..k.refunds.len())])
    }

    async fn admin_gql(&self, query: &str, vars: Value) -> Value {
        self.app.gql(query, vars, Some(&self.admin)).await
    }

    /// One random operation; returns its name and the response body.
    async fn step(&self, rng: &mut StdRng, client: u64, n: usize) -> (&'static str, Value) {
        let roll: u32 = rng.gen_range(0..100);
        let pounds = |rng: &mut StdRng, max: u32| format!("{}.00", rng.gen_range(1..=max));
        let booking = self.pick_booking(rng);
        let refund = self.pick_refund(rng);
        match (roll, booking, refund) {
            (0..30, _, _) | (_, None, _) => {
                let session = self.sessions[rng.gen_range(0..self.sessions.len())];
                let email = EMAILS[rng.gen_range(0..EMAILS.len())];
                let body = self
                    .app
                    .book(None, session, email, rng.gen_range(1..=3))
                    .await;
                if let Some(b) = body["data"]["createBooking"].as_object() {
                    let reference = b["reference"].as_str().unwrap_or_default().to_string();
                    self.known
                        .lock()
                        .unwrap()
                        .bookings
                        .push((uuid_of(&b["id"]), reference));
                }
                ("createBooking", body)
            }
            (30..40, Some((b, _)), _) => (
                "cancelBooking",
                self.admin_gql(CANCEL_BOOKING, json!({ "id": b, "r": "Changed plans" }))
                    .await,
            ),
            (40..60, Some((b, _)), _) => (
                "recordPayment",
                self.app
                    .pay(&self.admin, b, &pounds(rng, 100), "CARD")
                    .await,
            ),
            (60..66, Some((b, reference)), _) => {
                let pence = i64::from(rng.gen_range(1..=150u32)) * 100;
                let event = payment_succeeded(
                    &format!("evt_{client}_{n}_{}", Uuid::new_v4().simple()),
                    &format!("pi_{client}_{n}_{}", Uuid::new_v4().simple()),
                    pence,
                    &reference,
                );
                let (status, answer) = self.app.stripe_event(&event).await;
                // Money for a booking cancelled meanwhile is refused (and Stripe retries).
                let refused = status != 200
                    && booking::Entity::find_by_id(b)
                        .one(&self.app.db)
                        .await
                        .unwrap()
                        .is_some_and(|row| row.status == BookingStatus::Cancelled);
                assert!(status == 200 || refused, "webhook {status}: {answer:#}");
                let body = match refused {
                    true => json!({ "errors": [{ "extensions": { "code": "CONFLICT" } }] }),
                    false => json!({ "data": answer }),
                };
                ("stripeWebhook", body)
            }
            (66..78, Some((b, _)), _) => {
                let body = self
                    .admin_gql(
                        REQUEST_REFUND,
                        json!({ "b": b, "a": pounds(rng, 60), "r": "Refund" }),
                    )
                    .await;
                if let Some(id) = body["data"]["requestRefund"]["id"].as_str() {
                    let id = id.parse().unwrap();
                    self.known.lock().unwrap().refunds.push(id);
                }
                ("requestRefund", body)
            }
            (78..87, _, Some(r)) => (
                "approveRefund",
                self.admin_gql(APPROVE_REFUND, json!({ "id": r })).await,
            ),
            (87..97, _, Some(r)) => (
                "completeRefund",
                self.admin_gql(COMPLETE_REFUND, json!({ "id": r })).await,
            ),
            (97.., _, _) => {
                let session = self.sessions[rng.gen_range(0..self.sessions.len())];
                (
                    "cancelCourseSession",
                    self.admin_gql(
                        CANCEL_SESSION,
                        json!({ "id": session, "r": "Venue closed" }),
                    )
                    .await,
                )
            }
            // A refund step with no refund yet: pay instead.
            (_, Some((b, _)), None) => (
                "recordPayment",
                self.app
                    .pay(&self.admin, b, &pounds(rng, 100), "CARD")
                    .await,
            ),
        }
    }

    /// A client: `OPERATIONS` random operations, each answered with data or a refusal a
    /// client could be given (never an internal error).
    async fn client(&self, seed: u64, client: u64) {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(client));
        for n in 0..OPERATIONS {
            let (op, body) = self.step(&mut rng, client, n).await;
            match error_code(&body) {
                None => *self.known.lock().unwrap().succeeded.entry(op).or_default() += 1,
                Some("CONFLICT" | "BAD_USER_INPUT" | "NOT_FOUND") => {}
                Some(other) => panic!("seed {seed}, client {client}, {op}: {other}: {body:#}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_random_writers_keep_stored_counters_equal_to_recomputed() {
    let seed = std::env::var("STATS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().r#gen::<u64>());
    println!("seed {seed} (rerun with STATS_SEED={seed})");
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let catalogue = app.catalogue(&admin).await;
    let mut sessions = Vec::new();
    for (i, course) in [catalogue.efaw, catalogue.faw, catalogue.efaw, catalogue.faw]
        .into_iter()
        .enumerate()
    {
        let venue = [catalogue.leeds, catalogue.york][i % 2];
        sessions.push(
            app.create_session(&admin, course, venue, None, 5 + i as i64, Some(40))
                .await,
        );
    }
    let world = Arc::new(World {
        app,
        admin,
        sessions,
        known: Mutex::new(Known::default()),
    });

    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let world = world.clone();
            tokio::spawn(async move { world.client(seed, c).await })
        })
        .collect();
    for c in clients {
        if let Err(e) = c.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    let succeeded = world.known.lock().unwrap().succeeded.clone();
    println!("{succeeded:?} in {:?}", started.elapsed());
    assert!(
        succeeded.get("createBooking").copied().unwrap_or(0) > 0,
        "seed {seed}: nothing was booked: {succeeded:?}"
    );
    assert_counters_match_facts(&world.app, &format!("seed {seed}")).await;
}

/// The demo data's customers have counters equal to their facts: the seeding goes through
/// `customer_stats` like every other writer.
#[tokio::test]
async fn demo_data_counters_match_the_facts() {
    let app = TestApp::spawn().await;
    let seeded = rft_users::services::demo::seed_if_empty(&app.db)
        .await
        .unwrap();
    assert!(seeded.is_some(), "an empty database gets demo data");
    let customers = app
        .all_users()
        .await
        .into_iter()
        .filter(|u| u.total_bookings > 0)
        .count();
    assert!(customers >= 40, "demo customers have bookings: {customers}");
    assert_counters_match_facts(&app, "after seeding demo data").await;
}
