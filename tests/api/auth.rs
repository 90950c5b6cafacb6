//! Staff login sessions, through the API: login and what it records, the single
//! "invalid email or password" failure, lockout and its expiry, refresh-token rotation and
//! reuse detection, logout, password changes, who may not log in, bad tokens, rate limits.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use rft_users::auth::rate_limit::Limit;
use rft_users::auth::tokens::digest;
use rft_users::entities::{auth_session, enums::Role, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, error_field, error_message};

const ME: &str = "{ me { id email role } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken expiresAt user { id } } }";
const LOGOUT: &str = "mutation($all: Boolean!) { logout(allSessions: $all) }";
const CHANGE_PASSWORD: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

fn access(login: &Value) -> String {
    login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {login:#}"))
        .to_string()
}

fn refresh_token(login: &Value) -> String {
    login["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {login:#}"))
        .to_string()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a DateTime: {v}"))
        .parse()
        .unwrap()
}

/// Asserts a response is the one failure every bad login gives.
fn assert_login_refused(body: &Value) {
    assert_eq!(error_code(body), Some("UNAUTHENTICATED"), "{body:#}");
    assert_eq!(
        error_message(body),
        Some("invalid email or password"),
        "{body:#}"
    );
    assert!(body["data"].is_null(), "{body:#}");
}

/// Whether `login` hands out an access token that works (whatever else the payload says).
pub async fn can_log_in(app: &TestApp, email: &str, password: &str) -> bool {
    let body = app.login(email, password).await;
    match body["data"]["login"]["accessToken"].as_str() {
        Some(token) => me_code(app, token).await.is_none(),
        None => false,
    }
}

async fn me_code(app: &TestApp, token: &str) -> Option<String> {
    let body = app.gql(ME, json!({}), Some(token)).await;
    error_code(&body).map(str::to_string)
}

#[tokio::test]
async fn login_returns_working_tokens_and_records_the_session() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Instructor, "jo.trainer@example.com").await;
    let before = Utc::now();

    let body = app.login("jo.trainer@example.com", &password).await;

    assert!(body.get("errors").is_none(), "{body:#}");
    let login = &body["data"]["login"];
    let (access_token, refresh) = (access(&body), refresh_token(&body));
    assert!(!access_token.is_empty() && !refresh.is_empty());
    assert_ne!(access_token, refresh);
    let expires_at = time(&login["expiresAt"]);
    assert!(
        expires_at >= before + Duration::minutes(14)
            && expires_at <= Utc::now() + Duration::minutes(16),
        "expiresAt {expires_at} is not about 15 minutes ahead"
    );
    assert_eq!(login["user"]["id"], staff.id.to_string());
    assert_eq!(login["user"]["email"], "jo.trainer@example.com");
    assert_eq!(login["user"]["role"], "INSTRUCTOR");

    let me = app.gql_ok(ME, json!({}), Some(&access_token)).await;
    assert_eq!(me["me"]["id"], staff.id.to_string());

    let row = app.user_row(staff.id).await;
    let last_login = row.last_login_at.expect("last_login_at is set");
    assert!(last_login >= before - Duration::seconds(1) && last_login <= Utc::now());
    assert_eq!(row.failed_login_attempts, 0);
    let sessions = app.sessions_of(staff.id).await;
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].revoked_at.is_none());
    assert_eq!(
        sessions[0].token_hash,
        digest(&refresh),
        "only the digest is stored"
    );
    let audit = app.audit_rows("auth.login").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor_id, Some(staff.id));
    assert_eq!(audit[0].entity_id, Some(staff.id));
    assert_eq!(audit[0].ip_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(audit[0].user_agent.as_deref(), Some("rft-users-tests"));
}

#[tokio::test]
async fn login_with_a_wrong_password_is_refused_and_counted() {
    let app = TestApp::spawn().await;
    let (staff, _) = app.staff(Role::Admin, "admin@example.com").await;

    let body = app.login("admin@example.com", "not-the-password").await;

    assert_login_refused(&body);
    let row = app.user_row(staff.id).await;
    assert_eq!(row.failed_login_attempts, 1);
    assert!(row.account_locked_until.is_none());
    assert!(row.last_login_at.is_none());
    assert_eq!(app.count("auth_sessions").await, 0);
    assert_eq!(app.audit_rows("auth.login_failed").await.len(), 1);
    assert!(app.audit_rows("auth.login").await.is_empty());
}

#[tokio::test]
async fn login_with_an_unknown_email_fails_exactly_like_a_wrong_password() {
    let app = TestApp::spawn().await;
    let (staff, _) = app.staff(Role::Admin, "admin@example.com").await;

    let wrong_password = app.login("admin@example.com", "not-the-password").await;
    let unknown_email = app.login("nobody@example.com", "not-the-password").await;

    assert_login_refused(&unknown_email);
    assert_eq!(
        unknown_email, wrong_password,
        "the two failures must be indistinguishable"
    );
    assert_eq!(app.count("auth_sessions").await, 0);
    assert_eq!(
        app.count("users").await,
        1,
        "no user is created for an unknown email"
    );
    assert_eq!(app.user_row(staff.id).await.failed_login_attempts, 1);
}

#[tokio::test]
async fn login_locks_the_account_after_five_failures() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Admin, "admin@example.com").await;
    let wrong = app.login("admin@example.com", "not-the-password").await;
    for _ in 0..3 {
        app.login("admin@example.com", "not-the-password").await;
    }
    let row = app.user_row(staff.id).await;
    assert_eq!(row.failed_login_attempts, 4);
    assert!(
        row.account_locked_until.is_none(),
        "four failures do not lock"
    );

    let fifth = app.login("admin@example.com", "not-the-password").await;
    assert_login_refused(&fifth);
    let row = app.user_row(staff.id).await;
    assert_eq!(row.failed_login_attempts, 5);
    let until = row
        .account_locked_until
        .expect("locked after five failures");
    let now = Utc::now();
    assert!(
        until > now + Duration::minutes(14) && until <= now + Duration::minutes(15),
        "locked until {until}, expected about 15 minutes from {now}"
    );

    let correct = app.login("admin@example.com", &password).await;
    assert_eq!(correct, wrong, "a locked account gives the very same error");
    assert_eq!(app.count("auth_sessions").await, 0);
    let row = app.user_row(staff.id).await;
    assert!(row.last_login_at.is_none());
    assert_eq!(
        row.account_locked_until,
        Some(until),
        "the lock is not extended"
    );
}

#[tokio::test]
async fn login_works_again_once_the_lock_has_expired() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Admin, "admin@example.com").await;
    for _ in 0..5 {
        app.login("admin@example.com", "not-the-password").await;
    }
    let locked = app.user_row(staff.id).await;
    assert!(locked.account_locked_until.is_some());
    let mut am = locked.into_active_model();
    am.account_locked_until = Set(Some(Utc::now() - Duration::minutes(1)));
    am.update(&app.db).await.unwrap();

    assert!(can_log_in(&app, "admin@example.com", &password).await);

    let row = app.user_row(staff.id).await;
    assert_eq!(row.failed_login_attempts, 0);
    assert!(row.account_locked_until.is_none());
    assert!(row.last_login_at.is_some());
    assert_eq!(app.sessions_of(staff.id).await.len(), 1);
}

#[tokio::test]
async fn refresh_session_rotates_the_refresh_token() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Instructor, "jo@example.com").await;
    let login = app.login("jo@example.com", &password).await;
    let first_refresh = refresh_token(&login);

    let body = app.gql(REFRESH, json!({ "t": first_refresh }), None).await;

    assert!(body.get("errors").is_none(), "{body:#}");
    let payload = &body["data"]["refreshSession"];
    let second_refresh = payload["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(payload["user"]["id"], staff.id.to_string());
    let expires_at = time(&payload["expiresAt"]);
    assert!(expires_at > Utc::now() + Duration::minutes(14));
    let new_access = payload["accessToken"].as_str().unwrap();
    assert_eq!(me_code(&app, new_access).await, None);

    let rows = app.sessions_of(staff.id).await;
    assert_eq!(rows.len(), 2);
    let old = rows
        .iter()
        .find(|r| r.token_hash == digest(&first_refresh))
        .unwrap();
    let new = rows
        .iter()
        .find(|r| r.token_hash == digest(&second_refresh))
        .unwrap();
    assert_eq!(old.family_id, new.family_id);
    assert_eq!(old.replaced_by_id, Some(new.id));
    assert!(old.last_used_at.is_some());
    assert!(old.revoked_at.is_none() && new.revoked_at.is_none());
    assert_eq!(app.audit_rows("auth.refresh").await.len(), 1);
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_whole_session_family() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Instructor, "jo@example.com").await;
    let login = app.login("jo@example.com", &password).await;
    let (first_access, first_refresh) = (access(&login), refresh_token(&login));
    let other_device = access(&app.login("jo@example.com", &password).await);
    let rotated = app
        .gql_ok(REFRESH, json!({ "t": first_refresh }), None)
        .await;
    let second_access = rotated["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let second_refresh = rotated["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(me_code(&app, &second_access).await, None);

    let reuse = app.gql(REFRESH, json!({ "t": first_refresh }), None).await;

    assert_eq!(error_code(&reuse), Some("UNAUTHENTICATED"), "{reuse:#}");
    assert!(reuse["data"].is_null());
    let newest = app.gql(REFRESH, json!({ "t": second_refresh }), None).await;
    assert_eq!(error_code(&newest), Some("UNAUTHENTICATED"), "{newest:#}");
    assert_eq!(
        me_code(&app, &first_access).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        me_code(&app, &second_access).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        me_code(&app, &other_device).await,
        None,
        "other sessions live on"
    );

    let family = app
        .sessions_of(staff.id)
        .await
        .into_iter()
        .find(|r| r.token_hash == digest(&first_refresh))
        .unwrap()
        .family_id;
    let rows = auth_session::Entity::find()
        .filter(auth_session::Column::FamilyId.eq(family))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "no token was issued for the reused one");
    assert!(rows.iter().all(|r| r.revoked_at.is_some()), "{rows:#?}");
    assert_eq!(app.audit_rows("auth.refresh_reuse_detected").await.len(), 1);
    let live = app
        .sessions_of(staff.id)
        .await
        .into_iter()
        .filter(|r| r.revoked_at.is_none())
        .count();
    assert_eq!(live, 1, "only the other device's session remains");
}

#[tokio::test]
async fn refresh_session_rejects_an_unknown_token() {
    let app = TestApp::spawn().await;
    let before = app.count("auth_sessions").await;

    let body = app
        .gql(REFRESH, json!({ "t": "not-a-refresh-token" }), None)
        .await;

    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body:#}");
    assert_eq!(app.count("auth_sessions").await, before);
}

#[tokio::test]
async fn logout_ends_the_current_session_only() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Admin, "admin@example.com").await;
    let login = app.login("admin@example.com", &password).await;
    let (token, refresh) = (access(&login), refresh_token(&login));
    let other_device = access(&app.login("admin@example.com", &password).await);

    let body = app
        .gql_ok(LOGOUT, json!({ "all": false }), Some(&token))
        .await;

    assert_eq!(body["logout"], true);
    assert_eq!(
        me_code(&app, &token).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    let refreshed = app.gql(REFRESH, json!({ "t": refresh }), None).await;
    assert_eq!(
        error_code(&refreshed),
        Some("UNAUTHENTICATED"),
        "{refreshed:#}"
    );
    assert_eq!(me_code(&app, &other_device).await, None);
    let rows = app.sessions_of(staff.id).await;
    let ended = rows
        .iter()
        .find(|r| r.token_hash == digest(&refresh))
        .unwrap();
    assert!(ended.revoked_at.is_some());
    assert_eq!(rows.iter().filter(|r| r.revoked_at.is_none()).count(), 1);
    assert_eq!(app.audit_rows("auth.logout").await.len(), 1);
}

#[tokio::test]
async fn logout_of_all_sessions_ends_every_session_of_the_caller() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Admin, "admin@example.com").await;
    let (colleague, colleague_token) = app
        .logged_in(Role::Instructor, "colleague@example.com")
        .await;
    let token = access(&app.login("admin@example.com", &password).await);
    let other_device = access(&app.login("admin@example.com", &password).await);

    app.gql_ok(LOGOUT, json!({ "all": true }), Some(&token))
        .await;

    assert_eq!(
        me_code(&app, &token).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        me_code(&app, &other_device).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        me_code(&app, &colleague_token).await,
        None,
        "other users are untouched"
    );
    assert!(
        app.sessions_of(staff.id)
            .await
            .iter()
            .all(|r| r.revoked_at.is_some())
    );
    assert!(
        app.sessions_of(colleague.id)
            .await
            .iter()
            .all(|r| r.revoked_at.is_none())
    );
}

#[tokio::test]
async fn change_password_with_a_wrong_current_password_is_refused() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Instructor, "jo@example.com").await;
    let token = access(&app.login("jo@example.com", &password).await);
    let hash_before = app.user_row(staff.id).await.password_hash;

    let body = app
        .gql(
            CHANGE_PASSWORD,
            json!({ "c": "not-my-password", "n": "a-long-new-password" }),
            Some(&token),
        )
        .await;

    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
    assert_eq!(error_field(&body), Some("currentPassword"));
    assert_eq!(app.user_row(staff.id).await.password_hash, hash_before);
    assert!(app.audit_rows("auth.change_password").await.is_empty());
    assert!(
        can_log_in(&app, "jo@example.com", &password).await,
        "the old password still works"
    );
}

#[tokio::test]
async fn change_password_rejects_a_short_new_password() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Instructor, "jo@example.com").await;
    let token = access(&app.login("jo@example.com", &password).await);
    let hash_before = app.user_row(staff.id).await.password_hash;

    let body = app
        .gql(
            CHANGE_PASSWORD,
            json!({ "c": password, "n": "short-11chr" }),
            Some(&token),
        )
        .await;

    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
    assert_eq!(error_field(&body), Some("newPassword"));
    assert_eq!(app.user_row(staff.id).await.password_hash, hash_before);
    assert!(app.audit_rows("auth.change_password").await.is_empty());
}

#[tokio::test]
async fn change_password_replaces_the_password_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let (staff, old_password) = app.staff(Role::Instructor, "jo@example.com").await;
    let token = access(&app.login("jo@example.com", &old_password).await);
    let other_device = access(&app.login("jo@example.com", &old_password).await);
    let hash_before = app.user_row(staff.id).await.password_hash;
    let new_password = "exactly-12ch";

    let body = app
        .gql_ok(
            CHANGE_PASSWORD,
            json!({ "c": old_password, "n": new_password }),
            Some(&token),
        )
        .await;

    assert_eq!(body["changePassword"], true);
    assert_eq!(
        me_code(&app, &token).await,
        None,
        "the current session continues"
    );
    assert_eq!(
        me_code(&app, &other_device).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_login_refused(&app.login("jo@example.com", &old_password).await);
    assert!(can_log_in(&app, "jo@example.com", new_password).await);
    let row = app.user_row(staff.id).await;
    assert_ne!(row.password_hash, hash_before);
    assert!(row.password_changed_at.is_some());
    let audit = app.audit_rows("auth.change_password").await;
    assert_eq!(audit.len(), 1);
    let changes = serde_json::to_string(&audit[0].changes).unwrap();
    assert!(!changes.contains(new_password) && !changes.contains(&old_password));
    assert!(
        !changes.contains("$argon2"),
        "no hash in the audit trail: {changes}"
    );
}

#[tokio::test]
async fn customers_cannot_log_in() {
    let app = TestApp::spawn().await;
    let (_, admin_token) = app.admin().await;
    let created = app
        .gql_ok(
            "mutation { createUser(input: { email: \"casey@example.com\", firstName: \"Casey\", lastName: \"Customer\" }) { id role hasPassword } }",
            json!({}),
            Some(&admin_token),
        )
        .await;
    assert_eq!(created["createUser"]["role"], "CUSTOMER");
    assert_eq!(created["createUser"]["hasPassword"], false);
    let id = created["createUser"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let unknown = app.login("nobody@example.com", "whatever-password").await;

    let body = app.login("casey@example.com", "whatever-password").await;

    assert_eq!(body, unknown, "a customer's login fails like any other");
    // Even a customer row that somehow holds a password hash may not log in.
    let (_, staff_password) = app
        .staff(Role::Instructor, "former.staff@example.com")
        .await;
    let former = users_by_email(&app, "former.staff@example.com").await;
    let mut am = former.clone().into_active_model();
    am.role = Set(Role::Customer);
    am.update(&app.db).await.unwrap();
    let body = app.login("former.staff@example.com", &staff_password).await;
    assert_eq!(body, unknown);

    assert!(app.sessions_of(id).await.is_empty());
    assert!(app.sessions_of(former.id).await.is_empty());
    assert!(app.user_row(id).await.last_login_at.is_none());
    assert!(app.user_row(former.id).await.last_login_at.is_none());
}

async fn users_by_email(app: &TestApp, email: &str) -> user::Model {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn suspended_or_deactivated_staff_cannot_log_in() {
    let app = TestApp::spawn().await;
    let (_, admin_token) = app.admin().await;
    let unknown = app.login("nobody@example.com", "whatever-password").await;
    for (status, email) in [
        ("SUSPENDED", "suspended@example.com"),
        ("INACTIVE", "inactive@example.com"),
    ] {
        let (staff, password) = app.staff(Role::Instructor, email).await;
        app.gql_ok(
            "mutation($id: UUID!, $s: UserStatus!) { setUserStatus(id: $id, status: $s) { status } }",
            json!({ "id": staff.id, "s": status }),
            Some(&admin_token),
        )
        .await;

        let body = app.login(email, &password).await;

        assert_eq!(body, unknown, "{status} staff member logged in");
        assert!(app.sessions_of(staff.id).await.is_empty());
        assert!(app.user_row(staff.id).await.last_login_at.is_none());
    }
}

/// `token` with its payload replaced by `edit(payload)`, keeping the original signature.
fn with_edited_payload(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut payload);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    format!("{}.{}.{}", parts[0], payload, parts[2])
}

#[tokio::test]
async fn me_rejects_garbage_and_tampered_tokens() {
    let app = TestApp::spawn().await;
    let (admin, admin_token) = app.admin().await;
    let (_, customer_token) = app.customer("casey@example.com").await;
    assert_eq!(
        me_code(&app, &customer_token).await,
        None,
        "the genuine token works"
    );
    let claims: Value = {
        let payload = customer_token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };

    let mut bad_signature = customer_token.clone().into_bytes();
    let mid = customer_token.rfind('.').unwrap() + 10;
    bad_signature[mid] = if bad_signature[mid] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let bad_signature = String::from_utf8(bad_signature).unwrap();
    let as_admin = with_edited_payload(&customer_token, |p| p["sub"] = json!(admin.id));
    let promoted = with_edited_payload(&customer_token, |p| p["role"] = json!("admin"));
    let other_key = {
        let mut c = claims.clone();
        c["sub"] = json!(admin.id);
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-that-is-long-enough"),
        )
        .unwrap()
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        customer_token.split('.').nth(1).unwrap()
    );
    // Correctly signed with the server's own key, but not acceptable.
    let signed = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        edit(&mut c);
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(
                app.state.config.jwt_secret.expose().as_bytes(),
            ),
        )
        .unwrap()
    };
    let expired = signed(&|c| {
        c["iat"] = json!(Utc::now().timestamp() - 3600);
        c["exp"] = json!(Utc::now().timestamp() - 600);
    });
    let wrong_audience = signed(&|c| c["aud"] = json!("someone-else"));
    let unknown_session = signed(&|c| c["sid"] = json!(uuid::Uuid::now_v7()));
    let unknown_user = signed(&|c| c["sub"] = json!(uuid::Uuid::now_v7()));
    assert_eq!(
        me_code(&app, &signed(&|_| {})).await,
        None,
        "re-signing alone changes nothing"
    );
    let audit_before = app.count("audit_logs").await;

    let cases = [
        ("garbage", "garbage".to_string()),
        ("three dots", "a.b.c".to_string()),
        ("bad signature", bad_signature),
        ("payload claims another user", as_admin),
        ("payload claims another role", promoted),
        ("signed with another key", other_key),
        ("alg none", unsigned),
        ("expired", expired),
        ("another audience", wrong_audience),
        ("a session that never existed", unknown_session),
        ("a user who does not exist", unknown_user),
    ];
    for (name, token) in cases {
        let body = app.gql(ME, json!({}), Some(&token)).await;
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "{name}: {body:#}"
        );
        assert!(body["data"].is_null(), "{name}: {body:#}");
    }
    for header in [
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        &format!("Token {admin_token}"),
    ] {
        let body = app.gql_with_authorization(ME, header).await;
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "{header}: {body:#}"
        );
    }
    assert_eq!(
        app.count("audit_logs").await,
        audit_before,
        "bad tokens change nothing"
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_client() {
    let app = TestApp::spawn_with(|c| {
        c.login_limit = Limit::new(3, std::time::Duration::from_secs(3600))
    })
    .await;
    let (staff, password) = app.staff(Role::Admin, "admin@example.com").await;
    for _ in 0..3 {
        assert_login_refused(&app.login("admin@example.com", "not-the-password").await);
    }

    let fourth = app.login("admin@example.com", &password).await;

    assert_eq!(error_code(&fourth), Some("RATE_LIMITED"), "{fourth:#}");
    assert!(fourth["data"].is_null());
    assert_eq!(app.count("auth_sessions").await, 0);
    assert_eq!(
        app.audit_rows("auth.login_failed").await.len(),
        3,
        "the fourth never ran"
    );
    let row = app.user_row(staff.id).await;
    assert_eq!(row.failed_login_attempts, 3);
    assert!(row.last_login_at.is_none());
    let refresh = app.gql(REFRESH, json!({ "t": "anything" }), None).await;
    assert_eq!(
        error_code(&refresh),
        Some("RATE_LIMITED"),
        "refreshSession shares the limit"
    );
    // So does changePassword, where the current password could be guessed.
    let (token, _) = app.session_for(&staff).await;
    let change = app
        .gql(
            CHANGE_PASSWORD,
            json!({ "c": password, "n": "a-long-new-password" }),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&change), Some("RATE_LIMITED"), "{change:#}");
    assert_eq!(
        app.user_row(staff.id).await.password_hash,
        row.password_hash
    );
}

#[tokio::test]
async fn login_and_refresh_payloads_show_the_user_their_own_profile() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Admin, "admin@example.com").await;
    let fields = "user { id email firstName role lastLoginAt failedLoginAttempts }";

    let login = app
        .gql(
            &format!("mutation($e: String!, $p: String!) {{ login(email: $e, password: $p) {{ refreshToken {fields} }} }}"),
            json!({ "e": "admin@example.com", "p": password }),
            None,
        )
        .await;
    let refresh = login["data"]["login"]["refreshToken"]
        .as_str()
        .map(str::to_string);
    let refreshed = app
        .gql(
            &format!("mutation($t: String!) {{ refreshSession(refreshToken: $t) {{ {fields} }} }}"),
            json!({ "t": refresh.unwrap_or_default() }),
            None,
        )
        .await;

    // The payload's user is the caller from now on: an admin, and themself. Everything
    // `me` would show them (names, role: "admin or the user themself"; failed logins:
    // "admin only") must be in the payload, not refused as if they were a stranger.
    let stored = app.user_row(staff.id).await;
    for (name, body) in [("login", &login), ("refreshSession", &refreshed)] {
        assert!(body.get("errors").is_none(), "{name}: {body:#}");
        let user = &body["data"][name]["user"];
        assert_eq!(user["id"], staff.id.to_string(), "{name}");
        assert_eq!(user["firstName"], "Test", "{name}");
        assert_eq!(user["role"], "ADMIN", "{name}");
        assert_eq!(user["failedLoginAttempts"], 0, "{name}");
        let shown = time(&user["lastLoginAt"]);
        let last_login = stored.last_login_at.unwrap();
        assert!(
            (shown - last_login).num_seconds().abs() < 1,
            "{name}: {shown} vs {last_login}"
        );
    }
}

#[tokio::test]
async fn login_accepts_the_email_in_any_case_and_with_stray_spaces() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Admin, "admin@example.com").await;

    let logged_in = can_log_in(&app, "  Admin@EXAMPLE.com ", &password).await;

    assert!(logged_in);
    assert_eq!(app.sessions_of(staff.id).await.len(), 1);
}

#[tokio::test]
async fn login_success_resets_the_failure_count() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Admin, "admin@example.com").await;
    for _ in 0..4 {
        app.login("admin@example.com", "not-the-password").await;
    }
    assert_eq!(app.user_row(staff.id).await.failed_login_attempts, 4);

    access(&app.login("admin@example.com", &password).await);
    assert_eq!(app.user_row(staff.id).await.failed_login_attempts, 0);
    app.login("admin@example.com", "not-the-password").await;

    let row = app.user_row(staff.id).await;
    assert_eq!(
        row.failed_login_attempts, 1,
        "five failures must be in a row"
    );
    assert!(row.account_locked_until.is_none());
}

#[tokio::test]
async fn a_refresh_token_used_twice_at_once_yields_at_most_one_new_session() {
    let app = TestApp::spawn().await;
    let (staff, password) = app.staff(Role::Instructor, "jo@example.com").await;
    let refresh = refresh_token(&app.login("jo@example.com", &password).await);

    let (a, b) = tokio::join!(
        app.gql(REFRESH, json!({ "t": refresh }), None),
        app.gql(REFRESH, json!({ "t": refresh }), None),
    );

    let won: Vec<&Value> = [&a, &b]
        .into_iter()
        .filter(|r| r.get("errors").is_none())
        .collect();
    assert!(won.len() <= 1, "both refreshes succeeded: {a} / {b}");
    for lost in [&a, &b].into_iter().filter(|r| r.get("errors").is_some()) {
        assert_eq!(error_code(lost), Some("UNAUTHENTICATED"), "{lost:#}");
    }
    let usable: Vec<_> = app
        .sessions_of(staff.id)
        .await
        .into_iter()
        .filter(|s| s.revoked_at.is_none() && s.replaced_by_id.is_none())
        .collect();
    assert!(usable.len() <= 1, "two usable refresh tokens: {usable:#?}");
    match (won.first(), usable.first()) {
        // The winner's token is the one that works.
        (Some(w), Some(live)) => {
            let token = w["data"]["refreshSession"]["refreshToken"]
                .as_str()
                .unwrap();
            assert_eq!(live.token_hash, digest(token));
        }
        // Or the second use counted as reuse and ended the whole session.
        (_, None) => {
            let sessions = app.sessions_of(staff.id).await;
            assert!(
                sessions.iter().all(|s| s.revoked_at.is_some()),
                "{sessions:#?}"
            );
        }
        (None, Some(live)) => panic!("nobody won, yet a token is live: {live:#?}"),
    }
}
