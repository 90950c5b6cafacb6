//! The customer portal through the API: `customerLookup` (one answer for every mismatch,
//! merged emails, cancelled bookings, audit rows without the email, throttling shared by
//! instances), what a portal session reads and changes (`myProfile`, `updateMyProfile`),
//! its lifetime and `endPortalSession`. What a portal token may not do is in the role
//! matrix (`roles.rs`).

use rft_users::entities::encrypted::RevealedText as _;
use std::time::Duration;

use chrono::Utc;
use rft_users::auth::rate_limit::Limit;
use rft_users::auth::tokens::digest;
use rft_users::entities::{portal_session, rate_limit_bucket, user_activity_log};
use rft_users::services::audit::REDACTED;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, error_field, error_message, uuid_of};

const LOOKUP: &str = "mutation($e: String!, $r: String!) { customerLookup(email: $e, bookingReference: $r) { token expiresAt customer { id email firstName } } }";
const MY_PROFILE: &str = "{ myProfile { id email phone city medicalNotes bookings { edges { node { reference status } } } payments { amount } certificates { id } } }";
const UPDATE: &str = "mutation($input: MyProfileInput!) { updateMyProfile(input: $input) { id phone city postcode medicalNotes shareMedicalWithTrainer smsConsent preferredContactMethod } }";
const END: &str = "mutation { endPortalSession }";
const NO_MATCH: &str = "no booking matches that email and reference";

/// A shop with one session, an admin, and a customer who booked it.
struct Shop {
    app: TestApp,
    admin: String,
    session: Uuid,
    /// Zoë's booking: its reference and id.
    reference: String,
    booking: Uuid,
}

const ZOE: &str = "zoe.davies@example.com";

async fn shop_with(app: TestApp) -> Shop {
    let (_, admin) = app.admin().await;
    let catalogue = app.catalogue(&admin).await;
    let session = app
        .create_session(&admin, catalogue.efaw, catalogue.leeds, None, 14, None)
        .await;
    let booked = app.book_ok(None, session, ZOE, 1).await;
    Shop {
        reference: booked["reference"].as_str().unwrap().to_string(),
        booking: uuid_of(&booked["id"]),
        app,
        admin,
        session,
    }
}

async fn shop() -> Shop {
    shop_with(TestApp::spawn().await).await
}

impl Shop {
    async fn lookup(&self, email: &str, reference: &str) -> Value {
        self.app
            .gql(LOOKUP, json!({ "e": email, "r": reference }), None)
            .await
    }

    /// Opens the portal as Zoë; returns the token.
    async fn open(&self) -> String {
        let body = self.lookup(ZOE, &self.reference).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        body["data"]["customerLookup"]["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn zoe(&self) -> rft_users::entities::user::Model {
        rft_users::services::users::find_by_email(&self.app.db, ZOE)
            .await
            .unwrap()
            .unwrap()
    }
}

#[tokio::test]
async fn lookup_opens_a_session_for_the_owner_of_the_booking() {
    let shop = shop().await;

    // Any case and spacing of the email, and of the reference.
    let body = shop
        .lookup("  Zoe.Davies@EXAMPLE.com ", &shop.reference.to_lowercase())
        .await;

    let session = &body["data"]["customerLookup"];
    assert!(body.get("errors").is_none(), "{body:#}");
    let token = session["token"].as_str().unwrap();
    assert!(token.starts_with("rftp_"), "{token}");
    assert!(
        token.len() >= "rftp_".len() + 43,
        "at least 256 bits: {token}"
    );
    assert_eq!(session["customer"]["email"], ZOE);
    let expires: chrono::DateTime<Utc> = session["expiresAt"].as_str().unwrap().parse().unwrap();
    let minutes = (expires - Utc::now()).num_minutes();
    assert!((28..=30).contains(&minutes), "{minutes} minutes");

    let zoe = shop.zoe().await;
    let rows = portal_session::Entity::find()
        .all(&shop.app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user_id, zoe.id);
    assert_eq!(rows[0].token_hash, digest(token), "only the hash is kept");
    assert!(rows[0].revoked_at.is_none());
    assert_eq!(rows[0].ip.as_deref(), Some("127.0.0.1"));
    let audit = shop.app.audit_rows("portal_lookup").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entity_id, Some(zoe.id));
    assert_eq!(audit[0].changes.as_ref().unwrap()["outcome"], "ok");
    assert_eq!(audit[0].ip_address.as_deref(), Some("127.0.0.1"));
    assert!(
        !format!("{:?}", audit[0])
            .to_lowercase()
            .contains("zoe.davies")
    );
}

#[tokio::test]
async fn every_mismatch_gives_the_same_answer_and_is_audited() {
    let shop = shop().await;
    let other = shop
        .app
        .book_ok(None, shop.session, "sam@example.com", 1)
        .await;
    let someone_elses = other["reference"].as_str().unwrap();

    let answers = [
        shop.lookup("nobody@example.com", &shop.reference).await,
        shop.lookup(ZOE, "RFT-00000-00000-000").await,
        shop.lookup(ZOE, someone_elses).await,
        shop.lookup("not an email", "").await,
    ];

    for body in &answers {
        assert_eq!(error_code(body), Some("UNAUTHENTICATED"), "{body:#}");
        assert_eq!(error_message(body), Some(NO_MATCH), "{body:#}");
        assert!(body["data"].is_null(), "{body:#}");
        assert_eq!(body["errors"].as_array().unwrap().len(), 1);
    }
    // Byte for byte the same, apart from nothing.
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    assert_eq!(shop.app.count("portal_sessions").await, 0);
    let audit = shop.app.audit_rows("portal_lookup").await;
    assert_eq!(audit.len(), 4, "failed lookups are audited too");
    for row in &audit {
        assert_eq!(row.changes.as_ref().unwrap()["outcome"], "no_match");
        assert_eq!(row.ip_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(row.entity_id, None);
        let text = format!("{row:?}").to_lowercase();
        assert!(
            !text.contains("zoe.davies") && !text.contains("nobody@"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_customer_whose_bookings_were_all_cancelled_still_gets_in() {
    let shop = shop().await;
    shop.app
        .gql_ok(
            "mutation($id: UUID!) { cancelBooking(id: $id, reason: \"Illness\") { id status } }",
            json!({ "id": shop.booking }),
            Some(&shop.admin),
        )
        .await;

    let token = shop.open().await;
    let mine = shop.app.gql_ok(MY_PROFILE, json!({}), Some(&token)).await;

    assert_eq!(
        mine["myProfile"]["bookings"]["edges"],
        json!([{ "node": { "reference": shop.reference, "status": "CANCELLED" } }])
    );
}

#[tokio::test]
async fn an_email_merged_away_leads_to_the_survivor_with_all_the_bookings() {
    let shop = shop().await;
    let old = shop
        .app
        .book_ok(None, shop.session, "zoe.old@example.com", 1)
        .await;
    let old_reference = old["reference"].as_str().unwrap();
    let zoe = shop.zoe().await;
    let old_user = rft_users::services::users::find_by_email(&shop.app.db, "zoe.old@example.com")
        .await
        .unwrap()
        .unwrap();
    shop.app
        .gql_ok(
            "mutation($s: UUID!, $d: UUID!) { mergeUsers(input: { survivorId: $s, duplicateIds: [$d] }) { id } }",
            json!({ "s": zoe.id, "d": old_user.id }),
            Some(&shop.admin),
        )
        .await;

    let body = shop.lookup("zoe.old@example.com", old_reference).await;

    assert_eq!(
        body["data"]["customerLookup"]["customer"]["id"],
        json!(zoe.id),
        "{body:#}"
    );
    let token = body["data"]["customerLookup"]["token"].as_str().unwrap();
    let mine = shop.app.gql_ok(MY_PROFILE, json!({}), Some(token)).await;
    let mut references: Vec<&str> = mine["myProfile"]["bookings"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["reference"].as_str().unwrap())
        .collect();
    references.sort();
    let mut expected = vec![shop.reference.as_str(), old_reference];
    expected.sort();
    assert_eq!(references, expected);
    let row = portal_session::Entity::find()
        .one(&shop.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.user_id, zoe.id);
}

#[tokio::test]
async fn a_session_of_a_profile_merged_away_stops_working() {
    let shop = shop().await;
    let token = shop.open().await;
    let zoe = shop.zoe().await;
    let survivor = shop
        .app
        .book_ok(None, shop.session, "zoe.new@example.com", 1)
        .await;
    let survivor = uuid_of(&survivor["id"]);
    let survivor = rft_users::services::bookings::find(&shop.app.db, survivor)
        .await
        .unwrap()
        .user_id;
    shop.app
        .gql_ok(
            "mutation($s: UUID!, $d: UUID!) { mergeUsers(input: { survivorId: $s, duplicateIds: [$d] }) { id } }",
            json!({ "s": survivor, "d": zoe.id }),
            Some(&shop.admin),
        )
        .await;

    let body = shop.app.gql(MY_PROFILE, json!({}), Some(&token)).await;

    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body:#}");
}

#[tokio::test]
async fn my_profile_shows_only_the_customers_own_data() {
    let shop = shop().await;
    let other = shop
        .app
        .book_ok(None, shop.session, "sam@example.com", 1)
        .await;
    let paid = shop
        .app
        .pay(&shop.admin, shop.booking, "40.00", "CARD")
        .await;
    assert!(paid.get("errors").is_none(), "{paid:#}");
    let theirs = shop
        .app
        .pay(&shop.admin, uuid_of(&other["id"]), "95.00", "CARD")
        .await;
    assert!(theirs.get("errors").is_none(), "{theirs:#}");
    let token = shop.open().await;

    let mine = shop.app.gql_ok(MY_PROFILE, json!({}), Some(&token)).await;

    let me = &mine["myProfile"];
    assert_eq!(me["email"], ZOE);
    assert_eq!(
        me["bookings"]["edges"][0]["node"]["reference"],
        json!(shop.reference)
    );
    assert_eq!(me["bookings"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(me["payments"], json!([{ "amount": "40.00" }]));
    assert_eq!(me["certificates"], json!([]));
    assert!(!mine.to_string().contains("sam@example.com"));
}

#[tokio::test]
async fn me_in_the_portal_is_the_customers_own_profile() {
    let shop = shop().await;
    let paid = shop
        .app
        .pay(&shop.admin, shop.booking, "40.00", "CARD")
        .await;
    assert!(paid.get("errors").is_none(), "{paid:#}");
    let other = shop
        .app
        .book_ok(None, shop.session, "sam@example.com", 1)
        .await;
    let token = shop.open().await;
    let zoe = shop.zoe().await;

    let body = shop
        .app
        .gql_ok(
            "{ me { id email firstName bookings { edges { node { reference status } } } payments { amount } certificates { id } } }",
            json!({}),
            Some(&token),
        )
        .await;

    let me = &body["me"];
    assert_eq!(me["id"], json!(zoe.id));
    assert_eq!(me["email"], ZOE);
    assert_eq!(
        me["bookings"]["edges"],
        json!([{ "node": { "reference": shop.reference, "status": "PENDING" } }])
    );
    assert_eq!(me["payments"], json!([{ "amount": "40.00" }]));
    assert_eq!(me["certificates"], json!([]));
    let mine = shop.app.gql_ok(MY_PROFILE, json!({}), Some(&token)).await;
    assert_eq!(me["bookings"], mine["myProfile"]["bookings"]);
    assert!(
        !body
            .to_string()
            .contains(other["reference"].as_str().unwrap())
    );
    // Admin-only fields stay closed (the role tests check each one).
    let medical = shop
        .app
        .gql("{ me { email medicalNotes } }", json!({}), Some(&token))
        .await;
    assert_eq!(error_code(&medical), Some("FORBIDDEN"), "{medical:#}");
    // After endPortalSession, `me` is closed too.
    shop.app.gql_ok(END, json!({}), Some(&token)).await;
    let ended = shop.app.gql("{ me { id } }", json!({}), Some(&token)).await;
    assert_eq!(error_code(&ended), Some("UNAUTHENTICATED"), "{ended:#}");
}

#[tokio::test]
async fn update_my_profile_changes_the_allowed_fields_audited_and_logged() {
    let shop = shop().await;
    let token = shop.open().await;
    let before = shop.zoe().await;

    let data = shop
        .app
        .gql_ok(
            UPDATE,
            json!({ "input": {
                "phone": "0113 496 0000", "city": "York", "postcode": "yo1 7hh",
                "medicalNotes": "Asthma", "shareMedicalWithTrainer": true,
                "smsConsent": true, "preferredContactMethod": "SMS",
            } }),
            Some(&token),
        )
        .await;

    assert_eq!(
        data["updateMyProfile"],
        json!({
            "id": before.id, "phone": "0113 496 0000", "city": "York", "postcode": "YO1 7HH",
            "medicalNotes": "Asthma", "shareMedicalWithTrainer": true, "smsConsent": true,
            "preferredContactMethod": "SMS",
        })
    );
    let after = shop.zoe().await;
    assert_eq!(after.city.as_deref(), Some("York"));
    assert_eq!(after.medical_notes.plain_str(), Some("Asthma"));
    assert_eq!(
        (after.email.as_str(), after.first_name.as_str()),
        (before.email.as_str(), before.first_name.as_str())
    );
    let audit = shop.app.audit_rows("user.update_by_customer").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor_id, Some(before.id));
    let changes = audit[0].changes.as_ref().unwrap();
    assert_eq!(changes["city"]["after"], "York");
    assert_eq!(changes["medical_notes"]["after"], REDACTED);
    let activity = user_activity_log::Entity::find()
        .filter(user_activity_log::Column::UserId.eq(before.id))
        .filter(user_activity_log::Column::ActivityType.eq("profile_updated_by_customer"))
        .all(&shop.app.db)
        .await
        .unwrap();
    assert_eq!(activity.len(), 1);
}

#[tokio::test]
async fn update_my_profile_cannot_touch_identity_or_staff_fields_and_bad_input_writes_nothing() {
    let shop = shop().await;
    let token = shop.open().await;
    let before = shop.zoe().await;
    let audit_before = shop.app.count("audit_logs").await;

    for (input, field) in [
        (json!({ "email": "new@example.com" }), "input"),
        (json!({ "firstName": "Mallory" }), "input"),
        (json!({ "companyName": "Evil Ltd" }), "input"),
        (json!({ "adminNotes": "VIP" }), "input"),
        (json!({ "city": "York", "phone": "12" }), "phone"),
        (json!({ "city": "x".repeat(101) }), "city"),
    ] {
        let body = shop
            .app
            .gql(UPDATE, json!({ "input": input }), Some(&token))
            .await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{input}: {body:#}"
        );
        assert_eq!(error_field(&body), Some(field), "{input}: {body:#}");
    }

    assert_eq!(shop.zoe().await, before, "nothing changed");
    assert_eq!(shop.app.count("audit_logs").await, audit_before);
}

#[tokio::test]
async fn end_portal_session_revokes_the_token() {
    let shop = shop().await;
    let token = shop.open().await;

    let ended = shop.app.gql_ok(END, json!({}), Some(&token)).await;
    let after = shop.app.gql(MY_PROFILE, json!({}), Some(&token)).await;

    assert_eq!(ended["endPortalSession"], true);
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"), "{after:#}");
    let row = portal_session::Entity::find()
        .one(&shop.app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.revoked_at.is_some());
    assert_eq!(shop.app.audit_rows("portal.session_ended").await.len(), 1);
}

#[tokio::test]
async fn a_session_extends_on_use_but_never_past_four_hours() {
    let shop = shop().await;
    let token = shop.open().await;
    let row = portal_session::Entity::find()
        .one(&shop.app.db)
        .await
        .unwrap()
        .unwrap();
    let now = Utc::now();
    // Started 3h50m ago, about to run out: a use extends it to the 4-hour cap only.
    let mut am = row.clone().into_active_model();
    am.created_at = Set(now - chrono::Duration::minutes(230));
    am.expires_at = Set(now + chrono::Duration::minutes(2));
    am.update(&shop.app.db).await.unwrap();

    shop.app.gql_ok(MY_PROFILE, json!({}), Some(&token)).await;

    let row = portal_session::Entity::find()
        .one(&shop.app.db)
        .await
        .unwrap()
        .unwrap();
    let cap = row.created_at + chrono::Duration::hours(4);
    assert_eq!(row.expires_at, cap);
    assert!(row.last_used_at >= now - chrono::Duration::seconds(5));

    // Once it has run out, the token is refused.
    let mut am = row.into_active_model();
    am.expires_at = Set(Utc::now() - chrono::Duration::seconds(1));
    am.update(&shop.app.db).await.unwrap();
    let body = shop.app.gql(MY_PROFILE, json!({}), Some(&token)).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body:#}");
}

#[tokio::test]
async fn a_fresh_session_extends_to_thirty_minutes_from_its_last_use() {
    let shop = shop().await;
    let token = shop.open().await;
    let row = portal_session::Entity::find()
        .one(&shop.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut am = row.into_active_model();
    am.expires_at = Set(Utc::now() + chrono::Duration::minutes(5));
    am.update(&shop.app.db).await.unwrap();

    shop.app.gql_ok(MY_PROFILE, json!({}), Some(&token)).await;

    let row = portal_session::Entity::find()
        .one(&shop.app.db)
        .await
        .unwrap()
        .unwrap();
    let minutes = (row.expires_at - Utc::now()).num_minutes();
    assert!((28..=30).contains(&minutes), "{minutes}");
}

// ---------------------------------------------------------------------------------------
// Throttling.

fn three_an_hour() -> Limit {
    Limit::new(3, Duration::from_secs(3600))
}

/// A shop whose lookup limits are all generous but `pick`'s, which allows 3 an hour.
async fn throttled_shop(pick: impl FnOnce(&mut rft_users::config::PortalLimits)) -> Shop {
    let app = TestApp::spawn_with(|c| {
        let generous = Limit::new(1_000, Duration::from_secs(3600));
        c.portal_limits.per_ip = generous;
        c.portal_limits.per_email = generous;
        c.portal_limits.per_reference = generous;
        c.portal_limits.global = generous;
        pick(&mut c.portal_limits);
    })
    .await;
    shop_with(app).await
}

fn retry_after(body: &Value) -> u64 {
    assert_eq!(error_code(body), Some("RATE_LIMITED"), "{body:#}");
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("retryAfter: {body:#}"))
}

#[tokio::test]
async fn lookups_are_limited_per_reference_across_instances_and_aliases() {
    let shop = throttled_shop(|l| l.per_reference = three_an_hour()).await;
    let beside = shop.app.spawn_beside().await;
    // Two guesses here (as aliases of one document), one on the other instance.
    let body = shop
        .app
        .gql(
            "mutation($r: String!) { a: customerLookup(email: \"a@example.com\", bookingReference: $r) { token } b: customerLookup(email: \"b@example.com\", bookingReference: $r) { token } }",
            json!({ "r": shop.reference }),
            None,
        )
        .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body:#}");
    let third = beside
        .gql(
            LOOKUP,
            json!({ "e": "c@example.com", "r": shop.reference }),
            None,
        )
        .await;
    assert_eq!(error_code(&third), Some("UNAUTHENTICATED"));

    // Even the right email is refused now, on either instance.
    let fourth = shop.lookup(ZOE, &shop.reference).await;
    let fifth = beside
        .gql(LOOKUP, json!({ "e": ZOE, "r": shop.reference }), None)
        .await;

    assert!((1..=1200).contains(&retry_after(&fourth)));
    retry_after(&fifth);
    assert_eq!(shop.app.count("portal_sessions").await, 0);
    // Another booking's reference is not affected.
    let other = shop
        .app
        .book_ok(None, shop.session, "sam@example.com", 1)
        .await;
    let ok = shop
        .lookup("sam@example.com", other["reference"].as_str().unwrap())
        .await;
    assert!(ok.get("errors").is_none(), "{ok:#}");
    let outcomes: Vec<String> = shop
        .app
        .audit_rows("portal_lookup")
        .await
        .iter()
        .map(|r| {
            r.changes.as_ref().unwrap()["outcome"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "no_match",
            "no_match",
            "no_match",
            "rate_limited",
            "rate_limited",
            "ok"
        ]
    );
}

#[tokio::test]
async fn lookups_are_limited_per_email_per_client_and_overall() {
    type Pick = fn(&mut rft_users::config::PortalLimits);
    let cases: [(&str, Pick); 3] = [
        ("per email", |l| l.per_email = three_an_hour()),
        ("per client", |l| l.per_ip = three_an_hour()),
        ("overall", |l| l.global = three_an_hour()),
    ];
    for (what, pick) in cases {
        let shop = throttled_shop(pick).await;
        // Three wrong guesses at Zoë's email, each with a different reference.
        for i in 0..3 {
            let body = shop.lookup(ZOE, &format!("RFT-AAAAA-AAAAA-AA{i}")).await;
            assert_eq!(
                error_code(&body),
                Some("UNAUTHENTICATED"),
                "{what}: {body:#}"
            );
        }

        let fourth = shop.lookup(ZOE, &shop.reference).await;

        retry_after(&fourth);
        assert_eq!(shop.app.count("portal_sessions").await, 0, "{what}");
    }
}

#[tokio::test]
async fn the_buckets_hold_no_email_reference_or_address() {
    let shop = throttled_shop(|_| {}).await;
    shop.lookup(ZOE, &shop.reference).await;
    shop.lookup("nobody@example.com", "RFT-AAAAA-AAAAA-AAA")
        .await;

    let keys: Vec<String> = rate_limit_bucket::Entity::find()
        .order_by_asc(rate_limit_bucket::Column::Key)
        .all(&shop.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.key)
        .filter(|k| k.starts_with("portal-"))
        .collect();

    let kinds: Vec<&str> = keys.iter().map(|k| k.split(':').next().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "portal-email",
            "portal-email",
            "portal-global",
            "portal-ip",
            "portal-reference",
            "portal-reference"
        ]
    );
    let all = keys.join(" ").to_lowercase();
    for raw in ["zoe", "nobody", "example.com", "rft-", "127.0.0.1"] {
        assert!(!all.contains(raw), "{raw} in {all}");
    }
    assert!(keys.contains(&shop.app.state.limiter.bucket_key("portal-email", ZOE)));
}

#[tokio::test]
async fn a_portal_session_is_not_a_staff_session() {
    let shop = shop().await;
    let token = shop.open().await;

    let users = shop
        .app
        .gql(
            "{ users(first: 1) { totalCount } }",
            json!({}),
            Some(&token),
        )
        .await;
    let book = shop.app.book(Some(&token), shop.session, ZOE, 1).await;

    for body in [&users, &book] {
        assert_eq!(error_code(body), Some("FORBIDDEN"), "{body:#}");
    }
    // And a staff token gets nothing from the portal.
    let mine = shop.app.gql(MY_PROFILE, json!({}), Some(&shop.admin)).await;
    assert_eq!(error_code(&mine), Some("FORBIDDEN"), "{mine:#}");
    let sessions = portal_session::Entity::find()
        .filter(portal_session::Column::RevokedAt.is_null())
        .all(&shop.app.db)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
}
