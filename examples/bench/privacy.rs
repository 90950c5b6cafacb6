//! The `privacy` scenario: what the fields encrypted at rest cost, and how fast their keys
//! rotate and a customer's data exports.
//!
//! Over the seeded users and bookings (every user given every sensitive field, every
//! booking special requirements, written in plaintext as an older version would have):
//! 1. the encryption of that plaintext after the migrations (`encryption::reseal`, as
//!    `db::migrate` runs it): rows per second;
//! 2. the nested customer query of 50 users with their bookings, selecting every
//!    encrypted field: p50 and p99 with the values present (each decrypted on read), then
//!    with the same fields empty, in the same run: the ratio is what encryption costs;
//! 3. `rft-users rotate-keys` to a new key: rows per second;
//! 4. `exportUserData` of one customer with 500 bookings: p50 and p99.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use rft_users::entities::{encrypted, enums::*, *};
use rft_users::services::encryption::{self, Scope};
use rft_users::services::references;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Checked, ms, percentile};

/// The nested query, selecting every encrypted field of the users and their bookings.
const NESTED_SENSITIVE: &str = r#"query { users(first: 50) { edges { node { id firstName lastName
  dateOfBirth medicalNotes dietaryRequirements emergencyContactName emergencyContactPhone
  emergencyContactRelationship bookings { edges { node { reference specialRequirements
  session { course { name } venue { name } } payments { amount } } } } } } } }"#;

const EXPORT: &str = "query($id: UUID!) { exportUserData(userId: $id) }";

/// Fills every sensitive field of every user and booking with plaintext (or, with
/// `None`, empties them), by plain SQL.
async fn set_sensitive(db: &DatabaseConnection, fill: bool) -> anyhow::Result<()> {
    let users = match fill {
        true => {
            "UPDATE users SET date_of_birth = '1985-03-02', medical_notes = 'Asthma; carries an inhaler', \
                 dietary_requirements = 'Vegetarian', emergency_contact_name = 'Pat Example', \
                 emergency_contact_phone = '07700900461', emergency_contact_relationship = 'Partner'"
        }
        false => {
            "UPDATE users SET date_of_birth = NULL, medical_notes = NULL, dietary_requirements = NULL, \
                  emergency_contact_name = NULL, emergency_contact_phone = NULL, emergency_contact_relationship = NULL"
        }
    };
    let bookings = match fill {
        true => "UPDATE bookings SET special_requirements = 'Step-free access please'",
        false => "UPDATE bookings SET special_requirements = NULL",
    };
    db.execute_unprepared(users).await?;
    db.execute_unprepared(bookings).await?;
    Ok(())
}

/// `requests` sequential requests of `query`: sorted latencies. Fails on any error.
async fn latencies(
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    query: &str,
    variables: Value,
    requests: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let body: Checked = client
            .post(endpoint)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?
            .json()
            .await?;
        out.push(started.elapsed());
        if let Some(errors) = body.errors {
            anyhow::bail!("{query}: {errors}");
        }
    }
    out.sort();
    Ok(out)
}

/// One customer with `n` bookings (and their payments), the first `n` sessions round.
async fn customer_with_bookings(db: &DatabaseConnection, n: usize) -> anyhow::Result<Uuid> {
    let user_id: Uuid = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .into_tuple()
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no users"))?;
    let sessions: Vec<Uuid> = course_session::Entity::find()
        .select_only()
        .column(course_session::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    anyhow::ensure!(!sessions.is_empty(), "no sessions");
    let now = Utc::now();
    let mut bookings = Vec::new();
    let mut payments = Vec::new();
    for i in 0..n {
        let at = now - ChronoDuration::days(i as i64);
        let id = Uuid::now_v7();
        bookings.push(
            booking::Model {
                id,
                user_id,
                session_id: sessions[i % sessions.len()],
                reference: references::booking_reference(),
                status: BookingStatus::Completed,
                payment_status: PaymentStatus::Paid,
                unit_price_pence: 7500,
                discount_pence: 0,
                total_amount_pence: 7500,
                amount_paid_pence: 7500,
                amount_refunded_pence: 0,
                number_of_attendees: 1,
                special_requirements: encrypted::seal_at(
                    Some("Step-free access please".into()),
                    id,
                ),
                contact_details: Some(json!({ "firstName": "Bench", "lastName": "Customer" })),
                legacy_id: None,
                legacy_reference: None,
                confirmation_sent: true,
                reminder_sent: true,
                certificate_issued: false,
                cancelled_at: None,
                cancellation_reason: None,
                created_by_id: None,
                updated_by_id: None,
                created_at: at,
                updated_at: at,
            }
            .into_active_model(),
        );
        payments.push(
            payment::Model {
                id: Uuid::now_v7(),
                booking_id: id,
                user_id,
                stripe_payment_intent_id: None,
                amount_pence: 7500,
                currency: "GBP".into(),
                status: PaymentRecordStatus::Succeeded,
                method: PaymentMethod::Card,
                recorded_by_id: None,
                paid_at: Some(at),
                created_at: at,
                updated_at: at,
            }
            .into_active_model(),
        );
        if bookings.len() == 100 {
            booking::Entity::insert_many(std::mem::take(&mut bookings))
                .exec_without_returning(db)
                .await?;
            payment::Entity::insert_many(std::mem::take(&mut payments))
                .exec_without_returning(db)
                .await?;
        }
    }
    if !bookings.is_empty() {
        booking::Entity::insert_many(bookings)
            .exec_without_returning(db)
            .await?;
        payment::Entity::insert_many(payments)
            .exec_without_returning(db)
            .await?;
    }
    Ok(user_id)
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    endpoint: &str,
    token: &str,
    bin: &std::path::Path,
    url: &str,
    requests: usize,
    backend: &str,
    users: u64,
    bookings: u64,
) -> anyhow::Result<()> {
    // 1. Plaintext from an older version, encrypted as after the migrations.
    set_sensitive(db, true).await?;
    let started = Instant::now();
    let sealed = encryption::reseal(db, Scope::Plaintext, 500, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let seal_secs = started.elapsed().as_secs_f64();

    // 2. The nested query with every encrypted field present.
    latencies(client, endpoint, token, NESTED_SENSITIVE, json!({}), 20).await?;
    let with = latencies(
        client,
        endpoint,
        token,
        NESTED_SENSITIVE,
        json!({}),
        requests,
    )
    .await?;

    // 3. rotate-keys to the next key (the server reads both).
    let started = Instant::now();
    let out = Command::new(bin)
        .args(["rotate-keys"])
        .env("DATABASE_URL", url)
        .env("RFT_DATA_KEYS", super::rotated_bench_keys())
        .env("RUST_LOG", "warn")
        .output()?;
    let rotate_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "rotate-keys failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout).to_string();
    let rotated_rows: f64 = summary
        .split(" rows")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);

    // 2b. The same query with the encrypted fields empty.
    // Every value reads under the new key.
    latencies(client, endpoint, token, NESTED_SENSITIVE, json!({}), 5).await?;
    set_sensitive(db, false).await?;
    latencies(client, endpoint, token, NESTED_SENSITIVE, json!({}), 20).await?;
    let without = latencies(
        client,
        endpoint,
        token,
        NESTED_SENSITIVE,
        json!({}),
        requests,
    )
    .await?;

    // 4. The export of a customer with 500 bookings.
    let customer = customer_with_bookings(db, 500).await?;
    let export_n = requests.clamp(10, 50);
    let export = latencies(
        client,
        endpoint,
        token,
        EXPORT,
        json!({ "id": customer }),
        export_n,
    )
    .await?;
    let size = client
        .post(endpoint)
        .bearer_auth(token)
        .json(&json!({ "query": EXPORT, "variables": { "id": customer } }))
        .send()
        .await?
        .bytes()
        .await?
        .len();

    println!("backend: {backend}; {users} users, {bookings} bookings");
    println!(
        "encrypting plaintext after the migrations: {} values in {} rows in {:.1} s: {:.0} rows/s",
        sealed.values(),
        sealed.rows,
        seal_secs,
        sealed.rows as f64 / seal_secs
    );
    println!(
        "nested query, 50 users and their bookings, every encrypted field selected: \
         values present p50 {:.2} ms p99 {:.2} ms; empty p50 {:.2} ms p99 {:.2} ms; ratio {:.2}x",
        ms(percentile(&with, 0.5)),
        ms(percentile(&with, 0.99)),
        ms(percentile(&without, 0.5)),
        ms(percentile(&without, 0.99)),
        ms(percentile(&with, 0.5)) / ms(percentile(&without, 0.5)).max(f64::MIN_POSITIVE)
    );
    println!(
        "rotate-keys: {rotated_rows} rows in {rotate_secs:.1} s (process start included): {:.0} rows/s; {}",
        rotated_rows / rotate_secs,
        summary.lines().next().unwrap_or_default()
    );
    println!(
        "exportUserData, one customer with 500 bookings ({size} bytes): p50 {:.1} ms p99 {:.1} ms over {export_n}",
        ms(percentile(&export, 0.5)),
        ms(percentile(&export, 0.99)),
    );
    Ok(())
}
