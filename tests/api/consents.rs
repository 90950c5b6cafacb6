//! Consent history and preferences through the API: every writer of the four consents
//! (a booking that creates the customer, the portal, `createUser` and `updateUser`, the
//! legacy import, a merge and its undo) appends one `consent_events` row per consent it
//! changes, with its source, actor and address, and none when nothing changes;
//! `User.consentHistory` and the portal's `myProfile`/`me` show it to the admin and to the
//! customer themself only; `language` is checked; renewal reminders skip `NEVER`.

use rft_users::entities::consent_event;
use rft_users::entities::enums::{ConsentKind, ConsentSource, ReminderFrequency};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, error_field, uuid_of};

const HISTORY: &str = "consentHistory { consent granted source actorId ipAddress createdAt }";
const LOOKUP: &str = "mutation($e: String!, $r: String!) { customerLookup(email: $e, bookingReference: $r) { token } }";
const UPDATE_MINE: &str = "mutation($input: MyProfileInput!) { updateMyProfile(input: $input) { id marketingConsent shareMedicalWithTrainer language reminderFrequency } }";
const UPDATE_USER: &str = "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id marketingConsent smsConsent language reminderFrequency } }";

/// The stored history of a user, oldest first.
async fn rows_of(app: &TestApp, user_id: Uuid) -> Vec<consent_event::Model> {
    consent_event::Entity::find()
        .filter(consent_event::Column::UserId.eq(user_id))
        .order_by_asc(consent_event::Column::CreatedAt)
        .order_by_asc(consent_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// `user(id:) { consentHistory }` as `token` sees it.
async fn history_as(app: &TestApp, token: &str, user_id: Uuid) -> Value {
    app.gql(
        &format!("query($id: UUID!) {{ user(id: $id) {{ id {HISTORY} }} }}"),
        json!({ "id": user_id }),
        Some(token),
    )
    .await
}

/// The consent and value of each entry of an API history.
fn entries(history: &Value) -> Vec<(String, bool, String)> {
    history
        .as_array()
        .unwrap_or_else(|| panic!("not a history: {history:#}"))
        .iter()
        .map(|e| {
            (
                e["consent"].as_str().unwrap().to_string(),
                e["granted"].as_bool().unwrap(),
                e["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn entry(consent: &str, granted: bool, source: &str) -> (String, bool, String) {
    (consent.to_string(), granted, source.to_string())
}

/// An admin, and a session in two weeks.
async fn shop() -> (TestApp, String, Uuid) {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let catalogue = app.catalogue(&admin).await;
    let session = app
        .create_session(&admin, catalogue.efaw, catalogue.leeds, None, 14, None)
        .await;
    (app, admin, session)
}

/// Books one place for `email` from the public website with `consents` on the contact
/// (`marketingConsent`, ...); returns the booking (id, reference, customer id).
async fn book_with(
    app: &TestApp,
    session: Uuid,
    email: &str,
    consents: Value,
) -> (Uuid, String, Uuid) {
    let mut contact = json!({ "firstName": "Nia", "lastName": "Evans", "email": email });
    for (k, v) in consents.as_object().unwrap() {
        contact[k] = v.clone();
    }
    let body = app
        .gql_ok(
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { id reference user { id } } }",
            json!({ "input": {
                "sessionId": session,
                "contact": contact,
                "attendees": [{ "firstName": "Nia", "lastName": "Evans" }],
            } }),
            None,
        )
        .await;
    let b = &body["createBooking"];
    (
        uuid_of(&b["id"]),
        b["reference"].as_str().unwrap().to_string(),
        uuid_of(&b["user"]["id"]),
    )
}

/// Opens the portal for `email` with `reference`; returns the token.
async fn portal(app: &TestApp, email: &str, reference: &str) -> String {
    let body = app
        .gql_ok(LOOKUP, json!({ "e": email, "r": reference }), None)
        .await;
    body["customerLookup"]["token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_booking_records_the_new_customer_s_choices_and_leaves_a_known_customer_s_alone() {
    let (app, admin, session) = shop().await;

    let (_, _, nia) = book_with(
        &app,
        session,
        "nia@example.com",
        json!({ "marketingConsent": true, "smsConsent": false }),
    )
    .await;

    // One row for each consent the booking set (a refusal too); none for the newsletter,
    // which it did not ask about and which keeps its default.
    let rows = rows_of(&app, nia).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let marketing = rows
        .iter()
        .find(|r| r.consent == ConsentKind::Marketing)
        .unwrap();
    assert!(marketing.granted);
    let sms = rows.iter().find(|r| r.consent == ConsentKind::Sms).unwrap();
    assert!(!sms.granted);
    for r in &rows {
        assert_eq!(r.source, ConsentSource::Booking);
        assert_eq!(r.actor_id, None, "booked without logging in");
        assert_eq!(r.ip_address.as_deref(), Some("127.0.0.1"));
    }
    let profile = app.user_row(nia).await;
    assert!(profile.marketing_consent && !profile.sms_consent);

    // The admin reads it through the API.
    let body = history_as(&app, &admin, nia).await;
    let history = &body["data"]["user"]["consentHistory"];
    let mut got = entries(history);
    got.sort();
    assert_eq!(
        got,
        [
            entry("MARKETING", true, "BOOKING"),
            entry("SMS", false, "BOOKING")
        ]
    );
    assert_eq!(history[0]["ipAddress"], "127.0.0.1");
    assert_eq!(history[0]["actorId"], Value::Null);

    // A second booking with the same email, ticking otherwise, changes nothing: a booking
    // never overwrites a known customer's profile.
    book_with(
        &app,
        session,
        "NIA@example.com",
        json!({ "marketingConsent": false, "smsConsent": true }),
    )
    .await;
    assert_eq!(rows_of(&app, nia).await.len(), 2);
    let profile = app.user_row(nia).await;
    assert!(profile.marketing_consent && !profile.sms_consent);

    // A booking that asks nothing records nothing.
    let (_, _, quiet) = book_with(&app, session, "quiet@example.com", json!({})).await;
    assert!(rows_of(&app, quiet).await.is_empty());
}

#[tokio::test]
async fn the_portal_records_the_customer_s_own_changes_and_shows_them_newest_first() {
    let (app, admin, session) = shop().await;
    let (_, reference, zoe) = book_with(&app, session, "zoe@example.com", json!({})).await;
    let token = portal(&app, "zoe@example.com", &reference).await;

    let body = app
        .gql_ok(
            UPDATE_MINE,
            json!({ "input": { "marketingConsent": true, "shareMedicalWithTrainer": true } }),
            Some(&token),
        )
        .await;
    assert_eq!(body["updateMyProfile"]["marketingConsent"], true);
    let rows = rows_of(&app, zoe).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for r in &rows {
        assert_eq!(r.source, ConsentSource::Portal);
        assert_eq!(r.actor_id, Some(zoe), "the customer acted");
        assert_eq!(r.ip_address.as_deref(), Some("127.0.0.1"));
        assert!(r.granted);
    }

    // Withdrawn later: a new row, newest first in the history.
    app.gql_ok(
        UPDATE_MINE,
        json!({ "input": { "marketingConsent": false } }),
        Some(&token),
    )
    .await;
    assert_eq!(rows_of(&app, zoe).await.len(), 3);

    // The customer reads it in the portal, through `myProfile` and `me`.
    let mine = app
        .gql_ok(
            &format!("{{ myProfile {{ id {HISTORY} }} me {{ id {HISTORY} }} }}"),
            json!({}),
            Some(&token),
        )
        .await;
    let history = &mine["myProfile"]["consentHistory"];
    let got = entries(history);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], entry("MARKETING", false, "PORTAL"), "newest first");
    let mut older = got[1..].to_vec();
    older.sort();
    assert_eq!(
        older,
        [
            entry("MARKETING", true, "PORTAL"),
            entry("SHARE_MEDICAL_WITH_TRAINER", true, "PORTAL")
        ]
    );
    assert_eq!(history[0]["actorId"], json!(zoe.to_string()));
    assert_eq!(mine["me"]["consentHistory"], *history);
    // And the admin sees the same.
    let body = history_as(&app, &admin, zoe).await;
    assert_eq!(body["data"]["user"]["consentHistory"], *history);

    // A change that leaves the consents as they are writes no consent row (the profile
    // change itself is still made and audited).
    let audits = app.audit_rows("user.update_by_customer").await.len();
    app.gql_ok(
        UPDATE_MINE,
        json!({ "input": { "marketingConsent": false, "shareMedicalWithTrainer": true, "city": "Leeds" } }),
        Some(&token),
    )
    .await;
    assert_eq!(rows_of(&app, zoe).await.len(), 3);
    assert_eq!(
        app.audit_rows("user.update_by_customer").await.len(),
        audits + 1
    );
}

#[tokio::test]
async fn staff_changes_are_recorded_with_the_admin_as_actor() {
    let (app, admin, _) = shop().await;
    let admin_id = app
        .user_row(uuid_of(
            &app.gql_ok("{ me { id } }", json!({}), Some(&admin)).await["me"]["id"],
        ))
        .await
        .id;

    // createUser: the consents the admin set are the first entries.
    let created = app
        .gql_ok(
            "mutation($input: CreateUserInput!) { createUser(input: $input) { id } }",
            json!({ "input": {
                "email": "owen@example.com", "firstName": "Owen", "lastName": "Price",
                "marketingConsent": true, "newsletterSubscribed": false,
            } }),
            Some(&admin),
        )
        .await;
    let owen = uuid_of(&created["createUser"]["id"]);
    let rows = rows_of(&app, owen).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for r in &rows {
        assert_eq!(r.source, ConsentSource::Admin);
        assert_eq!(r.actor_id, Some(admin_id));
        assert_eq!(r.ip_address.as_deref(), Some("127.0.0.1"));
    }

    // updateUser: only the consent that changes gets a row.
    app.gql_ok(
        UPDATE_USER,
        json!({ "id": owen, "input": { "marketingConsent": true, "smsConsent": true } }),
        Some(&admin),
    )
    .await;
    let rows = rows_of(&app, owen).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[2].consent, rows[2].granted, rows[2].source),
        (ConsentKind::Sms, true, ConsentSource::Admin)
    );

    // The same again: nothing written at all.
    app.gql_ok(
        UPDATE_USER,
        json!({ "id": owen, "input": { "marketingConsent": true, "smsConsent": true } }),
        Some(&admin),
    )
    .await;
    assert_eq!(rows_of(&app, owen).await.len(), 3);

    let body = history_as(&app, &admin, owen).await;
    let got = entries(&body["data"]["user"]["consentHistory"]);
    assert_eq!(got[0], entry("SMS", true, "ADMIN"), "newest first");
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn preferences_are_set_in_the_portal_and_by_admins_and_a_bad_language_writes_nothing() {
    let (app, admin, session) = shop().await;
    let (_, reference, zoe) = book_with(&app, session, "zoe@example.com", json!({})).await;
    let token = portal(&app, "zoe@example.com", &reference).await;

    // The defaults.
    let body = app
        .gql_ok(
            "{ myProfile { language reminderFrequency } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        body["myProfile"],
        json!({ "language": "en-GB", "reminderFrequency": "BEFORE_EXPIRY" })
    );

    // The customer sets them; the tag is kept in its usual case.
    let body = app
        .gql_ok(
            UPDATE_MINE,
            json!({ "input": { "language": "cy-gb", "reminderFrequency": "NEVER" } }),
            Some(&token),
        )
        .await;
    assert_eq!(body["updateMyProfile"]["language"], "cy-GB");
    assert_eq!(body["updateMyProfile"]["reminderFrequency"], "NEVER");
    let row = app.user_row(zoe).await;
    assert_eq!(row.language, "cy-GB");
    assert_eq!(row.reminder_frequency, ReminderFrequency::Never);

    // Nonsense is refused, with the consent change beside it: nothing is written.
    let before = app.user_row(zoe).await;
    let audits = app.count("audit_logs").await;
    for bad in ["klingon!", "english", "", "en_GB"] {
        let body = app
            .gql(
                UPDATE_MINE,
                json!({ "input": { "language": bad, "marketingConsent": true } }),
                Some(&token),
            )
            .await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{bad:?}: {body:#}"
        );
        assert_eq!(error_field(&body), Some("language"), "{body:#}");
        let body = app
            .gql(
                UPDATE_USER,
                json!({ "id": zoe, "input": { "language": bad, "smsConsent": true } }),
                Some(&admin),
            )
            .await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{bad:?}: {body:#}"
        );
    }
    assert_eq!(app.user_row(zoe).await, before);
    assert!(rows_of(&app, zoe).await.is_empty());
    assert_eq!(app.count("audit_logs").await, audits);

    // The admin sets them back.
    let body = app
        .gql_ok(
            UPDATE_USER,
            json!({ "id": zoe, "input": { "language": "en-GB", "reminderFrequency": "BEFORE_EXPIRY" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(body["updateUser"]["language"], "en-GB");
    assert_eq!(body["updateUser"]["reminderFrequency"], "BEFORE_EXPIRY");
    let body = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { language reminderFrequency } }",
            json!({ "id": zoe }),
            Some(&admin),
        )
        .await;
    assert_eq!(body["user"]["reminderFrequency"], "BEFORE_EXPIRY");
}

#[tokio::test]
async fn a_customer_sees_their_own_history_and_nobody_else_s() {
    let (app, admin, session) = shop().await;
    let (_, reference, zoe) = book_with(
        &app,
        session,
        "zoe@example.com",
        json!({ "marketingConsent": true }),
    )
    .await;
    let (_, _, nia) = book_with(
        &app,
        session,
        "nia@example.com",
        json!({ "smsConsent": true }),
    )
    .await;
    let token = portal(&app, "zoe@example.com", &reference).await;

    // Her own, through the portal.
    let body = app
        .gql_ok(
            &format!("{{ me {{ id {HISTORY} }} }}"),
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(body["me"]["id"], json!(zoe.to_string()));
    assert_eq!(
        entries(&body["me"]["consentHistory"]),
        [entry("MARKETING", true, "BOOKING")]
    );

    // Someone else's: not through the portal's token...
    let body = history_as(&app, &token, nia).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    assert!(!body.to_string().contains("SMS"), "{body:#}");
    // ...nor as an instructor, nor as another customer.
    let (_, instructor) = app
        .logged_in(
            rft_users::entities::enums::Role::Instructor,
            "ian@example.com",
        )
        .await;
    let body = history_as(&app, &instructor, nia).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    let (_, customer) = app.customer("casey@example.com").await;
    let body = history_as(&app, &customer, nia).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    // The admin sees it.
    let body = history_as(&app, &admin, nia).await;
    assert_eq!(
        entries(&body["data"]["user"]["consentHistory"]),
        [entry("SMS", true, "BOOKING")]
    );

    // A page of users reads everyone's history in one go.
    let body = app
        .gql_ok(
            &format!("{{ users(first: 10) {{ edges {{ node {{ email {HISTORY} }} }} }} }}"),
            json!({}),
            Some(&admin),
        )
        .await;
    let with_history = body["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["node"]["consentHistory"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(with_history, 2, "{body:#}");
}

#[tokio::test]
async fn the_import_records_the_consents_of_the_customers_it_creates() {
    let (app, admin, session) = shop().await;
    // A known customer: the import fills blanks only, and never changes her consents.
    let (_, _, known) = book_with(&app, session, "known@example.com", json!({})).await;

    let mut fresh = crate::import::legacy_row("L-1", "ann.other@example.com");
    fresh["contactDetails"]["marketingConsent"] = json!(true);
    fresh["contactDetails"]["newsletterSubscribed"] = json!(false);
    let mut again = crate::import::legacy_row("L-2", "ann.other@example.com");
    again["contactDetails"]["marketingConsent"] = json!(false);
    let mut theirs = crate::import::legacy_row("L-3", "known@example.com");
    theirs["contactDetails"]["marketingConsent"] = json!(true);
    let file = crate::import::file_of(&[fresh, again, theirs]);
    crate::import::import_ok(&app, file.path(), &[]).await;

    let ann = rft_users::services::users::find_by_email(&app.db, "ann.other@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(ann.marketing_consent && !ann.newsletter_subscribed);
    let rows = rows_of(&app, ann.id).await;
    assert_eq!(rows.len(), 2, "the first row's choices: {rows:#?}");
    for r in &rows {
        assert_eq!(r.source, ConsentSource::Import);
        assert_eq!(r.actor_id, None);
        assert_eq!(r.ip_address, None);
    }
    let body = history_as(&app, &admin, ann.id).await;
    let mut got = entries(&body["data"]["user"]["consentHistory"]);
    got.sort();
    assert_eq!(
        got,
        [
            entry("MARKETING", true, "IMPORT"),
            entry("NEWSLETTER", false, "IMPORT")
        ]
    );
    assert!(rows_of(&app, known).await.is_empty());
    assert!(!app.user_row(known).await.marketing_consent);

    // A rerun of the same file changes nothing.
    crate::import::import_ok(&app, file.path(), &[]).await;
    assert_eq!(rows_of(&app, ann.id).await.len(), 2);
}

#[tokio::test]
async fn a_merge_that_changes_the_survivor_s_consent_records_it_and_moves_the_history() {
    let (app, admin, session) = shop().await;
    let (_, _, survivor) = book_with(&app, session, "sam@example.com", json!({})).await;
    let (_, _, dup) = book_with(
        &app,
        session,
        "sam.jones@example.com",
        json!({ "marketingConsent": true }),
    )
    .await;
    // The duplicate's profile is the more recently updated one: its consent wins.
    app.gql_ok(
        UPDATE_USER,
        json!({ "id": dup, "input": { "smsConsent": true } }),
        Some(&admin),
    )
    .await;
    assert_eq!(rows_of(&app, dup).await.len(), 2);

    let merged = app
        .gql_ok(
            "mutation($s: UUID!, $d: [UUID!]!) { mergeUsers(input: { survivorId: $s, duplicateIds: $d }) { id survivor { marketingConsent smsConsent } } }",
            json!({ "s": survivor, "d": [dup] }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        merged["mergeUsers"]["survivor"],
        json!({ "marketingConsent": true, "smsConsent": true })
    );
    // The duplicate's history moved to the survivor, with the merge's own entries.
    assert!(rows_of(&app, dup).await.is_empty());
    let rows = rows_of(&app, survivor).await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let from_merge: Vec<_> = rows.iter().skip(2).collect();
    for r in &from_merge {
        assert_eq!(r.source, ConsentSource::Admin);
        assert!(r.granted);
    }

    // Undone: the moved rows go back, and the survivor's return to false is recorded.
    app.gql_ok(
        "mutation($id: UUID!) { unmergeUsers(mergeId: $id) { id } }",
        json!({ "id": merged["mergeUsers"]["id"] }),
        Some(&admin),
    )
    .await;
    assert_eq!(rows_of(&app, dup).await.len(), 2);
    let rows = rows_of(&app, survivor).await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert!(rows[2..].iter().all(|r| !r.granted));
    assert!(!app.user_row(survivor).await.marketing_consent);
}

#[tokio::test]
async fn renewal_reminders_skip_holders_who_want_none() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "First Aid at Work", "FAW", "150.00")
        .await;
    let venue = app.create_venue(&admin, "York Hub").await;
    let past = app
        .create_session(&admin, course, venue, None, 7, Some(20))
        .await;
    let (keen, _) = crate::emails::holder(&app, past, "keen@example.com", true, 30).await;
    let (tired, _) = crate::emails::holder(&app, past, "tired@example.com", true, 30).await;
    app.move_session(past, -3 * 365).await;
    app.gql_ok(
        UPDATE_USER,
        json!({ "id": tired, "input": { "reminderFrequency": "NEVER" } }),
        Some(&admin),
    )
    .await;

    let body = app
        .gql_ok(
            "mutation { sendRenewalReminders(withinDays: 60) { queued alreadyQueued } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        body["sendRenewalReminders"],
        json!({ "queued": 1, "alreadyQueued": 0 })
    );
    let reminders: Vec<_> = app
        .emails()
        .await
        .into_iter()
        .filter(|e| e.template_name == "renewal_reminder")
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].user_id, keen);

    // The admins' call list still shows both: only the emails are skipped.
    let body = app
        .gql_ok(
            "{ renewalsDue(withinDays: 60) { totalCount } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(body["renewalsDue"]["totalCount"], 2, "{body:#}");
}
