//! Login sessions and devices, through the API: `myLoginSessions` (one entry per login,
//! the device in words, the current one marked), ending one (its access token refused at
//! once), ending the others, someone else's session id answering NOT_FOUND, and an
//! admin's `User.loginSessions` and `endUserLoginSessions`.

use chrono::{DateTime, Duration, Utc};
use rft_users::entities::{auth_session, enums::Role, user_activity_log};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code};

const FIREFOX_ON_WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI_ON_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
     AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const CHROME_ON_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) \
     AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

const ME: &str = "{ me { id } }";
const MY_SESSIONS: &str =
    "{ myLoginSessions { id createdAt lastUsedAt ipAddress userAgent device current expiresAt } }";
const END_ONE: &str = "mutation($id: UUID!) { endLoginSession(id: $id) }";
const END_OTHERS: &str = "mutation { endOtherLoginSessions }";
const END_USERS: &str = "mutation($u: UUID!) { endUserLoginSessions(userId: $u) }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";

/// Sends an operation from a browser with this `User-Agent`.
async fn gql_from(
    app: &TestApp,
    user_agent: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> Value {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .header("user-agent", user_agent)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// Logs in from a browser; returns (access token, refresh token).
async fn login_from(
    app: &TestApp,
    user_agent: &str,
    email: &str,
    password: &str,
) -> (String, String) {
    let body = gql_from(
        app,
        user_agent,
        LOGIN,
        json!({ "e": email, "p": password }),
        None,
    )
    .await;
    let login = &body["data"]["login"];
    let token = |k: &str| {
        login[k]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {body:#}"))
            .to_string()
    };
    (token("accessToken"), token("refreshToken"))
}

async fn me_code(app: &TestApp, token: &str) -> Option<String> {
    error_code(&app.gql(ME, json!({}), Some(token)).await).map(str::to_string)
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a DateTime: {v}"))
        .parse()
        .unwrap()
}

/// The listed session on this device.
fn on_device<'a>(sessions: &'a [Value], device: &str) -> &'a Value {
    sessions
        .iter()
        .find(|s| s["device"] == device)
        .unwrap_or_else(|| panic!("no session on {device}: {sessions:#?}"))
}

/// The family of the session a refresh token belongs to.
async fn family_of(app: &TestApp, user_id: Uuid, user_agent: &str) -> Uuid {
    let rows = app.sessions_of(user_id).await;
    rows.iter()
        .find(|r| r.user_agent.as_deref() == Some(user_agent))
        .unwrap_or_else(|| panic!("no session row from {user_agent}"))
        .family_id
}

#[tokio::test]
async fn login_sessions_are_listed_per_device_and_end_one_at_a_time_or_all_but_this_one() {
    let app = TestApp::spawn().await;
    let (jo, password) = app.staff(Role::Instructor, "jo.trainer@example.com").await;
    let (firefox, firefox_refresh) =
        login_from(&app, FIREFOX_ON_WINDOWS, &jo.email, &password).await;
    let (iphone, _) = login_from(&app, SAFARI_ON_IPHONE, &jo.email, &password).await;
    // The Firefox session refreshes once: one session still, with two rows.
    let refreshed = gql_from(
        &app,
        FIREFOX_ON_WINDOWS,
        REFRESH,
        json!({ "t": firefox_refresh }),
        None,
    )
    .await;
    let firefox = refreshed["data"]["refreshSession"]["accessToken"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| panic!("refresh failed: {refreshed:#} (old token {firefox})"));
    let firefox_refresh = refreshed["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    let data = app.gql_ok(MY_SESSIONS, json!({}), Some(&iphone)).await;
    let sessions = data["myLoginSessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    let on_firefox = on_device(&sessions, "Firefox on Windows");
    let on_iphone = on_device(&sessions, "Safari on iPhone");
    assert_eq!(on_iphone["current"], true);
    assert_eq!(on_firefox["current"], false);
    assert_eq!(on_firefox["userAgent"], FIREFOX_ON_WINDOWS);
    assert_eq!(on_firefox["ipAddress"], "127.0.0.1");
    // Most recently used first: the refresh came after the iPhone's login.
    assert_eq!(sessions[0]["device"], "Firefox on Windows");

    // Behind them: one family per login; created is the login, last used the refresh,
    // expiry the live row's.
    let firefox_family = family_of(&app, jo.id, FIREFOX_ON_WINDOWS).await;
    let iphone_family = family_of(&app, jo.id, SAFARI_ON_IPHONE).await;
    assert_eq!(on_firefox["id"], json!(firefox_family));
    assert_eq!(on_iphone["id"], json!(iphone_family));
    let rows: Vec<auth_session::Model> = app
        .sessions_of(jo.id)
        .await
        .into_iter()
        .filter(|r| r.family_id == firefox_family)
        .collect();
    assert_eq!(rows.len(), 2);
    let (first, live) = (&rows[0], &rows[1]);
    assert_eq!(first.replaced_by_id, Some(live.id));
    let close = |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).num_milliseconds().abs() < 2;
    assert!(close(time(&on_firefox["createdAt"]), first.created_at));
    assert!(close(time(&on_firefox["lastUsedAt"]), live.created_at));
    assert!(close(time(&on_firefox["expiresAt"]), live.expires_at));
    assert!(time(&on_firefox["lastUsedAt"]) > time(&on_firefox["createdAt"]));

    // Ending the Firefox session from the iPhone refuses its access token at once, and
    // its refresh token; the iPhone carries on.
    let ended = app
        .gql_ok(END_ONE, json!({ "id": firefox_family }), Some(&iphone))
        .await;
    assert_eq!(ended["endLoginSession"], true);
    assert_eq!(
        me_code(&app, &firefox).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(me_code(&app, &iphone).await, None);
    let again = app
        .gql(REFRESH, json!({ "t": firefox_refresh }), None)
        .await;
    assert_eq!(error_code(&again), Some("UNAUTHENTICATED"), "{again:#}");
    for row in app.sessions_of(jo.id).await {
        if row.family_id == firefox_family {
            assert!(row.revoked_at.is_some());
            assert_eq!(row.revoked_reason.as_deref(), Some("ended_by_user"));
        } else {
            assert!(row.revoked_at.is_none());
        }
    }
    let audit = app.audit_rows("auth.session_ended").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entity_id, Some(firefox_family));
    assert_eq!(audit[0].actor_id, Some(jo.id));
    assert!(
        audit[0].changes.is_none(),
        "no tokens in the audit: {:?}",
        audit[0].changes
    );
    let data = app.gql_ok(MY_SESSIONS, json!({}), Some(&iphone)).await;
    assert_eq!(data["myLoginSessions"].as_array().unwrap().len(), 1);
    // An ended session cannot be ended again.
    let twice = app
        .gql(END_ONE, json!({ "id": firefox_family }), Some(&iphone))
        .await;
    assert_eq!(error_code(&twice), Some("NOT_FOUND"), "{twice:#}");

    // Two more logins; ending the others from the iPhone ends those two only.
    let (mac, _) = login_from(&app, CHROME_ON_MAC, &jo.email, &password).await;
    let (firefox_again, _) = login_from(&app, FIREFOX_ON_WINDOWS, &jo.email, &password).await;
    let data = app.gql_ok(MY_SESSIONS, json!({}), Some(&mac)).await;
    let sessions = data["myLoginSessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    assert_eq!(on_device(&sessions, "Chrome on macOS")["current"], true);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    let data = app.gql_ok(END_OTHERS, json!({}), Some(&iphone)).await;
    assert_eq!(data["endOtherLoginSessions"], 2);
    assert_eq!(
        me_code(&app, &mac).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        me_code(&app, &firefox_again).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(me_code(&app, &iphone).await, None);
    let data = app.gql_ok(MY_SESSIONS, json!({}), Some(&iphone)).await;
    let left = data["myLoginSessions"].as_array().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], json!(iphone_family));
    assert_eq!(left[0]["current"], true);
    let live: Vec<_> = app
        .sessions_of(jo.id)
        .await
        .into_iter()
        .filter(|r| r.revoked_at.is_none())
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].family_id, iphone_family);
    let audit = app.audit_rows("auth.other_sessions_ended").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].changes, Some(json!({ "ended": 2 })));
    // Nothing else to end.
    let data = app.gql_ok(END_OTHERS, json!({}), Some(&iphone)).await;
    assert_eq!(data["endOtherLoginSessions"], 0);
}

#[tokio::test]
async fn another_users_or_an_expired_session_id_is_not_found_and_ends_nothing() {
    let app = TestApp::spawn().await;
    let (jo, jo_password) = app.staff(Role::Instructor, "jo.trainer@example.com").await;
    let (sam, sam_password) = app.staff(Role::Instructor, "sam.trainer@example.com").await;
    let (jo_token, _) = login_from(&app, FIREFOX_ON_WINDOWS, &jo.email, &jo_password).await;
    let (sam_token, _) = login_from(&app, SAFARI_ON_IPHONE, &sam.email, &sam_password).await;
    let jo_family = family_of(&app, jo.id, FIREFOX_ON_WINDOWS).await;

    for id in [jo_family, Uuid::now_v7()] {
        let body = app
            .gql(END_ONE, json!({ "id": id }), Some(&sam_token))
            .await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
        assert!(body["data"].is_null());
    }
    assert_eq!(me_code(&app, &jo_token).await, None);
    assert!(
        app.sessions_of(jo.id)
            .await
            .iter()
            .all(|r| r.revoked_at.is_none())
    );
    assert!(app.audit_rows("auth.session_ended").await.is_empty());
    // Sam's list shows Sam's session only.
    let data = app.gql_ok(MY_SESSIONS, json!({}), Some(&sam_token)).await;
    let listed = data["myLoginSessions"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["device"], "Safari on iPhone");

    // A session whose refresh token has expired is no longer listed, nor can it be ended.
    let (_, _) = login_from(&app, CHROME_ON_MAC, &jo.email, &jo_password).await;
    let mac_family = family_of(&app, jo.id, CHROME_ON_MAC).await;
    for row in app.sessions_of(jo.id).await {
        if row.family_id == mac_family {
            let mut am = row.into_active_model();
            am.expires_at = Set(Utc::now() - Duration::minutes(1));
            am.update(&app.db).await.unwrap();
        }
    }
    let data = app.gql_ok(MY_SESSIONS, json!({}), Some(&jo_token)).await;
    let listed = data["myLoginSessions"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["id"], json!(jo_family));
    let body = app
        .gql(END_ONE, json!({ "id": mac_family }), Some(&jo_token))
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");

    // Nor is a portal or anonymous caller shown anything.
    let body = app.gql(MY_SESSIONS, json!({}), None).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn admins_list_and_end_another_users_login_sessions() {
    let app = TestApp::spawn().await;
    let (admin, admin_token) = app.admin().await;
    let (jo, password) = app.staff(Role::Instructor, "jo.trainer@example.com").await;
    let (firefox, _) = login_from(&app, FIREFOX_ON_WINDOWS, &jo.email, &password).await;
    let (iphone, _) = login_from(&app, SAFARI_ON_IPHONE, &jo.email, &password).await;
    const USER_SESSIONS: &str =
        "query($id: UUID!) { user(id: $id) { loginSessions { id device current ipAddress } } }";

    let data = app
        .gql_ok(USER_SESSIONS, json!({ "id": jo.id }), Some(&admin_token))
        .await;
    let listed = data["user"]["loginSessions"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s["current"] == false));
    on_device(&listed, "Firefox on Windows");
    on_device(&listed, "Safari on iPhone");
    // The admin's own list marks the admin's session as current.
    let data = app
        .gql_ok(USER_SESSIONS, json!({ "id": admin.id }), Some(&admin_token))
        .await;
    let own = data["user"]["loginSessions"].as_array().unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["current"], true);
    // `loginSessions` is the admin's: not even the user themself reads it on `me`.
    let body = app
        .gql("{ me { loginSessions { id } } }", json!({}), Some(&firefox))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    // Nor may an instructor end someone's sessions.
    let body = app
        .gql(END_USERS, json!({ "u": admin.id }), Some(&firefox))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");

    let data = app
        .gql_ok(END_USERS, json!({ "u": jo.id }), Some(&admin_token))
        .await;
    assert_eq!(data["endUserLoginSessions"], 2);
    assert_eq!(
        me_code(&app, &firefox).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        me_code(&app, &iphone).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(me_code(&app, &admin_token).await, None);
    let rows = app.sessions_of(jo.id).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(
            |r| r.revoked_at.is_some() && r.revoked_reason.as_deref() == Some("ended_by_admin")
        )
    );
    let audit = app.audit_rows("auth.user_sessions_ended").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entity_id, Some(jo.id));
    assert_eq!(audit[0].actor_id, Some(admin.id));
    assert_eq!(audit[0].changes, Some(json!({ "ended": 2 })));
    let activity = user_activity_log::Entity::find()
        .filter(user_activity_log::Column::UserId.eq(jo.id))
        .filter(user_activity_log::Column::ActivityType.eq("login_sessions_ended"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(activity.len(), 1);
    let data = app
        .gql_ok(USER_SESSIONS, json!({ "id": jo.id }), Some(&admin_token))
        .await;
    assert_eq!(data["user"]["loginSessions"], json!([]));

    // Again: nothing left to end. An unknown user is NOT_FOUND.
    let data = app
        .gql_ok(END_USERS, json!({ "u": jo.id }), Some(&admin_token))
        .await;
    assert_eq!(data["endUserLoginSessions"], 0);
    let body = app
        .gql(
            END_USERS,
            json!({ "u": Uuid::now_v7() }),
            Some(&admin_token),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
    // The user logs in again as usual.
    let (fresh, _) = login_from(&app, CHROME_ON_MAC, &jo.email, &password).await;
    assert_eq!(me_code(&app, &fresh).await, None);
}
