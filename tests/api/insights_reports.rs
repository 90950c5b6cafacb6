//! The admins' reports through the API, against hand-built data: the renewal call list
//! (who is on it and who is not, pagination, bad input, and a page's statement count
//! staying the same for 1 line or 20), company accounts ("Acme Ltd" and "ACME Limited"
//! are one company; exact counts and money; search, sorts and pages), and the business
//! dashboard (every interval, exact sums, new versus returning customers, refund rate).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rft_users::entities::enums::{CertificateStatus, CustomerSegment};
use rft_users::entities::{
    booking, certificate, customer_insight, insight_model, payment, refund, user_note,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, sea_query::Expr,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Catalogue, TestApp, error_code, error_field, uuid_of};

const CREATE_USER: &str = "mutation($input: CreateUserInput!) { createUser(input: $input) { id } }";
const CANCEL_BOOKING: &str =
    "mutation($id: UUID!, $r: String!) { cancelBooking(id: $id, reason: $r) { id } }";
const REQUEST_REFUND: &str = "mutation($b: UUID!, $a: Decimal!, $r: String!) { requestRefund(bookingId: $b, amount: $a, reason: $r) { id } }";
const APPROVE_REFUND: &str = "mutation($id: UUID!) { approveRefund(id: $id) { id } }";
const COMPLETE_REFUND: &str = "mutation($id: UUID!) { completeRefund(id: $id) { id } }";
const MERGE: &str = "mutation($s: UUID!, $d: UUID!) { mergeUsers(input: { survivorId: $s, duplicateIds: [$d], reason: \"Same person\" }) { id } }";
const NOTE: &str =
    "mutation($id: UUID!, $c: String!) { addUserNote(userId: $id, input: { content: $c }) { id } }";

// ---------------------------------------------------------------------------------------
// A shop with a catalogue, customers made through the API, and certificates.

struct Shop {
    app: TestApp,
    admin: String,
    cat: Catalogue,
}

impl Shop {
    async fn open() -> Self {
        Self::open_on(TestApp::spawn().await).await
    }

    async fn open_on(app: TestApp) -> Self {
        let (_, admin) = app.admin().await;
        let cat = app.catalogue(&admin).await;
        Self { app, admin, cat }
    }

    /// A session of `course` at `venue` starting in `days` days, with room for everyone.
    async fn session(&self, course: Uuid, venue: Uuid, days: i64) -> Uuid {
        self.app
            .create_session(&self.admin, course, venue, None, days, Some(500))
            .await
    }

    /// A customer made by an admin (`createUser`).
    async fn customer(
        &self,
        email: &str,
        first: &str,
        last: &str,
        company: Option<&str>,
        marketing_consent: bool,
    ) -> Uuid {
        let data = self
            .app
            .gql_ok(
                CREATE_USER,
                json!({ "input": {
                    "email": email, "firstName": first, "lastName": last,
                    "companyName": company, "marketingConsent": marketing_consent,
                } }),
                Some(&self.admin),
            )
            .await;
        uuid_of(&data["createUser"]["id"])
    }

    /// Books `places` on `session` for the customer with `email` (the public website).
    async fn book(&self, session: Uuid, email: &str, places: usize) -> Uuid {
        uuid_of(&self.app.book_ok(None, session, email, places).await["id"])
    }

    async fn cancel(&self, booking: Uuid) {
        self.app
            .gql_ok(
                CANCEL_BOOKING,
                json!({ "id": booking, "r": "Cannot make it" }),
                Some(&self.admin),
            )
            .await;
    }

    /// Records a card payment; returns its id.
    async fn pay(&self, booking: Uuid, amount: &str) -> Uuid {
        let body = self.app.pay(&self.admin, booking, amount, "CARD").await;
        assert!(body.get("errors").is_none(), "{body:#}");
        uuid_of(&body["data"]["recordPayment"]["id"])
    }

    /// Requests a refund, and approves and completes it when `complete`; returns its id.
    async fn refund(&self, booking: Uuid, amount: &str, complete: bool) -> Uuid {
        let data = self
            .app
            .gql_ok(
                REQUEST_REFUND,
                json!({ "b": booking, "a": amount, "r": "Dropped out" }),
                Some(&self.admin),
            )
            .await;
        let id = uuid_of(&data["requestRefund"]["id"]);
        if complete {
            for step in [APPROVE_REFUND, COMPLETE_REFUND] {
                self.app
                    .gql_ok(step, json!({ "id": id }), Some(&self.admin))
                    .await;
            }
        }
        id
    }

    async fn merge(&self, survivor: Uuid, duplicate: Uuid) {
        self.app
            .gql_ok(
                MERGE,
                json!({ "s": survivor, "d": duplicate }),
                Some(&self.admin),
            )
            .await;
    }

    /// A certificate for the booking's customer, as `issueCertificates` writes it, issued
    /// and expiring on the given days.
    async fn certificate(
        &self,
        booking_id: Uuid,
        course: Uuid,
        issued_on: NaiveDate,
        expires_on: NaiveDate,
        status: CertificateStatus,
    ) -> Uuid {
        let b = booking::Entity::find_by_id(booking_id)
            .one(&self.app.db)
            .await
            .unwrap()
            .unwrap();
        let id = Uuid::now_v7();
        certificate::Model {
            id,
            booking_id,
            attendee_id: None,
            user_id: b.user_id,
            course_id: course,
            session_id: Some(b.session_id),
            certificate_number: certificate_number(id),
            holder_name: "Casey Booker".into(),
            issued_on,
            expires_on,
            status,
            revoked_at: None,
            revocation_reason: None,
            issued_by_id: None,
            pdf_url: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
        .into_active_model()
        .reset_all()
        .insert(&self.app.db)
        .await
        .unwrap();
        id
    }

    async fn query(&self, query: &str, variables: Value) -> Value {
        self.app.gql(query, variables, Some(&self.admin)).await
    }

    async fn query_ok(&self, query: &str, variables: Value) -> Value {
        self.app.gql_ok(query, variables, Some(&self.admin)).await
    }
}

/// A unique certificate number (at most 30 characters) for the certificate `id`.
fn certificate_number(id: Uuid) -> String {
    format!("RFT-T-{}", &id.simple().to_string()[16..])
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn in_days(days: i64) -> NaiveDate {
    today() + Duration::days(days)
}

fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection:#}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Renewals.

const RENEWALS: &str = "query($w: Int!, $t: CourseType, $m: Boolean, $first: Int, $after: String) { renewalsDue(withinDays: $w, courseType: $t, marketingConsentOnly: $m, first: $first, after: $after) { totalCount edges { cursor node { id expiresOn daysToExpiry company lastContact holder { id email } certificate { id certificateNumber expiresOn } course { name courseType } } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";

/// Who is on the call list, and what each line says.
struct RenewalWorld {
    shop: Shop,
    /// Certificate ids by holder's first name (`jack2` for the one that came with the merge).
    certs: std::collections::HashMap<&'static str, Uuid>,
    users: std::collections::HashMap<&'static str, Uuid>,
}

/// Holders of EFAW (and one FAW) certificates, each earned on a session long past:
/// - kate expires today, alice in 10 days (she works at "Acme Ltd" and was called since
///   booking), dave in 40 (his rebooking was cancelled), erin in 50 (she rebooked, but a
///   FAW course), ivy's FAW certificate in 60, jack's in 70 and the one jack2 had in 80
///   (jack2 was merged into jack): on the list;
/// - frank (15 days) did not agree to marketing: only when everyone is asked for;
/// - bob's (20) was revoked, carol (30) has booked EFAW again, gina's expires in 200 days,
///   hank's expired yesterday, and a certificate written for the tombstone jack2 after
///   the merge (85): never on it.
async fn renewal_world() -> RenewalWorld {
    let shop = Shop::open().await;
    let Catalogue {
        efaw,
        faw,
        leeds,
        york,
    } = shop.cat;
    let past_efaw = shop.session(efaw, leeds, 5).await;
    let past_faw = shop.session(faw, york, 5).await;
    let future_efaw = shop.session(efaw, leeds, 30).await;
    let future_faw = shop.session(faw, york, 30).await;

    use CertificateStatus::{Active, Revoked};
    let h = |name, company, consent, faw, days, status| Holder {
        name,
        company,
        consent,
        faw,
        days,
        status,
    };
    let holders = [
        h("kate", None, true, false, 0, Active),
        h("alice", Some("Acme Ltd"), true, false, 10, Active),
        h("frank", None, false, false, 15, Active),
        h("bob", None, true, false, 20, Revoked),
        h("carol", None, true, false, 30, Active),
        h("dave", None, true, false, 40, Active),
        h("erin", None, true, false, 50, Active),
        h("ivy", None, true, true, 60, Active),
        h("jack", None, true, false, 70, Active),
        h("jack2", None, true, false, 80, Active),
        h("gina", None, true, false, 200, Active),
        h("hank", None, true, false, -1, Active),
    ];
    let mut users = std::collections::HashMap::new();
    let mut bookings = Vec::new();
    for holder in &holders {
        let email = format!("{}@example.com", holder.name);
        let id = shop
            .customer(
                &email,
                &capitalised(holder.name),
                "Holder",
                holder.company,
                holder.consent,
            )
            .await;
        users.insert(holder.name, id);
        let session = if holder.faw { past_faw } else { past_efaw };
        bookings.push(shop.book(session, &email, 1).await);
    }
    // The courses the certificates came from happened 1,000 days ago; the certificates
    // were issued the day after.
    shop.app.move_session(past_efaw, -1000).await;
    shop.app.move_session(past_faw, -1000).await;
    let issued = in_days(-999);
    let mut certs = std::collections::HashMap::new();
    for (holder, b) in holders.iter().zip(&bookings) {
        let course = if holder.faw { faw } else { efaw };
        let id = shop
            .certificate(*b, course, issued, in_days(holder.days), holder.status)
            .await;
        certs.insert(holder.name, id);
    }

    // Booked again: carol for EFAW; dave too, but cancelled; erin for FAW only.
    shop.book(future_efaw, "carol@example.com", 1).await;
    let dave_again = shop.book(future_efaw, "dave@example.com", 1).await;
    shop.cancel(dave_again).await;
    shop.book(future_faw, "erin@example.com", 1).await;

    shop.merge(users["jack"], users["jack2"]).await;
    // A certificate held by the tombstone, written behind the merge's back.
    let jack2_booking = bookings[9];
    let stray = shop
        .certificate(
            jack2_booking,
            efaw,
            issued,
            in_days(85),
            CertificateStatus::Active,
        )
        .await;
    certificate::Entity::update_many()
        .col_expr(certificate::Column::UserId, Expr::value(users["jack2"]))
        .filter(certificate::Column::Id.eq(stray))
        .exec(&shop.app.db)
        .await
        .unwrap();

    // Alice was called after she booked.
    shop.query_ok(
        NOTE,
        json!({ "id": users["alice"], "c": "Called about renewing her EFAW" }),
    )
    .await;

    RenewalWorld { shop, certs, users }
}

/// A certificate holder of the renewal world.
struct Holder {
    name: &'static str,
    company: Option<&'static str>,
    /// Agreed to marketing.
    consent: bool,
    /// A FAW certificate (else EFAW).
    faw: bool,
    /// Expires in this many days.
    days: i64,
    status: CertificateStatus,
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The certificate ids of a page, in order.
fn cert_ids(page: &Value) -> Vec<Uuid> {
    nodes(page).iter().map(|n| uuid_of(&n["id"])).collect()
}

#[tokio::test]
async fn renewals_due_lists_expiring_certificates_whose_holders_have_not_rebooked() {
    let w = renewal_world().await;
    let c = |name: &str| w.certs[name];

    let data = w.shop.query_ok(RENEWALS, json!({ "w": 90 })).await;
    let list = &data["renewalsDue"];
    assert_eq!(
        cert_ids(list),
        [
            c("kate"),
            c("alice"),
            c("dave"),
            c("erin"),
            c("ivy"),
            c("jack"),
            c("jack2")
        ],
        "{list:#}"
    );
    assert_eq!(list["totalCount"], 7);
    assert_eq!(list["pageInfo"]["hasNextPage"], false);

    // Every line as the call list shows it.
    let lines = nodes(list);
    let alice = &lines[1];
    let note = user_note::Entity::find()
        .filter(user_note::Column::UserId.eq(w.users["alice"]))
        .one(&w.shop.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice["holder"]["id"], json!(w.users["alice"]));
    assert_eq!(alice["holder"]["email"], "alice@example.com");
    assert_eq!(alice["certificate"]["id"], json!(c("alice")));
    assert_eq!(
        alice["certificate"]["certificateNumber"],
        certificate_number(c("alice"))
    );
    assert_eq!(alice["course"]["name"], "Emergency First Aid at Work");
    assert_eq!(alice["course"]["courseType"], "EFAW");
    assert_eq!(alice["expiresOn"], in_days(10).to_string());
    assert_eq!(alice["certificate"]["expiresOn"], in_days(10).to_string());
    assert_eq!(alice["daysToExpiry"], 10);
    assert_eq!(alice["company"], "Acme Ltd");
    let last_contact: DateTime<Utc> = alice["lastContact"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        last_contact, note.created_at,
        "the note is the latest contact"
    );
    let alice_row = w.shop.app.user_row(w.users["alice"]).await;
    assert!(last_contact >= alice_row.last_activity_at);

    let days: Vec<i64> = lines
        .iter()
        .map(|l| l["daysToExpiry"].as_i64().unwrap())
        .collect();
    assert_eq!(days, [0, 10, 40, 50, 60, 70, 80]);
    assert_eq!(lines[0]["company"], Value::Null);
    assert_eq!(lines[4]["course"]["courseType"], "FAW");
    // The merged profile's certificate is its survivor's, never the tombstone's.
    for line in &lines[5..] {
        assert_eq!(line["holder"]["id"], json!(w.users["jack"]), "{line:#}");
    }
    for line in &lines {
        let lc: DateTime<Utc> = line["lastContact"].as_str().unwrap().parse().unwrap();
        let holder = w.shop.app.user_row(uuid_of(&line["holder"]["id"])).await;
        assert!(lc >= holder.last_activity_at, "{line:#}");
    }

    // Everyone, consenting or not: frank too.
    let all = w
        .shop
        .query_ok(RENEWALS, json!({ "w": 90, "m": false }))
        .await;
    assert_eq!(
        cert_ids(&all["renewalsDue"]),
        [
            c("kate"),
            c("alice"),
            c("frank"),
            c("dave"),
            c("erin"),
            c("ivy"),
            c("jack"),
            c("jack2")
        ]
    );
    assert_eq!(all["renewalsDue"]["totalCount"], 8);

    // One course type.
    let efaw = w
        .shop
        .query_ok(RENEWALS, json!({ "w": 90, "t": "EFAW" }))
        .await;
    assert_eq!(
        cert_ids(&efaw["renewalsDue"]),
        [
            c("kate"),
            c("alice"),
            c("dave"),
            c("erin"),
            c("jack"),
            c("jack2")
        ]
    );
    let faw = w
        .shop
        .query_ok(RENEWALS, json!({ "w": 90, "t": "FAW" }))
        .await;
    assert_eq!(cert_ids(&faw["renewalsDue"]), [c("ivy")]);
    assert_eq!(faw["renewalsDue"]["totalCount"], 1);

    // The window's ends are included.
    let today_only = w.shop.query_ok(RENEWALS, json!({ "w": 0 })).await;
    assert_eq!(cert_ids(&today_only["renewalsDue"]), [c("kate")]);
    let ten = w.shop.query_ok(RENEWALS, json!({ "w": 10 })).await;
    assert_eq!(cert_ids(&ten["renewalsDue"]), [c("kate"), c("alice")]);
    // Far enough to reach gina's; still never bob's, carol's, hank's or the stray.
    let far = w
        .shop
        .query_ok(RENEWALS, json!({ "w": 3650, "m": false }))
        .await;
    let far_ids = cert_ids(&far["renewalsDue"]);
    assert_eq!(far_ids.len(), 9, "{far:#}");
    assert_eq!(far_ids.last(), Some(&c("gina")));
    for name in ["bob", "carol", "hank"] {
        assert!(!far_ids.contains(&c(name)), "{name} is on the list");
    }
    for line in nodes(&far["renewalsDue"]) {
        assert_ne!(line["holder"]["id"], json!(w.users["jack2"]), "a tombstone");
    }
}

#[tokio::test]
async fn renewals_due_pages_are_stable_and_complete() {
    let w = renewal_world().await;
    let whole = cert_ids(
        &w.shop
            .query_ok(RENEWALS, json!({ "w": 3650, "m": false, "first": 100 }))
            .await["renewalsDue"],
    );
    assert_eq!(whole.len(), 9);
    for size in [1, 2, 4] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let data = w
                .shop
                .query_ok(
                    RENEWALS,
                    json!({ "w": 3650, "m": false, "first": size, "after": after }),
                )
                .await;
            let page = &data["renewalsDue"];
            pages += 1;
            assert_eq!(page["pageInfo"]["hasPreviousPage"], after.is_some());
            assert_eq!(page["totalCount"], 9);
            let ids = cert_ids(page);
            assert!(ids.len() <= size as usize);
            seen.extend(ids);
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = Some(page["pageInfo"]["endCursor"].as_str().unwrap().to_string());
            assert!(pages < 20, "pagination does not end");
        }
        assert_eq!(seen, whole, "pages of {size}");
    }
    // An empty page says more follow.
    let none = w
        .shop
        .query_ok(RENEWALS, json!({ "w": 3650, "m": false, "first": 0 }))
        .await;
    assert_eq!(cert_ids(&none["renewalsDue"]), Vec::<Uuid>::new());
    assert_eq!(none["renewalsDue"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn renewals_due_refuses_bad_input() {
    let shop = Shop::open().await;
    for (vars, field) in [
        (json!({ "w": -1 }), "withinDays"),
        (json!({ "w": 3651 }), "withinDays"),
        (json!({ "w": 30, "first": -1 }), "first"),
        (json!({ "w": 30, "first": 101 }), "first"),
        (json!({ "w": 30, "after": "not-a-cursor" }), "after"),
        (json!({ "w": 30, "after": "eyJ4IjoxfQ" }), "after"),
    ] {
        let body = shop.query(RENEWALS, vars.clone()).await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{vars}: {body:#}"
        );
        assert_eq!(error_field(&body), Some(field), "{vars}: {body:#}");
    }
}

/// A server with `n` holders whose certificates expire within 90 days; runs a full page of
/// the call list as an admin and returns the fewest statements it took in three runs.
async fn statements_for_renewals_page_of(n: usize) -> usize {
    let counter = Arc::new(AtomicUsize::new(0));
    let shop = Shop::open_on(TestApp::spawn_counting(counter.clone()).await).await;
    let (efaw, leeds) = (shop.cat.efaw, shop.cat.leeds);
    let session = shop.session(efaw, leeds, 5).await;
    let mut bookings = Vec::new();
    for i in 0..n {
        bookings.push(
            shop.book(session, &format!("holder{i:02}@example.com"), 1)
                .await,
        );
    }
    shop.app.move_session(session, -1000).await;
    for (i, b) in bookings.into_iter().enumerate() {
        shop.certificate(
            b,
            efaw,
            in_days(-999),
            in_days(1 + i as i64),
            CertificateStatus::Active,
        )
        .await;
    }
    let query = "{ renewalsDue(withinDays: 90, marketingConsentOnly: false, first: 50) { totalCount edges { cursor node { id expiresOn daysToExpiry company lastContact holder { id email fullName } certificate { id certificateNumber status } course { id name } } } pageInfo { hasNextPage endCursor } } }";
    let warm_up = shop.query(query, json!({})).await;
    assert!(warm_up.get("errors").is_none(), "{warm_up:#}");
    let mut counts = Vec::new();
    for _ in 0..3 {
        counter.store(0, Ordering::SeqCst);
        let body = shop.query(query, json!({})).await;
        counts.push(counter.load(Ordering::SeqCst));
        assert!(body.get("errors").is_none(), "{body:#}");
        let lines = nodes(&body["data"]["renewalsDue"]);
        assert_eq!(lines.len(), n);
        for line in &lines {
            assert!(
                line["holder"]["email"]
                    .as_str()
                    .unwrap()
                    .starts_with("holder")
            );
            assert_eq!(line["course"]["name"], "Emergency First Aid at Work");
            assert!(line["certificate"]["certificateNumber"].is_string());
        }
    }
    counts.into_iter().min().unwrap()
}

/// The caller's token check, the page, its count, and one statement each for the holders,
/// the certificates and the courses.
const RENEWALS_BUDGET: usize = 6;

#[tokio::test]
async fn a_page_of_renewals_costs_the_same_statements_for_1_or_20_lines() {
    let one = statements_for_renewals_page_of(1).await;
    let twenty = statements_for_renewals_page_of(20).await;
    assert_eq!(
        one, twenty,
        "statement count grows with the page: {one} for 1 line, {twenty} for 20"
    );
    assert!(
        twenty <= RENEWALS_BUDGET,
        "the page ran {twenty} statements; at most {RENEWALS_BUDGET} expected"
    );
}

// ---------------------------------------------------------------------------------------
// Companies.

const COMPANIES: &str = "query($s: String, $o: CompanyOrder, $first: Int, $after: String) { companies(search: $s, orderBy: $o, first: $first, after: $after) { totalCount edges { cursor node { id name customerCount attendeeCount bookingCount netSpent lastBookingAt certificatesActive certificatesExpiringWithin90Days } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";

struct CompanyWorld {
    shop: Shop,
    acme: Vec<Uuid>,
}

/// Acme: Ann Adams ("Acme Ltd": one place, paid £95; her certificates expire in 30 and
/// 200 days), Ben Baker ("ACME Limited": three places, £285 paid, £50 refunded, a revoked
/// certificate), Cal Clark ("Acme Ltd", booking cancelled), and Dee Dunn ("Acme Ltd": one
/// place paid £95, merged into Ann). Beta Care: Bea ("Beta Care", two places, £190) and
/// Bo ("beta care", one place, unpaid; a certificate expired 5 days ago). Gamma Group:
/// Gus, who never booked. Ivan has no company. Staff with a company are not customers.
async fn company_world() -> CompanyWorld {
    let shop = Shop::open().await;
    let (efaw, leeds) = (shop.cat.efaw, shop.cat.leeds);
    let s = shop.session(efaw, leeds, 20).await;
    let mut acme = Vec::new();
    for (email, first, last, company) in [
        ("ann@acme.test", "Ann", "Adams", "Acme Ltd"),
        ("ben@acme.test", "Ben", "Baker", "ACME Limited"),
        ("cal@acme.test", "Cal", "Clark", "Acme Ltd"),
    ] {
        acme.push(
            shop.customer(email, first, last, Some(company), false)
                .await,
        );
    }
    let dee = shop
        .customer("dee@acme.test", "Dee", "Dunn", Some("Acme Ltd"), false)
        .await;
    shop.customer("bea@beta.test", "Bea", "Bell", Some("Beta Care"), false)
        .await;
    shop.customer("bo@beta.test", "Bo", "Boyd", Some("beta care"), false)
        .await;
    shop.customer(
        "gus@gamma.test",
        "Gus",
        "Gray",
        Some("The Gamma Group"),
        false,
    )
    .await;
    shop.customer("ivan@example.com", "Ivan", "Ives", None, false)
        .await;
    shop.query_ok(
        "mutation { createUser(input: { email: \"trainer@acme.test\", firstName: \"Tim\", lastName: \"Trainer\", role: INSTRUCTOR, password: \"a-long-password-123\", companyName: \"Acme Ltd\" }) { id } }",
        json!({}),
    )
    .await;

    let ann_b = shop.book(s, "ann@acme.test", 1).await;
    shop.pay(ann_b, "95.00").await;
    let ben_b = shop.book(s, "ben@acme.test", 3).await;
    shop.pay(ben_b, "285.00").await;
    shop.refund(ben_b, "50.00", true).await;
    let cal_b = shop.book(s, "cal@acme.test", 1).await;
    shop.cancel(cal_b).await;
    let dee_b = shop.book(s, "dee@acme.test", 1).await;
    shop.pay(dee_b, "95.00").await;
    let bea_b = shop.book(s, "bea@beta.test", 2).await;
    shop.pay(bea_b, "190.00").await;
    let bo_b = shop.book(s, "bo@beta.test", 1).await;
    shop.book(s, "ivan@example.com", 1).await;

    let issued = in_days(-10);
    for (b, days, status) in [
        (ann_b, 30, CertificateStatus::Active),
        (ann_b, 200, CertificateStatus::Active),
        (ben_b, 60, CertificateStatus::Revoked),
        (bo_b, -5, CertificateStatus::Active),
    ] {
        shop.certificate(b, efaw, issued, in_days(days), status)
            .await;
    }
    shop.merge(acme[0], dee).await;
    CompanyWorld { shop, acme }
}

/// The latest booking made by any of these customers (their `last_booking_at`).
async fn last_booking_of(app: &TestApp, users: &[Uuid]) -> DateTime<Utc> {
    let mut latest = None;
    for id in users {
        latest = latest.max(app.user_row(*id).await.last_booking_at);
    }
    latest.unwrap()
}

#[tokio::test]
async fn companies_group_customers_by_normalised_name_with_exact_figures() {
    let w = company_world().await;
    let data = w.shop.query_ok(COMPANIES, json!({})).await;
    let list = &data["companies"];
    assert_eq!(list["totalCount"], 3, "{list:#}");
    let all = nodes(list);
    // Biggest spenders first.
    assert_eq!(
        all.iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["acme", "betacare", "gammagroup"]
    );
    let acme_last: DateTime<Utc> = all[0]["lastBookingAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(acme_last, last_booking_of(&w.shop.app, &w.acme).await);
    let mut acme = all[0].clone();
    acme.as_object_mut().unwrap().remove("lastBookingAt");
    assert_eq!(
        acme,
        json!({
            "id": "acme",
            "name": "Acme Ltd",
            "customerCount": 3,
            "attendeeCount": 5,
            "bookingCount": 3,
            "netSpent": "425.00",
            "certificatesActive": 2,
            "certificatesExpiringWithin90Days": 1,
        })
    );
    let mut beta = all[1].clone();
    assert!(beta["lastBookingAt"].is_string());
    beta.as_object_mut().unwrap().remove("lastBookingAt");
    assert_eq!(
        beta,
        json!({
            "id": "betacare",
            "name": "Beta Care",
            "customerCount": 2,
            "attendeeCount": 3,
            "bookingCount": 2,
            "netSpent": "190.00",
            "certificatesActive": 0,
            "certificatesExpiringWithin90Days": 0,
        })
    );
    assert_eq!(
        all[2],
        json!({
            "id": "gammagroup",
            "name": "The Gamma Group",
            "customerCount": 1,
            "attendeeCount": 0,
            "bookingCount": 0,
            "netSpent": "0.00",
            "lastBookingAt": null,
            "certificatesActive": 0,
            "certificatesExpiringWithin90Days": 0,
        })
    );

    // One company by id, and its customers a page at a time, by name.
    let one = "query($id: ID!, $first: Int, $after: String) { company(id: $id) { id name customerCount netSpent customers(first: $first, after: $after) { totalCount edges { node { id lastName } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }";
    let first = w
        .shop
        .query_ok(one, json!({ "id": "acme", "first": 2 }))
        .await;
    let company = &first["company"];
    assert_eq!(company["name"], "Acme Ltd");
    assert_eq!(company["netSpent"], "425.00");
    let customers = &company["customers"];
    assert_eq!(customers["totalCount"], 3);
    assert_eq!(
        nodes(customers)
            .iter()
            .map(|u| u["lastName"].clone())
            .collect::<Vec<_>>(),
        [json!("Adams"), json!("Baker")]
    );
    assert_eq!(customers["pageInfo"]["hasNextPage"], true);
    let rest = w
        .shop
        .query_ok(
            one,
            json!({ "id": "acme", "first": 2, "after": customers["pageInfo"]["endCursor"] }),
        )
        .await;
    let customers = &rest["company"]["customers"];
    assert_eq!(
        nodes(customers)
            .iter()
            .map(|u| uuid_of(&u["id"]))
            .collect::<Vec<_>>(),
        [w.acme[2]]
    );
    assert_eq!(customers["pageInfo"]["hasNextPage"], false);
    assert_eq!(customers["pageInfo"]["hasPreviousPage"], true);
    let none = w.shop.query_ok(one, json!({ "id": "nosuchco" })).await;
    assert_eq!(none["company"], Value::Null);

    // Every company's customers in one page of companies.
    let nested = w
        .shop
        .query_ok(
            "{ companies(orderBy: { field: NAME }) { edges { node { id customers(first: 5) { edges { node { email } } } } } } }",
            json!({}),
        )
        .await;
    let emails: Vec<Vec<String>> = nodes(&nested["companies"])
        .iter()
        .map(|c| {
            nodes(&c["customers"])
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(
        emails,
        [
            vec!["ann@acme.test", "ben@acme.test", "cal@acme.test"],
            vec!["bea@beta.test", "bo@beta.test"],
            vec!["gus@gamma.test"],
        ]
    );
}

#[tokio::test]
async fn companies_search_sort_and_page() {
    let w = company_world().await;
    let ids = |data: &Value| -> Vec<String> {
        nodes(&data["companies"])
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    for (search, expected) in [
        ("acme", vec!["acme"]),
        ("LIMITED", vec!["acme"]),
        ("Beta C", vec!["betacare"]),
        ("gamma", vec!["gammagroup"]),
        ("zzz", vec![]),
        ("   ", vec!["acme", "betacare", "gammagroup"]),
    ] {
        let data = w.shop.query_ok(COMPANIES, json!({ "s": search })).await;
        assert_eq!(ids(&data), expected, "search {search:?}");
        assert_eq!(
            data["companies"]["totalCount"],
            expected.len(),
            "{search:?}"
        );
    }

    for (order, expected) in [
        (
            json!({ "field": "NAME" }),
            ["acme", "betacare", "gammagroup"],
        ),
        (
            json!({ "field": "NAME", "direction": "DESC" }),
            ["gammagroup", "betacare", "acme"],
        ),
        (
            json!({ "field": "NET_SPENT", "direction": "ASC" }),
            ["gammagroup", "betacare", "acme"],
        ),
        (
            json!({ "field": "BOOKINGS" }),
            ["acme", "betacare", "gammagroup"],
        ),
        (
            json!({ "field": "CUSTOMERS", "direction": "ASC" }),
            ["gammagroup", "betacare", "acme"],
        ),
        (
            json!({ "field": "LAST_BOOKING", "direction": "ASC" }),
            ["gammagroup", "acme", "betacare"],
        ),
        (
            json!({ "field": "LAST_BOOKING" }),
            ["betacare", "acme", "gammagroup"],
        ),
    ] {
        let whole = w.shop.query_ok(COMPANIES, json!({ "o": order })).await;
        assert_eq!(ids(&whole), expected, "{order}");
        // A page at a time gives the same.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = w
                .shop
                .query_ok(COMPANIES, json!({ "o": order, "first": 1, "after": after }))
                .await;
            seen.extend(ids(&data));
            let info = &data["companies"]["pageInfo"];
            assert_eq!(info["hasPreviousPage"], after.is_some());
            if info["hasNextPage"] == false {
                break;
            }
            after = Some(info["endCursor"].as_str().unwrap().to_string());
            assert!(seen.len() <= 3, "pagination does not end: {seen:?}");
        }
        assert_eq!(seen, expected, "pages of {order}");
    }

    // A cursor belongs to its order; bad sizes and garbage are refused.
    let page = w
        .shop
        .query_ok(COMPANIES, json!({ "o": { "field": "NAME" }, "first": 1 }))
        .await;
    let cursor = page["companies"]["pageInfo"]["endCursor"].clone();
    for vars in [
        json!({ "o": { "field": "NET_SPENT" }, "after": cursor }),
        json!({ "after": "garbage" }),
        json!({ "first": 101 }),
        json!({ "first": -1 }),
        json!({ "s": "x".repeat(201) }),
    ] {
        let body = w.shop.query(COMPANIES, vars.clone()).await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{vars}: {body:#}"
        );
    }
    let body = w
        .shop
        .query(
            "{ company(id: \"acme\") { customers(first: 500) { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
}

// ---------------------------------------------------------------------------------------
// The dashboard.

const DASHBOARD: &str = "query($from: NaiveDate!, $to: NaiveDate!, $i: Interval!) { businessInsights(from: $from, to: $to, interval: $i) { series { start end netRevenue bookings newCustomers returningCustomers } netRevenue grossRevenue refunded refundRate bookings averageBookingValue topCourses { course { name } bookings revenue } topVenues { venue { name } bookings revenue } segments { segment customers } } }";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn set_booked_at(app: &TestApp, id: Uuid, when: &str) {
    booking::Entity::update_many()
        .col_expr(booking::Column::CreatedAt, Expr::value(at(when)))
        .filter(booking::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn set_paid_at(app: &TestApp, id: Uuid, when: &str) {
    payment::Entity::update_many()
        .col_expr(payment::Column::PaidAt, Expr::value(at(when)))
        .filter(payment::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn set_refunded_at(app: &TestApp, id: Uuid, when: &str) {
    refund::Entity::update_many()
        .col_expr(refund::Column::CompletedAt, Expr::value(at(when)))
        .filter(refund::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .unwrap();
}

/// Puts `user` in `segment` in the latest insights refresh.
async fn segment(app: &TestApp, model: Uuid, user: Uuid, segment: CustomerSegment) {
    customer_insight::Model {
        user_id: user,
        model_id: model,
        recency_days: 0,
        bookings: 0,
        monetary_pence: 0,
        recency_score: 1,
        frequency_score: 1,
        monetary_score: 1,
        segment,
        repeat_bookings: 0.0,
        recency_weeks: 0.0,
        age_weeks: 0.0,
        average_value_pence: 0,
        probability_active: 0.0,
        predicted_value_pence: 0,
        renewals: json!([]),
        actual_bookings: None,
        actual_revenue_pence: None,
    }
    .into_active_model()
    .reset_all()
    .insert(&app.db)
    .await
    .unwrap();
}

/// Pat booked in December 2024 (paid), January (paid £95) and March; Quinn booked FAW in
/// York in January (paid £150, £50 of it refunded in March; a second January booking was
/// cancelled); Rae's first booking, in March, was cancelled, her second (paid £95) was
/// not; Uma booked at midnight as April began. February is empty. A pending refund changes
/// nothing. Segments: Pat and Quinn are champions, Rae new; Tom, a champion, was merged
/// into Pat.
async fn dashboard_world() -> Shop {
    let shop = Shop::open().await;
    let Catalogue {
        efaw,
        faw,
        leeds,
        york,
    } = shop.cat;
    let efaw_leeds = shop.session(efaw, leeds, 20).await;
    let faw_york = shop.session(faw, york, 20).await;
    let app = &shop.app;
    for (email, first) in [
        ("pat@example.com", "Pat"),
        ("quinn@example.com", "Quinn"),
        ("rae@example.com", "Rae"),
        ("uma@example.com", "Uma"),
        ("tom@example.com", "Tom"),
    ] {
        shop.customer(email, first, "Dash", None, false).await;
    }

    let pat_dec = shop.book(efaw_leeds, "pat@example.com", 1).await;
    set_booked_at(app, pat_dec, "2024-12-15T10:00:00Z").await;
    let p = shop.pay(pat_dec, "95.00").await;
    set_paid_at(app, p, "2024-12-16T10:00:00Z").await;
    let pat_jan = shop.book(efaw_leeds, "pat@example.com", 1).await;
    set_booked_at(app, pat_jan, "2025-01-10T09:00:00Z").await;
    let p = shop.pay(pat_jan, "95.00").await;
    set_paid_at(app, p, "2025-01-11T09:00:00Z").await;
    shop.refund(pat_jan, "10.00", false).await;
    let pat_mar = shop.book(efaw_leeds, "pat@example.com", 1).await;
    set_booked_at(app, pat_mar, "2025-03-05T12:00:00Z").await;

    let quinn_jan = shop.book(faw_york, "quinn@example.com", 1).await;
    set_booked_at(app, quinn_jan, "2025-01-20T00:00:00Z").await;
    let p = shop.pay(quinn_jan, "150.00").await;
    set_paid_at(app, p, "2025-01-21T08:00:00Z").await;
    let r = shop.refund(quinn_jan, "50.00", true).await;
    set_refunded_at(app, r, "2025-03-06T16:00:00Z").await;
    let quinn_cancelled = shop.book(efaw_leeds, "quinn@example.com", 1).await;
    shop.cancel(quinn_cancelled).await;
    set_booked_at(app, quinn_cancelled, "2025-01-25T10:00:00Z").await;

    let rae_cancelled = shop.book(efaw_leeds, "rae@example.com", 1).await;
    shop.cancel(rae_cancelled).await;
    set_booked_at(app, rae_cancelled, "2025-03-10T10:00:00Z").await;
    let rae = shop.book(efaw_leeds, "rae@example.com", 1).await;
    set_booked_at(app, rae, "2025-03-20T23:59:59Z").await;
    let p = shop.pay(rae, "95.00").await;
    set_paid_at(app, p, "2025-03-21T10:00:00Z").await;

    let uma = shop.book(efaw_leeds, "uma@example.com", 1).await;
    set_booked_at(app, uma, "2025-04-01T00:00:00Z").await;
    let p = shop.pay(uma, "95.00").await;
    set_paid_at(app, p, "2025-04-01T00:00:00Z").await;

    let model = insight_model::Model {
        id: Uuid::now_v7(),
        as_of: today(),
        customers: 4,
        fit: json!({}),
        duration_ms: 1,
        fitted_at: Utc::now(),
    }
    .into_active_model()
    .reset_all()
    .insert(&app.db)
    .await
    .unwrap()
    .id;
    let id_of = |email: &'static str| async move {
        rft_users::services::users::find_by_email(&app.db, email)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let (pat, quinn, rae, tom) = (
        id_of("pat@example.com").await,
        id_of("quinn@example.com").await,
        id_of("rae@example.com").await,
        id_of("tom@example.com").await,
    );
    segment(app, model, pat, CustomerSegment::Champion).await;
    segment(app, model, quinn, CustomerSegment::Champion).await;
    segment(app, model, rae, CustomerSegment::New).await;
    segment(app, model, tom, CustomerSegment::Champion).await;
    shop.merge(pat, tom).await;
    shop
}

#[tokio::test]
async fn business_insights_by_month_has_every_month_and_exact_sums() {
    let shop = dashboard_world().await;
    let data = shop
        .query_ok(
            DASHBOARD,
            json!({ "from": "2025-01-01", "to": "2025-03-31", "i": "MONTH" }),
        )
        .await;
    let d = &data["businessInsights"];
    assert_eq!(
        d["series"],
        json!([
            { "start": "2025-01-01", "end": "2025-01-31", "netRevenue": "245.00", "bookings": 2, "newCustomers": 1, "returningCustomers": 1 },
            { "start": "2025-02-01", "end": "2025-02-28", "netRevenue": "0.00", "bookings": 0, "newCustomers": 0, "returningCustomers": 0 },
            { "start": "2025-03-01", "end": "2025-03-31", "netRevenue": "45.00", "bookings": 2, "newCustomers": 1, "returningCustomers": 1 },
        ])
    );
    assert_eq!(d["grossRevenue"], "340.00");
    assert_eq!(d["refunded"], "50.00");
    assert_eq!(d["netRevenue"], "290.00");
    assert!(
        (d["refundRate"].as_f64().unwrap() - 50.0 / 340.0).abs() < 1e-12,
        "{d:#}"
    );
    assert_eq!(d["bookings"], 4);
    assert_eq!(d["averageBookingValue"], "108.75");
    assert_eq!(
        d["topCourses"],
        json!([
            { "course": { "name": "Emergency First Aid at Work" }, "bookings": 3, "revenue": "285.00" },
            { "course": { "name": "First Aid at Work" }, "bookings": 1, "revenue": "150.00" },
        ])
    );
    assert_eq!(
        d["topVenues"],
        json!([
            { "venue": { "name": "Leeds Training Centre" }, "bookings": 3, "revenue": "285.00" },
            { "venue": { "name": "York Hub" }, "bookings": 1, "revenue": "150.00" },
        ])
    );
    assert_eq!(
        d["segments"],
        json!([
            { "segment": "CHAMPION", "customers": 2 },
            { "segment": "LOYAL", "customers": 0 },
            { "segment": "NEW", "customers": 1 },
            { "segment": "PROMISING", "customers": 0 },
            { "segment": "AT_RISK", "customers": 0 },
            { "segment": "LAPSED", "customers": 0 },
            { "segment": "ONE_OFF", "customers": 0 },
        ])
    );

    // Clipped to the range: mid-month ends, and a single day.
    let clipped = shop
        .query_ok(
            DASHBOARD,
            json!({ "from": "2025-01-15", "to": "2025-03-05", "i": "MONTH" }),
        )
        .await;
    assert_eq!(
        clipped["businessInsights"]["series"],
        json!([
            { "start": "2025-01-15", "end": "2025-01-31", "netRevenue": "150.00", "bookings": 1, "newCustomers": 1, "returningCustomers": 0 },
            { "start": "2025-02-01", "end": "2025-02-28", "netRevenue": "0.00", "bookings": 0, "newCustomers": 0, "returningCustomers": 0 },
            { "start": "2025-03-01", "end": "2025-03-05", "netRevenue": "0.00", "bookings": 1, "newCustomers": 0, "returningCustomers": 1 },
        ])
    );
    let empty = shop
        .query_ok(
            DASHBOARD,
            json!({ "from": "2025-02-10", "to": "2025-02-10", "i": "WEEK" }),
        )
        .await;
    let e = &empty["businessInsights"];
    assert_eq!(
        e["series"],
        json!([{ "start": "2025-02-10", "end": "2025-02-10", "netRevenue": "0.00", "bookings": 0, "newCustomers": 0, "returningCustomers": 0 }])
    );
    assert_eq!(e["refundRate"], 0.0);
    assert_eq!(e["averageBookingValue"], Value::Null);
    assert_eq!(e["topCourses"], json!([]));
    assert_eq!(e["grossRevenue"], "0.00");
}

#[tokio::test]
async fn business_insights_by_week_starts_on_monday_and_sums_to_the_totals() {
    let shop = dashboard_world().await;
    let data = shop
        .query_ok(
            DASHBOARD,
            json!({ "from": "2025-01-01", "to": "2025-03-31", "i": "WEEK" }),
        )
        .await;
    let d = &data["businessInsights"];
    let series = d["series"].as_array().unwrap();
    assert_eq!(series.len(), 14);
    assert_eq!(series[0]["start"], "2025-01-01");
    assert_eq!(series[0]["end"], "2025-01-05");
    assert_eq!(series[1]["start"], "2025-01-06");
    assert_eq!(series[13]["start"], "2025-03-31");
    assert_eq!(series[13]["end"], "2025-03-31");
    for pair in series.windows(2) {
        let end: NaiveDate = pair[0]["end"].as_str().unwrap().parse().unwrap();
        let next: NaiveDate = pair[1]["start"].as_str().unwrap().parse().unwrap();
        assert_eq!(end + Duration::days(1), next, "intervals are contiguous");
        assert_eq!(next.format("%a").to_string(), "Mon");
    }
    let column = |name: &str| -> Vec<Value> { series.iter().map(|p| p[name].clone()).collect() };
    assert_eq!(
        column("bookings"),
        [0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0].map(|n| json!(n))
    );
    assert_eq!(
        column("newCustomers"),
        [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0].map(|n| json!(n))
    );
    assert_eq!(
        column("returningCustomers"),
        [0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0].map(|n| json!(n))
    );
    assert_eq!(
        column("netRevenue"),
        [
            "0.00", "95.00", "0.00", "150.00", "0.00", "0.00", "0.00", "0.00", "0.00", "-50.00",
            "0.00", "95.00", "0.00", "0.00"
        ]
        .map(|n| json!(n))
    );
    assert_eq!(d["netRevenue"], "290.00");
    assert_eq!(d["bookings"], 4);
}

#[tokio::test]
async fn business_insights_refuses_backwards_and_overlong_ranges() {
    let shop = Shop::open().await;
    for (from, to) in [("2025-03-01", "2025-02-28"), ("2015-01-01", "2025-01-01")] {
        let body = shop
            .query(DASHBOARD, json!({ "from": from, "to": to, "i": "MONTH" }))
            .await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{from}..{to}: {body:#}"
        );
        assert_eq!(error_field(&body), Some("to"), "{body:#}");
    }
    let ten_years = shop
        .query_ok(
            DASHBOARD,
            json!({ "from": "2015-01-01", "to": "2024-12-31", "i": "MONTH" }),
        )
        .await;
    assert_eq!(
        ten_years["businessInsights"]["series"]
            .as_array()
            .unwrap()
            .len(),
        120
    );
    let body = shop
        .query(
            DASHBOARD,
            json!({ "from": "2025-01-01", "to": "2025-01-31", "i": "DAY" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
}

#[tokio::test]
async fn reports_are_for_admins_only() {
    let app = TestApp::spawn().await;
    let (_, instructor) = app
        .logged_in(
            rft_users::entities::enums::Role::Instructor,
            "ian@example.com",
        )
        .await;
    for query in [
        "{ renewalsDue(withinDays: 30) { totalCount } }",
        "{ companies { totalCount } }",
        "{ company(id: \"acme\") { id } }",
        "{ businessInsights(from: \"2025-01-01\", to: \"2025-01-31\", interval: WEEK) { bookings } }",
    ] {
        let body = app.gql(query, json!({}), Some(&instructor)).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{query}: {body:#}");
        let body = app.gql(query, json!({}), None).await;
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "{query}: {body:#}"
        );
    }
}
