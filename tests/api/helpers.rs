//! The test harness: `TestApp::spawn()` starts the real server on a free port over a fresh,
//! migrated database, and `gql` talks to it over HTTP like any client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use rft_users::app::{AppState, Application};
use rft_users::auth::tokens::random_token;
use rft_users::config::{AppConfig, Secret};
use rft_users::entities::enums::{EmailStatus, Role};
use rft_users::entities::{audit_log, auth_session, email_log, user};
use rft_users::services::{audit::Actor, bootstrap, sessions, users};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Statement,
};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// A running server and a direct connection to its database.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when the test asked for it (`metrics_bind`).
    pub metrics_addr: Option<SocketAddr>,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub state: AppState,
    /// The Stripe webhook signing secret this server checks (random per test).
    pub stripe_secret: String,
    /// Stops the server, and its task (`stop`).
    running: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
    _dir: Option<tempfile::TempDir>,
}

static DB_COUNTER: AtomicU32 = AtomicU32::new(0);
static PG_CLEANED: OnceCell<()> = OnceCell::const_new();

/// The data keys of this test process: `test` (active) and `next`, random per run. Every
/// server in the process reads with both; the command-line tools run against a test's
/// database are given them (`RFT_DATA_KEYS`).
pub fn data_keys() -> &'static str {
    &keys().0
}

/// The same keys with `next` active (what `rotate-keys` is run with), and `next` alone
/// (what is left once the old key is removed).
pub fn rotated_data_keys() -> (&'static str, &'static str) {
    (&keys().1, &keys().2)
}

fn keys() -> &'static (String, String, String) {
    static KEYS: std::sync::OnceLock<(String, String, String)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        use rft_users::crypto::Keyring;
        let (test, next) = (
            Keyring::generate_spec("test"),
            Keyring::generate_spec("next"),
        );
        (format!("{test},{next}"), format!("{next},{test}"), next)
    })
}

/// Loads [`data_keys`] as the process's data keys (once).
pub fn install_data_keys() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        rft_users::crypto::install(rft_users::crypto::Keyring::parse(data_keys()).unwrap())
    });
}

/// A fresh, empty database: a SQLite file in a temporary directory, or a new PostgreSQL
/// database on the `TEST_DATABASE_URL` server. The process's data keys are loaded.
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    install_data_keys();
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(server_url) => {
            let admin = Database::connect(&server_url).await.unwrap_or_else(|e| {
                panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
            });
            let pid = std::process::id();
            PG_CLEANED
                .get_or_init(|| async {
                    // Remove databases left behind by earlier runs of this suite. Without FORCE, a
                    // database another run is still using is left alone.
                    let rows = admin
                        .query_all_raw(Statement::from_string(
                            admin.get_database_backend(),
                            "SELECT datname FROM pg_database WHERE datname LIKE 'rft_test_%'",
                        ))
                        .await
                        .unwrap_or_default();
                    for row in rows {
                        let name: String = row.try_get("", "datname").unwrap_or_default();
                        if !name.starts_with(&format!("rft_test_{pid}_")) {
                            let _ = admin
                                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                                .await;
                        }
                    }
                })
                .await;
            let name = format!(
                "rft_test_{pid}_{}",
                DB_COUNTER.fetch_add(1, Ordering::SeqCst)
            );
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = server_url
                .rsplit_once('/')
                .map(|(b, _)| b)
                .unwrap_or(&server_url);
            (format!("{base}/{name}"), None)
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, Some(dir))
        }
    }
}

/// Called with the text of every SQL statement a test server runs.
type Observer = Box<dyn Fn(&str) + Send + Sync>;

impl TestApp {
    /// A server with the default configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut AppConfig)) -> Self {
        Self::spawn_inner(adjust, None).await
    }

    /// A server whose database connection counts every SQL statement it runs into
    /// `counter` (SeaORM's metric callback). It runs no mail worker, whose statements in
    /// the background would be counted with the requests'.
    pub async fn spawn_counting(counter: Arc<AtomicUsize>) -> Self {
        let count = move |_: &str| {
            counter.fetch_add(1, Ordering::SeqCst);
        };
        Self::spawn_inner(|c| c.email.worker = false, Some(Box::new(count))).await
    }

    /// A server whose database connection appends the text of every SQL statement it runs
    /// to `log`. It runs no mail worker (see `spawn_counting`).
    pub async fn spawn_recording(log: Arc<std::sync::Mutex<Vec<String>>>) -> Self {
        let record = move |sql: &str| log.lock().unwrap().push(sql.to_string());
        Self::spawn_inner(|c| c.email.worker = false, Some(Box::new(record))).await
    }

    async fn spawn_inner(adjust: impl FnOnce(&mut AppConfig), observe: Option<Observer>) -> Self {
        let (url, dir) = fresh_database().await;
        let mut config = AppConfig::new(url, Secret::new(random_token(48)));
        config.db_pool_size = 8;
        config.stripe_webhook_secret = Some(Secret::new(format!("whsec_{}", random_token(24))));
        adjust(&mut config);
        let mut db = rft_users::db::connect(&config.database_url, config.db_pool_size)
            .await
            .expect("database connects");
        rft_users::db::migrate(&db).await.expect("migrations run");
        if let Some(observe) = observe {
            db.set_metric_callback(move |info| observe(&info.statement.sql));
        }
        Self::start(db, config, dir).await
    }

    /// Runs a server over an open, migrated database.
    async fn start(
        db: DatabaseConnection,
        config: AppConfig,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let app = Application::with_database(db, config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("application starts");
        let addr = app.local_addr().unwrap();
        let metrics_addr = app.metrics_addr();
        let state = app.state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            metrics_addr,
            stripe_secret: state
                .config
                .stripe_webhook_secret
                .as_ref()
                .map(|s| s.expose().to_string())
                .unwrap_or_default(),
            client: reqwest::Client::builder()
                .user_agent("rft-users-tests")
                .build()
                .unwrap(),
            db: state.db.clone(),
            state,
            running: Some((stop, running)),
            _dir: dir,
        }
    }

    /// A second server on the same database, with the same configuration (and so the same
    /// secrets) and a connection pool of its own: another instance of the service.
    pub async fn spawn_beside(&self) -> Self {
        let config = (*self.state.config).clone();
        let db = rft_users::db::connect(&config.database_url, config.db_pool_size)
            .await
            .expect("database connects");
        Self::start(db, config, None).await
    }

    /// Stops the server (it finishes requests in flight and closes its pool); the database
    /// stays.
    pub async fn stop(&mut self) {
        if let Some((stop, running)) = self.running.take() {
            let _ = stop.send(());
            let _ = running.await;
        }
    }

    /// Stops the server and starts it again on the same database and configuration, as a
    /// deployment does: nothing held in memory survives.
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        let config = (*self.state.config).clone();
        let db = rft_users::db::connect(&config.database_url, config.db_pool_size)
            .await
            .expect("database connects");
        Self::start(db, config, self._dir.take()).await
    }

    /// The GraphQL endpoint's URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a GraphQL operation; returns the whole response body.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        resp.json().await.expect("JSON response")
    }

    /// Sends an operation that must succeed; returns `data`.
    pub async fn gql_ok(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let body = self.gql(query, variables, token).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Creates a staff user with a known password directly in the database.
    pub async fn staff(&self, role: Role, email: &str) -> (user::Model, String) {
        let password = format!("pw-{}", random_token(12));
        let ready = bootstrap::create_or_reset_admin(
            &self.db,
            email,
            Some(&Secret::new(password.clone())),
            "Test",
            "Staff",
        )
        .await
        .expect("staff user");
        let mut u = users::find_by_email(&self.db, &ready.email)
            .await
            .unwrap()
            .unwrap();
        if role != Role::Admin {
            let mut am: user::ActiveModel = sea_orm::IntoActiveModel::into_active_model(u.clone());
            am.role = sea_orm::Set(role);
            u = sea_orm::ActiveModelTrait::update(am, &self.db)
                .await
                .unwrap();
        }
        (u, password)
    }

    /// Logs in through the API; returns the `login` payload.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.gql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken expiresAt user { id email role } } }",
            json!({ "e": email, "p": password }),
            None,
        )
        .await
    }

    /// An admin and an access token for them.
    pub async fn admin(&self) -> (user::Model, String) {
        self.logged_in(Role::Admin, "admin@example.com").await
    }

    /// A staff member of `role`, logged in through the API.
    pub async fn logged_in(&self, role: Role, email: &str) -> (user::Model, String) {
        let (u, password) = self.staff(role, email).await;
        let body = self.login(email, &password).await;
        let token = body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {body:#}"))
            .to_string();
        (u, token)
    }

    /// A customer and an access token for them (as the customer portal will issue).
    pub async fn customer(&self, email: &str) -> (user::Model, String) {
        let now = chrono::Utc::now();
        let mut m = users::blank(email.into(), "Casey".into(), "Customer".into(), now);
        m.customer_since = Some(now.date_naive());
        users::refresh_derived(&mut m);
        let u = users::insert(&self.db, m).await.unwrap();
        let issued = sessions::start_session(
            &self.db,
            &self.state.jwt,
            self.state.config.refresh_token_ttl,
            &Actor::system(),
            u.clone(),
        )
        .await
        .unwrap();
        (u, issued.access_token)
    }

    /// A new login session for an existing user, made directly (as `customer` does): a fresh
    /// access token and refresh token, independent of every other session.
    pub async fn session_for(&self, u: &user::Model) -> (String, String) {
        let issued = sessions::start_session(
            &self.db,
            &self.state.jwt,
            self.state.config.refresh_token_ttl,
            &Actor::system(),
            u.clone(),
        )
        .await
        .unwrap();
        (issued.access_token, issued.refresh_token)
    }

    /// The current row of a user.
    pub async fn user_row(&self, id: Uuid) -> user::Model {
        user::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .unwrap()
            .expect("user row exists")
    }

    /// Every users row, by id.
    pub async fn all_users(&self) -> Vec<user::Model> {
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// The audit rows with this action, oldest first.
    pub async fn audit_rows(&self, action: &str) -> Vec<audit_log::Model> {
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq(action))
            .order_by_asc(audit_log::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// A user's login session rows, oldest first.
    pub async fn sessions_of(&self, user_id: Uuid) -> Vec<auth_session::Model> {
        auth_session::Entity::find()
            .filter(auth_session::Column::UserId.eq(user_id))
            .order_by_asc(auth_session::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// Sends a GraphQL operation with a raw `Authorization` header value.
    pub async fn gql_with_authorization(&self, query: &str, authorization: &str) -> Value {
        self.client
            .post(self.url("/graphql"))
            .header("authorization", authorization)
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON response")
    }

    /// Every email of the outbox, oldest first.
    pub async fn emails(&self) -> Vec<email_log::Model> {
        email_log::Entity::find()
            .order_by_asc(email_log::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// Waits until the mail worker has dealt with every queued email (none pending or
    /// being sent), when this server runs one.
    pub async fn outbox_settled(&self) {
        if !self.state.config.email.worker {
            return;
        }
        eventually("the outbox to settle", || async {
            let busy = email_log::Entity::find()
                .filter(
                    email_log::Column::Status.is_in([EmailStatus::Pending, EmailStatus::Sending]),
                )
                .count(&self.db)
                .await
                .unwrap();
            (busy == 0).then_some(())
        })
        .await
    }

    /// Counts the rows of a table.
    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

/// Polls `probe` until it gives a value, for up to two minutes (the background work it
/// waits for is quick, but CI's two cores are shared), and panics naming `what` if it
/// never does.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// The `extensions.field` of the first error, if any.
pub fn error_field(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["field"].as_str()
}

/// The `message` of the first error, if any.
pub fn error_message(body: &Value) -> Option<&str> {
    body["errors"][0]["message"].as_str()
}

// ---------------------------------------------------------------------------------------
// The booking side: catalogue set-up through the admin API, bookings, and signed Stripe
// webhook calls.

/// The `Booking` fields the booking tests read back from mutations.
pub const BOOKING_FIELDS: &str = "id reference status paymentStatus unitPrice totalAmount amountPaid amountRefunded balanceDue numberOfAttendees specialRequirements cancelledAt cancellationReason attendees { id firstName lastName email }";

/// A UUID read from a JSON string.
pub fn uuid_of(v: &Value) -> Uuid {
    v.as_str()
        .unwrap_or_else(|| panic!("not an id: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not a UUID ({e}): {v}"))
}

/// Whether `s` has the documented booking reference shape: `RFT-` and 5-5-3 characters of
/// Crockford base32 (digits and capitals without I, L, O or U).
pub fn is_booking_reference(s: &str) -> bool {
    let crockford = |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c));
    let Some(rest) = s.strip_prefix("RFT-") else {
        return false;
    };
    let groups: Vec<&str> = rest.split('-').collect();
    groups.len() == 3
        && groups.iter().map(|g| g.len()).eq([5, 5, 3])
        && groups.iter().all(|g| g.chars().all(crockford))
}

/// A `Stripe-Signature` header for `body`, signed now with `secret`.
pub fn sign_stripe(secret: &str, body: &[u8]) -> String {
    rft_users::webhooks::sign(secret, body, chrono::Utc::now())
}

impl TestApp {
    /// Creates a course through the API (6 hours, 12 places, certificates valid 3 years).
    pub async fn create_course(
        &self,
        token: &str,
        name: &str,
        course_type: &str,
        price: &str,
    ) -> Uuid {
        let data = self
            .gql_ok(
                "mutation($input: CreateCourseInput!) { createCourse(input: $input) { id } }",
                json!({ "input": {
                    "name": name, "courseType": course_type, "durationHours": 6, "price": price,
                    "maxCapacity": 12, "certificationValidityYears": 3,
                } }),
                Some(token),
            )
            .await;
        uuid_of(&data["createCourse"]["id"])
    }

    /// Creates a venue through the API.
    pub async fn create_venue(&self, token: &str, name: &str) -> Uuid {
        let data = self
            .gql_ok(
                "mutation($input: CreateVenueInput!) { createVenue(input: $input) { id } }",
                json!({ "input": { "name": name, "city": "Leeds", "postcode": "LS1 4AP" } }),
                Some(token),
            )
            .await;
        uuid_of(&data["createVenue"]["id"])
    }

    /// The usual catalogue, through the API: EFAW (£95) and FAW (£150) courses, and venues
    /// in Leeds and York.
    pub async fn catalogue(&self, token: &str) -> Catalogue {
        Catalogue {
            efaw: self
                .create_course(token, "Emergency First Aid at Work", "EFAW", "95.00")
                .await,
            faw: self
                .create_course(token, "First Aid at Work", "FAW", "150.00")
                .await,
            leeds: self.create_venue(token, "Leeds Training Centre").await,
            york: self.create_venue(token, "York Hub").await,
        }
    }

    /// Schedules a six-hour session starting `days_ahead` days from now, through the API.
    pub async fn create_session(
        &self,
        token: &str,
        course_id: Uuid,
        venue_id: Uuid,
        instructor_id: Option<Uuid>,
        days_ahead: i64,
        capacity: Option<i32>,
    ) -> Uuid {
        let starts = chrono::Utc::now() + chrono::Duration::days(days_ahead);
        let data = self
            .gql_ok(
                "mutation($input: CreateCourseSessionInput!) { createCourseSession(input: $input) { id } }",
                json!({ "input": {
                    "courseId": course_id, "venueId": venue_id, "instructorId": instructor_id,
                    "startsAt": starts.to_rfc3339(),
                    "endsAt": (starts + chrono::Duration::hours(6)).to_rfc3339(),
                    "capacity": capacity,
                } }),
                Some(token),
            )
            .await;
        uuid_of(&data["createCourseSession"]["id"])
    }

    /// Moves a session directly in the database to start `days_from_now` days from now
    /// (negative for the past), six hours long: how tests get sessions that have happened.
    pub async fn move_session(&self, session_id: Uuid, days_from_now: i64) {
        use rft_users::entities::course_session;
        use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
        let row = course_session::Entity::find_by_id(session_id)
            .one(&self.db)
            .await
            .unwrap()
            .expect("session row exists");
        let starts = chrono::Utc::now() + chrono::Duration::days(days_from_now);
        let mut am = row.into_active_model();
        am.starts_at = Set(starts);
        am.ends_at = Set(starts + chrono::Duration::hours(6));
        am.update(&self.db).await.unwrap();
    }

    /// Sends `createBooking` for `attendees` people (the first is the contact) with `token`
    /// (`None`: the public website); returns the whole response body.
    pub async fn book(
        &self,
        token: Option<&str>,
        session_id: Uuid,
        email: &str,
        attendees: usize,
    ) -> Value {
        let people: Vec<Value> = (0..attendees)
            .map(|i| {
                if i == 0 {
                    json!({ "firstName": "Casey", "lastName": "Booker" })
                } else {
                    json!({ "firstName": format!("Guest{i}"), "lastName": "Attendee" })
                }
            })
            .collect();
        self.gql(
            &format!(
                "mutation($input: CreateBookingInput!) {{ createBooking(input: $input) {{ {BOOKING_FIELDS} }} }}"
            ),
            json!({ "input": {
                "sessionId": session_id,
                "contact": { "firstName": "Casey", "lastName": "Booker", "email": email },
                "attendees": people,
            } }),
            token,
        )
        .await
    }

    /// `book` that must succeed; returns the booking.
    pub async fn book_ok(
        &self,
        token: Option<&str>,
        session_id: Uuid,
        email: &str,
        attendees: usize,
    ) -> Value {
        let body = self.book(token, session_id, email, attendees).await;
        assert!(body.get("errors").is_none(), "booking failed: {body:#}");
        body["data"]["createBooking"].clone()
    }

    /// Records a payment through the API (admin token); returns the whole response body.
    pub async fn pay(&self, token: &str, booking_id: Uuid, amount: &str, method: &str) -> Value {
        self.gql(
            "mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { id amount method status booking { id status paymentStatus amountPaid balanceDue } } }",
            json!({ "input": { "bookingId": booking_id, "amount": amount, "method": method } }),
            Some(token),
        )
        .await
    }

    /// POSTs a raw body to the Stripe webhook with the given `Stripe-Signature` header (or
    /// none); returns the status code and the JSON answer.
    pub async fn stripe_webhook(&self, body: &[u8], signature: Option<&str>) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url("/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("stripe-signature", sig);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a Stripe event correctly signed with this server's secret.
    pub async fn stripe_event(&self, event: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(event).unwrap();
        let sig = sign_stripe(&self.stripe_secret, &body);
        self.stripe_webhook(&body, Some(&sig)).await
    }
}

/// The ids of the usual test catalogue (see `TestApp::catalogue`).
pub struct Catalogue {
    pub efaw: Uuid,
    pub faw: Uuid,
    pub leeds: Uuid,
    pub york: Uuid,
}

/// A Stripe `payment_intent.succeeded` event for `pence` paid on the booking with
/// `reference` (as the booking website's checkout tags it).
pub fn payment_succeeded(event_id: &str, intent: &str, pence: i64, reference: &str) -> Value {
    json!({
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": { "object": {
            "id": intent,
            "object": "payment_intent",
            "amount": pence,
            "amount_received": pence,
            "currency": "gbp",
            "status": "succeeded",
            "metadata": { "booking_reference": reference },
        } },
    })
}

impl TestApp {
    /// Certificates through the API: books `people` (first, last; the first is the contact,
    /// with `email`) on a new session of `course` at `venue` from the public website, moves
    /// the session into the past, marks everyone present and passed, and issues the
    /// certificates (all with the `admin` token). Returns the certificate rows, in the
    /// order issued.
    pub async fn certify(
        &self,
        admin: &str,
        course: Uuid,
        venue: Uuid,
        email: &str,
        people: &[(&str, &str)],
    ) -> Vec<rft_users::entities::certificate::Model> {
        use rft_users::entities::certificate;
        let session = self
            .create_session(admin, course, venue, None, 2, Some(20))
            .await;
        let (first, last) = people[0];
        self.gql_ok(
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { id } }",
            json!({ "input": {
                "sessionId": session,
                "contact": { "firstName": first, "lastName": last, "email": email },
                "attendees": people
                    .iter()
                    .map(|(f, l)| json!({ "firstName": f, "lastName": l }))
                    .collect::<Vec<_>>(),
            } }),
            None,
        )
        .await;
        self.move_session(session, -1).await;
        let sheet = self
            .gql_ok(
                "query($id: UUID!) { courseSession(id: $id) { attendees { id } } }",
                json!({ "id": session }),
                Some(admin),
            )
            .await;
        for attendee in sheet["courseSession"]["attendees"].as_array().unwrap() {
            self.gql_ok(
                "mutation($s: UUID!, $a: UUID!) { markAttendance(sessionId: $s, attendeeId: $a, status: PRESENT, passedAssessment: true) { id } }",
                json!({ "s": session, "a": attendee["id"] }),
                Some(admin),
            )
            .await;
        }
        let issued = self
            .gql_ok(
                "mutation($s: UUID!) { issueCertificates(sessionId: $s) { id } }",
                json!({ "s": session }),
                Some(admin),
            )
            .await;
        let mut rows = Vec::new();
        for c in issued["issueCertificates"].as_array().unwrap() {
            rows.push(
                certificate::Entity::find_by_id(uuid_of(&c["id"]))
                    .one(&self.db)
                    .await
                    .unwrap()
                    .expect("certificate row"),
            );
        }
        rows
    }
}
