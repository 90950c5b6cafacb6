//! Managing users through the API: creating, partial updates and their audit trail (with
//! medical text and passwords masked), status changes, notes, and bad input that must be
//! refused naming the field and without writing anything.

use chrono::Utc;
use rft_users::entities::encrypted::RevealedText as _;
use rft_users::entities::enums::{CustomerType, NoteType, Role, UserStatus};
use rft_users::entities::{audit_log, user, user_activity_log, user_note};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::can_log_in;
use crate::helpers::{TestApp, error_code, error_field};

const CREATE: &str = "mutation($input: CreateUserInput!) { createUser(input: $input) { id email firstName lastName role status phone postcode companyName customerType marketingConsent hasPassword createdBy { id } } }";
const UPDATE: &str = "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id email firstName lastName phone mobile city postcode companyName marketingConsent medicalNotes } }";
const ADD_NOTE: &str = "mutation($id: UUID!, $input: AddUserNoteInput!) { addUserNote(userId: $id, input: $input) { id } }";
const SET_STATUS: &str =
    "mutation($id: UUID!, $s: UserStatus!) { setUserStatus(id: $id, status: $s) { id status } }";

fn id_of(v: &Value) -> Uuid {
    v.as_str()
        .unwrap_or_else(|| panic!("not an id: {v}"))
        .parse()
        .unwrap()
}

async fn create(app: &TestApp, token: &str, input: Value) -> Uuid {
    let data = app
        .gql_ok(CREATE, json!({ "input": input }), Some(token))
        .await;
    id_of(&data["createUser"]["id"])
}

async fn activity_of(app: &TestApp, user_id: Uuid) -> Vec<user_activity_log::Model> {
    user_activity_log::Entity::find()
        .filter(user_activity_log::Column::UserId.eq(user_id))
        .order_by_asc(user_activity_log::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// The single audit row of `action` about `entity`.
async fn audit_of(app: &TestApp, action: &str, entity: Uuid) -> audit_log::Model {
    let rows: Vec<_> = app
        .audit_rows(action)
        .await
        .into_iter()
        .filter(|r| r.entity_id == Some(entity))
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "expected one {action} row about {entity}: {rows:#?}"
    );
    rows.into_iter().next().unwrap()
}

#[tokio::test]
async fn create_user_stores_a_normalised_profile_and_audits_it() {
    let app = TestApp::spawn().await;
    let (admin, token) = app.admin().await;

    let data = app
        .gql_ok(
            CREATE,
            json!({ "input": {
                "email": "  Jane.Doe@Example.COM ",
                "firstName": " Jane ",
                "lastName": "Doe",
                "phone": "07700 900123",
                "postcode": "ls1 4ap",
                "companyName": "Acme Ltd",
                "customerType": "CORPORATE",
                "marketingConsent": true,
            } }),
            Some(&token),
        )
        .await;

    let shown = &data["createUser"];
    assert_eq!(shown["email"], "jane.doe@example.com");
    assert_eq!(shown["firstName"], "Jane");
    assert_eq!(shown["role"], "CUSTOMER");
    assert_eq!(shown["status"], "ACTIVE");
    assert_eq!(shown["postcode"], "LS1 4AP");
    assert_eq!(shown["hasPassword"], false);
    assert_eq!(shown["createdBy"]["id"], admin.id.to_string());
    let id = id_of(&shown["id"]);
    let row = app.user_row(id).await;
    assert_eq!(row.email, "jane.doe@example.com");
    assert_eq!(
        (row.first_name.as_str(), row.last_name.as_str()),
        ("Jane", "Doe")
    );
    assert_eq!(row.phone.as_deref(), Some("07700 900123"));
    assert_eq!(row.postcode.as_deref(), Some("LS1 4AP"));
    assert_eq!(row.company_name.as_deref(), Some("Acme Ltd"));
    assert_eq!(row.customer_type, CustomerType::Corporate);
    assert!(row.marketing_consent);
    assert_eq!(row.role, Role::Customer);
    assert_eq!(row.status, UserStatus::Active);
    assert_eq!(row.customer_since, Some(Utc::now().date_naive()));
    assert_eq!(row.created_by_id, Some(admin.id));
    assert!(row.password_hash.is_none());

    let audit = audit_of(&app, "user.create", id).await;
    assert_eq!(audit.actor_id, Some(admin.id));
    assert_eq!(audit.actor_role, Some(Role::Admin));
    assert_eq!(audit.entity_type, "user");
    assert_eq!(audit.ip_address.as_deref(), Some("127.0.0.1"));
    let changes = audit.changes.expect("a creation records its values");
    assert_eq!(
        changes["email"],
        json!({ "before": null, "after": "jane.doe@example.com" })
    );
    let activity = activity_of(&app, id).await;
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].activity_type, "profile_created");
    assert_eq!(activity[0].actor_id, Some(admin.id));
}

#[tokio::test]
async fn create_user_for_staff_hashes_the_password_and_keeps_it_out_of_the_audit_trail() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let password = "correct-horse-battery";

    let id = create(
        &app,
        &token,
        json!({ "email": "ian@example.com", "firstName": "Ian", "lastName": "Instructor", "role": "INSTRUCTOR", "password": password, "medicalNotes": "Asthma" }),
    )
    .await;

    let row = app.user_row(id).await;
    let hash = row.password_hash.clone().expect("staff password stored");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(password));
    assert!(can_log_in(&app, "ian@example.com", password).await);
    let changes = audit_of(&app, "user.create", id).await.changes.unwrap();
    assert_eq!(changes["password_hash"]["after"], "[redacted]");
    assert_eq!(changes["medical_notes"]["after"], "[redacted]");
    let text = changes.to_string();
    for secret in [password, &hash, "$argon2", "Asthma"] {
        assert!(
            !text.contains(secret),
            "audit trail holds {secret:?}: {text}"
        );
    }
}

#[tokio::test]
async fn update_user_changes_only_the_given_fields_and_null_clears() {
    let app = TestApp::spawn().await;
    let (admin, token) = app.admin().await;
    let id = create(
        &app,
        &token,
        json!({ "email": "sam@example.com", "firstName": "Sam", "lastName": "Smith", "phone": "0113 496 0000", "mobile": "07700 900456", "city": "Leeds", "companyName": "Acme Ltd", "marketingConsent": true }),
    )
    .await;
    let before = app.user_row(id).await;

    let data = app
        .gql_ok(
            UPDATE,
            json!({ "id": id, "input": { "city": "York", "phone": null } }),
            Some(&token),
        )
        .await;

    let shown = &data["updateUser"];
    assert_eq!(shown["city"], "York");
    assert!(shown["phone"].is_null());
    assert_eq!(shown["mobile"], "07700 900456");
    assert_eq!(shown["firstName"], "Sam");
    assert_eq!(shown["companyName"], "Acme Ltd");
    assert_eq!(shown["marketingConsent"], true);
    let after = app.user_row(id).await;
    let expected = user::Model {
        city: Some("York".into()),
        phone: None,
        search_text: after.search_text.clone(),
        updated_at: after.updated_at,
        ..before.clone()
    };
    assert_eq!(after, expected, "only city and phone changed");
    assert!(after.updated_at >= before.updated_at);
    assert!(
        !after.search_text.contains("01134960000"),
        "the cleared phone is no longer searchable"
    );

    let audit = audit_of(&app, "user.update", id).await;
    assert_eq!(audit.actor_id, Some(admin.id));
    assert_eq!(
        audit.changes.unwrap(),
        json!({
            "city": { "before": "Leeds", "after": "York" },
            "phone": { "before": "0113 496 0000", "after": null },
        })
    );
    let activity = activity_of(&app, id).await;
    assert_eq!(activity.last().unwrap().activity_type, "profile_updated");
}

#[tokio::test]
async fn update_user_masks_medical_text_and_passwords_in_the_audit_trail() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let (staff, staff_token) = app.logged_in(Role::Instructor, "ian@example.com").await;
    let new_password = "a-brand-new-password-123";

    let data = app
        .gql_ok(
            UPDATE,
            json!({ "id": staff.id, "input": { "medicalNotes": "Type 1 diabetes", "dietaryRequirements": "Coeliac", "password": new_password } }),
            Some(&token),
        )
        .await;
    assert_eq!(
        data["updateUser"]["medicalNotes"], "Type 1 diabetes",
        "admins read it back"
    );
    app.gql_ok(
        UPDATE,
        json!({ "id": staff.id, "input": { "medicalNotes": "Asthma" } }),
        Some(&token),
    )
    .await;

    let row = app.user_row(staff.id).await;
    assert_eq!(row.medical_notes.plain_str(), Some("Asthma"));
    assert_eq!(row.dietary_requirements.plain_str(), Some("Coeliac"));
    let audits: Vec<_> = app
        .audit_rows("user.update")
        .await
        .into_iter()
        .filter(|r| r.entity_id == Some(staff.id))
        .collect();
    assert_eq!(audits.len(), 2);
    let first = audits[0].changes.clone().unwrap();
    assert_eq!(
        first["medical_notes"],
        json!({ "before": null, "after": "[redacted]" })
    );
    assert_eq!(
        first["dietary_requirements"],
        json!({ "before": null, "after": "[redacted]" })
    );
    assert_eq!(
        first["password_hash"],
        json!({ "before": "[redacted]", "after": "[redacted]" })
    );
    let second = audits[1].changes.clone().unwrap();
    assert_eq!(
        second["medical_notes"],
        json!({ "before": "[redacted]", "after": "[redacted]" })
    );
    for audit in &audits {
        let text = audit.changes.as_ref().unwrap().to_string();
        for secret in ["diabetes", "Coeliac", "Asthma", new_password, "$argon2"] {
            assert!(
                !text.contains(secret),
                "audit trail holds {secret:?}: {text}"
            );
        }
    }
    let descriptions = activity_of(&app, staff.id).await;
    let text = format!("{descriptions:?}");
    assert!(!text.contains("diabetes") && !text.contains(new_password));
    // A new password ends the staff member's sessions and is the one that now works.
    let me = app
        .gql("{ me { id } }", json!({}), Some(&staff_token))
        .await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "{me:#}");
    assert!(can_log_in(&app, "ian@example.com", new_password).await);
}

#[tokio::test]
async fn set_user_status_suspended_ends_the_instructors_sessions() {
    let app = TestApp::spawn().await;
    let (admin, token) = app.admin().await;
    let (instructor, instructor_token) = app.logged_in(Role::Instructor, "ian@example.com").await;
    app.gql_ok("{ me { id } }", json!({}), Some(&instructor_token))
        .await;

    let data = app
        .gql_ok(
            SET_STATUS,
            json!({ "id": instructor.id, "s": "SUSPENDED" }),
            Some(&token),
        )
        .await;

    assert_eq!(data["setUserStatus"]["status"], "SUSPENDED");
    let me = app
        .gql("{ me { id } }", json!({}), Some(&instructor_token))
        .await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "{me:#}");
    assert_eq!(
        app.user_row(instructor.id).await.status,
        UserStatus::Suspended
    );
    let sessions = app.sessions_of(instructor.id).await;
    assert!(
        !sessions.is_empty() && sessions.iter().all(|s| s.revoked_at.is_some()),
        "{sessions:#?}"
    );
    let audit = audit_of(&app, "user.set_status", instructor.id).await;
    assert_eq!(audit.actor_id, Some(admin.id));
    assert_eq!(
        audit.changes.unwrap()["status"],
        json!({ "before": "active", "after": "suspended" })
    );
    assert_eq!(
        activity_of(&app, instructor.id)
            .await
            .last()
            .unwrap()
            .activity_type,
        "status_changed"
    );
    // The admin's own session is untouched.
    app.gql_ok("{ me { id } }", json!({}), Some(&token)).await;
}

#[tokio::test]
async fn set_user_status_refuses_to_deactivate_the_last_active_admin() {
    let app = TestApp::spawn().await;
    let (admin, token) = app.admin().await;
    let (deputy, _) = app.staff(Role::Admin, "deputy@example.com").await;
    app.gql_ok(
        SET_STATUS,
        json!({ "id": deputy.id, "s": "INACTIVE" }),
        Some(&token),
    )
    .await;
    let audits = app.count("audit_logs").await;

    for status in ["INACTIVE", "SUSPENDED"] {
        let body = app
            .gql(
                SET_STATUS,
                json!({ "id": admin.id, "s": status }),
                Some(&token),
            )
            .await;

        assert_eq!(error_code(&body), Some("CONFLICT"), "{status}: {body:#}");
        assert!(body["data"].is_null());
    }
    assert_eq!(app.user_row(admin.id).await.status, UserStatus::Active);
    assert_eq!(app.count("audit_logs").await, audits);
    assert!(
        app.sessions_of(admin.id)
            .await
            .iter()
            .all(|s| s.revoked_at.is_none())
    );
    app.gql_ok("{ me { id } }", json!({}), Some(&token)).await;
    // Demoting the last active admin is refused in the same way.
    let body = app
        .gql(
            UPDATE,
            json!({ "id": admin.id, "input": { "role": "INSTRUCTOR" } }),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(app.user_row(admin.id).await.role, Role::Admin);
}

#[tokio::test]
async fn add_user_note_writes_the_note_and_its_audit_row() {
    let app = TestApp::spawn().await;
    let (admin, token) = app.admin().await;
    let (customer, _) = app.customer("casey@example.com").await;
    let add = "mutation($id: UUID!, $input: AddUserNoteInput!) { addUserNote(userId: $id, input: $input) { id noteType content isInternal createdBy { id } } }";

    let data = app
        .gql_ok(
            add,
            json!({ "id": customer.id, "input": { "noteType": "COMPLAINT", "content": "  Course started late  ", "isInternal": false } }),
            Some(&token),
        )
        .await;

    let note = &data["addUserNote"];
    assert_eq!(note["noteType"], "COMPLAINT");
    assert_eq!(note["content"], "Course started late");
    assert_eq!(note["isInternal"], false);
    assert_eq!(note["createdBy"]["id"], admin.id.to_string());
    let note_id = id_of(&note["id"]);
    let row = user_note::Entity::find_by_id(note_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.user_id, customer.id);
    assert_eq!(row.note_type, NoteType::Complaint);
    assert_eq!(row.content, "Course started late");
    assert!(!row.is_internal);
    assert_eq!(row.created_by_id, Some(admin.id));
    let audit = audit_of(&app, "user_note.create", note_id).await;
    assert_eq!(audit.actor_id, Some(admin.id));
    assert_eq!(
        audit.changes.unwrap()["content"]["after"],
        "Course started late"
    );
    let activity = activity_of(&app, customer.id).await;
    let entry = activity.last().unwrap();
    assert_eq!(entry.activity_type, "note_added");
    assert_eq!(entry.related_entity_id, Some(note_id));

    // Medical notes are kept, but their text stays out of the audit trail.
    let medical = app
        .gql_ok(add, json!({ "id": customer.id, "input": { "noteType": "MEDICAL", "content": "Epileptic" } }), Some(&token))
        .await;
    let medical_id = id_of(&medical["addUserNote"]["id"]);
    assert_eq!(medical["addUserNote"]["isInternal"], true);
    let changes = audit_of(&app, "user_note.create", medical_id)
        .await
        .changes
        .unwrap();
    assert_eq!(changes["content"]["after"], "[redacted]");
    assert!(!changes.to_string().contains("Epileptic"));
    assert_eq!(app.count("user_notes").await, 2);
}

#[tokio::test]
async fn add_user_note_for_an_unknown_user_is_not_found() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let audits = app.count("audit_logs").await;

    let body = app
        .gql(
            "mutation($id: UUID!) { addUserNote(userId: $id, input: { content: \"Hello\" }) { id } }",
            json!({ "id": Uuid::now_v7() }),
            Some(&token),
        )
        .await;

    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
    assert_eq!(app.count("user_notes").await, 0);
    assert_eq!(app.count("audit_logs").await, audits);
}

/// One request that must be refused.
struct Refused {
    name: &'static str,
    query: &'static str,
    variables: Value,
    code: &'static str,
    /// The field `extensions.field` must name (alone, or at the end of a path such as
    /// `input.role`), when it must name one.
    field: Option<&'static str>,
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let existing = create(
        &app,
        &token,
        json!({ "email": "existing@example.com", "firstName": "Eve", "lastName": "Existing" }),
    )
    .await;
    let other = create(
        &app,
        &token,
        json!({ "email": "other@example.com", "firstName": "Otto", "lastName": "Other" }),
    )
    .await;
    let create_with = |input: Value| json!({ "input": input });
    let valid = |extra: Value| {
        let mut input =
            json!({ "email": "new.person@example.com", "firstName": "New", "lastName": "Person" });
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "input": input })
    };

    let cases = [
        Refused {
            name: "invalid email",
            query: CREATE,
            variables: create_with(
                json!({ "email": "not-an-email", "firstName": "A", "lastName": "B" }),
            ),
            code: "BAD_USER_INPUT",
            field: Some("email"),
        },
        Refused {
            name: "email without a dotted domain",
            query: CREATE,
            variables: valid(json!({ "email": "someone@localhost" })),
            code: "BAD_USER_INPUT",
            field: Some("email"),
        },
        Refused {
            name: "101-character first name",
            query: CREATE,
            variables: valid(json!({ "firstName": "a".repeat(101) })),
            code: "BAD_USER_INPUT",
            field: Some("firstName"),
        },
        Refused {
            name: "blank last name",
            query: CREATE,
            variables: valid(json!({ "lastName": "   " })),
            code: "BAD_USER_INPUT",
            field: Some("lastName"),
        },
        Refused {
            name: "11-character postcode",
            query: CREATE,
            variables: valid(json!({ "postcode": "SW1A 1AAXYZ" })),
            code: "BAD_USER_INPUT",
            field: Some("postcode"),
        },
        Refused {
            name: "phone with letters",
            query: CREATE,
            variables: valid(json!({ "phone": "call me maybe" })),
            code: "BAD_USER_INPUT",
            field: Some("phone"),
        },
        Refused {
            name: "unknown role inline",
            query: "mutation { createUser(input: { email: \"new.person@example.com\", firstName: \"New\", lastName: \"Person\", role: WIZARD }) { id } }",
            variables: json!({}),
            code: "BAD_USER_INPUT",
            field: Some("role"),
        },
        Refused {
            name: "unknown role in variables",
            query: CREATE,
            variables: valid(json!({ "role": "WIZARD" })),
            code: "BAD_USER_INPUT",
            field: Some("role"),
        },
        Refused {
            name: "duplicate email on create",
            query: CREATE,
            variables: valid(json!({ "email": "  EXISTING@Example.com " })),
            code: "BAD_USER_INPUT",
            field: Some("email"),
        },
        Refused {
            name: "customer with a password",
            query: CREATE,
            variables: valid(json!({ "password": "a-perfectly-good-password" })),
            code: "BAD_USER_INPUT",
            field: Some("password"),
        },
        Refused {
            name: "staff with a short password",
            query: CREATE,
            variables: valid(json!({ "role": "INSTRUCTOR", "password": "too-short" })),
            code: "BAD_USER_INPUT",
            field: Some("password"),
        },
        Refused {
            name: "duplicate email on update",
            query: UPDATE,
            variables: json!({ "id": other, "input": { "email": " Existing@EXAMPLE.com" } }),
            code: "BAD_USER_INPUT",
            field: Some("email"),
        },
        Refused {
            name: "blank first name on update",
            query: UPDATE,
            variables: json!({ "id": other, "input": { "firstName": "" } }),
            code: "BAD_USER_INPUT",
            field: Some("firstName"),
        },
        Refused {
            name: "11-character postcode on update",
            query: UPDATE,
            variables: json!({ "id": other, "input": { "city": "York", "postcode": "SW1A 1AAXYZ" } }),
            code: "BAD_USER_INPUT",
            field: Some("postcode"),
        },
        Refused {
            name: "password for a customer on update",
            query: UPDATE,
            variables: json!({ "id": other, "input": { "password": "a-perfectly-good-password" } }),
            code: "BAD_USER_INPUT",
            field: Some("password"),
        },
        Refused {
            name: "unknown id on update",
            query: UPDATE,
            variables: json!({ "id": Uuid::now_v7(), "input": { "city": "York" } }),
            code: "NOT_FOUND",
            field: None,
        },
        Refused {
            name: "date of birth in the future",
            query: CREATE,
            variables: valid(json!({ "dateOfBirth": "2999-01-01" })),
            code: "BAD_USER_INPUT",
            field: Some("dateOfBirth"),
        },
        Refused {
            name: "blank note",
            query: ADD_NOTE,
            variables: json!({ "id": other, "input": { "content": "  " } }),
            code: "BAD_USER_INPUT",
            field: Some("content"),
        },
        Refused {
            name: "note of 10,001 characters",
            query: ADD_NOTE,
            variables: json!({ "id": other, "input": { "content": "n".repeat(10_001) } }),
            code: "BAD_USER_INPUT",
            field: Some("content"),
        },
        Refused {
            name: "unknown note type",
            query: ADD_NOTE,
            variables: json!({ "id": other, "input": { "content": "Hello", "noteType": "GOSSIP" } }),
            code: "BAD_USER_INPUT",
            field: Some("noteType"),
        },
    ];

    let users_before = app.all_users().await;
    let audits_before = app.count("audit_logs").await;
    let activity_before = app.count("user_activity_logs").await;
    let notes_before = app.count("user_notes").await;
    let mut failures = Vec::new();
    for case in cases {
        let body = app.gql(case.query, case.variables, Some(&token)).await;
        let names_field = |want: &str| {
            error_field(&body).is_some_and(|f| f == want || f.ends_with(&format!(".{want}")))
        };
        if error_code(&body) != Some(case.code) || !case.field.is_none_or(names_field) {
            failures.push(format!(
                "{}: expected {} on {:?}, got {body}",
                case.name, case.code, case.field
            ));
        }
        if !body["data"].is_null() {
            failures.push(format!("{}: returned data {body}", case.name));
        }
        if app.all_users().await != users_before
            || app.count("audit_logs").await != audits_before
            || app.count("user_activity_logs").await != activity_before
            || app.count("user_notes").await != notes_before
        {
            failures.push(format!("{}: the database changed", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(app.user_row(existing).await.email, "existing@example.com");
}

#[tokio::test]
async fn create_user_accepts_values_at_their_limits() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let first_name = "é".repeat(100);

    let id = create(
        &app,
        &token,
        json!({ "email": "limits@example.com", "firstName": first_name, "lastName": "Limit", "postcode": "sw1a 1aa x" }),
    )
    .await;

    let row = app.user_row(id).await;
    assert_eq!(
        row.first_name, first_name,
        "100 characters (not bytes) are allowed"
    );
    assert_eq!(row.postcode.as_deref(), Some("SW1A 1AA X"));
}

#[tokio::test]
async fn two_admins_deactivating_each_other_at_once_leave_one_active() {
    let app = TestApp::spawn().await;
    let (mut survivor, _) = app.staff(Role::Admin, "admin0@example.com").await;
    for round in 1..=20 {
        let (newcomer, _) = app
            .staff(Role::Admin, &format!("admin{round}@example.com"))
            .await;
        let survivor_token = app.session_for(&survivor).await.0;
        let newcomer_token = app.session_for(&newcomer).await.0;

        let (a, b) = tokio::join!(
            app.gql(
                SET_STATUS,
                json!({ "id": newcomer.id, "s": "INACTIVE" }),
                Some(&survivor_token)
            ),
            app.gql(
                SET_STATUS,
                json!({ "id": survivor.id, "s": "INACTIVE" }),
                Some(&newcomer_token)
            ),
        );

        let active: Vec<user::Model> = app
            .all_users()
            .await
            .into_iter()
            .filter(|u| u.role == Role::Admin && u.status == UserStatus::Active)
            .collect();
        assert_eq!(active.len(), 1, "round {round}: {a} / {b}");
        // One wins; the other is refused as the last admin, or finds itself already out.
        let mut codes = [error_code(&a), error_code(&b)];
        codes.sort();
        assert!(
            matches!(codes, [None, Some("CONFLICT" | "UNAUTHENTICATED")]),
            "round {round}: {a} / {b}"
        );
        survivor = active.into_iter().next().unwrap();
    }
}

#[tokio::test]
async fn creating_the_same_email_at_once_creates_one_user() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let users_before = app.count("users").await;
    let emails = [
        "race@example.com",
        "RACE@example.com",
        " race@example.com",
        "Race@Example.com",
    ];

    let bodies = futures::future::join_all(emails.iter().map(|email| {
        let input = json!({ "input": { "email": email, "firstName": "Rae", "lastName": "Race" } });
        app.gql(CREATE, input, Some(&token))
    }))
    .await;

    let created: Vec<_> = bodies.iter().filter(|b| error_code(b).is_none()).collect();
    assert_eq!(created.len(), 1, "{bodies:#?}");
    for refused in bodies.iter().filter(|b| error_code(b).is_some()) {
        assert_eq!(error_code(refused), Some("BAD_USER_INPUT"), "{refused:#}");
        assert_eq!(error_field(refused), Some("email"), "{refused:#}");
    }
    assert_eq!(app.count("users").await, users_before + 1);
    assert_eq!(app.audit_rows("user.create").await.len(), 1);
}
