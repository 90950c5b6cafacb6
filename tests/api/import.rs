//! `rft-users import-legacy`: the real binary imports the shared sample export
//! (`tests/data/legacy-bookings.sample.json`) into a test database, and every row is
//! accounted for; a rerun changes nothing; a changed row updates its booking; a killed
//! import, run again, ends where one clean run does; a dry run writes nothing; admins see
//! the jobs and rows through the API and as CSV.
//!
//! The expected outcomes are worked out here from the JSON itself, independently of the
//! import's own code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rft_users::entities::enums::{
    BookingStatus, ImportJobStatus, PaymentMethod, PaymentRecordStatus, PaymentStatus,
    RefundStatus, Role, SessionStatus,
};
use rft_users::entities::{
    booking, booking_attendee, course, course_session, import_job, payment, refund, user, venue,
};
use rft_users::services::{legacy_import, users};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code};

/// The sample, copied into the repository (see tests/data/README.md).
fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/legacy-bookings.sample.json")
}

/// The binary under test. `RFT_USERS_BIN` points elsewhere when several checkouts share
/// one build directory (where `target/debug/rft-users` is whichever tree built last).
fn binary() -> String {
    std::env::var("RFT_USERS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rft-users").into())
}

fn command(app: &TestApp, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env("DATABASE_URL", &app.state.config.database_url)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .env("RFT_JWT_SECRET", app.state.config.jwt_secret.expose())
        .env("RFT_DATA_KEYS", crate::helpers::data_keys())
        .env_remove("RFT_IMPORT_CHUNK_SIZE");
    cmd
}

/// Runs `rft-users import-legacy FILE ARGS...` against the app's database.
async fn import(app: &TestApp, file: &Path, args: &[&str]) -> Output {
    let mut all = vec!["import-legacy", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut cmd = command(app, &all);
    tokio::task::spawn_blocking(move || cmd.output().expect("rft-users runs"))
        .await
        .unwrap()
}

/// An import that must finish: exit 0, every row accounted for.
pub(crate) async fn import_ok(app: &TestApp, file: &Path, args: &[&str]) -> String {
    let out = import(app, file, args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "import failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every row accounted for"), "{stdout}");
    stdout
}

async fn verify_stats(app: &TestApp) -> Output {
    let mut cmd = command(app, &["verify-stats"]);
    tokio::task::spawn_blocking(move || cmd.output().expect("rft-users runs"))
        .await
        .unwrap()
}

/// The catalogue the import finds: the three courses, and three of the five venues the
/// sample names (the other two are created, inactive).
async fn catalogue(app: &TestApp, token: &str) {
    for (name, ty, price) in [
        ("Emergency First Aid at Work", "EFAW", "75.00"),
        ("First Aid at Work", "FAW", "95.00"),
        ("Paediatric First Aid", "PAEDIATRIC", "85.00"),
    ] {
        app.create_course(token, name, ty, price).await;
    }
    for venue in [
        "York Conference Centre",
        "Leeds City Centre Training Venue",
        "Bradford Community Centre",
    ] {
        app.create_venue(token, venue).await;
    }
}

/// A fresh app with an admin and the catalogue.
async fn shop() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    catalogue(&app, &token).await;
    (app, token)
}

// ---------------------------------------------------------------------------------------
// What the sample should become, worked out from the JSON alone.

/// One row of the sample, as the test reads it.
struct Row {
    line: i64,
    value: Value,
}

fn rows_of(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    // One booking a line, after the opening bracket on line 1.
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with('{'))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), all.len());
    all.into_iter()
        .zip(lines)
        .map(|(value, line)| Row {
            line: line as i64,
            value,
        })
        .collect()
}

fn email_of(v: &Value) -> Option<String> {
    let e = v["contactDetails"]["email"].as_str()?.trim().to_lowercase();
    (e.contains('@') && !e.contains(' ')).then_some(e)
}

/// Pence from the amount as written (a string or a number), without a float.
fn pence(v: &Value) -> i64 {
    let text = match &v["totalAmount"] {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("amount {other}"),
    };
    let d: Decimal = text.parse().unwrap();
    (d * Decimal::ONE_HUNDRED).trunc().try_into().unwrap()
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    created: i64,
    skipped: i64,
    failed: i64,
    /// Line of each skipped row, and of the row it duplicates.
    skipped_lines: BTreeMap<i64, i64>,
    /// Line of each failed row and its reason's start.
    failed_lines: BTreeMap<i64, &'static str>,
    customers: HashSet<String>,
}

fn expected(rows: &[Row]) -> Expected {
    let mut e = Expected::default();
    let mut first_line: HashMap<&str, i64> = HashMap::new();
    for r in rows {
        let id = r.value["id"].as_str().unwrap();
        if let Some(&first) = first_line.get(id) {
            e.skipped += 1;
            e.skipped_lines.insert(r.line, first);
            continue;
        }
        first_line.insert(id, r.line);
        match (&r.value["contactDetails"]["email"], email_of(&r.value)) {
            (Value::Null, _) => {
                e.failed += 1;
                e.failed_lines.insert(r.line, "missing email");
            }
            (_, None) => {
                e.failed += 1;
                e.failed_lines.insert(r.line, "invalid email");
            }
            (_, Some(email)) => {
                e.created += 1;
                e.customers.insert(email);
            }
        }
    }
    e
}

/// A customer's counters as the sample says they should be: bookings not cancelled, money
/// paid (refunded bookings net to nothing), earliest and latest booking.
fn expected_totals(rows: &[Row], email: &str) -> (i32, i64, String, String) {
    let mut seen = HashSet::new();
    let mut live = 0;
    let mut spent = 0;
    let mut times = Vec::new();
    for r in rows {
        let v = &r.value;
        if !seen.insert(v["id"].as_str().unwrap().to_string()) {
            continue;
        }
        if email_of(v).as_deref() != Some(email) {
            continue;
        }
        if v["status"] != "cancelled" {
            live += 1;
        }
        if v["paymentStatus"] == "paid" {
            spent += pence(v);
        }
        times.push(v["createdAt"].as_str().unwrap().to_string());
    }
    times.sort();
    (
        live,
        spent,
        times.first().unwrap().clone(),
        times.last().unwrap().clone(),
    )
}

// ---------------------------------------------------------------------------------------
// The database, read back.

async fn latest_job(app: &TestApp) -> import_job::Model {
    let mut jobs = import_job::Entity::find().all(&app.db).await.unwrap();
    jobs.sort_by_key(|j| j.id);
    jobs.pop().expect("an import job")
}

/// Every row the import writes, by natural keys (no generated ids, references or import
/// times), table by table: two databases that received the same rows compare equal.
async fn snapshot(app: &TestApp) -> BTreeMap<&'static str, Vec<String>> {
    let db = &app.db;
    let users: HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Customer))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let courses: HashMap<Uuid, course::Model> = course::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let venues: HashMap<Uuid, venue::Model> = venue::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let sessions: HashMap<Uuid, course_session::Model> = course_session::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let bookings: HashMap<Uuid, booking::Model> = booking::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    let email = |id: &Uuid| users.get(id).map_or("?".to_string(), |u| u.email.clone());
    let session_key = |id: &Uuid| {
        let s = &sessions[id];
        format!(
            "{}@{}@{}",
            courses[&s.course_id].name,
            venues[&s.venue_id].name,
            s.starts_at.to_rfc3339()
        )
    };
    let legacy = |id: &Uuid| bookings[id].legacy_id.clone().unwrap_or_default();
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    out.insert(
        "users",
        users
            .values()
            .map(|u| {
                format!(
                    "{} {} {} {:?} {:?} {:?} {} {} {:?} {:?} {}",
                    u.email,
                    u.first_name,
                    u.last_name,
                    u.phone,
                    u.company_name,
                    u.customer_since,
                    u.total_bookings,
                    u.total_spent_pence,
                    u.first_booking_at,
                    u.last_booking_at,
                    u.last_activity_at.to_rfc3339()
                )
            })
            .collect(),
    );
    out.insert(
        "venues",
        venues
            .values()
            .map(|v| format!("{} {}", v.name, v.is_active))
            .collect(),
    );
    out.insert(
        "course_sessions",
        sessions
            .values()
            .map(|s| {
                format!(
                    "{} {:?} {} {}",
                    session_key(&s.id),
                    s.status,
                    s.capacity,
                    s.booked_places
                )
            })
            .collect(),
    );
    out.insert(
        "bookings",
        bookings
            .values()
            .map(|b| {
                format!(
                    "{:?} {:?} {} {} {:?} {:?} {} {} {} {} {} {} {:?} {:?} {}",
                    b.legacy_id,
                    b.legacy_reference,
                    email(&b.user_id),
                    session_key(&b.session_id),
                    b.status,
                    b.payment_status,
                    b.unit_price_pence,
                    b.discount_pence,
                    b.total_amount_pence,
                    b.amount_paid_pence,
                    b.amount_refunded_pence,
                    b.number_of_attendees,
                    b.special_requirements,
                    b.contact_details,
                    b.created_at.to_rfc3339()
                )
            })
            .collect(),
    );
    out.insert(
        "booking_attendees",
        booking_attendee::Entity::find()
            .all(db)
            .await
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{} {} {} {:?} {:?}",
                    legacy(&a.booking_id),
                    a.first_name,
                    a.last_name,
                    a.email,
                    a.user_id.map(|u| email(&u))
                )
            })
            .collect(),
    );
    out.insert(
        "payments",
        payment::Entity::find()
            .all(db)
            .await
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{} {} {} {:?} {:?} {:?}",
                    legacy(&p.booking_id),
                    email(&p.user_id),
                    p.amount_pence,
                    p.status,
                    p.method,
                    p.paid_at
                )
            })
            .collect(),
    );
    out.insert(
        "refunds",
        refund::Entity::find()
            .all(db)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {:?} {:?}",
                    legacy(&r.booking_id),
                    email(&r.user_id),
                    r.amount_pence,
                    r.status,
                    r.completed_at
                )
            })
            .collect(),
    );
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

/// Rows in every table the import writes to, or could.
async fn table_counts(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let mut out = BTreeMap::new();
    for t in [
        "users",
        "venues",
        "course_sessions",
        "bookings",
        "booking_attendees",
        "payments",
        "refunds",
        "certificates",
        "user_activity_logs",
        "audit_logs",
    ] {
        out.insert(t, app.count(t).await);
    }
    out
}

async fn job_counts(app: &TestApp, token: &str, id: Uuid) -> Value {
    app.gql_ok(
        "query($id: UUID!) { importJob(id: $id) { status dryRun rowsInFile counts { created updated unchanged skipped failed total } customersCreated venuesCreated sessionsCreated } }",
        json!({ "id": id }),
        Some(token),
    )
    .await["importJob"]
        .clone()
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn importing_the_sample_accounts_for_every_row() {
    let (app, token) = shop().await;
    let rows = rows_of(&sample());
    let want = expected(&rows);
    let report = tempfile::NamedTempFile::new().unwrap();

    let stdout = import_ok(
        &app,
        &sample(),
        &["--report", report.path().to_str().unwrap()],
    )
    .await;

    // The counts add up, and are the ones the file calls for.
    let job = latest_job(&app).await;
    let counts = job_counts(&app, &token, job.id).await;
    assert_eq!(
        counts,
        json!({
            "status": "FINISHED", "dryRun": false, "rowsInFile": rows.len(),
            "counts": {
                "created": want.created, "updated": 0, "unchanged": 0,
                "skipped": want.skipped, "failed": want.failed, "total": rows.len(),
            },
            "customersCreated": want.customers.len(),
            "venuesCreated": 2,
            "sessionsCreated": job.sessions_created,
        })
    );
    assert_eq!(want.created + want.skipped + want.failed, rows.len() as i64);
    assert!(want.skipped > 0 && want.failed > 0, "{want:?}");
    assert!(
        stdout.contains(&format!(
            "rows in file{:>8} = {} + 0 + 0 + {} + {}: every row accounted for",
            rows.len(),
            want.created,
            want.skipped,
            want.failed
        )),
        "{stdout}"
    );

    // Venues not in the catalogue were created, inactive, and the summary names them.
    for name in ["Client On-Site Training", "Sheffield Business Park"] {
        let v = venue::Entity::find()
            .filter(venue::Column::Name.eq(name))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name} created"));
        assert!(!v.is_active, "{name} is inactive");
        assert!(stdout.contains(name), "{stdout}");
    }

    // Every failed row is in the ledger with its reason; every duplicate is skipped.
    let ledger = legacy_import::rows_after(&app.db, job.id, &[], None, 10_000)
        .await
        .unwrap();
    assert_eq!(ledger.len(), rows.len());
    for r in &ledger {
        if let Some(reason) = want.failed_lines.get(&r.line) {
            assert_eq!(r.status.label(), "FAILED", "line {}", r.line);
            assert!(
                r.reason.as_deref().unwrap_or("").starts_with(reason),
                "line {}: {:?}",
                r.line,
                r.reason
            );
            assert!(r.raw_json.is_some(), "a failed row keeps its JSON");
            assert!(r.booking_id.is_none());
        } else if let Some(first) = want.skipped_lines.get(&r.line) {
            assert_eq!(r.status.label(), "SKIPPED", "line {}", r.line);
            assert_eq!(r.reason, Some(format!("duplicate of line {first}")));
        } else {
            assert_eq!(
                r.status.label(),
                "CREATED",
                "line {}: {:?}",
                r.line,
                r.reason
            );
            assert!(r.booking_id.is_some() && r.user_id.is_some());
        }
    }

    // One customer per email, whatever its case and spaces.
    let customers = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Customer))
        .all(&app.db)
        .await
        .unwrap();
    let emails: HashSet<String> = customers.iter().map(|u| u.email.clone()).collect();
    assert_eq!(emails, want.customers);
    let sian_rows = rows
        .iter()
        .filter(|r| email_of(&r.value).as_deref() == Some("sian.williams0@btinternet.com"))
        .count();
    let spellings: HashSet<&str> = rows
        .iter()
        .filter(|r| email_of(&r.value).as_deref() == Some("sian.williams0@btinternet.com"))
        .filter_map(|r| r.value["contactDetails"]["email"].as_str())
        .collect();
    assert!(sian_rows >= 300 && spellings.len() >= 3, "{spellings:?}");

    // The customer with hundreds of bookings has exact totals, from the API too.
    let sian = users::find_by_email(&app.db, "  SIAN.Williams0@btinternet.com ")
        .await
        .unwrap()
        .expect("one customer for every spelling");
    let (live, spent, first, last) = expected_totals(&rows, "sian.williams0@btinternet.com");
    assert_eq!(sian.total_bookings, live);
    assert_eq!(sian.total_spent_pence, spent);
    assert_eq!(
        sian.first_booking_at.unwrap().to_rfc3339(),
        first.replace('Z', "+00:00")
    );
    assert_eq!(
        sian.last_booking_at.unwrap().to_rfc3339(),
        last.replace('Z', "+00:00")
    );
    assert_eq!(
        sian.customer_since,
        Some(sian.first_booking_at.unwrap().date_naive())
    );
    let api = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { firstName totalBookings totalSpent phone companyName } }",
            json!({ "id": sian.id }),
            Some(&token),
        )
        .await;
    assert_eq!(api["user"]["totalBookings"], live);
    assert_eq!(
        api["user"]["totalSpent"].as_str().unwrap(),
        Decimal::new(spent, 2).to_string()
    );
    // Names come through intact; phones as given; an empty company is blank.
    assert_eq!(api["user"]["firstName"], "Siân");
    assert_eq!(api["user"]["phone"], "07700 900000");
    assert_eq!(api["user"]["companyName"], Value::Null);
    for (email, first_name) in [
        ("zoe.davies212@yahoo.co.uk", "Zoë"),
        ("sian.williams0@btinternet.com", "Siân"),
    ] {
        let u = customers.iter().find(|u| u.email == email).unwrap();
        assert_eq!(u.first_name, first_name);
    }
    for name in ["Chloé", "Zoë", "Siân"] {
        assert!(
            customers.iter().any(|u| u.first_name == name),
            "{name} is intact"
        );
    }
    assert!(customers.iter().any(|u| u.last_name == "O'Brien"));

    // The money: exact amounts, LEGACY payments paid when booked, completed refunds.
    let bookings = booking::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(bookings.len() as i64, want.created);
    let by_legacy: HashMap<String, &booking::Model> = bookings
        .iter()
        .map(|b| (b.legacy_id.clone().unwrap(), b))
        .collect();
    let payments = payment::Entity::find().all(&app.db).await.unwrap();
    let refunds = refund::Entity::find().all(&app.db).await.unwrap();
    let mut checked = HashSet::new();
    for r in &rows {
        let v = &r.value;
        let id = v["id"].as_str().unwrap();
        let Some(b) = by_legacy.get(id) else {
            continue;
        };
        if !checked.insert(id) {
            continue;
        }
        assert_eq!(b.total_amount_pence, pence(v), "{id}");
        assert_eq!(
            b.unit_price_pence * i64::from(b.number_of_attendees) - b.discount_pence,
            b.total_amount_pence
        );
        assert_eq!(
            b.number_of_attendees as usize,
            v["participants"].as_array().unwrap().len()
        );
        assert_eq!(
            b.legacy_reference.as_deref(),
            v["bookingReference"].as_str()
        );
        assert_eq!(
            b.created_at.to_rfc3339(),
            v["createdAt"].as_str().unwrap().replace('Z', "+00:00")
        );
        let mine: Vec<&payment::Model> = payments.iter().filter(|p| p.booking_id == b.id).collect();
        let refunded: Vec<&refund::Model> =
            refunds.iter().filter(|x| x.booking_id == b.id).collect();
        match v["paymentStatus"].as_str().unwrap() {
            "paid" => {
                assert_eq!(b.payment_status, PaymentStatus::Paid);
                assert_eq!(mine.len(), 1);
                assert_eq!(mine[0].method, PaymentMethod::Legacy);
                assert_eq!(mine[0].status, PaymentRecordStatus::Succeeded);
                assert_eq!(mine[0].amount_pence, b.total_amount_pence);
                assert_eq!(mine[0].paid_at, Some(b.created_at));
                assert!(refunded.is_empty());
            }
            "refunded" => {
                assert_eq!(b.payment_status, PaymentStatus::Refunded);
                assert_eq!(mine.len(), 1);
                assert_eq!(refunded.len(), 1);
                assert_eq!(refunded[0].status, RefundStatus::Completed);
                assert_eq!(refunded[0].amount_pence, b.total_amount_pence);
            }
            "failed" => {
                assert_eq!(b.payment_status, PaymentStatus::Failed);
                assert_eq!(mine.len(), 1);
                assert_eq!(mine[0].status, PaymentRecordStatus::Failed);
                assert_eq!(b.amount_paid_pence, 0);
            }
            "pending" => {
                assert_eq!(b.payment_status, PaymentStatus::Pending);
                assert!(mine.is_empty() && refunded.is_empty());
            }
            other => panic!("{other}"),
        }
        let status = v["status"].as_str().unwrap();
        assert_eq!(
            b.status,
            match status {
                "completed" => BookingStatus::Completed,
                "confirmed" => BookingStatus::Confirmed,
                "cancelled" => BookingStatus::Cancelled,
                "pending" => BookingStatus::Pending,
                "no_show" => BookingStatus::NoShow,
                other => panic!("{other}"),
            }
        );
    }

    // Sessions: past, completed, with room for their live bookings, counted.
    for s in course_session::Entity::find().all(&app.db).await.unwrap() {
        let live: i32 = bookings
            .iter()
            .filter(|b| b.session_id == s.id && b.status != BookingStatus::Cancelled)
            .map(|b| b.number_of_attendees)
            .sum();
        assert_eq!(s.booked_places, live);
        assert!(s.capacity >= live);
        assert_eq!(s.status, SessionStatus::Completed);
    }

    // Every counter equals the facts.
    let out = verify_stats(&app).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The report: one line per row, in file order, with the ids.
    let mut csv = csv::Reader::from_path(report.path()).unwrap();
    assert_eq!(
        csv.headers().unwrap().iter().collect::<Vec<_>>(),
        legacy_import::REPORT_HEADER
    );
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(&rows) {
        assert_eq!(record[0].parse::<i64>().unwrap(), row.line);
        assert_eq!(&record[1], row.value["id"].as_str().unwrap());
    }

    // Booking.legacyReference: admins only.
    let b = by_legacy.values().find(|b| b.user_id == sian.id).unwrap();
    let data = app
        .gql_ok(
            "query($id: UUID!) { booking(id: $id) { legacyReference reference } }",
            json!({ "id": b.id }),
            Some(&token),
        )
        .await;
    assert_eq!(
        data["booking"]["legacyReference"].as_str(),
        b.legacy_reference.as_deref()
    );
    assert_ne!(
        data["booking"]["reference"],
        data["booking"]["legacyReference"]
    );
    let (customer_token, _) = app.session_for(&sian).await;
    let body = app
        .gql(
            "{ me { bookings(first: 1) { edges { node { id legacyReference } } } } }",
            json!({}),
            Some(&customer_token),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
}

#[tokio::test]
async fn rerunning_changes_nothing_and_a_changed_row_updates_its_booking() {
    let (app, token) = shop().await;
    let rows = rows_of(&sample());
    let want = expected(&rows);
    import_ok(&app, &sample(), &[]).await;
    let first_job = latest_job(&app).await;
    let before = snapshot(&app).await;
    let counts_before = table_counts(&app).await;

    // The same file again: every imported row UNCHANGED, nothing written.
    import_ok(&app, &sample(), &[]).await;
    let rerun = latest_job(&app).await;
    assert_ne!(rerun.id, first_job.id, "a finished job is not resumed");
    assert_eq!(
        job_counts(&app, &token, rerun.id).await["counts"],
        json!({
            "created": 0, "updated": 0, "unchanged": want.created,
            "skipped": want.skipped, "failed": want.failed, "total": rows.len(),
        })
    );
    assert_eq!(snapshot(&app).await, before);
    let mut counts_after = table_counts(&app).await;
    // The run itself is audited once (its job and ledger rows are its report).
    assert_eq!(
        counts_after.remove("audit_logs").unwrap(),
        counts_before["audit_logs"] + 1
    );
    let mut expected_counts = counts_before.clone();
    expected_counts.remove("audit_logs");
    assert_eq!(counts_after, expected_counts, "no table grows");

    // A second export in which one paid booking was since cancelled and refunded, with a
    // guest added and a new phone: that row is UPDATED, the rest UNCHANGED.
    let target = rows
        .iter()
        .find(|r| {
            r.value["paymentStatus"] == "paid"
                && r.value["status"] == "confirmed"
                && email_of(&r.value).is_some()
        })
        .unwrap();
    let legacy_id = target.value["id"].as_str().unwrap().to_string();
    let original = booking::Entity::find()
        .filter(booking::Column::LegacyId.eq(&legacy_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let text = std::fs::read_to_string(sample()).unwrap();
    let mut changed: Vec<Value> = serde_json::from_str(&text).unwrap();
    for v in changed.iter_mut().filter(|v| v["id"] == legacy_id.as_str()) {
        v["status"] = json!("cancelled");
        v["paymentStatus"] = json!("refunded");
        v["participants"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "firstName": "Ffion", "lastName": "O'Neill", "email": null }));
        v["totalAmount"] = json!("190.00");
    }
    let second = tempfile::NamedTempFile::new().unwrap();
    let lines: Vec<String> = changed.iter().map(Value::to_string).collect();
    std::fs::write(second.path(), format!("[\n{}\n]\n", lines.join(",\n"))).unwrap();
    import_ok(&app, second.path(), &[]).await;
    let third = latest_job(&app).await;
    let duplicates_of_target = rows
        .iter()
        .filter(|r| r.value["id"] == legacy_id.as_str())
        .count() as i64;
    assert_eq!(
        job_counts(&app, &token, third.id).await["counts"],
        json!({
            "created": 0, "updated": 1, "unchanged": want.created - 1,
            "skipped": want.skipped, "failed": want.failed, "total": rows.len(),
        }),
        "(the target appears {duplicates_of_target} time(s))"
    );
    let updated = booking::Entity::find()
        .filter(booking::Column::LegacyId.eq(&legacy_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(updated.len(), 1, "an update is never a second booking");
    let b = &updated[0];
    assert_eq!((b.id, &b.reference), (original.id, &original.reference));
    assert_eq!(b.status, BookingStatus::Cancelled);
    assert_eq!(b.payment_status, PaymentStatus::Refunded);
    assert_eq!(b.total_amount_pence, 19_000);
    assert_eq!(b.number_of_attendees, original.number_of_attendees + 1);
    assert_eq!(
        (b.amount_paid_pence, b.amount_refunded_pence),
        (19_000, 19_000)
    );
    let pays = payment::Entity::find()
        .filter(payment::Column::BookingId.eq(b.id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        pays.len(),
        1,
        "the legacy payment is replaced, not added to"
    );
    assert_eq!(pays[0].status, PaymentRecordStatus::Refunded);
    let refunds = refund::Entity::find()
        .filter(refund::Column::BookingId.eq(b.id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
    let mut grown = table_counts(&app).await;
    grown.remove("audit_logs");
    assert_eq!(grown["bookings"], expected_counts["bookings"]);
    assert_eq!(grown["users"], expected_counts["users"]);
    assert_eq!(
        grown["booking_attendees"],
        expected_counts["booking_attendees"] + 1
    );
    assert_eq!(grown["refunds"], expected_counts["refunds"] + 1);
    let out = verify_stats(&app).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let ledger = legacy_import::rows_after(
        &app.db,
        third.id,
        &[rft_users::entities::enums::ImportRowStatus::Updated],
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].legacy_id.as_deref(), Some(legacy_id.as_str()));
    assert_eq!(ledger[0].booking_id, Some(b.id));
}

#[tokio::test]
async fn a_killed_import_resumes_to_the_state_of_one_clean_run() {
    // The clean run, in a database of its own.
    let (clean, _) = shop().await;
    import_ok(&clean, &sample(), &[]).await;
    let clean_job = latest_job(&clean).await;

    // The same import, killed (SIGKILL) once it has committed some chunks.
    let (app, token) = shop().await;
    let mut child = command(
        &app,
        &[
            "import-legacy",
            sample().to_str().unwrap(),
            "--chunk-size",
            "10",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = app.count("import_rows").await;
        if done >= 30 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be killed"
        );
        assert!(Instant::now() < deadline, "the import made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = latest_job(&app).await;
    assert_eq!(killed.status, ImportJobStatus::Running, "killed mid-run");
    let committed = app.count("import_rows").await;
    assert!(committed < killed.rows_in_file, "killed before the end");
    assert_eq!(committed % 10, 0, "whole chunks only: {committed}");
    assert_eq!(
        app.count("bookings").await,
        killed.created_count,
        "every committed booking is in the ledger, and no other"
    );

    // Run again: the job resumes and finishes.
    let stdout = import_ok(&app, &sample(), &[]).await;
    assert!(
        stdout.contains(&format!("resumed after {committed} rows")),
        "{stdout}"
    );
    let resumed = latest_job(&app).await;
    assert_eq!(resumed.id, killed.id, "the same job, finished");
    assert_eq!(resumed.status, ImportJobStatus::Finished);
    assert_eq!(app.count("import_rows").await, resumed.rows_in_file);
    let counts = |j: &import_job::Model| {
        (
            j.created_count,
            j.updated_count,
            j.unchanged_count,
            j.skipped_count,
            j.failed_count,
            j.customers_created,
            j.venues_created,
            j.sessions_created,
        )
    };
    assert_eq!(counts(&resumed), counts(&clean_job));
    assert_eq!(snapshot(&app).await, snapshot(&clean).await);
    let out = verify_stats(&app).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The API tells the same story.
    let data = job_counts(&app, &token, resumed.id).await;
    assert_eq!(data["status"], "FINISHED");
    assert_eq!(data["counts"]["total"], resumed.rows_in_file);
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_says_what_a_real_run_would_do() {
    let (app, token) = shop().await;
    let before = table_counts(&app).await;
    let data_before = snapshot(&app).await;
    let dry = import_ok(&app, &sample(), &["--dry-run"]).await;
    assert!(dry.contains("Dry run"), "{dry}");
    assert_eq!(table_counts(&app).await, before, "nothing written");
    assert_eq!(snapshot(&app).await, data_before);
    let dry_job = latest_job(&app).await;
    assert!(dry_job.dry_run);

    // The summary a dry run prints is the one the real run then prints.
    let real = import_ok(&app, &sample(), &[]).await;
    let real_job = latest_job(&app).await;
    assert!(!real_job.dry_run);
    let body = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("  ") && !l.contains("rows.csv"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(body(&dry), body(&real));
    assert!(body(&real).len() >= 8, "{real}");
    let dry_counts = job_counts(&app, &token, dry_job.id).await;
    let real_counts = job_counts(&app, &token, real_job.id).await;
    for field in [
        "counts",
        "customersCreated",
        "venuesCreated",
        "sessionsCreated",
        "rowsInFile",
    ] {
        assert_eq!(dry_counts[field], real_counts[field], "{field}");
    }
    // The dry run's rows point at nothing it did not keep.
    let rows = legacy_import::rows_after(&app.db, dry_job.id, &[], None, 10_000)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.booking_id.is_none()));

    // A dry run after the import: everything unchanged, still nothing written.
    let after = table_counts(&app).await;
    let again = import_ok(&app, &sample(), &["--dry-run"]).await;
    assert_eq!(table_counts(&app).await, after);
    let job = latest_job(&app).await;
    assert_eq!(job.created_count, 0);
    assert_eq!(job.unchanged_count, real_job.created_count, "{again}");
}

#[tokio::test]
async fn admins_see_imports_through_the_api_and_download_rows_as_csv() {
    let (app, token) = shop().await;
    import_ok(&app, &sample(), &[]).await;
    let rows = rows_of(&sample());
    let want = expected(&rows);

    let data = app
        .gql_ok(
            "{ importJobs(first: 5) { edges { cursor node { id source fileName dryRun status startedAt finishedAt counts { failed total } } } pageInfo { hasNextPage } } }",
            json!({}),
            Some(&token),
        )
        .await;
    let edges = data["importJobs"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    let job = &edges[0]["node"];
    assert_eq!(job["source"], "legacy");
    assert!(
        job["fileName"]
            .as_str()
            .unwrap()
            .ends_with("legacy-bookings.sample.json")
    );
    assert_eq!(job["dryRun"], false);
    assert_eq!(job["status"], "FINISHED");
    assert!(job["finishedAt"].is_string());
    assert_eq!(job["counts"]["failed"], want.failed);
    let id = job["id"].as_str().unwrap().to_string();

    // The failed rows, a page at a time, with their reasons; imported rows point at their
    // customer and booking.
    let page = "query($id: UUID!, $after: String) { importJob(id: $id) { rows(status: [FAILED], first: 25, after: $after) { edges { cursor node { id line legacyId reference status reason rawJson customer { id } booking { id } } } pageInfo { hasNextPage endCursor } } } }";
    let mut failed = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .gql_ok(page, json!({ "id": id, "after": after }), Some(&token))
            .await;
        let conn = &data["importJob"]["rows"];
        failed.extend(
            conn["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(failed.len() as i64, want.failed);
    let lines: Vec<i64> = failed.iter().map(|r| r["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, want.failed_lines.keys().copied().collect::<Vec<_>>());
    for r in &failed {
        assert_eq!(r["status"], "FAILED");
        assert!(r["reason"].as_str().unwrap().contains("email"), "{r}");
        assert!(
            r["rawJson"]
                .as_str()
                .unwrap()
                .contains(r["legacyId"].as_str().unwrap())
        );
        assert!(r["customer"].is_null() && r["booking"].is_null());
    }
    let created = app
        .gql_ok(
            "query($id: UUID!) { importJob(id: $id) { rows(status: [CREATED], first: 1) { edges { node { line reference customer { email } booking { id legacyReference totalAmount } } } } } }",
            json!({ "id": id }),
            Some(&token),
        )
        .await;
    let node = &created["importJob"]["rows"]["edges"][0]["node"];
    assert_eq!(node["line"], rows[0].line);
    assert_eq!(node["reference"], rows[0].value["bookingReference"]);
    assert_eq!(
        node["booking"]["legacyReference"],
        rows[0].value["bookingReference"]
    );
    assert_eq!(
        node["customer"]["email"].as_str(),
        email_of(&rows[0].value).as_deref()
    );
    let missing = app
        .gql_ok(
            "query($id: UUID!) { importJob(id: $id) { id } }",
            json!({ "id": Uuid::now_v7() }),
            Some(&token),
        )
        .await;
    assert!(missing["importJob"].is_null());

    // The same rows as CSV, with an admin's bearer token.
    let url = app.url(&format!("/imports/{id}/rows.csv?status=FAILED"));
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        legacy_import::REPORT_HEADER
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len() as i64, want.failed);
    assert!(
        records
            .iter()
            .all(|r| &r[3] == "FAILED" && !r[4].is_empty())
    );
    // Every row, when no status is given; several statuses at once.
    let all = app
        .client
        .get(app.url(&format!("/imports/{id}/rows.csv")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(all.lines().count(), rows.len() + 1);
    let two = app
        .client
        .get(app.url(&format!("/imports/{id}/rows.csv?status=FAILED,skipped")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(two.lines().count() as i64, want.failed + want.skipped + 1);

    // Nobody else.
    let anonymous = app.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let bad_token = app
        .client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_token.status(), 401);
    let (_, customer) = app.customer("casey@example.com").await;
    let (_, instructor) = app.logged_in(Role::Instructor, "ian@example.com").await;
    for t in [&customer, &instructor] {
        let resp = app.client.get(&url).bearer_auth(t).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert!(!resp.text().await.unwrap().contains("FAILED"));
    }
    let unknown = app
        .client
        .get(app.url(&format!("/imports/{}/rows.csv", Uuid::now_v7())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad = app
        .client
        .get(app.url(&format!("/imports/{id}/rows.csv?status=LOST")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// A file of a few rows written for one test.
pub(crate) fn file_of(rows: &[Value]) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    let lines: Vec<String> = rows.iter().map(Value::to_string).collect();
    std::fs::write(f.path(), format!("[\n{}\n]\n", lines.join(",\n"))).unwrap();
    f
}

pub(crate) fn legacy_row(id: &str, email: &str) -> Value {
    json!({
        "id": id, "bookingReference": format!("RFT-2022-{id}"), "courseType": "EFAW",
        "courseName": "Emergency First Aid at Work", "sessionDate": "2022-03-01",
        "venue": "York Conference Centre", "status": "completed", "paymentStatus": "paid",
        "totalAmount": 75.5, "createdAt": "2022-02-01T10:00:00Z",
        "contactDetails": { "firstName": "Ann", "lastName": "Other", "email": email,
            "phone": "+447700900999", "company": "" },
        "participants": [{ "firstName": "Ann", "lastName": "Other", "email": email }],
        "specialRequirements": null,
    })
}

#[tokio::test]
async fn rows_that_cannot_be_imported_fail_with_their_reason_and_the_rest_go_in() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    // Only EFAW is in this catalogue.
    app.create_course(&token, "Emergency First Aid at Work", "EFAW", "75.00")
        .await;
    let mut unknown_type = legacy_row("L-2", "two@example.com");
    unknown_type["courseType"] = json!("CPR");
    let mut no_course = legacy_row("L-3", "three@example.com");
    no_course["courseType"] = json!("FAW");
    let mut negative = legacy_row("L-4", "four@example.com");
    negative["totalAmount"] = json!("-75.00");
    let mut words = legacy_row("L-5", "five@example.com");
    words["totalAmount"] = json!("seventy five");
    let f = file_of(&[
        legacy_row("L-1", "One@Example.com"),
        unknown_type,
        no_course,
        negative,
        words,
        json!("not a booking"),
    ]);
    import_ok(&app, f.path(), &[]).await;
    let job = latest_job(&app).await;
    let ledger = legacy_import::rows_after(&app.db, job.id, &[], None, 10)
        .await
        .unwrap();
    let got: Vec<(String, Option<String>)> = ledger
        .iter()
        .map(|r| (r.status.label().to_string(), r.reason.clone()))
        .collect();
    let starts = [
        ("CREATED", ""),
        ("FAILED", "unknown course type"),
        ("FAILED", "unknown course: no FAW course"),
        ("FAILED", "bad amount"),
        ("FAILED", "bad amount"),
        ("FAILED", "not a booking"),
    ];
    for ((status, reason), (want_status, want_reason)) in got.iter().zip(starts) {
        assert_eq!(status, want_status, "{got:?}");
        assert!(
            reason.as_deref().unwrap_or("").starts_with(want_reason),
            "{got:?}"
        );
    }
    let b = booking::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(b.total_amount_pence, 7550, "75.5 as a JSON number, exactly");
    let u = users::find_by_email(&app.db, "one@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.phone.as_deref(), Some("+447700900999"), "stored as given");
    assert_eq!(u.company_name, None);
}

#[tokio::test]
async fn a_file_that_is_not_json_stops_with_line_and_column_and_writes_nothing() {
    let (app, _) = shop().await;
    let f = tempfile::NamedTempFile::new().unwrap();
    let good = legacy_row("L-1", "one@example.com").to_string();
    std::fs::write(f.path(), format!("[\n{good},\n{{\"id\" \"L-2\"}}\n]\n")).unwrap();
    let before = table_counts(&app).await;
    let out = import(&app, f.path(), &[]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3, column 7"), "{stderr}");
    assert_eq!(table_counts(&app).await, before);
    assert_eq!(app.count("import_jobs").await, 0);
    // A file that does not exist cannot be imported either.
    let out = import(&app, Path::new("/nonexistent/export.json"), &[]).await;
    assert!(!out.status.success());
}

#[tokio::test]
async fn a_merged_customer_s_bookings_go_to_the_survivor() {
    let (app, _) = shop().await;
    let now = chrono::Utc::now();
    let mut survivor = users::blank("kept@example.com".into(), "Kim".into(), "Kept".into(), now);
    users::refresh_derived(&mut survivor);
    let survivor = users::insert(&app.db, survivor).await.unwrap();
    let mut tombstone = users::blank("old@example.com".into(), "Kim".into(), "Old".into(), now);
    tombstone.merged_into_id = Some(survivor.id);
    users::refresh_derived(&mut tombstone);
    users::insert(&app.db, tombstone).await.unwrap();

    let found = legacy_import::find_customer_by_email(&app.db, " OLD@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, survivor.id);

    let f = file_of(&[legacy_row("L-1", "old@example.com")]);
    import_ok(&app, f.path(), &[]).await;
    let b = booking::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(b.user_id, survivor.id);
    let kept = app.user_row(survivor.id).await;
    assert_eq!(kept.total_bookings, 1);
    assert_eq!(
        kept.phone.as_deref(),
        Some("+447700900999"),
        "blank phone filled"
    );
}

/// New customers from the import go through the duplicate matcher in the import's
/// transaction: a renewal under a new email (same name, the phone typed another way) is a
/// likely duplicate on the admins' worklist; the import itself merges nothing.
#[tokio::test]
async fn imported_customers_reach_the_duplicates_worklist() {
    let (app, _) = shop().await;
    let now = chrono::Utc::now();
    let mut earlier = users::blank(
        "ann.work@example.com".into(),
        "Ann".into(),
        "Other".into(),
        now,
    );
    earlier.phone = Some("07700 900999".into());
    users::refresh_derived(&mut earlier);
    let earlier = users::insert(&app.db, earlier).await.unwrap();

    let f = file_of(&[legacy_row("L-7", "ann.home@example.com")]);
    import_ok(&app, f.path(), &[]).await;
    let imported = rft_users::entities::user::Entity::find()
        .filter(rft_users::entities::user::Column::Email.eq("ann.home@example.com"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the import created the customer");
    assert!(imported.merged_into_id.is_none(), "the import never merges");
    let key = if earlier.id < imported.id {
        (earlier.id, imported.id)
    } else {
        (imported.id, earlier.id)
    };
    let pair = rft_users::entities::duplicate_pair::Entity::find_by_id(key)
        .one(&app.db)
        .await
        .unwrap()
        .expect("the pair is on the worklist");
    assert!(pair.score >= 0.9, "{pair:?}");
    assert!(
        rft_users::services::duplicates::stored_keys(&app.db, imported.id)
            .await
            .unwrap()
            .is_some_and(|k| k.phone_key.as_deref() == Some("+447700900999")),
        "the imported phone has its matching key"
    );
}

#[tokio::test]
async fn a_customer_erased_on_request_is_not_imported_again() {
    use rft_users::entities::import_row;
    let (app, token) = shop().await;
    import_ok(&app, &sample(), &[]).await;
    let zoe = users::find_by_email(&app.db, "zoe.davies212@yahoo.co.uk")
        .await
        .unwrap()
        .expect("the sample's first customer");
    let rows_of_zoe = rows_of(&sample())
        .iter()
        .filter(|r| email_of(&r.value).as_deref() == Some("zoe.davies212@yahoo.co.uk"))
        .count();
    assert!(rows_of_zoe > 0);
    app.gql_ok(
        "mutation($id: UUID!) { eraseUser(userId: $id, reason: \"Asked by phone\") { erasedAt } }",
        json!({ "id": zoe.id }),
        Some(&token),
    )
    .await;
    let customers = app.count("users").await;

    // The same file again, with the source's rows recognised by legacy id.
    import_ok(&app, &sample(), &[]).await;

    let job = latest_job(&app).await;
    let skipped = import_row::Entity::find()
        .filter(import_row::Column::JobId.eq(job.id))
        .filter(import_row::Column::Reason.eq("erased"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(skipped.len(), rows_of_zoe);
    assert!(
        skipped
            .iter()
            .all(|r| r.user_id.is_none() && r.booking_id.is_none())
    );
    assert_eq!(app.count("users").await, customers, "nobody came back");
    assert!(
        users::find_by_email(&app.db, "zoe.davies212@yahoo.co.uk")
            .await
            .unwrap()
            .is_none()
    );
    let erased = app.user_row(zoe.id).await;
    assert_eq!(erased.first_name, "Erased");
}
