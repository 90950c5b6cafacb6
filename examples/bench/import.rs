//! `--scenario import`: `rft-users import-legacy` over a generated export of `--rows` rows
//! (100,000 by default) holding the sample's traps (one email in three spellings, phones in
//! three formats, empty-string companies, rows with no or an invalid email, rows exported
//! twice, accented names, one customer with a fifth of the bookings, venues not in the
//! catalogue, amounts as strings and as numbers), against the floor: the same customers,
//! sessions, bookings and payments written with plain multi-row INSERTs and no checks, in
//! a database of its own, in the same run. It reports rows per second of both, their
//! ratio, and the import's peak RSS; then reruns the import (every row UNCHANGED).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, TimeZone, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rft_users::entities::{enums::*, *};
use rft_users::services::{references, users};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, IntoActiveModel};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{FIRST, LAST, catalogue, status_mib};

const VENUES: [&str; 5] = [
    "Leeds City Centre Training Venue",
    "York Conference Centre",
    "Bradford Community Centre",
    "Client On-Site Training",
    "Sheffield Business Park",
];
const COURSES: [(&str, &str, i64); 3] = [
    ("EFAW", "Emergency First Aid at Work", 7500),
    ("FAW", "First Aid at Work", 9500),
    ("PAEDIATRIC", "Paediatric First Aid", 8500),
];
const COMPANIES: [&str; 5] = [
    "York Nursery Group",
    "Leeds Building Society",
    "Bradford Care Homes",
    "Harrogate Hotels",
    "Sheffield Steel Ltd",
];
const REQUIREMENTS: [&str; 3] = ["Wheelchair access", "Vegetarian", "Hearing loop"];

/// What the floor writes for one generated booking.
struct Generated {
    email: Option<String>,
    first: String,
    last: String,
    phone: Option<String>,
    company: Option<String>,
    course: usize,
    venue: usize,
    session_date: NaiveDate,
    status: BookingStatus,
    payment: &'static str,
    amount_pence: i64,
    created_at: DateTime<Utc>,
    attendees: usize,
    legacy_id: String,
    reference: String,
    /// A second copy of an earlier row, or a row without a usable email: not imported.
    dropped: bool,
}

/// Writes the export and returns its rows.
fn generate(rows: usize, path: &Path) -> anyhow::Result<Vec<Generated>> {
    let mut rng = StdRng::seed_from_u64(2026);
    let customers = (rows as f64 / 3.6) as usize;
    let start = Utc
        .with_ymd_and_hms(2019, 1, 1, 9, 0, 0)
        .single()
        .unwrap_or_default();
    let mut out = Vec::with_capacity(rows);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(file, "[")?;
    let mut lines: Vec<Value> = Vec::new();
    let mut emitted = 0;
    let mut n = 0usize;
    while emitted < rows {
        // About 0.65% of rows are exported twice, a little later in the file.
        if !lines.is_empty() && rng.gen_bool(0.0065) {
            let k = rng.gen_range(0..lines.len());
            let again = lines[k].clone();
            let g = &out[k];
            let copy = Generated {
                email: None,
                first: String::new(),
                last: String::new(),
                phone: None,
                company: None,
                dropped: true,
                legacy_id: String::new(),
                reference: String::new(),
                ..*g
            };
            out.push(copy);
            lines.push(again.clone());
            write!(file, "{}{}", if emitted == 0 { "" } else { ",\n" }, again)?;
            emitted += 1;
            continue;
        }
        n += 1;
        // A fifth of the bookings are one customer's, in three spellings of one email.
        let heavy = rng.gen_bool(0.2);
        let c = if heavy {
            0
        } else {
            rng.gen_range(1..customers)
        };
        let first = if c == 0 {
            "Siân"
        } else {
            FIRST[c % FIRST.len()]
        };
        let last = if c == 0 {
            "Williams"
        } else {
            LAST[(c / 7) % LAST.len()]
        };
        let clean = format!(
            "{}.{}{c}@example.co.uk",
            first.to_lowercase().replace(['ë', 'â'], "a"),
            last.to_lowercase().replace('\'', "")
        );
        let roll: f64 = rng.r#gen();
        let raw_email: Value = if roll < 0.011 {
            Value::Null
        } else if roll < 0.019 {
            json!("john at example dot com")
        } else if roll < 0.15 {
            json!(clean.to_uppercase())
        } else if roll < 0.27 {
            json!(format!("  {}{} ", clean[..1].to_uppercase(), &clean[1..]))
        } else {
            json!(clean)
        };
        let digits = format!("900{:03}", c % 1000);
        let phone = match rng.gen_range(0..20) {
            0 => None,
            1..=7 => Some(format!("07700 {digits}")),
            8..=13 => Some(format!("07700{digits}")),
            _ => Some(format!("+447700{digits}")),
        };
        let company = match c % 7 {
            0..=2 => None,
            3 if c % 5 == 0 => Some(String::new()),
            k => Some(COMPANIES[k % COMPANIES.len()].to_string()),
        };
        let course = rng.gen_range(0..COURSES.len());
        let venue = rng.gen_range(0..VENUES.len());
        let created_at = start + ChronoDuration::minutes(rng.gen_range(0..(6 * 365 * 24 * 60)));
        let session_date = (created_at + ChronoDuration::days(rng.gen_range(3..40))).date_naive();
        let attendees = if rng.gen_bool(0.75) {
            1
        } else {
            rng.gen_range(2..=8)
        };
        let (status, payment, bstatus) = match rng.gen_range(0..1000) {
            0..=602 => ("completed", "paid", BookingStatus::Completed),
            603..=793 => ("confirmed", "paid", BookingStatus::Confirmed),
            794..=846 => ("pending", "pending", BookingStatus::Pending),
            847..=896 => ("no_show", "paid", BookingStatus::NoShow),
            897..=932 => ("cancelled", "refunded", BookingStatus::Cancelled),
            933..=967 => ("cancelled", "failed", BookingStatus::Cancelled),
            _ => ("cancelled", "pending", BookingStatus::Cancelled),
        };
        let amount_pence = COURSES[course].2 * attendees as i64;
        let amount: Value = if rng.gen_bool(0.8) {
            json!(format!("{}.{:02}", amount_pence / 100, amount_pence % 100))
        } else {
            // A JSON number, as the old service sometimes wrote it.
            serde_json::from_str(&format!("{}.0", amount_pence / 100))?
        };
        let legacy_id = Uuid::new_v4().to_string();
        let reference = format!("RFT-{}-{n:06}", created_at.format("%Y"));
        let participants: Vec<Value> = (0..attendees)
            .map(|i| {
                if i == 0 {
                    json!({"firstName": first, "lastName": last, "email": clean})
                } else {
                    let f = FIRST[(c + i * 3) % FIRST.len()];
                    let l = LAST[(c + i * 5) % LAST.len()];
                    let email = rng
                        .gen_bool(0.7)
                        .then(|| format!("{}.{}{i}@example.com", c, i));
                    json!({"firstName": f, "lastName": l, "email": email})
                }
            })
            .collect();
        let special = rng
            .gen_bool(0.5)
            .then(|| REQUIREMENTS[rng.gen_range(0..REQUIREMENTS.len())]);
        let row = json!({
            "id": legacy_id, "bookingReference": reference,
            "courseType": COURSES[course].0, "courseName": COURSES[course].1,
            "sessionDate": session_date.to_string(), "venue": VENUES[venue],
            "status": status, "paymentStatus": payment, "totalAmount": amount,
            "createdAt": created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "contactDetails": {"firstName": first, "lastName": last, "email": raw_email,
                "phone": phone, "company": company},
            "participants": participants, "specialRequirements": special,
        });
        write!(file, "{}{}", if emitted == 0 { "" } else { ",\n" }, row)?;
        let email = raw_email
            .as_str()
            .filter(|e| e.contains('@'))
            .map(|e| e.trim().to_lowercase());
        out.push(Generated {
            dropped: email.is_none(),
            email,
            first: first.into(),
            last: last.into(),
            phone,
            company: company.filter(|c| !c.is_empty()),
            course,
            venue,
            session_date,
            status: bstatus,
            payment,
            amount_pence,
            created_at,
            attendees,
            legacy_id,
            reference,
        });
        lines.push(row);
        emitted += 1;
    }
    writeln!(file, "\n]")?;
    file.flush()?;
    Ok(out)
}

/// Peak memory of a process, in MiB.
#[derive(Debug, Default, Clone, Copy)]
struct Peak {
    /// Resident set (VmHWM), including the database file's pages SQLite maps in.
    rss: f64,
    /// Anonymous memory (heap and stacks), sampled.
    anon: f64,
}

impl std::fmt::Display for Peak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "peak RSS {:.1} MiB (heap {:.1} MiB)",
            self.rss, self.anon
        )
    }
}

/// Runs a command to its end, sampling its peak resident memory; returns the wall time,
/// the peaks and its standard output.
fn run_measured(mut command: Command) -> anyhow::Result<(Duration, Peak, String)> {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let mut peak = Peak::default();
    loop {
        if let Some(m) = status_mib(pid, "VmHWM:") {
            peak.rss = peak.rss.max(m);
        }
        if let Some(m) = status_mib(pid, "RssAnon:") {
            peak.anon = peak.anon.max(m);
        }
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        anyhow::bail!(
            "{command:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((elapsed, peak, stdout))
}

/// The floor: the rows the import would write to `users`, `course_sessions`, `bookings` and
/// `payments` (and `refunds`), built in memory and inserted with multi-row INSERTs, a few
/// thousand rows a transaction, with no lookups and no checks.
async fn floor(db: &DatabaseConnection, rows: &[Generated]) -> anyhow::Result<(Duration, usize)> {
    let courses = course::Entity::find().all(db).await?;
    let course_id = |k: usize| {
        courses
            .iter()
            .find(|c| c.name == COURSES[k].1)
            .map_or(Uuid::nil(), |c| c.id)
    };
    let venues: HashMap<String, Uuid> = venue::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.name, v.id))
        .collect();
    let now = Utc::now();
    let started = Instant::now();
    // Venues the export names that the catalogue lacks.
    let mut venue_ids = Vec::new();
    let mut new_venues = Vec::new();
    for name in VENUES {
        match venues.get(name) {
            Some(id) => venue_ids.push(*id),
            None => {
                let id = Uuid::now_v7();
                venue_ids.push(id);
                new_venues.push(venue::Model {
                    id,
                    name: name.into(),
                    address_line_1: None,
                    address_line_2: None,
                    city: None,
                    postcode: None,
                    capacity: None,
                    facilities: None,
                    parking_info: None,
                    is_active: false,
                    created_at: now,
                    updated_at: now,
                });
            }
        }
    }
    insert_batched(db, new_venues).await?;

    let mut user_of: HashMap<String, Uuid> = HashMap::new();
    let mut new_users = Vec::new();
    let mut session_of: HashMap<(usize, usize, NaiveDate), Uuid> = HashMap::new();
    let mut sessions = Vec::new();
    let mut bookings = Vec::new();
    let mut payments = Vec::new();
    let mut refunds = Vec::new();
    let mut written = 0;
    for g in rows.iter().filter(|g| !g.dropped) {
        let Some(email) = &g.email else { continue };
        written += 1;
        let user_id = *user_of.entry(email.clone()).or_insert_with(|| {
            let mut u = users::blank(email.clone(), g.first.clone(), g.last.clone(), now);
            u.phone = g.phone.clone();
            u.company_name = g.company.clone();
            u.customer_since = Some(g.created_at.date_naive());
            users::refresh_derived(&mut u);
            let id = u.id;
            new_users.push(u);
            id
        });
        let session_id = *session_of
            .entry((g.course, g.venue, g.session_date))
            .or_insert_with(|| {
                let starts = g
                    .session_date
                    .and_hms_opt(9, 0, 0)
                    .unwrap_or_default()
                    .and_utc();
                let s = course_session::Model {
                    id: Uuid::now_v7(),
                    course_id: course_id(g.course),
                    venue_id: venue_ids[g.venue],
                    instructor_id: None,
                    starts_at: starts,
                    ends_at: starts + ChronoDuration::hours(6),
                    capacity: 12,
                    booked_places: 0,
                    status: SessionStatus::Completed,
                    cancelled_at: None,
                    cancellation_reason: None,
                    created_by_id: None,
                    updated_by_id: None,
                    created_at: now,
                    updated_at: now,
                };
                let id = s.id;
                sessions.push(s);
                id
            });
        let (pstatus, paid, refunded, pay) = match g.payment {
            "paid" => (
                PaymentStatus::Paid,
                g.amount_pence,
                0,
                Some(PaymentRecordStatus::Succeeded),
            ),
            "refunded" => (
                PaymentStatus::Refunded,
                g.amount_pence,
                g.amount_pence,
                Some(PaymentRecordStatus::Refunded),
            ),
            "failed" => (
                PaymentStatus::Failed,
                0,
                0,
                Some(PaymentRecordStatus::Failed),
            ),
            _ => (PaymentStatus::Pending, 0, 0, None),
        };
        let b = booking::Model {
            id: Uuid::now_v7(),
            user_id,
            session_id,
            reference: references::booking_reference(),
            status: g.status,
            payment_status: pstatus,
            unit_price_pence: g.amount_pence / g.attendees as i64,
            discount_pence: 0,
            total_amount_pence: g.amount_pence,
            amount_paid_pence: paid,
            amount_refunded_pence: refunded,
            number_of_attendees: g.attendees as i32,
            special_requirements: None,
            contact_details: None,
            legacy_id: Some(g.legacy_id.clone()),
            legacy_reference: Some(g.reference.clone()),
            confirmation_sent: true,
            reminder_sent: true,
            certificate_issued: false,
            cancelled_at: None,
            cancellation_reason: None,
            created_by_id: None,
            updated_by_id: None,
            created_at: g.created_at,
            updated_at: now,
        };
        if let Some(status) = pay {
            let p = payment::Model {
                id: Uuid::now_v7(),
                booking_id: b.id,
                user_id,
                stripe_payment_intent_id: None,
                amount_pence: g.amount_pence,
                currency: "GBP".into(),
                status,
                method: PaymentMethod::Legacy,
                recorded_by_id: None,
                paid_at: Some(g.created_at),
                created_at: g.created_at,
                updated_at: now,
            };
            if refunded > 0 {
                refunds.push(refund::Model {
                    id: Uuid::now_v7(),
                    booking_id: b.id,
                    payment_id: Some(p.id),
                    user_id,
                    reference: references::refund_reference(),
                    amount_pence: refunded,
                    processing_fee_pence: 0,
                    status: RefundStatus::Completed,
                    reason: "Refunded in the legacy booking system".into(),
                    stripe_refund_id: None,
                    requested_by_id: None,
                    processed_by_id: None,
                    requested_at: g.created_at,
                    approved_at: Some(g.created_at),
                    rejected_at: None,
                    completed_at: Some(g.created_at),
                    created_at: g.created_at,
                    updated_at: now,
                });
            }
            payments.push(p);
        }
        bookings.push(b);
    }
    insert_batched(db, new_users).await?;
    insert_batched(db, sessions).await?;
    insert_batched(db, bookings).await?;
    insert_batched(db, payments).await?;
    insert_batched(db, refunds).await?;
    Ok((started.elapsed(), written))
}

/// Multi-row INSERTs (as many rows per statement as SQLite's bound-parameter limit allows),
/// a transaction per 5,000 rows.
async fn insert_batched<A, M>(db: &DatabaseConnection, rows: Vec<M>) -> anyhow::Result<()>
where
    A: sea_orm::ActiveModelTrait + Send,
    M: IntoActiveModel<A>,
{
    use sea_orm::{Iterable, TransactionTrait};
    let per_statement = (30_000 / <A::Entity as EntityTrait>::Column::iter().count()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let txn = db.begin().await?;
        let mut in_txn = 0;
        while in_txn < 5_000 && rows.peek().is_some() {
            let batch: Vec<A> = rows
                .by_ref()
                .take(per_statement)
                .map(|m| m.into_active_model().reset_all())
                .collect();
            in_txn += batch.len();
            <A::Entity as EntityTrait>::insert_many(batch)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

fn counts_line(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| l.contains("rows in file"))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A fresh database for one side of the comparison: a SQLite file in `dir`, or a new
/// database on the PostgreSQL server.
async fn fresh(server: Option<&str>, dir: &Path, name: &str) -> anyhow::Result<String> {
    match server {
        None => Ok(format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("{name}.db")).display()
        )),
        Some(server) => {
            let admin = Database::connect(server).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            admin.close().await?;
            // `postgres://u@h/db?host=/var/run/postgresql` (a Unix socket) keeps its query.
            let (url, query) = server
                .split_once('?')
                .map_or((server, None), |(u, q)| (u, Some(q)));
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
            Ok(match query {
                Some(q) => format!("{base}/{name}?{q}"),
                None => format!("{base}/{name}"),
            })
        }
    }
}

async fn drop_database(server: Option<&str>, name: &str) {
    if let Some(server) = server
        && let Ok(admin) = Database::connect(server).await
    {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// `--scenario import`.
pub async fn run(
    server: Option<&str>,
    bin: &Path,
    rows: usize,
    chunk_size: Option<usize>,
) -> anyhow::Result<()> {
    let backend = if server.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let dir = tempfile::tempdir()?;
    let file: PathBuf = dir.path().join("legacy-export.json");
    let t = Instant::now();
    let generated = generate(rows, &file)?;
    let expected = generated.iter().filter(|g| !g.dropped).count();
    let customers: HashSet<&String> = generated
        .iter()
        .filter(|g| !g.dropped)
        .filter_map(|g| g.email.as_ref())
        .collect();
    eprintln!(
        "generated {rows} rows ({:.1} MB, {expected} importable, {} customers) in {:.1}s",
        std::fs::metadata(&file)?.len() as f64 / 1e6,
        customers.len(),
        t.elapsed().as_secs_f64()
    );

    let import_url = fresh(server, dir.path(), "rft_bench_import").await?;
    let floor_url = fresh(server, dir.path(), "rft_bench_floor").await?;
    for url in [&import_url, &floor_url] {
        let db = rft_users::db::connect(url, 4).await?;
        rft_users::db::migrate(&db).await?;
        catalogue(&db).await?;
        db.close().await?;
    }

    let secret = rft_users::auth::tokens::random_token(48);
    let import = |url: &str| {
        let mut cmd = Command::new(bin);
        cmd.arg("import-legacy")
            .arg(&file)
            .env("DATABASE_URL", url)
            .env("RFT_DATA_KEYS", super::bench_keys())
            .env("RFT_JWT_SECRET", &secret)
            .env("RUST_LOG", "warn");
        if let Some(n) = chunk_size {
            cmd.arg("--chunk-size").arg(n.to_string());
        }
        cmd
    };
    let (import_time, import_peak, stdout) = run_measured(import(&import_url))?;
    let summary = counts_line(&stdout);
    if !summary.contains("every row accounted for") {
        anyhow::bail!("the import did not account for every row:\n{stdout}");
    }
    let mut verify = Command::new(bin);
    verify
        .arg("verify-stats")
        .env("DATABASE_URL", &import_url)
        .env("RFT_DATA_KEYS", super::bench_keys());
    run_measured(verify).map_err(|e| anyhow::anyhow!("verify-stats: {e}"))?;

    let floor_db = rft_users::db::connect(&floor_url, 4).await?;
    let (floor_time, floor_rows) = floor(&floor_db, &generated).await?;
    floor_db.close().await?;

    let (rerun_time, rerun_peak, rerun_stdout) = run_measured(import(&import_url))?;

    let per_sec = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "backend: {backend}; {rows} rows in the file ({expected} importable, {} customers)",
        customers.len()
    );
    println!(
        "import: {:.1} s, {:.0} rows/s, {import_peak}; {summary}",
        import_time.as_secs_f64(),
        per_sec(rows, import_time)
    );
    println!(
        "floor (multi-row INSERTs of the same customers, sessions, bookings, payments, refunds): {:.1} s, {:.0} rows/s ({floor_rows} bookings)",
        floor_time.as_secs_f64(),
        per_sec(rows, floor_time)
    );
    println!(
        "import / floor: {:.2}x",
        import_time.as_secs_f64() / floor_time.as_secs_f64()
    );
    println!(
        "rerun (every row unchanged): {:.1} s, {:.0} rows/s, {rerun_peak}; {}",
        rerun_time.as_secs_f64(),
        per_sec(rows, rerun_time),
        counts_line(&rerun_stdout)
    );
    drop_database(server, "rft_bench_import").await;
    drop_database(server, "rft_bench_floor").await;
    Ok(())
}
