//! The admin's user search (`users`): free text over name, email, company and phone in any
//! format, every filter, every sort order in both directions with ties broken by id, and
//! cursor pagination, over a known data set with deliberate ties in every sort key.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rft_users::entities::enums::{CustomerType, Role, UserStatus};
use rft_users::entities::user;
use rft_users::services::users;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, error_field};

const USERS: &str = r#"query($search: String, $filter: UserFilter, $orderBy: UserOrderBy, $first: Int, $after: String) {
  users(search: $search, filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id email } }
  }
}"#;

/// Last activity is counted in hours after this instant.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

/// Profiles are created this many days after this instant.
fn d0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 9, 0, 0).unwrap()
}

/// One seeded user.
struct Seed {
    email: &'static str,
    first: &'static str,
    last: &'static str,
    company: Option<&'static str>,
    phone: Option<&'static str>,
    mobile: Option<&'static str>,
    role: Role,
    status: UserStatus,
    customer_type: CustomerType,
    marketing: bool,
    bookings: i32,
    spent_pence: i64,
    active_hours: i64,
    created_days: i64,
}

#[rustfmt::skip]
fn seeds() -> Vec<Seed> {
    use CustomerType::{Corporate as Corp, Individual as Ind};
    use Role::{Admin, Customer as Cust, Instructor as Instr};
    use UserStatus::{Active as Act, Inactive as Inact, Suspended as Susp};
    let s = |email, first, last, company, phone, mobile, role, status, customer_type, marketing, bookings, spent_pence, active_hours, created_days| Seed {
        email, first, last, company, phone, mobile, role, status, customer_type, marketing, bookings, spent_pence, active_hours, created_days,
    };
    vec![
        //  email                           first     last        company               phone               mobile              role   status type  mkt    bkg  pence   act  crt
        s("alice.smith@example.com",       "Alice",  "Smith",    None,                 Some("07700 900123"), None,              Cust,  Act,   Ind,  true,  3,   15000,  10,  1),
        s("alicia.smithers@example.com",   "Alicia", "Smithers", None,                 None,               Some("07700900123"), Cust,  Act,   Ind,  false, 3,   15000,  10,  2),
        s("bob.smith@example.com",         "Bob",    "Smith",    Some("Acme Training Ltd"), Some("+447700900123"), None,       Cust,  Act,   Corp, true,  5,   25000,  20,  3),
        s("jo.smith@example.com",          "Jo",     "Smith",    None,                 Some("0113 496 0001"), None,             Cust,  Act,   Ind,  false, 0,   0,      5,   3),
        s("jo.smith2@example.com",         "jo",     "SMITH",    None,                 None,               None,                Cust,  Inact, Ind,  false, 0,   0,      5,   4),
        s("carol.jones@acme.example.com",  "Carol",  "Jones",    Some("ACME Training Ltd"), None,              None,                Cust,  Act,   Corp, true,  12,  100000, 30,  5),
        s("dave.brown@example.com",        "Dave",   "Brown",    Some("Brown & Sons"), Some("020 7946 0000"), None,             Cust,  Susp,  Corp, false, 1,   10000,  1,   6),
        s("erin.white@example.com",        "Erin",   "White",    None,                 None,               None,                Instr, Act,   Ind,  false, 0,   0,      40,  7),
        s("frank.green@example.com",       "Frank",  "Green",    None,                 None,               None,                Admin, Act,   Ind,  false, 0,   0,      40,  7),
        s("grace.hall@example.com",        "Grace",  "Hall",     Some("Hall Events"),  None,               Some("+44 20 7946 0001"), Cust, Act,  Corp, true,  7,   49999,  50,  8),
        s("harry.king@example.com",        "Harry",  "King",     None,                 None,               None,                Cust,  Act,   Ind,  true,  7,   50000,  50,  9),
        s("ivy.lee@example.com",           "Ivy",    "Lee",      None,                 None,               None,                Cust,  Act,   Ind,  false, 7,   50001,  60,  10),
        s("jack.lee@example.com",          "Jack",   "Lee",      None,                 None,               None,                Cust,  Inact, Ind,  true,  2,   9999,   60,  10),
        s("kate.moss@example.com",         "Kate",   "Moss",     Some("Moss Media"),   None,               None,                Cust,  Act,   Corp, false, 2,   10000,  70,  11),
        s("liam.neil@example.com",         "Liam",   "Neil",     None,                 None,               None,                Cust,  Act,   Ind,  true,  2,   10001,  70,  12),
        s("mia.owen@example.com",          "Mia",    "Owen",     None,                 None,               None,                Cust,  Act,   Ind,  false, 20,  250000, 80,  13),
        s("noah.price@example.com",        "Noah",   "Price",    None,                 None,               None,                Cust,  Act,   Ind,  true,  20,  250000, 80,  13),
        s("olivia.quinn@example.com",      "Olivia", "Quinn",    Some("Quinn & Co"),   None,               None,                Cust,  Act,   Corp, true,  1,   4500,   90,  14),
        s("paul.reed@example.com",         "Paul",   "Reed",     None,                 None,               None,                Cust,  Act,   Ind,  false, 1,   4500,   90,  15),
        s("rosa.stone@example.com",        "Rosa",   "Stone",    None,                 None,               None,                Cust,  Susp,  Ind,  false, 0,   0,      100, 16),
        s("sam.taylor@example.com",        "Sam",    "Taylor",   None,                 None,               None,                Instr, Act,   Ind,  false, 0,   0,      100, 17),
        s("tina.upton@example.com",        "Tina",   "Upton",    None,                 None,               None,                Cust,  Act,   Ind,  true,  4,   30000,  110, 18),
        s("uma.vance@example.com",         "Uma",    "Vance",    None,                 None,               None,                Cust,  Act,   Ind,  true,  4,   30000,  110, 18),
        s("vic.wood@example.com",          "Vic",    "Wood",     Some("Wood Works"),   None,               None,                Cust,  Act,   Corp, false, 4,   30000,  120, 19),
        s("will.young@example.com",        "Will",   "Young",    None,                 None,               None,                Cust,  Act,   Ind,  true,  9,   75050,  130, 20),
        s("xena.zane@example.com",         "Xena",   "Zane",     None,                 None,               None,                Cust,  Act,   Ind,  false, 9,   75050,  130, 20),
        s("yusuf.ali@example.com",         "Yusuf",  "Ali",      None,                 None,               None,                Cust,  Act,   Ind,  true,  6,   36000,  140, 21),
        s("zoe.adams@example.com",         "Zoë",    "Adams",    None,                 None,               None,                Cust,  Act,   Ind,  false, 6,   36000,  140, 21),
        s("amy.smithson@example.com",      "Amy",    "Smithson", None,                 None,               None,                Cust,  Act,   Ind,  true,  8,   80000,  160, 23),
    ]
}

/// The merged duplicate of Alice Smith: same name and phone, hidden by default.
const DUPLICATE: &str = "old.alice@example.com";

/// A server holding the seeded users (plus the admin who searches), and the admin's token.
async fn seeded() -> (TestApp, String) {
    seed(TestApp::spawn().await).await
}

/// Seeds `app` with the data set; returns it with an admin's token.
async fn seed(app: TestApp) -> (TestApp, String) {
    let (_, token) = app.admin().await;
    let mut alice = None;
    for s in seeds() {
        let created = d0() + Duration::days(s.created_days);
        let mut m = users::blank(s.email.into(), s.first.into(), s.last.into(), created);
        m.company_name = s.company.map(Into::into);
        m.phone = s.phone.map(Into::into);
        m.mobile = s.mobile.map(Into::into);
        m.role = s.role;
        m.status = s.status;
        m.customer_type = s.customer_type;
        m.marketing_consent = s.marketing;
        m.total_bookings = s.bookings;
        m.total_spent_pence = s.spent_pence;
        m.last_activity_at = t0() + Duration::hours(s.active_hours);
        users::refresh_derived(&mut m);
        let inserted = users::insert(&app.db, m).await.unwrap();
        if s.email == "alice.smith@example.com" {
            alice = Some(inserted.id);
        }
    }
    let created = d0() + Duration::days(22);
    let mut dup = users::blank(DUPLICATE.into(), "Alice".into(), "Smith".into(), created);
    dup.phone = Some("07700 900123".into());
    dup.total_bookings = 1;
    dup.total_spent_pence = 5000;
    dup.last_activity_at = t0() + Duration::hours(150);
    dup.merged_into_id = alice;
    users::refresh_derived(&mut dup);
    users::insert(&app.db, dup).await.unwrap();
    (app, token)
}

/// Runs `users` with the given arguments; returns the emails in order and the connection.
async fn search(app: &TestApp, token: &str, args: Value) -> (Vec<String>, Value) {
    let data = app.gql_ok(USERS, args, Some(token)).await;
    let conn = data["users"].clone();
    let emails = conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap().to_string())
        .collect();
    (emails, conn)
}

fn set(emails: &[&str]) -> BTreeSet<String> {
    emails.iter().map(|e| e.to_string()).collect()
}

/// A seeded user's row.
async fn row_of(app: &TestApp, email: &str) -> user::Model {
    let all = app.all_users().await;
    all.into_iter().find(|u| u.email == email).unwrap()
}

/// Every user the search can show by default (not merged), straight from the database.
async fn visible(app: &TestApp) -> Vec<user::Model> {
    app.all_users()
        .await
        .into_iter()
        .filter(|u| u.merged_into_id.is_none())
        .collect()
}

#[tokio::test]
async fn search_matches_names_emails_and_companies_case_insensitively() {
    let (app, token) = seeded().await;
    let cases: &[(&str, &[&str])] = &[
        ("alice", &["alice.smith@example.com"]),
        ("SMITHERS", &["alicia.smithers@example.com"]),
        (
            "Smith",
            &[
                "alice.smith@example.com",
                "alicia.smithers@example.com",
                "bob.smith@example.com",
                "jo.smith@example.com",
                "jo.smith2@example.com",
                "amy.smithson@example.com",
            ],
        ),
        ("lee", &["ivy.lee@example.com", "jack.lee@example.com"]),
        ("IVY.LEE@EXAMPLE.COM", &["ivy.lee@example.com"]),
        ("acme.example", &["carol.jones@acme.example.com"]),
        (
            "acme",
            &["bob.smith@example.com", "carol.jones@acme.example.com"],
        ),
        ("Hall Events", &["grace.hall@example.com"]),
        ("brown & sons", &["dave.brown@example.com"]),
        ("ZOË", &["zoe.adams@example.com"]),
        (
            "al",
            &[
                "alice.smith@example.com",
                "alicia.smithers@example.com",
                "grace.hall@example.com",
                "yusuf.ali@example.com",
            ],
        ),
        ("nobody-has-this", &[]),
    ];
    for (text, expected) in cases {
        let (emails, conn) = search(&app, &token, json!({ "search": text, "first": 100 })).await;
        let got: BTreeSet<String> = emails.iter().cloned().collect();
        assert_eq!(got, set(expected), "search {text:?}");
        assert_eq!(
            emails.len(),
            expected.len(),
            "search {text:?} repeats users"
        );
        assert_eq!(conn["totalCount"], expected.len(), "search {text:?}");
    }
}

#[tokio::test]
async fn search_with_several_words_requires_every_word() {
    let (app, token) = seeded().await;
    let cases: &[(&str, &[&str])] = &[
        ("alice smith", &["alice.smith@example.com"]),
        ("Smith  ALICE", &["alice.smith@example.com"]),
        (
            "jo smith",
            &["jo.smith@example.com", "jo.smith2@example.com"],
        ),
        (
            "acme training",
            &["bob.smith@example.com", "carol.jones@acme.example.com"],
        ),
        ("acme bob", &["bob.smith@example.com"]),
        (
            "smith 900123",
            &[
                "alice.smith@example.com",
                "alicia.smithers@example.com",
                "bob.smith@example.com",
            ],
        ),
        ("bob 0113", &[]),
        ("alice jones", &[]),
    ];
    for (text, expected) in cases {
        let (emails, conn) = search(&app, &token, json!({ "search": text, "first": 100 })).await;
        assert_eq!(
            emails.into_iter().collect::<BTreeSet<_>>(),
            set(expected),
            "search {text:?}"
        );
        assert_eq!(conn["totalCount"], expected.len(), "search {text:?}");
    }
}

#[tokio::test]
async fn search_finds_phone_numbers_in_any_format() {
    let (app, token) = seeded().await;
    let the_three = &[
        "alice.smith@example.com",     // phone "07700 900123"
        "alicia.smithers@example.com", // mobile "07700900123"
        "bob.smith@example.com",       // phone "+447700900123"
    ];
    let cases: &[(&str, &[&str])] = &[
        ("900123", the_three),
        ("07700 900123", the_three),
        ("07700900123", the_three),
        ("+44 7700 900123", the_three),
        ("+447700900123", the_three),
        ("7700-900-123", the_three),
        ("020 7946 0000", &["dave.brown@example.com"]),
        ("+44 20 7946 0001", &["grace.hall@example.com"]),
        (
            "7946",
            &["dave.brown@example.com", "grace.hall@example.com"],
        ),
        ("0113 496 0001", &["jo.smith@example.com"]),
    ];
    for (text, expected) in cases {
        let (emails, conn) = search(&app, &token, json!({ "search": text, "first": 100 })).await;
        assert_eq!(
            emails.into_iter().collect::<BTreeSet<_>>(),
            set(expected),
            "search {text:?}"
        );
        assert_eq!(conn["totalCount"], expected.len(), "search {text:?}");
    }
}

#[tokio::test]
async fn each_filter_returns_exactly_the_matching_users() {
    let (app, token) = seeded().await;
    let all = visible(&app).await;
    let hours = |h: i64| t0() + Duration::hours(h);
    let days = |d: i64| d0() + Duration::days(d);
    type Pred = Box<dyn Fn(&user::Model) -> bool>;
    let cases: Vec<(&str, Value, Pred)> = vec![
        (
            "admins",
            json!({ "role": "ADMIN" }),
            Box::new(|u| u.role == Role::Admin),
        ),
        (
            "instructors",
            json!({ "role": "INSTRUCTOR" }),
            Box::new(|u| u.role == Role::Instructor),
        ),
        (
            "customers",
            json!({ "role": "CUSTOMER" }),
            Box::new(|u| u.role == Role::Customer),
        ),
        (
            "inactive",
            json!({ "status": "INACTIVE" }),
            Box::new(|u| u.status == UserStatus::Inactive),
        ),
        (
            "suspended",
            json!({ "status": "SUSPENDED" }),
            Box::new(|u| u.status == UserStatus::Suspended),
        ),
        (
            "active",
            json!({ "status": "ACTIVE" }),
            Box::new(|u| u.status == UserStatus::Active),
        ),
        (
            "corporate",
            json!({ "customerType": "CORPORATE" }),
            Box::new(|u| u.customer_type == CustomerType::Corporate),
        ),
        (
            "individual",
            json!({ "customerType": "INDIVIDUAL" }),
            Box::new(|u| u.customer_type == CustomerType::Individual),
        ),
        (
            "consented",
            json!({ "marketingConsent": true }),
            Box::new(|u| u.marketing_consent),
        ),
        (
            "not consented",
            json!({ "marketingConsent": false }),
            Box::new(|u| !u.marketing_consent),
        ),
        (
            "active between 50h and 90h, inclusive",
            json!({ "lastActivity": { "from": hours(50), "to": hours(90) } }),
            Box::new(move |u| u.last_activity_at >= hours(50) && u.last_activity_at <= hours(90)),
        ),
        (
            "active since 130h",
            json!({ "lastActivity": { "from": hours(130) } }),
            Box::new(move |u| u.last_activity_at >= hours(130)),
        ),
        (
            "active until 10h",
            json!({ "lastActivity": { "to": hours(10) } }),
            Box::new(move |u| u.last_activity_at <= hours(10)),
        ),
        (
            "spent £100.00 to £500.00",
            json!({ "totalSpent": { "min": "100.00", "max": "500.00" } }),
            Box::new(|u| (10_000..=50_000).contains(&u.total_spent_pence)),
        ),
        (
            "spent at least £750.50",
            json!({ "totalSpent": { "min": "750.5" } }),
            Box::new(|u| u.total_spent_pence >= 75_050),
        ),
        (
            "spent at most £45",
            json!({ "totalSpent": { "max": "45" } }),
            Box::new(|u| u.total_spent_pence <= 4_500),
        ),
        (
            "2 to 4 bookings",
            json!({ "totalBookings": { "min": 2, "max": 4 } }),
            Box::new(|u| (2..=4).contains(&u.total_bookings)),
        ),
        (
            "no bookings",
            json!({ "totalBookings": { "max": 0 } }),
            Box::new(|u| u.total_bookings == 0),
        ),
        (
            "created on days 7 to 13, inclusive",
            json!({ "createdAt": { "from": days(7), "to": days(13) } }),
            Box::new(move |u| u.created_at >= days(7) && u.created_at <= days(13)),
        ),
        (
            "active corporate customers who consented",
            json!({ "role": "CUSTOMER", "status": "ACTIVE", "customerType": "CORPORATE", "marketingConsent": true }),
            Box::new(|u| {
                u.role == Role::Customer
                    && u.status == UserStatus::Active
                    && u.customer_type == CustomerType::Corporate
                    && u.marketing_consent
            }),
        ),
    ];
    for (name, filter, pred) in cases {
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|u| pred(u))
            .map(|u| u.email.clone())
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "{name}: the data set does not exercise it"
        );

        let (emails, conn) = search(&app, &token, json!({ "filter": filter, "first": 100 })).await;

        assert_eq!(
            emails.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{name}"
        );
        assert_eq!(emails.len(), expected.len(), "{name}");
        assert_eq!(conn["totalCount"], expected.len(), "{name}");
    }
    // The boundaries are in the data set, so inclusiveness is really tested.
    assert!(
        all.iter().any(|u| u.last_activity_at == hours(50))
            && all.iter().any(|u| u.last_activity_at == hours(90))
    );
    assert!(
        all.iter().any(|u| u.total_spent_pence == 10_000)
            && all.iter().any(|u| u.total_spent_pence == 9_999)
    );
    assert!(
        all.iter().any(|u| u.total_spent_pence == 50_000)
            && all.iter().any(|u| u.total_spent_pence == 50_001)
    );
    assert!(
        all.iter().any(|u| u.created_at == days(7)) && all.iter().any(|u| u.created_at == days(13))
    );
}

#[tokio::test]
async fn search_and_filters_combine() {
    let (app, token) = seeded().await;

    let (emails, conn) = search(
        &app,
        &token,
        json!({ "search": "smith", "filter": { "status": "ACTIVE", "marketingConsent": true }, "first": 100 }),
    )
    .await;

    assert_eq!(
        emails.into_iter().collect::<BTreeSet<_>>(),
        set(&[
            "alice.smith@example.com",
            "bob.smith@example.com",
            "amy.smithson@example.com"
        ])
    );
    assert_eq!(conn["totalCount"], 3);
}

/// The expected order: by the sort key, ties by id, both in the given direction.
fn sorted(mut rows: Vec<user::Model>, field: &str, descending: bool) -> Vec<String> {
    rows.sort_by(|a, b| {
        let by_key = match field {
            "LAST_ACTIVITY" => a.last_activity_at.cmp(&b.last_activity_at),
            "TOTAL_BOOKINGS" => a.total_bookings.cmp(&b.total_bookings),
            "TOTAL_SPENT" => a.total_spent_pence.cmp(&b.total_spent_pence),
            "CREATED_AT" => a.created_at.cmp(&b.created_at),
            "NAME" => a.sort_name.cmp(&b.sort_name),
            other => panic!("unknown sort field {other}"),
        };
        by_key.then(a.id.cmp(&b.id))
    });
    if descending {
        rows.reverse();
    }
    rows.into_iter().map(|u| u.email).collect()
}

const SORT_FIELDS: [&str; 5] = [
    "LAST_ACTIVITY",
    "TOTAL_BOOKINGS",
    "TOTAL_SPENT",
    "CREATED_AT",
    "NAME",
];

#[tokio::test]
async fn every_sort_order_is_exact_in_both_directions_with_ties_broken_by_id() {
    let (app, token) = seeded().await;
    let all = visible(&app).await;
    for field in SORT_FIELDS {
        for direction in ["ASC", "DESC"] {
            let expected = sorted(all.clone(), field, direction == "DESC");

            let (emails, _) = search(
                &app,
                &token,
                json!({ "orderBy": { "field": field, "direction": direction }, "first": 100 }),
            )
            .await;

            assert_eq!(emails, expected, "{field} {direction}");
        }
    }
    // Names sort by last name, then first name, ignoring case: every Smith comes before
    // Smithers and Smithson, and the two "Jo Smith"s (one typed "jo SMITH") tie.
    let (by_name, _) = search(
        &app,
        &token,
        json!({ "orderBy": { "field": "NAME", "direction": "ASC" }, "first": 100 }),
    )
    .await;
    assert_eq!(
        by_name[..4],
        [
            "zoe.adams@example.com",
            "yusuf.ali@example.com",
            "dave.brown@example.com",
            "frank.green@example.com"
        ]
    );
    let position = |email: &str| by_name.iter().position(|e| e == email).unwrap();
    let smiths = [
        "alice.smith@example.com",
        "bob.smith@example.com",
        "jo.smith@example.com",
        "jo.smith2@example.com",
    ];
    for smith in smiths {
        assert!(
            position(smith) < position("alicia.smithers@example.com"),
            "{smith} after Smithers"
        );
    }
    assert_eq!(
        position("jo.smith2@example.com"),
        position("jo.smith@example.com") + 1
    );
    assert!(position("alicia.smithers@example.com") < position("amy.smithson@example.com"));
}

#[tokio::test]
async fn users_default_to_newest_profiles_first() {
    let (app, token) = seeded().await;
    let expected = sorted(visible(&app).await, "CREATED_AT", true);

    let (emails, conn) = search(&app, &token, json!({})).await;

    assert_eq!(emails, expected[..20], "20 at a time, newest first");
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    assert_eq!(conn["totalCount"], expected.len());
}

/// Walks every page of a query, `first` at a time; checks each page's `totalCount` and
/// `hasNextPage`, and returns every email in order.
async fn walk(app: &TestApp, token: &str, args: Value, first: usize, total: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let mut page_args = args.clone();
        page_args["first"] = json!(first);
        page_args["after"] = after.clone();
        let (emails, conn) = search(app, token, page_args).await;
        pages += 1;
        assert!(pages <= total / first + 1, "too many pages: {args}");
        assert_eq!(conn["totalCount"], total, "page {pages} of {args}");
        assert_eq!(
            conn["pageInfo"]["hasPreviousPage"],
            pages > 1,
            "page {pages} of {args}"
        );
        assert!(emails.len() <= first);
        all.extend(emails);
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        assert_eq!(
            conn["edges"].as_array().unwrap().len(),
            first,
            "a page before the last is full"
        );
        after = conn["pageInfo"]["endCursor"].clone();
        assert!(after.is_string(), "{conn:#}");
    }
    all
}

#[tokio::test]
async fn paging_through_ties_returns_every_user_exactly_once_in_order() {
    let (app, token) = seeded().await;
    let visible_count = visible(&app).await.len();
    let cases = [
        json!({ "orderBy": { "field": "TOTAL_BOOKINGS", "direction": "DESC" } }),
        json!({ "orderBy": { "field": "TOTAL_BOOKINGS", "direction": "ASC" } }),
        json!({ "orderBy": { "field": "TOTAL_SPENT", "direction": "DESC" } }),
        json!({ "orderBy": { "field": "LAST_ACTIVITY", "direction": "ASC" } }),
        json!({ "orderBy": { "field": "CREATED_AT", "direction": "DESC" } }),
        json!({ "orderBy": { "field": "NAME", "direction": "ASC" } }),
        json!({ "orderBy": { "field": "NAME", "direction": "DESC" }, "filter": { "status": "ACTIVE" } }),
        json!({ "orderBy": { "field": "TOTAL_BOOKINGS", "direction": "ASC" }, "search": "example" }),
    ];
    for args in cases {
        let mut one_page = args.clone();
        one_page["first"] = json!(100);
        let (expected, conn) = search(&app, &token, one_page).await;
        assert_eq!(conn["pageInfo"]["hasNextPage"], false);
        let total = expected.len();
        assert!(total > 14, "{args}: at least three pages");

        let walked = walk(&app, &token, args.clone(), 7, total).await;

        assert_eq!(walked, expected, "{args}");
        assert_eq!(
            walked.iter().collect::<BTreeSet<_>>().len(),
            total,
            "{args}: duplicates"
        );
    }
    assert!(visible_count > 14);
}

#[tokio::test]
async fn page_size_is_capped_at_one_hundred() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let now = Utc::now();
    for i in 0..120 {
        let mut m = users::blank(
            format!("bulk{i:03}@example.com"),
            "Bulk".into(),
            format!("User {i:03}"),
            now,
        );
        m.total_bookings = i % 3;
        users::refresh_derived(&mut m);
        users::insert(&app.db, m).await.unwrap();
    }
    assert_eq!(app.count("users").await, 121);

    let (emails, conn) = search(&app, &token, json!({ "first": 500 })).await;

    assert_eq!(emails.len(), 100);
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    assert_eq!(conn["totalCount"], 121);
    let walked = walk(
        &app,
        &token,
        json!({ "orderBy": { "field": "TOTAL_BOOKINGS" } }),
        100,
        121,
    )
    .await;
    assert_eq!(walked.len(), 121);
}

#[tokio::test]
async fn bad_page_arguments_are_refused_naming_the_argument() {
    let (app, token) = seeded().await;
    let by_name = json!({ "field": "NAME", "direction": "ASC" });
    let (_, conn) = search(&app, &token, json!({ "orderBy": by_name, "first": 3 })).await;
    let name_cursor = conn["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"f":"NAME","d":"ASC","k":5,"id":"00000000-0000-0000-0000-000000000000"}"#,
    );
    let cases = [
        ("negative first", json!({ "first": -1 }), "first"),
        (
            "garbage cursor",
            json!({ "after": "not-a-cursor" }),
            "after",
        ),
        (
            "cursor with a key of the wrong kind",
            json!({ "orderBy": by_name, "after": forged }),
            "after",
        ),
        (
            "cursor from another sort field",
            json!({ "orderBy": { "field": "TOTAL_SPENT", "direction": "ASC" }, "after": name_cursor }),
            "after",
        ),
        (
            "cursor from the other direction",
            json!({ "orderBy": { "field": "NAME", "direction": "DESC" }, "after": name_cursor }),
            "after",
        ),
        (
            "cursor for the default order",
            json!({ "after": name_cursor }),
            "after",
        ),
        (
            "search of 201 characters",
            json!({ "search": "a".repeat(201) }),
            "search",
        ),
        (
            "fractions of a penny",
            json!({ "filter": { "totalSpent": { "min": "10.005" } } }),
            "filter.totalSpent.min",
        ),
    ];
    for (name, args, field) in cases {
        let body = app.gql(USERS, args, Some(&token)).await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{name}: {body:#}"
        );
        assert_eq!(error_field(&body), Some(field), "{name}: {body:#}");
        assert!(body["data"].is_null(), "{name}: {body:#}");
    }
    // The same cursor is fine with the order it came from.
    let (next, _) = search(
        &app,
        &token,
        json!({ "orderBy": by_name, "after": name_cursor, "first": 1 }),
    )
    .await;
    assert_eq!(next.len(), 1);
}

#[tokio::test]
async fn merged_users_are_hidden_unless_asked_for() {
    let (app, token) = seeded().await;
    let everyone = app.all_users().await;
    let merged: Vec<_> = everyone
        .iter()
        .filter(|u| u.merged_into_id.is_some())
        .collect();
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].email, DUPLICATE);

    let (hidden, hidden_conn) = search(&app, &token, json!({ "search": "alice smith" })).await;
    let (shown, shown_conn) = search(
        &app,
        &token,
        json!({ "search": "alice smith", "filter": { "includeMerged": true } }),
    )
    .await;
    let (phones, _) = search(
        &app,
        &token,
        json!({ "search": "900123", "filter": { "includeMerged": false } }),
    )
    .await;
    let (_, all_conn) = search(&app, &token, json!({ "filter": { "includeMerged": true } })).await;
    let (_, default_conn) = search(&app, &token, json!({})).await;

    assert_eq!(hidden, ["alice.smith@example.com"]);
    assert_eq!(hidden_conn["totalCount"], 1);
    assert_eq!(
        shown.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["alice.smith@example.com", DUPLICATE])
    );
    assert_eq!(shown_conn["totalCount"], 2);
    assert!(!phones.contains(&DUPLICATE.to_string()));
    assert_eq!(all_conn["totalCount"], everyone.len());
    assert_eq!(default_conn["totalCount"], everyone.len() - 1);
}

#[tokio::test]
async fn search_follows_profile_updates() {
    let (app, token) = seeded().await;
    let ivy = row_of(&app, "ivy.lee@example.com").await;
    let alice = row_of(&app, "alice.smith@example.com").await;
    let update = "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }";

    app.gql_ok(update, json!({ "id": ivy.id, "input": { "lastName": "Chen", "companyName": "Globex", "mobile": "07700 900999" } }), Some(&token))
        .await;
    app.gql_ok(
        update,
        json!({ "id": alice.id, "input": { "phone": null } }),
        Some(&token),
    )
    .await;

    for text in ["chen", "GLOBEX ivy", "+44 7700 900999"] {
        let (emails, _) = search(&app, &token, json!({ "search": text })).await;
        assert_eq!(emails, ["ivy.lee@example.com"], "search {text:?}");
    }
    let (phones, _) = search(&app, &token, json!({ "search": "07700 900123" })).await;
    assert_eq!(
        phones.into_iter().collect::<BTreeSet<_>>(),
        set(&["alicia.smithers@example.com", "bob.smith@example.com"]),
        "a cleared phone is no longer found"
    );
    let (by_name, _) = search(
        &app,
        &token,
        json!({ "orderBy": { "field": "NAME", "direction": "ASC" }, "first": 100 }),
    )
    .await;
    let position = |email: &str| by_name.iter().position(|e| e == email).unwrap();
    assert!(
        position("ivy.lee@example.com") < position("frank.green@example.com"),
        "Chen sorts before Green"
    );
    assert_eq!(app.user_row(ivy.id).await.sort_name, "chen ivy");
}

/// The same as `USERS` without `totalCount`: on PostgreSQL a text search with a count is
/// paged in one pass over the matches, without one it is paged in SQL. Both must agree.
const USERS_WITHOUT_COUNT: &str = r#"query($search: String, $orderBy: UserOrderBy, $first: Int, $after: String) {
  users(search: $search, orderBy: $orderBy, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { email } }
  }
}"#;

#[tokio::test]
async fn counted_and_uncounted_searches_page_identically() {
    let (app, token) = seeded().await;
    for (search, field, direction) in [
        ("example", "TOTAL_BOOKINGS", "DESC"),
        ("example", "TOTAL_SPENT", "ASC"),
        ("example", "LAST_ACTIVITY", "DESC"),
        ("example", "CREATED_AT", "ASC"),
        ("smith", "LAST_ACTIVITY", "ASC"),
    ] {
        let args =
            json!({ "search": search, "orderBy": { "field": field, "direction": direction } });
        let mut uncounted = Vec::new();
        let mut after = Value::Null;
        loop {
            let mut page = args.clone();
            page["first"] = json!(4);
            page["after"] = after;
            let data = app.gql_ok(USERS_WITHOUT_COUNT, page, Some(&token)).await;
            let conn = &data["users"];
            uncounted.extend(
                conn["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["node"]["email"].as_str().unwrap().to_string()),
            );
            if conn["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }
        assert!(
            uncounted.len() >= 2,
            "{args}: the search must match several users"
        );
        let counted = walk(&app, &token, args.clone(), 4, uncounted.len()).await;
        assert_eq!(counted, uncounted, "{args}");
    }
}

/// Two aliases of `totalCount` on one connection, and a second connection beside it.
const ALIASED_COUNTS: &str = r#"query($search: String, $filter: UserFilter) {
  x: users(search: $search, filter: $filter, first: 2) { a: totalCount b: totalCount edges { node { id } } }
  y: users(search: $search, filter: $filter, first: 1) { c: totalCount }
}"#;

#[tokio::test]
async fn aliased_total_counts_all_get_the_count_which_is_made_once_per_connection() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (app, token) = seed(TestApp::spawn_recording(log.clone()).await).await;
    let everyone = visible(&app).await;
    let matching =
        |pred: &dyn Fn(&user::Model) -> bool| everyone.iter().filter(|u| pred(u)).count();
    // Each way of counting: the SQLite FTS count of a bare search (on PostgreSQL a search
    // with a count is counted while paging), a filtered search, and no search at all.
    for (args, expected) in [
        (
            json!({ "search": "smith" }),
            matching(&|u| u.search_text.contains("smith")),
        ),
        (
            json!({ "search": "smith", "filter": { "status": "ACTIVE" } }),
            matching(&|u| u.search_text.contains("smith") && u.status == UserStatus::Active),
        ),
        (
            json!({ "filter": { "role": "CUSTOMER" } }),
            matching(&|u| u.role == Role::Customer),
        ),
    ] {
        assert!(
            expected >= 2,
            "{args}: the data set must match several users"
        );
        log.lock().unwrap().clear();
        let data = app.gql_ok(ALIASED_COUNTS, args.clone(), Some(&token)).await;
        for (conn, alias) in [("x", "a"), ("x", "b"), ("y", "c")] {
            assert_eq!(data[conn][alias], expected, "{args}: {conn}.{alias}");
        }
        let counts = log
            .lock()
            .unwrap()
            .iter()
            .filter(|sql| sql.to_uppercase().contains("COUNT("))
            .count();
        assert!(
            counts <= 2,
            "{args}: at most one count per connection, ran {counts}: {:#?}",
            log.lock().unwrap()
        );
    }
}
