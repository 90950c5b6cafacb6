//! Who may do what: every operation of the schema called as an anonymous visitor, a
//! customer, an instructor, an admin and a customer-portal session, plus the field-level guards on `User` (admin-only
//! medical, emergency-contact and dietary fields; internal notes).

use rft_users::entities::encrypted::RevealedText as _;
use std::collections::BTreeSet;

use chrono::Utc;
use rft_users::auth::rate_limit::Limit;
use rft_users::auth::tokens::digest;
use rft_users::entities::enums::{ImportJobStatus, Role};
use rft_users::entities::{import_job, user, user_merge, user_note};
use rft_users::services::audit::Actor;
use rft_users::services::{portal, users};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

/// What a caller gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// No errors, and the operation's result.
    Allowed,
    Unauthenticated,
    Forbidden,
}
use Outcome::{Allowed, Forbidden, Unauthenticated};

/// The callers, in the column order of the matrix.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    Customer,
    Instructor,
    Admin,
    /// The customer's portal session (`customerLookup`'s token).
    Portal,
}
const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::Customer,
    Caller::Instructor,
    Caller::Admin,
    Caller::Portal,
];

/// The role matrix: what each caller gets from each operation of the schema.
#[rustfmt::skip]
const MATRIX: &[(&str, [Outcome; 5])] = &[
    //                 anonymous        customer   instructor admin      portal
    ("me",             [Unauthenticated, Allowed,   Allowed,   Allowed,   Allowed]),
    ("user",           [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("userByEmail",    [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("users",          [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("createUser",     [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("updateUser",     [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("setUserStatus",  [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("addUserNote",    [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("duplicateCandidates", [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("duplicateGroups",     [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("dismissDuplicate",    [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("logout",         [Unauthenticated, Allowed,   Allowed,   Allowed,   Forbidden]),
    ("changePassword", [Unauthenticated, Forbidden, Allowed,   Allowed,   Forbidden]),
    ("login",          [Allowed,         Allowed,   Allowed,   Allowed,   Forbidden]),
    ("refreshSession", [Allowed,         Allowed,   Allowed,   Allowed,   Forbidden]),
    ("mergePreview",   [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("mergeUsers",     [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("unmergeUsers",   [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("userMerges",     [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("importJobs",     [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("importJob",      [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("refreshInsights", [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("insightsModel",  [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("renewalsDue",    [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("companies",      [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("company",        [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("businessInsights", [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("emailOutbox",    [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("sendRenewalReminders", [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("verifyCertificate", [Allowed,      Allowed,   Allowed,   Allowed,   Allowed]),
    ("customerLookup", [Allowed,         Allowed,   Allowed,   Allowed,   Allowed]),
    ("myProfile",      [Unauthenticated, Forbidden, Forbidden, Forbidden, Allowed]),
    ("updateMyProfile", [Unauthenticated, Forbidden, Forbidden, Forbidden, Allowed]),
    ("endPortalSession", [Unauthenticated, Forbidden, Forbidden, Forbidden, Allowed]),
    ("myLoginSessions", [Unauthenticated, Allowed,   Allowed,   Allowed,   Forbidden]),
    ("endLoginSession", [Unauthenticated, Allowed,   Allowed,   Allowed,   Forbidden]),
    ("endOtherLoginSessions", [Unauthenticated, Allowed, Allowed, Allowed,   Forbidden]),
    ("endUserLoginSessions", [Unauthenticated, Forbidden, Forbidden, Allowed, Forbidden]),
    ("exportUserData", [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("exportMyData",   [Unauthenticated, Forbidden, Forbidden, Forbidden, Allowed]),
    ("erasurePreview", [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
    ("eraseUser",      [Unauthenticated, Forbidden, Forbidden, Allowed,   Forbidden]),
];

/// How the matrix calls each operation: (root field, document, variables). Variables that
/// are strings starting with `@` are filled in for each call (see `World::fill`).
fn operations() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("me", "{ me { id email } }", json!({})),
        (
            "user",
            "query($id: UUID!) { user(id: $id) { id email } }",
            json!({ "id": "@target" }),
        ),
        (
            "userByEmail",
            "query($email: String!) { userByEmail(email: $email) { id } }",
            json!({ "email": "@targetEmail" }),
        ),
        (
            "users",
            "{ users(first: 5) { totalCount edges { node { id email } } } }",
            json!({}),
        ),
        (
            "createUser",
            "mutation($input: CreateUserInput!) { createUser(input: $input) { id } }",
            json!({ "input": { "email": "created.in.matrix@example.com", "firstName": "Mat", "lastName": "Rix" } }),
        ),
        (
            "updateUser",
            "mutation($id: UUID!) { updateUser(id: $id, input: { city: \"Leeds\" }) { id city } }",
            json!({ "id": "@target" }),
        ),
        (
            "setUserStatus",
            "mutation($id: UUID!) { setUserStatus(id: $id, status: INACTIVE) { id status } }",
            json!({ "id": "@target" }),
        ),
        (
            "addUserNote",
            "mutation($id: UUID!) { addUserNote(userId: $id, input: { content: \"Called about a refund\" }) { id } }",
            json!({ "id": "@target" }),
        ),
        (
            "duplicateCandidates",
            "query($id: UUID!) { duplicateCandidates(userId: $id, minScore: 0) { score user { id } } }",
            json!({ "id": "@target" }),
        ),
        (
            "duplicateGroups",
            "{ duplicateGroups(first: 5) { totalCount edges { node { id bestScore } } } }",
            json!({}),
        ),
        (
            "dismissDuplicate",
            "mutation($a: UUID!, $b: UUID!) { dismissDuplicate(userId: $a, otherUserId: $b) }",
            json!({ "a": "@target", "b": "@customerId" }),
        ),
        ("logout", "mutation { logout }", json!({})),
        (
            "changePassword",
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": "@password", "n": "a-brand-new-password" }),
        ),
        (
            "login",
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": "@loginEmail", "p": "@loginPassword" }),
        ),
        (
            "refreshSession",
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": "@refreshToken" }),
        ),
        (
            "mergePreview",
            "query($s: UUID!, $d: UUID!) { mergePreview(input: { survivorId: $s, duplicateIds: [$d] }) { moved { table count } } }",
            json!({ "s": "@mergeSurvivor", "d": "@mergeDuplicate" }),
        ),
        (
            "mergeUsers",
            "mutation($s: UUID!, $d: UUID!) { mergeUsers(input: { survivorId: $s, duplicateIds: [$d] }) { id } }",
            json!({ "s": "@mergeSurvivor", "d": "@mergeDuplicate" }),
        ),
        (
            "unmergeUsers",
            "mutation($id: UUID!) { unmergeUsers(mergeId: $id) { id undoneAt } }",
            json!({ "id": "@mergeId" }),
        ),
        (
            "userMerges",
            "{ userMerges(first: 5) { edges { node { id survivor { id } } } } }",
            json!({}),
        ),
        (
            "importJobs",
            "{ importJobs(first: 5) { edges { node { id source counts { total } } } } }",
            json!({}),
        ),
        (
            "importJob",
            "query($id: UUID!) { importJob(id: $id) { id status rows(first: 2) { edges { node { id status } } } } }",
            json!({ "id": "@importJob" }),
        ),
        (
            "refreshInsights",
            "mutation { refreshInsights { id customers } }",
            json!({}),
        ),
        (
            // After refreshInsights, so an admin reads the fit it stored.
            "insightsModel",
            "{ insightsModel { id asOf customers } }",
            json!({}),
        ),
        (
            "renewalsDue",
            "{ renewalsDue(withinDays: 90) { totalCount edges { node { id holder { id } } } } }",
            json!({}),
        ),
        (
            "companies",
            "{ companies(first: 5) { totalCount edges { node { id name customerCount } } } }",
            json!({}),
        ),
        (
            "company",
            "query($id: ID!) { company(id: $id) { id name customers(first: 2) { edges { node { id } } } } }",
            json!({ "id": "@company" }),
        ),
        (
            "businessInsights",
            "{ businessInsights(from: \"2026-01-01\", to: \"2026-03-31\", interval: MONTH) { bookings series { start } segments { segment customers } } }",
            json!({}),
        ),
        (
            "emailOutbox",
            "{ emailOutbox(first: 5) { edges { node { id status } } } }",
            json!({}),
        ),
        (
            "sendRenewalReminders",
            "mutation { sendRenewalReminders(withinDays: 60) { queued alreadyQueued } }",
            json!({}),
        ),
        (
            // Public, for employers; what it answers is in tests/api/certificates.rs.
            "verifyCertificate",
            "query($n: String!) { verifyCertificate(number: $n) { status } }",
            json!({ "n": "RFT-EFAW-2026-NOSUCHCERT" }),
        ),
        (
            "customerLookup",
            "mutation($e: String!, $r: String!) { customerLookup(email: $e, bookingReference: $r) { expiresAt customer { id } } }",
            json!({ "e": "@customerEmail", "r": "@reference" }),
        ),
        ("myProfile", "{ myProfile { id email } }", json!({})),
        (
            "updateMyProfile",
            "mutation { updateMyProfile(input: { city: \"Harrogate\" }) { id city } }",
            json!({}),
        ),
        (
            "endPortalSession",
            "mutation { endPortalSession }",
            json!({}),
        ),
        (
            "myLoginSessions",
            "{ myLoginSessions { id device current } }",
            json!({}),
        ),
        (
            "endLoginSession",
            "mutation($id: UUID!) { endLoginSession(id: $id) }",
            json!({ "id": "@ownLoginSession" }),
        ),
        (
            "endOtherLoginSessions",
            "mutation { endOtherLoginSessions }",
            json!({}),
        ),
        (
            "endUserLoginSessions",
            "mutation($id: UUID!) { endUserLoginSessions(userId: $id) }",
            json!({ "id": "@loginee" }),
        ),
        (
            "exportUserData",
            "query($id: UUID!) { exportUserData(userId: $id) }",
            json!({ "id": "@customerId" }),
        ),
        ("exportMyData", "{ exportMyData }", json!({})),
        (
            "erasurePreview",
            "query($id: UUID!) { erasurePreview(userId: $id) { userId items { table action } } }",
            json!({ "id": "@customerId" }),
        ),
        (
            // Last, and on the merge survivor: nothing after it needs that person.
            "eraseUser",
            "mutation($id: UUID!) { eraseUser(userId: $id, reason: \"Asked by email\") { userId erasedAt } }",
            json!({ "id": "@mergeSurvivor" }),
        ),
    ]
}

/// The people of the matrix.
struct World {
    customer: user::Model,
    instructor: (user::Model, String),
    admin: (user::Model, String),
    /// The user the admin operations act on.
    target: user::Model,
    /// A staff member whose credentials the public operations use.
    loginee: (user::Model, String),
    /// The customers the merge operations act on: the duplicate is merged into the survivor.
    merge_survivor: user::Model,
    merge_duplicate: user::Model,
    /// An import job, for `importJob`.
    import_job: uuid::Uuid,
    /// The customer's booking, whose reference opens the portal.
    reference: String,
}

impl World {
    async fn build(app: &TestApp) -> Self {
        let (customer, _) = app.customer("customer@example.com").await;
        let instructor = app.staff(Role::Instructor, "instructor@example.com").await;
        let admin = app.staff(Role::Admin, "admin@example.com").await;
        let now = Utc::now();
        let mut t = users::blank(
            "target@example.com".into(),
            "Tara".into(),
            "Target".into(),
            now,
        );
        // Her company is the one `company` reads.
        t.company_name = Some("Matrix Widgets Ltd".into());
        users::refresh_derived(&mut t);
        let target = users::insert(&app.db, t).await.unwrap();
        let loginee = app.staff(Role::Instructor, "loginee@example.com").await;
        let mut merge_customers = Vec::new();
        for email in ["merge.survivor@example.com", "merge.duplicate@example.com"] {
            let mut m = users::blank(email.into(), "Mo".into(), "Merge".into(), now);
            users::refresh_derived(&mut m);
            merge_customers.push(users::insert(&app.db, m).await.unwrap());
        }
        let merge_duplicate = merge_customers.pop().unwrap();
        let merge_survivor = merge_customers.pop().unwrap();
        let import_job = import_job::Model {
            id: uuid::Uuid::now_v7(),
            source: "legacy".into(),
            file_name: "export.json".into(),
            file_sha256: "0".repeat(64),
            dry_run: true,
            status: ImportJobStatus::Finished,
            error: None,
            rows_in_file: 0,
            created_count: 0,
            updated_count: 0,
            unchanged_count: 0,
            skipped_count: 0,
            failed_count: 0,
            customers_created: 0,
            venues_created: 0,
            sessions_created: 0,
            started_at: now,
            finished_at: Some(now),
            updated_at: now,
        }
        .into_active_model()
        .insert(&app.db)
        .await
        .unwrap()
        .id;
        // A booking of the customer's, made on the public website.
        let admin_token = app.session_for(&admin.0).await.0;
        let catalogue = app.catalogue(&admin_token).await;
        let session = app
            .create_session(
                &admin_token,
                catalogue.efaw,
                catalogue.leeds,
                None,
                10,
                None,
            )
            .await;
        let booked = app.book_ok(None, session, &customer.email, 1).await;
        let reference = booked["reference"].as_str().unwrap().to_string();
        Self {
            customer,
            instructor,
            admin,
            target,
            loginee,
            merge_survivor,
            merge_duplicate,
            import_job,
            reference,
        }
    }

    /// The user a staff or customer caller is (none for anonymous and portal callers).
    fn user_of(&self, caller: Caller) -> Option<&user::Model> {
        match caller {
            Caller::Customer => Some(&self.customer),
            Caller::Instructor => Some(&self.instructor.0),
            Caller::Admin => Some(&self.admin.0),
            Caller::Anonymous | Caller::Portal => None,
        }
    }

    /// A fresh session for the caller (so that `logout` in one row cannot affect another).
    async fn token(&self, app: &TestApp, caller: Caller) -> Option<String> {
        let u = match caller {
            Caller::Anonymous => return None,
            Caller::Portal => {
                let started = portal::lookup(
                    &app.db,
                    &Actor::system(),
                    &self.customer.email,
                    &self.reference,
                )
                .await
                .expect("the customer opens the portal");
                return Some(started.token);
            }
            Caller::Customer => &self.customer,
            Caller::Instructor => &self.instructor.0,
            Caller::Admin => &self.admin.0,
        };
        Some(app.session_for(u).await.0)
    }

    /// Fills the `@` placeholders of a row's variables for one call.
    async fn fill(&self, app: &TestApp, caller: Caller, variables: &Value) -> Value {
        let mut filled = variables.clone();
        if let Some(map) = filled.as_object_mut() {
            for value in map.values_mut() {
                let replacement = match value.as_str() {
                    Some("@target") => json!(self.target.id),
                    Some("@customerId") => json!(self.customer.id),
                    Some("@customerEmail") => json!(self.customer.email),
                    Some("@reference") => json!(self.reference),
                    Some("@importJob") => json!(self.import_job),
                    Some("@company") => json!("matrixwidgets"),
                    Some("@targetEmail") => json!("  TARGET@example.com "),
                    Some("@loginEmail") => json!(self.loginee.0.email),
                    Some("@loginPassword") => json!(self.loginee.1),
                    Some("@refreshToken") => json!(app.session_for(&self.loginee.0).await.1),
                    Some("@loginee") => json!(self.loginee.0.id),
                    // Another login session of the caller's own (none for the others: any
                    // id will do, they are refused before it is looked at).
                    Some("@ownLoginSession") => match self.user_of(caller) {
                        Some(u) => {
                            let (_, refresh) = app.session_for(u).await;
                            let rows = app.sessions_of(u.id).await;
                            let row = rows.iter().find(|r| r.token_hash == digest(&refresh));
                            json!(row.expect("the new session's row").family_id)
                        }
                        None => json!(uuid::Uuid::now_v7()),
                    },
                    Some("@mergeSurvivor") => json!(self.merge_survivor.id),
                    Some("@mergeDuplicate") => json!(self.merge_duplicate.id),
                    // The merge the admin's `mergeUsers` made (it runs first).
                    Some("@mergeId") => json!(
                        user_merge::Entity::find()
                            .one(&app.db)
                            .await
                            .unwrap()
                            .expect("the admin's merge")
                            .id
                    ),
                    Some("@password") => match caller {
                        Caller::Instructor => json!(self.instructor.1),
                        Caller::Admin => json!(self.admin.1),
                        _ => json!("no-password-to-give"),
                    },
                    _ => continue,
                };
                *value = replacement;
            }
        }
        filled
    }
}

/// Every row the database could gain or change through the operations of the matrix.
async fn state(app: &TestApp, world: &World) -> (Vec<i64>, user::Model) {
    let mut counts = Vec::new();
    for table in [
        "users",
        "audit_logs",
        "user_notes",
        "user_activity_logs",
        "auth_sessions",
        "user_merges",
        "duplicate_dismissals",
        "portal_sessions",
        "rate_limit_buckets",
    ] {
        counts.push(app.count(table).await);
    }
    (counts, app.user_row(world.target.id).await)
}

#[tokio::test]
async fn every_operation_is_guarded_by_role() {
    let app = TestApp::spawn_with(|c| {
        let generous = Limit::per_minute(1_000);
        c.login_limit = generous;
        c.portal_limits.per_ip = generous;
        c.portal_limits.per_email = generous;
        c.portal_limits.per_reference = generous;
        c.portal_limits.global = generous;
    })
    .await;
    let world = World::build(&app).await;
    let mut failures = Vec::new();

    let operations = operations();
    assert_eq!(
        operations.iter().map(|o| o.0).collect::<Vec<_>>(),
        MATRIX.iter().map(|m| m.0).collect::<Vec<_>>(),
        "every operation has one row in the matrix"
    );
    for ((name, query, variables), (_, expect)) in operations.iter().zip(MATRIX) {
        for (caller, expected) in CALLERS.into_iter().zip(*expect) {
            let token = world.token(&app, caller).await;
            let variables = world.fill(&app, caller, variables).await;
            let before = state(&app, &world).await;

            let body = app.gql(query, variables, token.as_deref()).await;

            let got = match error_code(&body) {
                None if !body["data"][name].is_null() => Allowed,
                Some("UNAUTHENTICATED") => Unauthenticated,
                Some("FORBIDDEN") => Forbidden,
                _ => {
                    failures.push(format!("{name} as {caller:?}: unexpected answer {body}"));
                    continue;
                }
            };
            if got != expected {
                failures.push(format!(
                    "{name} as {caller:?}: expected {expected:?}, got {got:?}: {body}"
                ));
            }
            if got != Allowed {
                assert!(body["data"].is_null(), "{name} as {caller:?}: {body:#}");
                let after = state(&app, &world).await;
                if after != before {
                    failures.push(format!(
                        "{name} as {caller:?} was refused but changed the database"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // The admin's calls did happen.
    let target = app.user_row(world.target.id).await;
    assert_eq!(target.city.as_deref(), Some("Leeds"));
    assert_eq!(
        target.status,
        rft_users::entities::enums::UserStatus::Inactive
    );
    let notes = user_note::Entity::find()
        .filter(user_note::Column::UserId.eq(world.target.id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    let created = users::find_by_email(&app.db, "created.in.matrix@example.com")
        .await
        .unwrap();
    assert_eq!(created.unwrap().created_by_id, Some(world.admin.0.id));
    let merges = user_merge::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(merges.len(), 1, "one merge, by the admin");
    assert_eq!(merges[0].survivor_id, world.merge_survivor.id);
    assert!(merges[0].undone_at.is_some(), "and undone by the admin");
}

/// Operations of the schema this matrix leaves to the bookings side's own tests.
const NOT_IN_THIS_MATRIX: &[&str] = &[
    "courses",
    "venues",
    "courseSessions",
    "courseSession",
    "mySessions",
    "booking",
    "createCourse",
    "updateCourse",
    "createVenue",
    "updateVenue",
    "createCourseSession",
    "updateCourseSession",
    "cancelCourseSession",
    "createBooking",
    "cancelBooking",
    "recordPayment",
    "requestRefund",
    "approveRefund",
    "rejectRefund",
    "completeRefund",
    "markAttendance",
    "addSessionNote",
    "issueCertificates",
    "revokeCertificate",
];

#[tokio::test]
async fn every_operation_of_the_schema_has_a_place_in_the_role_matrix() {
    let app = TestApp::spawn().await;
    let data = app
        .gql_ok(
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
            json!({}),
            None,
        )
        .await;
    let mut served = BTreeSet::new();
    for root in ["queryType", "mutationType"] {
        for f in data["__schema"][root]["fields"].as_array().unwrap() {
            served.insert(f["name"].as_str().unwrap().to_string());
        }
    }
    let in_matrix: BTreeSet<String> = MATRIX.iter().map(|m| m.0.to_string()).collect();
    let elsewhere: BTreeSet<String> = NOT_IN_THIS_MATRIX.iter().map(|n| n.to_string()).collect();

    let stale: Vec<_> = in_matrix
        .union(&elsewhere)
        .filter(|n| !served.contains(*n))
        .collect();
    let unplaced: Vec<_> = served
        .iter()
        .filter(|n| !in_matrix.contains(*n) && !elsewhere.contains(*n))
        .collect();
    assert!(stale.is_empty(), "no longer in the schema: {stale:?}");
    assert!(
        unplaced.is_empty(),
        "add to the role matrix (or NOT_IN_THIS_MATRIX): {unplaced:?}"
    );
    assert!(in_matrix.is_disjoint(&elsewhere));
}

const ADMIN_ONLY_FIELDS: &[&str] = &[
    "medicalNotes",
    "emergencyContactName",
    "emergencyContactPhone",
    "emergencyContactRelationship",
    "dietaryRequirements",
    "hasMedicalConditions",
    "shareMedicalWithTrainer",
    "adminNotes",
    "failedLoginAttempts",
    "accountLockedUntil",
];

/// Gives a user something in every admin-only field, so a leak would show.
async fn fill_sensitive_fields(app: &TestApp, u: &user::Model) {
    let mut am = u.clone().into_active_model();
    am.medical_notes = Set(Some("Severe nut allergy".into()));
    am.emergency_contact_name = Set(Some("Pat Emergency".into()));
    am.emergency_contact_phone = Set(Some("01632 960000".into()));
    am.emergency_contact_relationship = Set(Some("Sibling".into()));
    am.dietary_requirements = Set(Some("Strictly vegan".into()));
    am.has_medical_conditions = Set(true);
    am.notes = Set(Some("Difficult on the phone".into()));
    am.update(&app.db).await.unwrap();
}

#[tokio::test]
async fn customers_and_instructors_cannot_read_admin_only_fields_of_themselves() {
    let app = TestApp::spawn().await;
    let (customer, customer_token) = app.customer("casey@example.com").await;
    let (instructor, instructor_token) = app.logged_in(Role::Instructor, "ian@example.com").await;
    let (_, admin_token) = app.admin().await;
    let portal_token = portal_token_for(&app, &admin_token, &customer).await;
    fill_sensitive_fields(&app, &customer).await;
    fill_sensitive_fields(&app, &instructor).await;

    for (who, token) in [
        ("customer", &customer_token),
        ("instructor", &instructor_token),
        ("portal", &portal_token),
    ] {
        let mine = app
            .gql_ok("{ me { email firstName } }", json!({}), Some(token))
            .await;
        assert!(mine["me"]["email"].is_string(), "{who}: {mine}");
        for field in ADMIN_ONLY_FIELDS {
            let body = app
                .gql(
                    &format!("{{ me {{ email {field} }} }}"),
                    json!({}),
                    Some(token),
                )
                .await;
            assert_eq!(
                error_code(&body),
                Some("FORBIDDEN"),
                "{who} read {field}: {body:#}"
            );
            assert!(
                body["data"]["me"][field].is_null(),
                "{who} read {field}: {body:#}"
            );
            let text = body.to_string();
            for secret in [
                "nut allergy",
                "Pat Emergency",
                "01632",
                "Sibling",
                "vegan",
                "Difficult",
            ] {
                assert!(
                    !text.contains(secret),
                    "{who} saw {secret:?} asking for {field}: {text}"
                );
            }
        }
    }

    // The same fields are there for an admin, and the rows hold them.
    let body = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { medicalNotes emergencyContactName dietaryRequirements hasMedicalConditions adminNotes } }",
            json!({ "id": customer.id }),
            Some(&admin_token),
        )
        .await;
    assert_eq!(
        body["user"],
        json!({
            "medicalNotes": "Severe nut allergy",
            "emergencyContactName": "Pat Emergency",
            "dietaryRequirements": "Strictly vegan",
            "hasMedicalConditions": true,
            "adminNotes": "Difficult on the phone",
        })
    );
    let row = app.user_row(customer.id).await;
    assert_eq!(row.medical_notes.plain_str(), Some("Severe nut allergy"));
}

/// Books a course for `customer` and opens the customer portal with the booking's reference.
async fn portal_token_for(app: &TestApp, admin_token: &str, customer: &user::Model) -> String {
    let catalogue = app.catalogue(admin_token).await;
    let session = app
        .create_session(admin_token, catalogue.efaw, catalogue.leeds, None, 14, None)
        .await;
    let booked = app.book_ok(None, session, &customer.email, 1).await;
    portal::lookup(
        &app.db,
        &Actor::system(),
        &customer.email,
        booked["reference"].as_str().unwrap(),
    )
    .await
    .expect("the customer opens the portal")
    .token
}

#[tokio::test]
async fn internal_notes_are_shown_to_admins_only() {
    let app = TestApp::spawn().await;
    let (customer, customer_token) = app.customer("casey@example.com").await;
    let (_, admin_token) = app.admin().await;
    let add = "mutation($id: UUID!, $c: String!, $internal: Boolean) { addUserNote(userId: $id, input: { content: $c, isInternal: $internal }) { id isInternal } }";
    let internal = app
        .gql_ok(
            add,
            json!({ "id": customer.id, "c": "Suspected duplicate bookings", "internal": true }),
            Some(&admin_token),
        )
        .await;
    let shared = app
        .gql_ok(
            add,
            json!({ "id": customer.id, "c": "Thanks for the kind feedback", "internal": false }),
            Some(&admin_token),
        )
        .await;
    let defaulted = app
        .gql_ok(
            add,
            json!({ "id": customer.id, "c": "Prefers morning courses", "internal": null }),
            Some(&admin_token),
        )
        .await;
    assert_eq!(
        defaulted["addUserNote"]["isInternal"], true,
        "notes are internal by default"
    );
    let notes = "{ notes { edges { node { content isInternal } } } }";

    let as_customer = app
        .gql_ok(
            &format!("{{ me {notes} }}"),
            json!({}),
            Some(&customer_token),
        )
        .await;
    let portal_token = portal_token_for(&app, &admin_token, &customer).await;
    let in_the_portal = app
        .gql_ok(&format!("{{ me {notes} }}"), json!({}), Some(&portal_token))
        .await;
    assert_eq!(in_the_portal["me"], as_customer["me"]);
    let as_admin = app
        .gql_ok(
            &format!("query($id: UUID!) {{ user(id: $id) {notes} }}"),
            json!({ "id": customer.id }),
            Some(&admin_token),
        )
        .await;

    assert_eq!(
        as_customer["me"]["notes"]["edges"],
        json!([{ "node": { "content": "Thanks for the kind feedback", "isInternal": false } }])
    );
    assert_eq!(
        as_admin["user"]["notes"]["edges"],
        json!([
            { "node": { "content": "Prefers morning courses", "isInternal": true } },
            { "node": { "content": "Thanks for the kind feedback", "isInternal": false } },
            { "node": { "content": "Suspected duplicate bookings", "isInternal": true } },
        ]),
        "admins see every note, newest first"
    );
    let rows = user_note::Entity::find()
        .filter(user_note::Column::UserId.eq(customer.id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let internal_id = internal["addUserNote"]["id"].as_str().unwrap();
    let shared_id = shared["addUserNote"]["id"].as_str().unwrap();
    assert!(
        rows.iter()
            .find(|n| n.id.to_string() == internal_id)
            .unwrap()
            .is_internal
    );
    assert!(
        !rows
            .iter()
            .find(|n| n.id.to_string() == shared_id)
            .unwrap()
            .is_internal
    );
}
