//! Sensitive fields encrypted at rest: the raw database holds none of their plaintext
//! while the API returns them intact; a value moved to another row or altered does not
//! decrypt; plaintext from before encryption is encrypted after the migrations; and
//! `rotate-keys` moves every value to the new key while the service reads on, after which
//! the old key can be removed.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rft_users::entities::encrypted::FIELDS;
use rft_users::entities::user;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, data_keys, error_code, error_message, rotated_data_keys, uuid_of};

/// The plaintexts written, each unlikely to occur anywhere by chance.
const MEDICAL: &str = "Asthma, carries inhaler qZ7k";
const DIETARY: &str = "Vegan qZ7k";
const CONTACT_NAME: &str = "Morgan Kinsey qZ7k";
const RELATIONSHIP: &str = "Sibling qZ7k";
const CONTACT_PHONE: &str = "07700 900461";
const BIRTH: &str = "1987-06-05";
const SPECIAL: &str = "Step-free access qZ7k";
const FEEDBACK: &str = "Confident with the AED qZ7k";

const USER: &str = "query($id: UUID!) { user(id: $id) { id firstName dateOfBirth medicalNotes dietaryRequirements emergencyContactName emergencyContactPhone emergencyContactRelationship } }";
const UPDATE_USER: &str = "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id dateOfBirth medicalNotes dietaryRequirements emergencyContactName emergencyContactPhone emergencyContactRelationship } }";
const SHEET: &str = "query($id: UUID!) { courseSession(id: $id) { attendees { id specialRequirements attendance { trainerFeedback } } } }";

/// What [`setup`] made.
struct Made {
    admin: String,
    customer: Uuid,
    booking: Uuid,
    session: Uuid,
    /// The emergency contact's phone as the API gives it back (normalised).
    phone: String,
}

/// A customer with every sensitive field set, a booking with special requirements, and
/// an attendance with trainer feedback, all through the API.
async fn setup(app: &TestApp) -> Made {
    let (_, admin) = app.admin().await;
    let catalogue = app.catalogue(&admin).await;
    let session = app
        .create_session(&admin, catalogue.efaw, catalogue.leeds, None, 3, Some(20))
        .await;
    let booked = app
        .gql_ok(
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { id specialRequirements } }",
            json!({ "input": {
                "sessionId": session,
                "contact": { "firstName": "Robin", "lastName": "Secure", "email": "robin.secure@example.com" },
                "attendees": [{ "firstName": "Robin", "lastName": "Secure" }],
                "specialRequirements": SPECIAL,
            } }),
            None,
        )
        .await;
    assert_eq!(booked["createBooking"]["specialRequirements"], SPECIAL);
    let booking = uuid_of(&booked["createBooking"]["id"]);
    let customer = user::Entity::find()
        .filter(user::Column::Email.eq("robin.secure@example.com"))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the booking made the customer")
        .id;
    let updated = app
        .gql_ok(
            UPDATE_USER,
            json!({ "id": customer, "input": {
                "dateOfBirth": BIRTH,
                "hasMedicalConditions": true,
                "medicalNotes": MEDICAL,
                "dietaryRequirements": DIETARY,
                "emergencyContactName": CONTACT_NAME,
                "emergencyContactPhone": CONTACT_PHONE,
                "emergencyContactRelationship": RELATIONSHIP,
            } }),
            Some(&admin),
        )
        .await;
    let phone = updated["updateUser"]["emergencyContactPhone"]
        .as_str()
        .expect("the phone is set")
        .to_string();
    app.move_session(session, -1).await;
    let sheet = app
        .gql_ok(SHEET, json!({ "id": session }), Some(&admin))
        .await;
    let attendee = uuid_of(&sheet["courseSession"]["attendees"][0]["id"]);
    app.gql_ok(
        "mutation($s: UUID!, $a: UUID!, $f: String) { markAttendance(sessionId: $s, attendeeId: $a, status: PRESENT, passedAssessment: true, feedback: $f) { id trainerFeedback } }",
        json!({ "s": session, "a": attendee, "f": FEEDBACK }),
        Some(&admin),
    )
    .await;
    Made {
        admin,
        customer,
        booking,
        session,
        phone,
    }
}

/// Every sensitive value reads back intact through the API.
async fn assert_api_returns_plaintext(app: &TestApp, m: &Made) {
    let u = app
        .gql_ok(USER, json!({ "id": m.customer }), Some(&m.admin))
        .await;
    let u = &u["user"];
    assert_eq!(u["dateOfBirth"], BIRTH);
    assert_eq!(u["medicalNotes"], MEDICAL);
    assert_eq!(u["dietaryRequirements"], DIETARY);
    assert_eq!(u["emergencyContactName"], CONTACT_NAME);
    assert_eq!(u["emergencyContactPhone"], m.phone.as_str());
    assert_eq!(u["emergencyContactRelationship"], RELATIONSHIP);
    let b = app
        .gql_ok(
            "query($id: UUID!) { booking(id: $id) { specialRequirements } }",
            json!({ "id": m.booking }),
            Some(&m.admin),
        )
        .await;
    assert_eq!(b["booking"]["specialRequirements"], SPECIAL);
    let sheet = app
        .gql_ok(SHEET, json!({ "id": m.session }), Some(&m.admin))
        .await;
    let a = &sheet["courseSession"]["attendees"][0];
    assert_eq!(a["specialRequirements"], SPECIAL);
    assert_eq!(a["attendance"]["trainerFeedback"], FEEDBACK);
}

/// Every value of every encrypted column, as stored, read with plain SQL.
async fn stored_values(db: &DatabaseConnection) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (table, column) in FIELDS {
        let sql = format!("SELECT CAST({column} AS TEXT) FROM {table} WHERE {column} IS NOT NULL");
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        for row in rows {
            let v: String = row.try_get_by_index(0).unwrap();
            out.push((format!("{table}.{column}"), v));
        }
    }
    out
}

/// Everything the database holds, as bytes: the SQLite file and its write-ahead log, or
/// on PostgreSQL every row of every table as text.
async fn raw_database(app: &TestApp) -> Vec<u8> {
    let db = &app.db;
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let file = rft_users::config::sqlite_file(&app.state.config.database_url)
                .expect("a SQLite file");
            let mut bytes = std::fs::read(&file).unwrap();
            let mut wal = file.clone().into_os_string();
            wal.push("-wal");
            bytes.extend(std::fs::read(wal).unwrap_or_default());
            bytes
        }
        _ => {
            let tables = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                ))
                .await
                .unwrap();
            let mut out = Vec::new();
            for t in tables {
                let name: String = t.try_get_by_index(0).unwrap();
                let rows = db
                    .query_all_raw(Statement::from_string(
                        DbBackend::Postgres,
                        format!("SELECT t::text FROM \"{name}\" t"),
                    ))
                    .await
                    .unwrap();
                for r in rows {
                    let text: String = r.try_get_by_index(0).unwrap();
                    out.extend(text.into_bytes());
                    out.push(b'\n');
                }
            }
            out
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The database holds no plaintext of the sensitive fields, and every stored value of an
/// encrypted column is an envelope under `kid`.
async fn assert_stored_encrypted(app: &TestApp, m: &Made, kid: &str) {
    let raw = raw_database(app).await;
    assert!(!raw.is_empty());
    for secret in [
        MEDICAL,
        DIETARY,
        CONTACT_NAME,
        RELATIONSHIP,
        &m.phone,
        BIRTH,
        SPECIAL,
        FEEDBACK,
        "qZ7k",
    ] {
        assert!(
            !contains(&raw, secret),
            "{secret:?} is in the database as plaintext"
        );
    }
    let stored = stored_values(&app.db).await;
    // Six fields of the user, the booking's and the attendee's... the attendee has none;
    // and the feedback: eight values.
    assert_eq!(stored.len(), 8, "{stored:?}");
    for (column, value) in &stored {
        assert!(
            value.starts_with(&format!("enc:v1:{kid}:")),
            "{column} holds {value:?}"
        );
    }
}

#[tokio::test]
async fn sensitive_fields_are_ciphertext_in_the_database_and_plaintext_through_the_api() {
    let app = TestApp::spawn().await;
    let m = setup(&app).await;
    assert_api_returns_plaintext(&app, &m).await;
    assert_stored_encrypted(&app, &m, "test").await;

    // The audit trail never shows them either (it says that they changed).
    let audit = raw_audit(&app).await;
    assert!(audit.contains("[redacted]"), "{audit}");

    // Unchanged on an unrelated update: the stored envelopes stay as they were.
    let before = stored_values(&app.db).await;
    app.gql_ok(
        "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }",
        json!({ "id": m.customer, "input": { "city": "Leeds" } }),
        Some(&m.admin),
    )
    .await;
    assert_eq!(stored_values(&app.db).await, before);
    // A changed value is written afresh, and reads back.
    app.gql_ok(
        UPDATE_USER,
        json!({ "id": m.customer, "input": { "dietaryRequirements": "Nut allergy qZ8k" } }),
        Some(&m.admin),
    )
    .await;
    let after = stored_values(&app.db).await;
    assert_eq!(
        before.iter().filter(|v| !after.contains(v)).count(),
        1,
        "exactly one value changed"
    );
    let u = app
        .gql_ok(USER, json!({ "id": m.customer }), Some(&m.admin))
        .await;
    assert_eq!(u["user"]["dietaryRequirements"], "Nut allergy qZ8k");
    assert_eq!(u["user"]["medicalNotes"], MEDICAL);
}

async fn raw_audit(app: &TestApp) -> String {
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT CAST(changes AS TEXT) FROM audit_logs WHERE changes IS NOT NULL",
        ))
        .await
        .unwrap();
    let text: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    let all = text.join("\n");
    for secret in [MEDICAL, DIETARY, CONTACT_NAME, BIRTH, SPECIAL, FEEDBACK] {
        assert!(!all.contains(secret), "{secret:?} is in the audit trail");
    }
    assert!(
        !all.contains("enc:v1:"),
        "the audit trail holds an envelope"
    );
    all
}

/// A stored value of `table.column` of row `id`.
async fn stored(db: &DatabaseConnection, table: &str, column: &str, id: Uuid) -> Option<String> {
    let q = Query::select()
        .expr(Expr::col(Alias::new(column)))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    db.query_one(&q)
        .await
        .unwrap()
        .and_then(|r| r.try_get_by_index::<Option<String>>(0).unwrap())
}

async fn store(db: &DatabaseConnection, table: &str, column: &str, id: Uuid, value: Option<&str>) {
    let q = Query::update()
        .table(Alias::new(table))
        .value(Alias::new(column), value.map(str::to_string))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    db.execute(&q).await.unwrap();
}

#[tokio::test]
async fn a_value_moved_to_another_row_or_altered_does_not_decrypt_and_nothing_leaks() {
    let app = TestApp::spawn().await;
    let m = setup(&app).await;
    let (other, _) = app.customer("other.person@example.com").await;
    let envelope = stored(&app.db, "users", "medical_notes", m.customer)
        .await
        .unwrap();

    let refused = |body: &Value| {
        assert_eq!(error_code(body), Some("INTERNAL_SERVER_ERROR"), "{body:#}");
        let text = body.to_string();
        for leak in [MEDICAL, "enc:v1", "medical_notes", "decrypt", "SELECT"] {
            assert!(!text.contains(leak), "{leak:?} reached the client: {text}");
        }
        assert!(error_message(body).is_some());
    };

    // Copied to another person's row: it does not open there.
    store(&app.db, "users", "medical_notes", other.id, Some(&envelope)).await;
    refused(
        &app.gql(USER, json!({ "id": other.id }), Some(&m.admin))
            .await,
    );
    store(&app.db, "users", "medical_notes", other.id, None).await;
    app.gql_ok(USER, json!({ "id": other.id }), Some(&m.admin))
        .await;

    // Copied to another column of the same row: nor there.
    let dietary = stored(&app.db, "users", "dietary_requirements", m.customer)
        .await
        .unwrap();
    store(
        &app.db,
        "users",
        "dietary_requirements",
        m.customer,
        Some(&envelope),
    )
    .await;
    refused(
        &app.gql(USER, json!({ "id": m.customer }), Some(&m.admin))
            .await,
    );
    store(
        &app.db,
        "users",
        "dietary_requirements",
        m.customer,
        Some(&dietary),
    )
    .await;

    // One character of the ciphertext changed: refused.
    let mut altered = envelope.clone().into_bytes();
    let i = altered.len() - 5;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    store(
        &app.db,
        "users",
        "medical_notes",
        m.customer,
        Some(&altered),
    )
    .await;
    refused(
        &app.gql(USER, json!({ "id": m.customer }), Some(&m.admin))
            .await,
    );

    // Each put back in its place, everything opens again.
    store(
        &app.db,
        "users",
        "medical_notes",
        m.customer,
        Some(&envelope),
    )
    .await;
    assert_api_returns_plaintext(&app, &m).await;
}

#[tokio::test]
async fn plaintext_from_before_encryption_is_encrypted_after_the_migrations() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let (person, _) = app.customer("legacy.plain@example.com").await;
    // Back to before the encrypted columns (on PostgreSQL the old column types), and the
    // values an earlier version wrote, in plaintext.
    use migration::MigratorTrait;
    migration::Migrator::down(&app.db, Some(1)).await.unwrap();
    let sql = match app.db.get_database_backend() {
        DbBackend::Postgres => format!(
            "UPDATE users SET date_of_birth = DATE '{BIRTH}', medical_notes = '{MEDICAL}', emergency_contact_name = '{CONTACT_NAME}' WHERE email = 'legacy.plain@example.com'"
        ),
        _ => format!(
            "UPDATE users SET date_of_birth = '{BIRTH}', medical_notes = '{MEDICAL}', emergency_contact_name = '{CONTACT_NAME}' WHERE email = 'legacy.plain@example.com'"
        ),
    };
    app.db
        .execute_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap();
    assert_eq!(
        stored(&app.db, "users", "medical_notes", person.id)
            .await
            .as_deref(),
        Some(MEDICAL)
    );

    rft_users::db::migrate(&app.db).await.unwrap();
    for column in ["date_of_birth", "medical_notes", "emergency_contact_name"] {
        let v = stored(&app.db, "users", column, person.id).await.unwrap();
        assert!(v.starts_with("enc:v1:test:"), "{column}: {v}");
    }
    let u = app
        .gql_ok(USER, json!({ "id": person.id }), Some(&admin))
        .await;
    assert_eq!(u["user"]["dateOfBirth"], BIRTH);
    assert_eq!(u["user"]["medicalNotes"], MEDICAL);
    assert_eq!(u["user"]["emergencyContactName"], CONTACT_NAME);
    // Recorded, and a second run finds nothing to do.
    let audit = app.audit_rows("data.encrypted").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].changes.as_ref().unwrap()["plaintext"], 3);
    rft_users::db::migrate(&app.db).await.unwrap();
    assert_eq!(app.audit_rows("data.encrypted").await.len(), 1);
}

/// Runs the binary against the app's database with `keys`.
async fn run(app: &TestApp, keys: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rft-users"));
    cmd.args(args)
        .env("DATABASE_URL", &app.state.config.database_url)
        .env("RFT_DATA_KEYS", keys)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0");
    tokio::task::spawn_blocking(move || cmd.output().expect("rft-users runs"))
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Kills the server when the test ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn rotate_keys_moves_every_value_to_the_new_key_while_reads_go_on_and_the_old_key_can_go() {
    let app = TestApp::spawn().await;
    let m = setup(&app).await;
    // More rows, so the rotation runs in many batches.
    for i in 0..20 {
        let (u, _) = app.customer(&format!("rotate{i}@example.com")).await;
        app.gql_ok(
            UPDATE_USER,
            json!({ "id": u.id, "input": { "medicalNotes": format!("Note {i} qZ7k") } }),
            Some(&m.admin),
        )
        .await;
    }
    let (next_first, next_only) = rotated_data_keys();

    // A dry run counts and changes nothing.
    let before = stored_values(&app.db).await;
    let out = stdout(&run(&app, next_first, &["rotate-keys", "--dry-run"]).await);
    assert!(
        out.contains("28 values in 23 rows would be re-encrypted under the active key `next` (28 under `test`)"),
        "{out}"
    );
    assert_eq!(stored_values(&app.db).await, before);

    // The rotation, one row per batch, while the service reads on.
    let rotation = run(&app, next_first, &["rotate-keys", "--batch", "1"]);
    let reads = async {
        let mut n = 0;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(1500) {
            assert_api_returns_plaintext(&app, &m).await;
            n += 1;
        }
        n
    };
    let (out, reads) = tokio::join!(rotation, reads);
    let out = stdout(&out);
    assert!(reads > 0);
    assert!(
        out.contains(
            "28 values in 23 rows re-encrypted under the active key `next` (28 under `test`)"
        ),
        "{out}"
    );
    assert!(out.contains("users.medical_notes: 21"), "{out}");
    assert_stored_encrypted_under(&app, "next", 28).await;
    assert_api_returns_plaintext(&app, &m).await;
    let audit = app.audit_rows("data_keys.rotated").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].changes.as_ref().unwrap()["from_keys"]["test"], 28);

    // Again: nothing left to do.
    let out = stdout(&run(&app, next_first, &["rotate-keys"]).await);
    assert!(out.starts_with("0 values in 0 rows re-encrypted"), "{out}");

    // The old key removed: a server with only the new key reads everything.
    let work = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_rft-users"))
            .current_dir(work.path())
            .args(["serve", "--no-demo-data", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &app.state.config.database_url)
            .env("RFT_DATA_KEYS", next_only)
            .env("RFT_JWT_SECRET", app.state.config.jwt_secret.expose())
            .env("RFT_METRICS_BIND", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/graphql");
    let started = Instant::now();
    let body: Value = loop {
        let answer = client
            .post(&url)
            .bearer_auth(&m.admin)
            .json(&json!({ "query": USER, "variables": { "id": m.customer } }))
            .send()
            .await;
        if let Ok(r) = answer {
            break r.json().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(body["data"]["user"]["medicalNotes"], MEDICAL);
    assert_eq!(body["data"]["user"]["dateOfBirth"], BIRTH);
    assert_eq!(
        body["data"]["user"]["emergencyContactPhone"],
        m.phone.as_str()
    );
}

async fn assert_stored_encrypted_under(app: &TestApp, kid: &str, count: usize) {
    let stored = stored_values(&app.db).await;
    assert_eq!(stored.len(), count, "{stored:?}");
    for (column, value) in &stored {
        assert!(
            value.starts_with(&format!("enc:v1:{kid}:")),
            "{column} holds {value:?}"
        );
    }
    let raw = raw_database(app).await;
    assert!(!contains(&raw, MEDICAL));
}

#[tokio::test]
async fn without_data_keys_postgresql_is_refused_and_bad_keys_are_named_not_shown() {
    let check = |keys: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rft-users"));
        cmd.args(["migrate", "status"])
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
            .env("RUST_LOG", "warn")
            .env_remove("RFT_DATA_KEYS");
        if let Some(k) = keys {
            cmd.env("RFT_DATA_KEYS", k);
        }
        let out = cmd.output().expect("rft-users runs");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let missing = check(None);
    assert!(missing.contains("RFT_DATA_KEYS is not set"), "{missing}");
    let short = check(Some("k1:c2hvcnRrZXk="));
    assert!(
        short.contains("RFT_DATA_KEYS: key `k1` is 8 bytes"),
        "{short}"
    );
    assert!(!short.contains("c2hvcnRrZXk"), "{short}");
    // The test keys are accepted (the failure is then the unreachable database).
    let fine = check(Some(data_keys()));
    assert!(!fine.contains("RFT_DATA_KEYS"), "{fine}");
}
