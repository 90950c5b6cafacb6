//! Data-subject requests through the API: the retention table covers every column of the
//! database, `exportUserData` / `exportMyData` / `GET /users/{id}/export.json` hold
//! everything about a customer (merged profiles included), `erasurePreview` matches what
//! `eraseUser` does, erasure leaves none of the erased values anywhere in the database
//! (only what is retained, where the retention table says), keeps the totals and the
//! certificate's verification, and `apply-retention` removes what was retained once its
//! period ends.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use rft_users::entities::{audit_log, booking, certificate, erasure, payment, user};
use rft_users::services::audit::Actor;
use rft_users::services::portal;
use rft_users::services::privacy::{self, retention};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, Set, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, uuid_of};

const EMAIL: &str = "zebedee.quillfeather@example.com";
const OTHER_EMAIL: &str = "z.quillfeather@example.org";
const PREVIEW: &str = "query($id: UUID!) { erasurePreview(userId: $id) { userId userIds erasedAt items { table column action rows reason retainedUntil } } }";
const ERASE: &str = "mutation($id: UUID!, $r: String!) { eraseUser(userId: $id, reason: $r) { userId userIds erasedAt items { table column action rows reason retainedUntil } } }";

/// Every table and column of the database, as the database lists them.
async fn database_columns(app: &TestApp) -> BTreeMap<String, BTreeSet<String>> {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => "SELECT m.name AS t, p.name AS c FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'users_fts%'"
            .to_string(),
        _ => {
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
              WHERE table_schema = current_schema()"
                .to_string()
        }
    };
    let rows = app
        .db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        let t: String = r.try_get("", "t").unwrap();
        let c: String = r.try_get("", "c").unwrap();
        out.entry(t).or_default().insert(c);
    }
    out
}

#[tokio::test]
async fn the_retention_table_names_every_table_and_column_of_the_database() {
    let app = TestApp::spawn().await;

    let db = database_columns(&app).await;

    let mut missing = Vec::new();
    for (table, columns) in &db {
        match retention::table(table) {
            None => missing.push(format!("table {table}")),
            Some(rules) if rules.is_personal() => {
                for c in columns {
                    if rules.rule(c).is_none() {
                        missing.push(format!("{table}.{c}"));
                    }
                }
                for (c, _) in rules.columns {
                    assert!(
                        columns.contains(*c),
                        "{table}.{c} is in the retention table only"
                    );
                }
            }
            Some(rules) => assert!(!rules.why.is_empty(), "{table}: say why nobody owns it"),
        }
    }
    assert!(
        missing.is_empty(),
        "add these to src/services/privacy/retention.rs: {missing:?}"
    );
    for t in retention::TABLES {
        assert!(db.contains_key(t.name), "{} is not in the database", t.name);
    }
}

/// A customer touched by most features: a booking made under another email and merged
/// in, one paid booking with special requirements, an admin note (internal), medical
/// details, a certificate, a portal session, emails in the outbox.
struct Customer {
    app: TestApp,
    admin: String,
    id: Uuid,
    tombstone: Uuid,
    reference: String,
    certificate: certificate::Model,
    /// A session in the future, open for booking.
    session: Uuid,
}

async fn customer() -> Customer {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let catalogue = app.catalogue(&admin).await;
    let certificate = app
        .certify(
            &admin,
            catalogue.efaw,
            catalogue.leeds,
            EMAIL,
            &[("Zebedee", "Quillfeather")],
        )
        .await
        .remove(0);
    let id = certificate.user_id;
    let session = app
        .create_session(&admin, catalogue.efaw, catalogue.leeds, None, 14, None)
        .await;
    let booked = app
        .gql_ok(
            "mutation($input: CreateBookingInput!) { createBooking(input: $input) { id reference } }",
            json!({ "input": {
                "sessionId": session,
                "contact": { "firstName": "Zebedee", "lastName": "Quillfeather", "email": EMAIL, "phone": "07700 900461" },
                "attendees": [{ "firstName": "Zebedee", "lastName": "Quillfeather" }],
                "specialRequirements": "Wheelchair ramp to the Quillfeather room",
            } }),
            None,
        )
        .await["createBooking"]
        .clone();
    let paid = app
        .pay(&admin, uuid_of(&booked["id"]), "95.00", "CARD")
        .await;
    assert!(paid.get("errors").is_none(), "{paid:#}");
    app.gql_ok(
        "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }",
        json!({ "id": id, "input": {
            "medicalNotes": "Zebedee's pollen allergy",
            "dietaryRequirements": "No quince",
            "emergencyContactName": "Quentin Quillfeather",
            "postcode": "YO1 7HH",
            "mobile": "07700 900462",
        } }),
        Some(&admin),
    )
    .await;
    app.gql_ok(
        "mutation($id: UUID!) { addUserNote(userId: $id, input: { content: \"Zebedee rang about parking\", isInternal: true }) { id } }",
        json!({ "id": id }),
        Some(&admin),
    )
    .await;
    // A second profile, under another email, merged in.
    let other = app.book_ok(None, session, OTHER_EMAIL, 1).await;
    let tombstone = user::Entity::find()
        .filter(user::Column::Email.eq(OTHER_EMAIL))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let merged = app
        .gql(
            "mutation($input: MergeUsersInput!) { mergeUsers(input: $input) { id } }",
            json!({ "input": { "survivorId": id, "duplicateIds": [tombstone], "reason": "Same person" } }),
            Some(&admin),
        )
        .await;
    assert!(merged.get("errors").is_none(), "{merged:#}");
    let _ = other;
    let reference = booked["reference"].as_str().unwrap().to_string();
    portal::lookup(&app.db, &Actor::system(), EMAIL, &reference)
        .await
        .expect("the portal opens");
    Customer {
        app,
        admin,
        id,
        tombstone,
        reference,
        certificate,
        session,
    }
}

#[tokio::test]
async fn the_export_holds_everything_about_the_customer_and_no_secret() {
    let c = customer().await;

    let body = c
        .app
        .gql_ok(
            "query($id: UUID!) { exportUserData(userId: $id) }",
            json!({ "id": c.tombstone }),
            Some(&c.admin),
        )
        .await;

    let doc = &body["exportUserData"];
    assert_eq!(doc["format"], privacy::EXPORT_FORMAT);
    assert_eq!(
        doc["userId"],
        json!(c.id),
        "a merged-away id leads to the survivor"
    );
    assert_eq!(doc["userIds"], json!([c.id, c.tombstone]));
    let data = doc["data"].as_object().unwrap();
    for t in retention::TABLES.iter().filter(|t| t.is_personal()) {
        assert!(data.contains_key(t.name), "the export has no {}", t.name);
    }
    let rows = |t: &str| data[t].as_array().unwrap().len();
    assert_eq!(rows("users"), 2, "the profile and the one merged into it");
    assert_eq!(
        rows("bookings"),
        3,
        "two bookings, and the merged profile's"
    );
    assert_eq!(rows("payments"), 1);
    assert_eq!(rows("certificates"), 1);
    assert_eq!(
        rows("user_notes"),
        1,
        "internal notes are personal data too"
    );
    assert_eq!(rows("portal_sessions"), 1);
    assert!(
        rows("email_logs") >= 3,
        "confirmations and the certificate email"
    );
    assert!(rows("user_activity_logs") > 0);
    assert!(rows("attendance_records") > 0);
    let text = doc.to_string();
    for held in [
        "Zebedee's pollen allergy",
        "No quince",
        "Quentin Quillfeather",
        "Zebedee rang about parking",
        "Wheelchair ramp to the Quillfeather room",
        OTHER_EMAIL,
        &c.certificate.certificate_number,
        &c.reference,
    ] {
        assert!(text.contains(held), "the export lacks {held:?}");
    }
    for secret in ["password_hash", "token_hash", "search_text", "sort_name"] {
        assert!(!text.contains(secret), "the export holds {secret}");
    }
}

#[tokio::test]
async fn the_export_file_is_for_an_admin_and_the_customer_themself() {
    let c = customer().await;
    let other = c
        .app
        .book_ok(None, c.session, "someone@example.com", 1)
        .await;
    let mine = portal::lookup(&c.app.db, &Actor::system(), EMAIL, &c.reference)
        .await
        .unwrap()
        .token;
    let theirs = portal::lookup(
        &c.app.db,
        &Actor::system(),
        "someone@example.com",
        other["reference"].as_str().unwrap(),
    )
    .await
    .unwrap()
    .token;
    let (_, instructor) = c
        .app
        .logged_in(
            rft_users::entities::enums::Role::Instructor,
            "ian@example.com",
        )
        .await;
    let get = |token: Option<String>, id: Uuid| {
        let mut req = c
            .app
            .client
            .get(c.app.url(&format!("/users/{id}/export.json")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        }
    };

    let (status, admin_file) = get(Some(c.admin.clone()), c.id).await;
    assert_eq!(status, 200, "{admin_file}");
    let admin_doc: Value = serde_json::from_str(&admin_file).unwrap();
    assert_eq!(admin_doc["userIds"], json!([c.id, c.tombstone]));
    let (status, own) = get(Some(mine.clone()), c.id).await;
    assert_eq!(status, 200, "{own}");
    let own_doc: Value = serde_json::from_str(&own).unwrap();
    // (Each portal request moves its session's last use, so compare the rest.)
    assert_eq!(own_doc["data"]["users"], admin_doc["data"]["users"]);
    assert_eq!(own_doc["data"]["bookings"], admin_doc["data"]["bookings"]);
    let portal = c
        .app
        .gql_ok("{ exportMyData }", json!({}), Some(&mine))
        .await;
    assert_eq!(
        portal["exportMyData"]["data"]["bookings"],
        admin_doc["data"]["bookings"]
    );

    assert_eq!(get(Some(theirs), c.id).await.0, 403);
    assert_eq!(get(Some(instructor), c.id).await.0, 403);
    assert_eq!(get(None, c.id).await.0, 401);
    assert_eq!(get(Some("nonsense".into()), c.id).await.0, 401);
    assert_eq!(get(Some(c.admin.clone()), Uuid::now_v7()).await.0, 404);
}

/// Every row of every table, one text per row, with the table's name.
async fn every_row(app: &TestApp) -> Vec<(String, String)> {
    let backend = app.db.get_database_backend();
    let mut out = Vec::new();
    for (table, columns) in database_columns(app).await {
        let sql = match backend {
            DbBackend::Sqlite => format!(
                "SELECT {} AS r FROM \"{table}\"",
                columns
                    .iter()
                    .map(|c| format!("COALESCE(quote(\"{c}\"), '')"))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ")
            ),
            _ => format!("SELECT CAST(t AS TEXT) AS r FROM \"{table}\" t"),
        };
        for row in app
            .db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
        {
            out.push((table.clone(), row.try_get::<String>("", "r").unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn erasure_does_what_the_preview_says_and_leaves_only_what_is_retained() {
    let c = customer().await;
    let before = c.app.user_row(c.id).await;
    let preview = c
        .app
        .gql_ok(PREVIEW, json!({ "id": c.id }), Some(&c.admin))
        .await["erasurePreview"]
        .clone();
    assert!(preview["erasedAt"].is_null());
    let retained: Vec<&Value> = preview["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == "RETAIN")
        .collect();
    let retained_columns: BTreeSet<String> = retained
        .iter()
        .map(|i| {
            format!(
                "{}.{}",
                i["table"].as_str().unwrap(),
                i["column"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        retained_columns,
        BTreeSet::from([
            "bookings.contact_details".to_string(),
            "certificates.certificate_number".to_string(),
            "certificates.holder_name".to_string(),
        ])
    );
    let six_years = (Utc::now() + Duration::days(365 * 6 + 2)).date_naive();
    for item in &retained {
        assert!(item["reason"].is_string(), "{item}");
        let until: chrono::NaiveDate =
            serde_json::from_value(item["retainedUntil"].clone()).unwrap();
        assert!(
            until > Utc::now().date_naive() && until <= six_years,
            "{item}"
        );
    }
    // The preview wrote nothing.
    assert_eq!(c.app.user_row(c.id).await, before);
    assert_eq!(c.app.count("erasures").await, 0);

    let erased = c
        .app
        .gql_ok(
            ERASE,
            json!({ "id": c.id, "r": "Asked by email on 1 December" }),
            Some(&c.admin),
        )
        .await["eraseUser"]
        .clone();

    assert_eq!(
        erased["items"], preview["items"],
        "the preview is what was done"
    );
    assert!(erased["erasedAt"].is_string());
    let after = c.app.user_row(c.id).await;
    assert_eq!(after.email, format!("erased-{}@invalid", c.id));
    assert_eq!(
        (after.first_name.as_str(), after.last_name.as_str()),
        ("Erased", "customer")
    );
    assert_eq!(after.medical_notes, None);
    assert_eq!(after.password_hash, None);
    assert!(!after.marketing_consent);
    // Totals and money are unchanged.
    assert_eq!(after.total_spent_pence, before.total_spent_pence);
    assert_eq!(after.total_bookings, before.total_bookings);
    let paid: i64 = payment::Entity::find()
        .all(&c.app.db)
        .await
        .unwrap()
        .iter()
        .map(|p| p.amount_pence)
        .sum();
    assert_eq!(paid, 9500);
    let tombstone = c.app.user_row(c.tombstone).await;
    assert_eq!(tombstone.email, format!("erased-{}@invalid", c.tombstone));

    // Nothing erased is left anywhere; what is retained is only where the table says.
    let rows = every_row(&c.app).await;
    for erased_value in [
        "pollen allergy",
        "No quince",
        "Quentin",
        "rang about parking",
        "Wheelchair ramp",
        "YO1 7HH",
        "900462",
    ] {
        let hits: Vec<&(String, String)> = rows
            .iter()
            .filter(|(_, r)| r.contains(erased_value))
            .collect();
        assert!(hits.is_empty(), "{erased_value:?} is still in {hits:?}");
    }
    // The name and emails the bookings were made under stay with the financial records,
    // and the holder's name with the certificate.
    for retained_value in [EMAIL, OTHER_EMAIL, "Quillfeather"] {
        let tables: BTreeSet<&str> = rows
            .iter()
            .filter(|(_, r)| r.contains(retained_value))
            .map(|(t, _)| t.as_str())
            .collect();
        assert!(
            tables.is_subset(&BTreeSet::from(["bookings", "certificates"])),
            "{retained_value:?} is kept in {tables:?}"
        );
    }
    // The audit row says who, when and why, and nothing about the person.
    let audit = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("user_erased"))
        .all(&c.app.db)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].actor_id.is_some());
    let trail = serde_json::to_string(&audit[0].changes).unwrap();
    assert!(trail.contains("Asked by email on 1 December"));
    assert!(
        !trail.contains("Quillfeather") && !trail.contains("zebedee"),
        "{trail}"
    );
    assert_eq!(c.app.count("erasures").await, 2, "one per profile");

    // Search finds nobody by any old value.
    for old in ["Quillfeather", "Zebedee", EMAIL, "07700 900462"] {
        let found = c
            .app
            .gql_ok(
                "query($s: String) { users(search: $s, first: 5) { totalCount } }",
                json!({ "s": old }),
                Some(&c.admin),
            )
            .await;
        assert_eq!(found["users"]["totalCount"], 0, "search for {old:?}");
    }
    let by_email = c
        .app
        .gql_ok(
            "query($e: String!) { userByEmail(email: $e) { id } }",
            json!({ "e": EMAIL }),
            Some(&c.admin),
        )
        .await;
    assert!(by_email["userByEmail"].is_null());

    // The certificate can still be checked.
    let verified = c
        .app
        .gql_ok(
            "query($n: String!) { verifyCertificate(number: $n) { status holderName } }",
            json!({ "n": c.certificate.certificate_number }),
            None,
        )
        .await;
    assert_eq!(verified["verifyCertificate"]["status"], "VALID");

    // The portal is closed to them.
    let lookup = portal::lookup(&c.app.db, &Actor::system(), EMAIL, &c.reference).await;
    assert!(lookup.is_err());

    // Booking again with the same email: a fresh customer, because they came back.
    let again = c.app.book_ok(None, c.session, EMAIL, 1).await;
    let fresh = booking::Entity::find_by_id(uuid_of(&again["id"]))
        .one(&c.app.db)
        .await
        .unwrap()
        .unwrap()
        .user_id;
    assert_ne!(fresh, c.id);
    assert_eq!(c.app.user_row(fresh).await.email, EMAIL);
}

#[tokio::test]
async fn erasing_twice_or_without_a_reason_changes_nothing() {
    let c = customer().await;
    let before = c.app.user_row(c.id).await;

    let no_reason = c
        .app
        .gql(ERASE, json!({ "id": c.id, "r": "  " }), Some(&c.admin))
        .await;
    assert_eq!(
        error_code(&no_reason),
        Some("BAD_USER_INPUT"),
        "{no_reason:#}"
    );
    assert_eq!(c.app.user_row(c.id).await, before);
    let (instructor, _) = c
        .app
        .logged_in(
            rft_users::entities::enums::Role::Instructor,
            "ian@example.com",
        )
        .await;
    let staff = c
        .app
        .gql(
            ERASE,
            json!({ "id": instructor.id, "r": "Left" }),
            Some(&c.admin),
        )
        .await;
    assert_eq!(error_code(&staff), Some("BAD_USER_INPUT"), "{staff:#}");
    assert_eq!(c.app.count("erasures").await, 0);

    c.app
        .gql_ok(ERASE, json!({ "id": c.id, "r": "Asked" }), Some(&c.admin))
        .await;
    let again = c
        .app
        .gql(
            ERASE,
            json!({ "id": c.id, "r": "Asked again" }),
            Some(&c.admin),
        )
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again:#}");
    assert_eq!(c.app.audit_rows("user_erased").await.len(), 1);
}

#[tokio::test]
async fn apply_retention_removes_what_was_kept_once_its_period_ends() {
    let c = customer().await;
    c.app
        .gql_ok(ERASE, json!({ "id": c.id, "r": "Asked" }), Some(&c.admin))
        .await;
    let today = Utc::now().date_naive();
    let actor = Actor::system();

    // Nothing has ended yet.
    let run = privacy::apply_retention(&c.app.db, &actor, today, false)
        .await
        .unwrap();
    assert_eq!((run.certificates, run.financial_records), (0, 0));

    // The certificate expires; and seven years pass for the money.
    let mut am = c.certificate.clone().into_active_model();
    am.expires_on = Set(today - Duration::days(1));
    am.update(&c.app.db).await.unwrap();
    let later = today + Duration::days(365 * 7);

    let dry = privacy::apply_retention(&c.app.db, &actor, later, true)
        .await
        .unwrap();
    assert_eq!((dry.certificates, dry.financial_records), (1, 1));
    let cert = certificate::Entity::find_by_id(c.certificate.id)
        .one(&c.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cert.holder_name, c.certificate.holder_name,
        "a dry run writes nothing"
    );

    let run = privacy::apply_retention(&c.app.db, &actor, later, false)
        .await
        .unwrap();
    assert_eq!((run.certificates, run.financial_records), (1, 1));
    let cert = certificate::Entity::find_by_id(c.certificate.id)
        .one(&c.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cert.holder_name, "Erased customer");
    assert!(cert.certificate_number.starts_with("ERASED-"));
    let verified = c
        .app
        .gql_ok(
            "query($n: String!) { verifyCertificate(number: $n) { status } }",
            json!({ "n": c.certificate.certificate_number }),
            None,
        )
        .await;
    assert_eq!(verified["verifyCertificate"]["status"], "NOT_FOUND");
    let bookings = booking::Entity::find()
        .filter(booking::Column::UserId.eq(c.id))
        .all(&c.app.db)
        .await
        .unwrap();
    assert!(bookings.iter().all(|b| b.contact_details.is_none()));
    assert!(
        bookings.iter().any(|b| b.amount_paid_pence == 9500),
        "amounts stay"
    );
    let rows = every_row(&c.app).await;
    assert!(
        !rows
            .iter()
            .any(|(_, r)| r.contains("Quillfeather") || r.contains(EMAIL)),
        "nothing of the person is left"
    );

    // Safe to run daily: a second run changes nothing.
    let again = privacy::apply_retention(&c.app.db, &actor, later, false)
        .await
        .unwrap();
    assert_eq!((again.certificates, again.financial_records), (0, 0));
    assert_eq!(
        erasure::Entity::find().all(&c.app.db).await.unwrap().len(),
        2
    );
}
