//! Duplicate detection through the API: matching keys and candidate pairs kept in the
//! same transaction as every profile write, explained candidates, the worklist, dismissals,
//! rescans, and the blocking query's use of the key indexes (PostgreSQL).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rft_users::entities::{duplicate_dismissal, duplicate_pair, user, user_match_key};
use rft_users::services::duplicates;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, Set, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Catalogue, TestApp, error_code, error_field, uuid_of};

const CANDIDATES: &str = "query($id: UUID!, $min: Float) { duplicateCandidates(userId: $id, minScore: $min) { user { id email } score matchWeight reasons { field level weight left right } } }";

const GROUPS: &str = "query($min: Float, $first: Int, $after: String) { duplicateGroups(minScore: $min, first: $first, after: $after) { totalCount edges { cursor node { id bestScore userIds users { id email } pairs { id score userA { id } userB { id } reasons { field level left right } } } } pageInfo { hasNextPage endCursor } } }";

const DISMISS: &str =
    "mutation($a: UUID!, $b: UUID!) { dismissDuplicate(userId: $a, otherUserId: $b) }";

/// Creates a customer through `createUser`; returns their id.
async fn create(app: &TestApp, token: &str, input: Value) -> Uuid {
    let data = app
        .gql_ok(
            "mutation($input: CreateUserInput!) { createUser(input: $input) { id } }",
            json!({ "input": input }),
            Some(token),
        )
        .await;
    uuid_of(&data["createUser"]["id"])
}

async fn update(app: &TestApp, token: &str, id: Uuid, input: Value) {
    app.gql_ok(
        "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }",
        json!({ "id": id, "input": input }),
        Some(token),
    )
    .await;
}

async fn candidates(app: &TestApp, token: &str, id: Uuid, min: Option<f64>) -> Vec<Value> {
    let data = app
        .gql_ok(CANDIDATES, json!({ "id": id, "min": min }), Some(token))
        .await;
    data["duplicateCandidates"].as_array().unwrap().clone()
}

fn candidate_ids(list: &[Value]) -> Vec<Uuid> {
    list.iter().map(|c| uuid_of(&c["user"]["id"])).collect()
}

fn reason<'a>(candidate: &'a Value, field: &str) -> &'a Value {
    candidate["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["field"] == field)
        .unwrap_or_else(|| panic!("no {field} reason in {candidate:#}"))
}

async fn keys(app: &TestApp, id: Uuid) -> user_match_key::Model {
    duplicates::stored_keys(&app.db, id)
        .await
        .unwrap()
        .expect("every user has a keys row")
}

async fn pair(app: &TestApp, x: Uuid, y: Uuid) -> Option<duplicate_pair::Model> {
    let key = if x < y { (x, y) } else { (y, x) };
    duplicate_pair::Entity::find_by_id(key)
        .one(&app.db)
        .await
        .unwrap()
}

async fn groups(app: &TestApp, token: &str, min: Option<f64>) -> Value {
    app.gql_ok(GROUPS, json!({ "min": min, "first": 50 }), Some(token))
        .await["duplicateGroups"]
        .clone()
}

fn group_member_sets(groups: &Value) -> Vec<Vec<Uuid>> {
    groups["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["node"]["userIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(uuid_of)
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn emails_differing_in_case_spaces_tags_and_gmail_dots_share_a_mailbox_key() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let a = create(
        &app,
        &admin,
        json!({ "email": "janesmith@gmail.com", "firstName": "Jane", "lastName": "Smith" }),
    )
    .await;
    let b = create(
        &app,
        &admin,
        json!({ "email": "  J.A.N.E.Smith+Courses@GoogleMail.com ", "firstName": "Jane", "lastName": "Smith" }),
    )
    .await;
    let c = create(
        &app,
        &admin,
        json!({ "email": "Jane.Smith+work@Example.co.uk", "firstName": "Jane", "lastName": "Smith" }),
    )
    .await;
    let d = create(
        &app,
        &admin,
        json!({ "email": "jane.smith@example.co.uk", "firstName": "J", "lastName": "Doe" }),
    )
    .await;
    // The stored email is never rewritten.
    assert_eq!(
        app.user_row(b).await.email,
        "j.a.n.e.smith+courses@googlemail.com"
    );
    assert_eq!(
        keys(&app, a).await.mailbox_key.as_deref(),
        Some("janesmith@gmail.com")
    );
    assert_eq!(
        keys(&app, b).await.mailbox_key.as_deref(),
        Some("janesmith@gmail.com")
    );
    assert_eq!(
        keys(&app, c).await.mailbox_key.as_deref(),
        Some("jane.smith@example.co.uk")
    );
    assert_eq!(
        keys(&app, d).await.mailbox_key,
        keys(&app, c).await.mailbox_key
    );

    let found = candidates(&app, &admin, a, None).await;
    assert!(candidate_ids(&found).contains(&b), "{found:#?}");
    let with_b = found
        .iter()
        .find(|x| uuid_of(&x["user"]["id"]) == b)
        .unwrap();
    assert_eq!(reason(with_b, "EMAIL")["level"], "EXACT");
    assert_eq!(reason(with_b, "EMAIL")["left"], "janesmith@gmail.com");
    assert_eq!(
        reason(with_b, "EMAIL")["right"],
        "j.a.n.e.smith+courses@googlemail.com"
    );
    assert!(with_b["score"].as_f64().unwrap() > 0.99);
    let found = candidates(&app, &admin, c, Some(0.0)).await;
    assert!(
        candidate_ids(&found).contains(&d),
        "same mailbox, another name: still blocked"
    );
    assert!(pair(&app, a, b).await.is_some(), "stored by createUser");
}

#[tokio::test]
async fn phones_in_any_uk_format_share_a_key() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let mut ids = Vec::new();
    for (i, (field, number)) in [
        ("phone", "07700 900123"),
        ("phone", "07700900123"),
        ("mobile", "+44 7700 900123"),
        ("mobile", "0044 7700 900123"),
    ]
    .into_iter()
    .enumerate()
    {
        ids.push(
            create(
                &app,
                &admin,
                json!({ "email": format!("sam{i}@example{i}.com"), "firstName": "Sam", "lastName": "Patel", field: number }),
            )
            .await,
        );
    }
    for id in &ids {
        let k = keys(&app, *id).await;
        let key = k.phone_key.or(k.mobile_key);
        assert_eq!(key.as_deref(), Some("+447700900123"));
    }
    let found = candidates(&app, &admin, ids[0], None).await;
    let mut got = candidate_ids(&found);
    got.sort();
    let mut expected = ids[1..].to_vec();
    expected.sort();
    assert_eq!(got, expected, "{found:#?}");
    for c in &found {
        assert_eq!(reason(c, "PHONE")["level"], "EXACT");
        assert_eq!(reason(c, "PHONE")["left"], "07700 900123");
    }
    // One group of four in the worklist.
    let g = groups(&app, &admin, None).await;
    assert_eq!(g["totalCount"], 1, "{g:#}");
    let mut members = group_member_sets(&g).remove(0);
    members.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(members, all);
    assert_eq!(g["edges"][0]["node"]["id"], json!(all[0].to_string()));
    assert_eq!(g["edges"][0]["node"]["pairs"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn names_with_accents_and_apostrophes_match_their_plain_spelling() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let a = create(
        &app,
        &admin,
        json!({ "email": "zoe@example.com", "firstName": "Zoë", "lastName": "O'Brien", "postcode": "ls1 4ab" }),
    )
    .await;
    let b = create(
        &app,
        &admin,
        json!({ "email": "z.obrien@another.org", "firstName": "Zoe", "lastName": "OBrien", "postcode": "LS1 4AB" }),
    )
    .await;
    let k = keys(&app, a).await;
    assert_eq!(k.first_name_key.as_deref(), Some("zoe"));
    assert_eq!(k.last_name_key.as_deref(), Some("obrien"));
    assert_eq!(k.postcode_key.as_deref(), Some("LS1 4AB"));
    assert_eq!(k.postcode_outward.as_deref(), Some("LS1"));
    assert_eq!(k.name_key, keys(&app, b).await.name_key);
    let found = candidates(&app, &admin, a, None).await;
    assert_eq!(candidate_ids(&found), [b]);
    let c = &found[0];
    assert_eq!(reason(c, "FIRST_NAME")["level"], "EXACT");
    assert_eq!(reason(c, "FIRST_NAME")["left"], "Zoë");
    assert_eq!(reason(c, "FIRST_NAME")["right"], "Zoe");
    assert_eq!(reason(c, "LAST_NAME")["level"], "EXACT");
    assert_eq!(reason(c, "POSTCODE")["level"], "EXACT");
    assert!(c["score"].as_f64().unwrap() >= 0.8);
}

/// Books `session` for a contact through the public API; returns the customer's id.
async fn book(app: &TestApp, session: Uuid, contact: Value) -> Uuid {
    let data = app
        .gql_ok(
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { id user { id } } }",
            json!({ "input": {
                "sessionId": session,
                "contact": contact,
                "attendees": [{ "firstName": contact["firstName"], "lastName": contact["lastName"] }],
            } }),
            None,
        )
        .await;
    uuid_of(&data["createBooking"]["user"]["id"])
}

async fn open_session(app: &TestApp, admin: &str) -> Uuid {
    let Catalogue { efaw, leeds, .. } = app.catalogue(admin).await;
    app.create_session(admin, efaw, leeds, None, 7, Some(60))
        .await
}

#[tokio::test]
async fn a_renewal_from_a_new_email_and_employer_is_a_candidate() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let session = open_session(&app, &admin).await;
    let old = book(
        &app,
        session,
        json!({ "firstName": "Megan", "lastName": "Hughes", "email": "megan.hughes@acme-widgets.co.uk",
                "phone": "07700 900456", "company": "Acme Widgets Ltd" }),
    )
    .await;
    let new = book(
        &app,
        session,
        json!({ "firstName": "Megan", "lastName": "Hughes", "email": "mhughes@northerncare.org.uk",
                "phone": "+44 7700 900456", "company": "Northern Care Homes" }),
    )
    .await;
    assert_ne!(old, new, "a new email is a new customer");
    let stored = pair(&app, old, new)
        .await
        .expect("createBooking stored the pair");
    assert!(stored.score >= 0.9, "{stored:?}");

    let found = candidates(&app, &admin, new, None).await;
    assert_eq!(candidate_ids(&found), [old], "{found:#?}");
    let c = &found[0];
    assert!(c["score"].as_f64().unwrap() >= 0.5);
    assert!(
        (c["score"].as_f64().unwrap() - stored.score).abs() < 1e-9,
        "live and stored agree"
    );
    assert_eq!(reason(c, "PHONE")["level"], "EXACT");
    assert_eq!(reason(c, "PHONE")["left"], "+44 7700 900456");
    assert_eq!(reason(c, "PHONE")["right"], "07700 900456");
    assert_eq!(reason(c, "FIRST_NAME")["level"], "EXACT");
    assert_eq!(reason(c, "LAST_NAME")["level"], "EXACT");
    assert_eq!(reason(c, "COMPANY")["level"], "DIFFERENT");
    assert_eq!(reason(c, "EMAIL")["level"], "DIFFERENT");
    assert_eq!(reason(c, "POSTCODE")["level"], "MISSING");
    assert_eq!(reason(c, "POSTCODE")["weight"], 0.0);
    let weights: f64 = c["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["weight"].as_f64().unwrap())
        .sum();
    assert!(
        (c["matchWeight"].as_f64().unwrap()
            - weights
            - rft_users::services::matching::prior_weight())
        .abs()
            < 1e-9
    );
    // Nothing sensitive is ever shown.
    let text = serde_json::to_string(&found).unwrap();
    for field in ["MEDICAL", "DIETARY", "EMERGENCY", "DATE_OF_BIRTH"] {
        assert!(!text.contains(field));
    }
}

#[tokio::test]
async fn colleagues_sharing_company_and_surname_are_not_candidates() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let a = create(
        &app,
        &admin,
        json!({ "email": "david@smithbuilders.co.uk", "firstName": "David", "lastName": "Smith",
                "phone": "07700 900111", "companyName": "Smith Builders Ltd" }),
    )
    .await;
    let b = create(
        &app,
        &admin,
        json!({ "email": "karen@smithbuilders.co.uk", "firstName": "Karen", "lastName": "Smith",
                "phone": "07700 900222", "companyName": "Smith Builders Limited" }),
    )
    .await;
    assert_eq!(
        keys(&app, a).await.company_key.as_deref(),
        Some("smithbuilders")
    );
    assert!(candidates(&app, &admin, a, None).await.is_empty());
    assert!(pair(&app, a, b).await.is_none());
    // Blocked (company and surname), scored, and shown only when asked for everything.
    let all = candidates(&app, &admin, a, Some(0.0)).await;
    assert_eq!(candidate_ids(&all), [b]);
    assert!(all[0]["score"].as_f64().unwrap() < 0.2);
}

#[tokio::test]
async fn pairs_follow_every_profile_write_in_its_transaction() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let a = create(
        &app,
        &admin,
        json!({ "email": "alex.morgan@example.com", "firstName": "Alex", "lastName": "Morgan",
                "phone": "07700 900777" }),
    )
    .await;
    let b = create(
        &app,
        &admin,
        json!({ "email": "alexm@another.net", "firstName": "Alex", "lastName": "Morgan" }),
    )
    .await;
    assert!(
        pair(&app, a, b).await.is_none(),
        "the same name alone is not enough"
    );
    assert_eq!(groups(&app, &admin, None).await["totalCount"], 0);

    // updateUser: the same phone makes them a pair...
    update(&app, &admin, b, json!({ "mobile": "+447700900777" })).await;
    assert_eq!(
        keys(&app, b).await.mobile_key.as_deref(),
        Some("+447700900777")
    );
    let p = pair(&app, a, b).await.expect("pair stored by updateUser");
    assert!(p.score >= 0.9);
    assert_eq!(
        group_member_sets(&groups(&app, &admin, None).await).len(),
        1
    );
    // ...and another phone undoes it.
    update(&app, &admin, b, json!({ "mobile": "07700 900888" })).await;
    assert!(
        pair(&app, a, b).await.is_none(),
        "pair removed by updateUser"
    );
    assert_eq!(groups(&app, &admin, None).await["totalCount"], 0);

    // createBooking's profile enrichment (a blank phone filled from the booking) too.
    let session = open_session(&app, &admin).await;
    let c = create(
        &app,
        &admin,
        json!({ "email": "a.morgan@third.org", "firstName": "Alex", "lastName": "Morgan" }),
    )
    .await;
    assert!(pair(&app, a, c).await.is_none());
    let booked = book(
        &app,
        session,
        json!({ "firstName": "Alex", "lastName": "Morgan", "email": "a.morgan@third.org",
                "phone": "07700900777" }),
    )
    .await;
    assert_eq!(booked, c);
    assert!(
        pair(&app, a, c).await.is_some(),
        "pair stored by createBooking"
    );

    // A name change that breaks every link removes the pair.
    update(
        &app,
        &admin,
        c,
        json!({ "firstName": "Robin", "lastName": "Quayle" }),
    )
    .await;
    assert!(pair(&app, a, c).await.is_none());
    let k = keys(&app, c).await;
    assert_eq!(k.last_name_key.as_deref(), Some("quayle"));
}

#[tokio::test]
async fn dismissing_a_pair_removes_it_for_good_and_is_audited() {
    let app = TestApp::spawn().await;
    let (admin_user, admin) = app.admin().await;
    let twin = |email: &str| json!({ "email": email, "firstName": "Chris", "lastName": "Taylor", "phone": "07700 900321" });
    let a = create(&app, &admin, twin("chris.taylor@example.com")).await;
    let b = create(&app, &admin, twin("ctaylor@another.org")).await;
    assert!(pair(&app, a, b).await.is_some());
    let audits = app.audit_rows("duplicate.dismiss").await.len();

    let data = app
        .gql_ok(DISMISS, json!({ "a": b, "b": a }), Some(&admin))
        .await;
    assert_eq!(data["dismissDuplicate"], true);
    assert!(pair(&app, a, b).await.is_none());
    let dismissals = duplicate_dismissal::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(dismissals.len(), 1);
    assert_eq!(
        (dismissals[0].user_a, dismissals[0].user_b),
        (a.min(b), a.max(b))
    );
    assert_eq!(dismissals[0].dismissed_by_id, Some(admin_user.id));
    let rows = app.audit_rows("duplicate.dismiss").await;
    assert_eq!(rows.len(), audits + 1);
    assert_eq!(rows.last().unwrap().actor_id, Some(admin_user.id));
    assert_eq!(groups(&app, &admin, None).await["totalCount"], 0);
    assert!(!candidate_ids(&candidates(&app, &admin, a, Some(0.0)).await).contains(&b));

    // Dismissing again is harmless and writes nothing more.
    app.gql_ok(DISMISS, json!({ "a": a, "b": b }), Some(&admin))
        .await;
    assert_eq!(app.audit_rows("duplicate.dismiss").await.len(), audits + 1);

    // A later edit does not bring it back...
    update(&app, &admin, b, json!({ "postcode": "LS1 4AB" })).await;
    update(&app, &admin, a, json!({ "postcode": "LS1 4AB" })).await;
    assert!(pair(&app, a, b).await.is_none());
    // ...nor does a rescan, which rebuilds the other pairs.
    let c = create(&app, &admin, twin("chris@third.org")).await;
    app.db
        .execute_unprepared("DELETE FROM duplicate_pairs")
        .await
        .unwrap();
    let summary = duplicates::rescan(&app.db, &mut |_, _| {}).await.unwrap();
    assert_eq!(summary.dismissed, 1);
    assert!(pair(&app, a, b).await.is_none());
    assert!(pair(&app, a, c).await.is_some());
    assert!(pair(&app, b, c).await.is_some());
    let g = groups(&app, &admin, None).await;
    // a and b are still in one group, joined through c, but not by a pair of their own.
    let pairs: Vec<String> = g["edges"][0]["node"]["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pairs.len(), 2, "{g:#}");
    assert!(!pairs.contains(&format!("{}:{}", a.min(b), a.max(b))));
}

#[tokio::test]
async fn dismiss_duplicate_refuses_bad_input_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let a = create(
        &app,
        &admin,
        json!({ "email": "pat@example.com", "firstName": "Pat", "lastName": "Lee" }),
    )
    .await;
    let audits = app.count("audit_logs").await;
    for (vars, field) in [
        (json!({ "a": a, "b": a }), "otherUserId"),
        (json!({ "a": a, "b": Uuid::now_v7() }), "otherUserId"),
        (json!({ "a": Uuid::now_v7(), "b": a }), "userId"),
    ] {
        let body = app.gql(DISMISS, vars, Some(&admin)).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
        assert_eq!(error_field(&body), Some(field), "{body:#}");
    }
    assert_eq!(app.count("duplicate_dismissals").await, 0);
    assert_eq!(app.count("audit_logs").await, audits);
}

#[tokio::test]
async fn tombstones_and_staff_are_never_candidates() {
    let app = TestApp::spawn().await;
    let (admin_user, admin) = app.admin().await;
    let same = |email: &str| json!({ "email": email, "firstName": "Test", "lastName": "Staff", "phone": "07700 900999" });
    let a = create(&app, &admin, same("test.staff@example.com")).await;
    let b = create(&app, &admin, same("tstaff@another.org")).await;
    assert_eq!(candidate_ids(&candidates(&app, &admin, a, None).await), [b]);
    // The admin is called Test Staff too: staff are never candidates.
    assert!(!candidate_ids(&candidates(&app, &admin, a, Some(0.0)).await).contains(&admin_user.id));
    assert!(
        candidates(&app, &admin, admin_user.id, Some(0.0))
            .await
            .is_empty()
    );

    // b becomes a tombstone, written directly (as a merge will).
    let mut row = app.user_row(b).await.into_active_model();
    row.merged_into_id = Set(Some(a));
    row.update(&app.db).await.unwrap();
    assert!(candidates(&app, &admin, a, Some(0.0)).await.is_empty());
    assert!(candidates(&app, &admin, b, Some(0.0)).await.is_empty());
    assert_eq!(
        groups(&app, &admin, Some(0.0)).await["totalCount"],
        0,
        "the worklist skips a tombstone's pairs even before anything refreshes them"
    );
}

#[tokio::test]
async fn the_worklist_is_paged_best_first() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    // Three pairs of different strength: mailbox (strongest), phone, postcode.
    let mut expected = Vec::new();
    for (i, (first, last, link)) in [
        ("Amy", "Brown", json!({ "phone": "07700 900501" })),
        ("Ben", "Clark", json!({ "postcode": "YO1 7HH" })),
        ("Cat", "Dunn", json!({})),
    ]
    .into_iter()
    .enumerate()
    {
        let mut x = json!({ "email": format!("{}{}@example.com", first.to_lowercase(), i), "firstName": first, "lastName": last });
        let mut y = json!({ "email": format!("{}.{}@elsewhere.org", first.to_lowercase(), i), "firstName": first, "lastName": last });
        if i == 2 {
            y["email"] = json!(format!("{}{}+tag@example.com", first.to_lowercase(), i));
        }
        for (k, v) in link.as_object().unwrap() {
            x[k] = v.clone();
            y[k] = v.clone();
        }
        let ids = [create(&app, &admin, x).await, create(&app, &admin, y).await];
        expected.push(ids);
    }
    let first_page = app
        .gql_ok(GROUPS, json!({ "first": 2 }), Some(&admin))
        .await["duplicateGroups"]
        .clone();
    assert_eq!(first_page["totalCount"], 3);
    let edges = first_page["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    assert_eq!(first_page["pageInfo"]["hasNextPage"], true);
    let scores: Vec<f64> = edges
        .iter()
        .map(|e| e["node"]["bestScore"].as_f64().unwrap())
        .collect();
    assert!(scores[0] >= scores[1]);
    let members: Vec<Uuid> = edges[0]["node"]["userIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(uuid_of)
        .collect();
    let mut mailbox_pair = expected[2].to_vec();
    mailbox_pair.sort();
    assert_eq!(members, mailbox_pair, "the shared mailbox scores highest");
    let rest = app
        .gql_ok(
            GROUPS,
            json!({ "first": 2, "after": first_page["pageInfo"]["endCursor"] }),
            Some(&admin),
        )
        .await["duplicateGroups"]
        .clone();
    let rest_edges = rest["edges"].as_array().unwrap();
    assert_eq!(rest_edges.len(), 1);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    assert!(rest_edges[0]["node"]["bestScore"].as_f64().unwrap() <= scores[1]);
    // The pair's reasons show both sides.
    let p = &edges[0]["node"]["pairs"][0];
    assert_eq!(p["reasons"][0]["field"], "EMAIL");
    assert_eq!(p["reasons"][0]["level"], "EXACT");
    let body = app
        .gql(GROUPS, json!({ "after": "garbage" }), Some(&admin))
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let body = app.gql(GROUPS, json!({ "min": 1.5 }), Some(&admin)).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn users_without_keys_are_keyed_when_the_service_starts() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let a = create(
        &app,
        &admin,
        json!({ "email": "lee.wong@example.com", "firstName": "Lee", "lastName": "Wong", "phone": "07700 900654" }),
    )
    .await;
    // A user written behind the service's back (a legacy import, a hand-made fix).
    let b = app.user_row(a).await;
    let mut raw = b.clone();
    raw.id = Uuid::now_v7();
    raw.email = "lwong@another.org".into();
    user::Entity::insert(raw.clone().into_active_model().reset_all())
        .exec_without_returning(&app.db)
        .await
        .unwrap();
    assert!(
        duplicates::stored_keys(&app.db, raw.id)
            .await
            .unwrap()
            .is_none()
    );
    // What `cargo run` and `rft-users migrate up` do at start.
    rft_users::db::migrate(&app.db).await.unwrap();
    assert_eq!(
        keys(&app, raw.id).await.phone_key.as_deref(),
        Some("+447700900654")
    );
    assert!(pair(&app, a, raw.id).await.is_some());
}

/// Statements the server runs for one `createBooking` of a new customer.
async fn statements_for_booking(similar_customers: usize) -> usize {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::spawn_counting(counter.clone()).await;
    let (_, admin) = app.admin().await;
    let session = open_session(&app, &admin).await;
    for i in 0..similar_customers {
        create(
            &app,
            &admin,
            json!({ "email": format!("jo.bloggs{i}@example{i}.com"), "firstName": "Jo", "lastName": "Bloggs",
                    "phone": "07700 900246" }),
        )
        .await;
    }
    let before = counter.load(Ordering::SeqCst);
    let customer = book(
        &app,
        session,
        json!({ "firstName": "Jo", "lastName": "Bloggs", "email": "jo@newmail.com", "phone": "07700900246" }),
    )
    .await;
    let used = counter.load(Ordering::SeqCst) - before;
    let stored = duplicate_pair::Entity::find().all(&app.db).await.unwrap();
    let with_customer = stored
        .iter()
        .filter(|p| p.user_a == customer || p.user_b == customer)
        .count();
    assert_eq!(with_customer, similar_customers);
    used
}

#[tokio::test]
async fn create_booking_costs_the_same_statements_however_many_candidates() {
    let one = statements_for_booking(1).await;
    let many = statements_for_booking(25).await;
    assert_eq!(one, many, "one candidate: {one} statements; 25: {many}");
}

#[tokio::test]
async fn on_postgres_the_blocking_query_uses_the_key_indexes() {
    let app = TestApp::spawn().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        eprintln!("SQLite: see on_sqlite_the_blocking_query_starts_from_the_user");
        return;
    }
    // 20,000 customers with varied keys, written in bulk, then their statistics.
    let users = "INSERT INTO users (id, email, first_name, last_name, phone, company_name, \
                 last_activity_at, created_at, updated_at) \
                 SELECT gen_random_uuid(), 'user' || g || '@example' || (g % 97) || '.com', \
                 'First' || (g % 300), 'Last' || (g % 5000), '07700 ' || lpad(g::text, 6, '0'), \
                 'Company ' || (g % 700), now(), now(), now() FROM generate_series(1, 20000) g";
    app.db.execute_unprepared(users).await.unwrap();
    let keys = "INSERT INTO user_match_keys (user_id, mailbox_key, phone_key, first_name_key, \
                last_name_key, name_key, company_key, updated_at) \
                SELECT id, email, '+44' || substr(replace(phone, ' ', ''), 2), lower(first_name), \
                lower(last_name), upper(last_name) || ':' || lower(substr(first_name, 1, 1)), \
                lower(replace(company_name, ' ', '')), now() FROM users \
                WHERE NOT EXISTS (SELECT 1 FROM user_match_keys k WHERE k.user_id = users.id)";
    app.db.execute_unprepared(keys).await.unwrap();
    app.db.execute_unprepared("ANALYZE").await.unwrap();
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM users WHERE email = 'user777@example1.com'",
        ))
        .await
        .unwrap()
        .unwrap();
    let id: Uuid = row.try_get("", "id").unwrap();

    let plan = explain(
        &app,
        duplicates::blocking_statement(DbBackend::Postgres, id, id, false),
    )
    .await;
    for table in ["users", "user_match_keys"] {
        assert!(
            !plan.contains(&format!("Seq Scan on {table}")),
            "sequential scan of {table}:\n{plan}"
        );
    }
    assert!(plan.contains("idx_user_match_keys_name_key"), "{plan}");
    assert!(plan.contains("idx_user_match_keys_phone_key"), "{plan}");
    assert!(plan.contains("idx_user_match_keys_mailbox_key"), "{plan}");

    // The worklist finds staff and tombstones through their indexes, never reading every user.
    let stmt = duplicates::group_edges_statement(DbBackend::Postgres, 0.8);
    let plan = explain(&app, stmt).await;
    assert!(!plan.contains("Seq Scan on users"), "{plan}");
}

async fn explain(app: &TestApp, stmt: Statement) -> String {
    let explain = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN {}", stmt.sql),
        stmt.values.map(|v| v.0).unwrap_or_default(),
    );
    let rows = app.db.query_all_raw(explain).await.unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_demo_data_shows_three_likely_duplicates() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    rft_users::services::demo::seed_if_empty(&app.db)
        .await
        .unwrap()
        .expect("an empty database is seeded");
    let g = groups(&app, &admin, None).await;
    assert_eq!(g["totalCount"], 3, "{g:#}");
    for edge in g["edges"].as_array().unwrap() {
        assert_eq!(
            edge["node"]["userIds"].as_array().unwrap().len(),
            2,
            "{g:#}"
        );
    }
}

#[tokio::test]
async fn rescan_duplicates_rebuilds_keys_and_pairs_from_the_command_line() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let twin = |email: &str| json!({ "email": email, "firstName": "Robin", "lastName": "Hood", "postcode": "NG1 6AP" });
    let a = create(&app, &admin, twin("robin@sherwood.org")).await;
    let b = create(&app, &admin, twin("r.hood@nottingham.gov.uk")).await;
    let before = pair(&app, a, b).await.expect("pair stored");
    // Keys and pairs lost (as after a change to the rules)...
    app.db
        .execute_unprepared("DELETE FROM duplicate_pairs")
        .await
        .unwrap();
    app.db
        .execute_unprepared("UPDATE user_match_keys SET postcode_key = NULL, name_key = NULL")
        .await
        .unwrap();
    let url = app.state.config.database_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rft-users"))
            .arg("rescan-duplicates")
            .env("DATABASE_URL", url)
            .env("RFT_DATA_KEYS", crate::helpers::data_keys())
            .env("RUST_LOG", "warn")
            .output()
            .expect("rft-users runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{out:?}");
    // Not a terminal: no progress bar, only the summary.
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("Rescanned 3 users"), "{stdout}");
    assert!(stdout.contains("1 stored"), "{stdout}");
    // ...are rebuilt from the profiles.
    assert_eq!(keys(&app, a).await.postcode_key.as_deref(), Some("NG1 6AP"));
    let after = pair(&app, a, b).await.expect("pair rebuilt");
    assert!((after.score - before.score).abs() < 1e-12);
    assert_eq!(after.reasons, before.reasons);
}

/// A merge takes its people off the worklist (the tombstone can no longer be a candidate,
/// and the survivor is rescored), and its undo puts the pair back exactly.
#[tokio::test]
async fn a_merge_clears_its_pair_from_the_worklist_and_an_undo_restores_it() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let a = create(
        &app,
        &admin,
        json!({ "email": "megan.hughes@acme-widgets.co.uk", "firstName": "Megan", "lastName": "Hughes", "phone": "07700 900456" }),
    )
    .await;
    let b = create(
        &app,
        &admin,
        json!({ "email": "mhughes@northerncare.org.uk", "firstName": "Megan", "lastName": "Hughes", "phone": "+44 7700 900456" }),
    )
    .await;
    let before = pair(&app, a, b).await.expect("the pair is on the worklist");
    assert!(
        group_member_sets(&groups(&app, &admin, None).await).contains(&{
            let mut v = vec![a, b];
            v.sort();
            v
        })
    );

    let merged = app
        .gql_ok(
            "mutation($input: MergeUsersInput!) { mergeUsers(input: $input) { id } }",
            json!({ "input": { "survivorId": a, "duplicateIds": [b], "reason": "same person" } }),
            Some(&admin),
        )
        .await;
    assert!(pair(&app, a, b).await.is_none(), "no pair with a tombstone");
    assert!(group_member_sets(&groups(&app, &admin, None).await).is_empty());
    assert!(candidate_ids(&candidates(&app, &admin, a, None).await).is_empty());

    app.gql_ok(
        "mutation($id: UUID!) { unmergeUsers(mergeId: $id, reason: \"not the same\") { id } }",
        json!({ "id": merged["mergeUsers"]["id"] }),
        Some(&admin),
    )
    .await;
    let after = pair(&app, a, b).await.expect("the undo restores the pair");
    assert_eq!(
        (after.score, after.match_weight, &after.reasons),
        (before.score, before.match_weight, &before.reasons)
    );
}

/// SQLite's planner, given statistics, would rather walk every customer through the role
/// index and probe the blocked pairs (40 ms for one user of 100,000) than start from the
/// user's blocks: the query's `CROSS JOIN`s keep the order.
#[tokio::test]
async fn on_sqlite_the_blocking_query_starts_from_the_user() {
    let app = TestApp::spawn().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let users = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 5000) \
                 INSERT INTO users (id, email, first_name, last_name, last_activity_at, \
                 created_at, updated_at) SELECT randomblob(16), 'user' || n || '@example.com', \
                 'First' || (n % 300), 'Last' || (n % 900), '2026-01-01T00:00:00Z', \
                 '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' FROM g";
    app.db.execute_unprepared(users).await.unwrap();
    let keys = "INSERT INTO user_match_keys (user_id, mailbox_key, first_name_key, \
                last_name_key, name_key, updated_at) SELECT id, email, lower(first_name), \
                lower(last_name), upper(last_name) || ':f', updated_at FROM users \
                WHERE id NOT IN (SELECT user_id FROM user_match_keys)";
    app.db.execute_unprepared(keys).await.unwrap();
    app.db.execute_unprepared("ANALYZE").await.unwrap();
    let id = app.all_users().await[10].id;
    let stmt = duplicates::blocking_statement(DbBackend::Sqlite, id, id, false);
    let rows = app
        .db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", stmt.sql),
            stmt.values.map(|v| v.0).unwrap_or_default(),
        ))
        .await
        .unwrap();
    let plan: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(3).unwrap())
        .collect();
    let plan = plan.join("\n");
    assert!(!plan.contains("SCAN users"), "{plan}");
    assert!(!plan.contains("idx_users_role"), "{plan}");
    assert!(plan.contains("SCAN blocked"), "{plan}");
}
