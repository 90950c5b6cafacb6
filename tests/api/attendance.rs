//! The instructor's day: their own sessions, the attendance sheet (only what a trainer
//! needs, medical notes only with consent), marking attendance, session notes, and the
//! certificates that follow (who gets one, numbering, expiry, renewals, revoking).

use chrono::{Datelike, Duration, NaiveDate, Utc};
use rft_users::entities::encrypted::RevealedText as _;
use rft_users::entities::enums::{AttendanceStatus, CertificateStatus, Role};
use rft_users::entities::{
    attendance_record, booking, certificate, session_note, user, user_activity_log,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, error_field, uuid_of};

const SHEET: &str = "query($id: UUID!) { courseSession(id: $id) { id attendees { id attendeeId firstName lastName contactPhone emergencyContactName emergencyContactPhone specialRequirements medicalNotes dietaryRequirements attendance { status passedAssessment certificateEligible trainerFeedback } } } }";
const MARK: &str = "mutation($s: UUID!, $a: UUID!, $st: AttendanceStatus!, $p: Boolean, $f: String) { markAttendance(sessionId: $s, attendeeId: $a, status: $st, passedAssessment: $p, feedback: $f) { id attendeeId status passedAssessment certificateEligible trainerFeedback } }";
const NOTE: &str = "mutation($s: UUID!, $t: String!) { addSessionNote(sessionId: $s, text: $t) { id content author { id } } }";
const ISSUE: &str = "mutation($s: UUID!) { issueCertificates(sessionId: $s) { id certificateNumber holderName issuedOn expiresOn status course { name } } }";
const REVOKE: &str = "mutation($id: UUID!, $r: String!) { revokeCertificate(id: $id, reason: $r) { id status revocationReason } }";
const MY_SESSIONS: &str = "query($f: CourseSessionFilter) { mySessions(filter: $f) { id } }";

/// An admin, two instructors (Ina and Ben), a three-year course and a venue.
struct Day {
    app: TestApp,
    admin: String,
    ina: user::Model,
    ina_token: String,
    ben: user::Model,
    ben_token: String,
    course: Uuid,
    venue: Uuid,
}

impl Day {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let (_, admin) = app.admin().await;
        let (ina, ina_token) = app.logged_in(Role::Instructor, "ina@example.com").await;
        let (ben, ben_token) = app.logged_in(Role::Instructor, "ben@example.com").await;
        let course = app
            .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
            .await;
        let venue = app.create_venue(&admin, "Leeds Training Centre").await;
        Self {
            app,
            admin,
            ina,
            ina_token,
            ben,
            ben_token,
            course,
            venue,
        }
    }

    async fn session(&self, instructor: Option<Uuid>, days_ahead: i64) -> Uuid {
        self.app
            .create_session(
                &self.admin,
                self.course,
                self.venue,
                instructor,
                days_ahead,
                Some(20),
            )
            .await
    }

    /// Books `people` (first name, last name); the first is the contact, with `email`.
    async fn book(
        &self,
        session: Uuid,
        email: &str,
        phone: Option<&str>,
        people: &[(&str, &str)],
    ) -> Uuid {
        let (first, last) = people[0];
        let data = self
            .app
            .gql_ok(
                "mutation($input: CreateBookingInput!) { createBooking(input: $input) { id } }",
                json!({ "input": {
                    "sessionId": session,
                    "contact": { "firstName": first, "lastName": last, "email": email, "phone": phone },
                    "attendees": people
                        .iter()
                        .map(|(f, l)| json!({ "firstName": f, "lastName": l }))
                        .collect::<Vec<_>>(),
                    "specialRequirements": "Wheelchair access",
                } }),
                None,
            )
            .await;
        uuid_of(&data["createBooking"]["id"])
    }

    /// The attendance sheet as the admin sees it: (attendee id, "First Last").
    async fn attendees(&self, session: Uuid) -> Vec<(Uuid, String)> {
        let data = self
            .app
            .gql_ok(SHEET, json!({ "id": session }), Some(&self.admin))
            .await;
        data["courseSession"]["attendees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                // `id` is what clients' caches normalise on; the deprecated alias agrees.
                assert_eq!(a["id"], a["attendeeId"], "attendeeId is an alias of id");
                (
                    uuid_of(&a["id"]),
                    format!(
                        "{} {}",
                        a["firstName"].as_str().unwrap(),
                        a["lastName"].as_str().unwrap()
                    ),
                )
            })
            .collect()
    }

    async fn mark(
        &self,
        token: Option<&str>,
        session: Uuid,
        attendee: Uuid,
        status: &str,
        passed: Option<bool>,
    ) -> Value {
        self.app
            .gql(
                MARK,
                json!({ "s": session, "a": attendee, "st": status, "p": passed }),
                token,
            )
            .await
    }

    async fn mark_ok(&self, session: Uuid, attendee: Uuid, status: &str, passed: Option<bool>) {
        let body = self
            .mark(Some(&self.ina_token), session, attendee, status, passed)
            .await;
        assert!(body.get("errors").is_none(), "{body:#}");
    }

    async fn user_by_email(&self, email: &str) -> user::Model {
        user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("user")
    }

    async fn records(&self) -> Vec<attendance_record::Model> {
        attendance_record::Entity::find()
            .all(&self.app.db)
            .await
            .unwrap()
    }

    async fn certificates(&self) -> Vec<certificate::Model> {
        certificate::Entity::find().all(&self.app.db).await.unwrap()
    }

    async fn issued_activity(&self) -> Vec<user_activity_log::Model> {
        user_activity_log::Entity::find()
            .filter(user_activity_log::Column::ActivityType.eq("certificate_issued"))
            .all(&self.app.db)
            .await
            .unwrap()
    }
}

fn ids(data: &Value, field: &str) -> Vec<Uuid> {
    data[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field}: {data}"))
        .iter()
        .map(|s| uuid_of(&s["id"]))
        .collect()
}

/// `date` plus `years` calendar years (29 February becomes the 28th).
fn plus_years(date: NaiveDate, years: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(date.year() + years, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(date.year() + years, date.month(), 28))
        .unwrap()
}

fn date_of(v: &Value) -> NaiveDate {
    v.as_str()
        .unwrap_or_else(|| panic!("not a date: {v}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn my_sessions_lists_only_the_instructors_own_sessions() {
    let day = Day::new().await;
    let app = &day.app;
    let s1 = day.session(Some(day.ina.id), 10).await;
    let s2 = day.session(Some(day.ben.id), 5).await;
    let s3 = day.session(Some(day.ina.id), 3).await;
    let _unassigned = day.session(None, 7).await;
    let s5 = day.session(Some(day.ina.id), 20).await;
    app.move_session(s3, -2).await;
    app.gql_ok(
        "mutation($id: UUID!) { cancelCourseSession(id: $id, reason: \"Venue closed\") { id } }",
        json!({ "id": s5 }),
        Some(&day.admin),
    )
    .await;

    let data = app
        .gql_ok(MY_SESSIONS, json!({}), Some(&day.ina_token))
        .await;
    assert_eq!(
        ids(&data, "mySessions"),
        [s3, s1],
        "past ones included, soonest first"
    );
    let data = app
        .gql_ok(
            MY_SESSIONS,
            json!({ "f": { "includeCancelled": true } }),
            Some(&day.ina_token),
        )
        .await;
    assert_eq!(ids(&data, "mySessions"), [s3, s1, s5]);
    let data = app
        .gql_ok(
            MY_SESSIONS,
            json!({ "f": { "from": Utc::now().to_rfc3339() } }),
            Some(&day.ina_token),
        )
        .await;
    assert_eq!(ids(&data, "mySessions"), [s1]);
    let data = app
        .gql_ok(MY_SESSIONS, json!({}), Some(&day.ben_token))
        .await;
    assert_eq!(ids(&data, "mySessions"), [s2]);

    // What the database says Ina teaches.
    let mut taught: Vec<Uuid> = rft_users::entities::course_session::Entity::find()
        .filter(rft_users::entities::course_session::Column::InstructorId.eq(day.ina.id))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    taught.sort();
    let mut expected = vec![s1, s3, s5];
    expected.sort();
    assert_eq!(taught, expected);

    let body = app.gql(MY_SESSIONS, json!({}), None).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body:#}");
    let (_, customer) = app.customer("casey@example.com").await;
    let body = app.gql(MY_SESSIONS, json!({}), Some(&customer)).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
}

#[tokio::test]
async fn attendance_sheet_is_for_the_sessions_instructor_and_admins_with_medical_notes_by_consent()
{
    let day = Day::new().await;
    let app = &day.app;
    let session = day.session(Some(day.ina.id), 7).await;
    day.book(
        session,
        "jo.bloggs@example.com",
        Some("07700 900123"),
        &[("Jo", "Bloggs"), ("Sam", "Smith")],
    )
    .await;
    let jo = day.user_by_email("jo.bloggs@example.com").await;
    let update = "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id shareMedicalWithTrainer } }";
    app.gql_ok(
        update,
        json!({ "id": jo.id, "input": {
            "emergencyContactName": "Pat Bloggs", "emergencyContactPhone": "07700 900999",
            "medicalNotes": "Asthma; carries an inhaler", "dietaryRequirements": "Vegan",
            "shareMedicalWithTrainer": false,
        } }),
        Some(&day.admin),
    )
    .await;

    let sheet = |token: Option<String>| {
        let app = &day.app;
        async move {
            app.gql(SHEET, json!({ "id": session }), token.as_deref())
                .await
        }
    };
    let body = sheet(Some(day.ina_token.clone())).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let people = body["data"]["courseSession"]["attendees"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(people.len(), 2, "{body:#}");
    let (jo_row, sam_row) = (&people[0], &people[1]);
    assert_eq!(
        (jo_row["firstName"].as_str(), jo_row["lastName"].as_str()),
        (Some("Jo"), Some("Bloggs"))
    );
    assert_eq!(jo_row["contactPhone"], "07700 900123");
    assert_eq!(jo_row["emergencyContactName"], "Pat Bloggs");
    assert_eq!(jo_row["emergencyContactPhone"], "07700 900999");
    assert_eq!(jo_row["specialRequirements"], "Wheelchair access");
    assert_eq!(jo_row["medicalNotes"], Value::Null, "not shared: {jo_row}");
    assert_eq!(
        jo_row["dietaryRequirements"],
        Value::Null,
        "not shared: {jo_row}"
    );
    assert_eq!(sam_row["firstName"], "Sam");
    assert_eq!(
        sam_row["contactPhone"], "07700 900123",
        "falls back to the booker's phone"
    );
    assert_eq!(sam_row["emergencyContactName"], Value::Null);
    assert_eq!(sam_row["medicalNotes"], Value::Null);
    assert!(!body.to_string().contains("Asthma"));

    // With consent, the trainer sees them.
    app.gql_ok(
        update,
        json!({ "id": jo.id, "input": { "shareMedicalWithTrainer": true } }),
        Some(&day.admin),
    )
    .await;
    assert!(app.user_row(jo.id).await.share_medical_with_trainer);
    let body = sheet(Some(day.ina_token.clone())).await;
    let people = &body["data"]["courseSession"]["attendees"];
    assert_eq!(people[0]["medicalNotes"], "Asthma; carries an inhaler");
    assert_eq!(people[0]["dietaryRequirements"], "Vegan");
    assert_eq!(people[1]["medicalNotes"], Value::Null);
    let body = sheet(Some(day.admin.clone())).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(
        body["data"]["courseSession"]["attendees"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Another instructor, a customer, nobody: refused, and no names leak.
    let (_, customer) = app.customer("casey@example.com").await;
    for (token, code) in [
        (Some(day.ben_token.clone()), "FORBIDDEN"),
        (Some(customer), "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ] {
        let body = sheet(token).await;
        assert_eq!(error_code(&body), Some(code), "{body:#}");
        assert!(!body.to_string().contains("Bloggs"), "{body:#}");
    }
}

#[tokio::test]
async fn mark_attendance_writes_one_record_per_attendee_for_the_sessions_instructor() {
    let day = Day::new().await;
    let app = &day.app;
    let session = day.session(Some(day.ina.id), 3).await;
    let elsewhere = day.session(Some(day.ina.id), 4).await;
    day.book(
        session,
        "jo@example.com",
        None,
        &[("Jo", "Bloggs"), ("Sam", "Smith")],
    )
    .await;
    day.book(elsewhere, "kim@example.com", None, &[("Kim", "Lee")])
        .await;
    app.move_session(session, -1).await;
    let people = day.attendees(session).await;
    let (jo, sam) = (people[0].0, people[1].0);
    let kim = day.attendees(elsewhere).await[0].0;

    let body = day
        .mark(Some(&day.ina_token), session, jo, "PRESENT", Some(true))
        .await;
    let rec = &body["data"]["markAttendance"];
    assert_eq!(rec["status"], "PRESENT", "{body:#}");
    assert_eq!(rec["passedAssessment"], true);
    assert_eq!(rec["certificateEligible"], true);
    let record_id = uuid_of(&rec["id"]);
    let rows = day.records().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].id,
            rows[0].session_id,
            rows[0].attendee_id,
            rows[0].status
        ),
        (record_id, session, jo, AttendanceStatus::Present)
    );
    assert_eq!(rows[0].marked_by_id, Some(day.ina.id));
    assert!(rows[0].certificate_eligible);

    // Re-marking corrects the same record.
    let body = app
        .gql(
            MARK,
            json!({ "s": session, "a": jo, "st": "LATE", "p": false, "f": "Needs more practice on CPR" }),
            Some(&day.ina_token),
        )
        .await;
    let rec = &body["data"]["markAttendance"];
    assert_eq!(uuid_of(&rec["id"]), record_id, "{body:#}");
    assert_eq!(rec["status"], "LATE");
    assert_eq!(rec["certificateEligible"], false);
    let rows = day.records().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, AttendanceStatus::Late);
    assert_eq!(rows[0].passed_assessment, Some(false));
    assert!(!rows[0].certificate_eligible);
    assert_eq!(
        rows[0].trainer_feedback.plain_str(),
        Some("Needs more practice on CPR")
    );

    // Another instructor, or nobody: refused, nothing written.
    let before = day.records().await;
    for (token, attendee, code) in [
        (Some(day.ben_token.as_str()), jo, "FORBIDDEN"),
        (Some(day.ben_token.as_str()), sam, "FORBIDDEN"),
        (None, sam, "UNAUTHENTICATED"),
    ] {
        let body = day.mark(token, session, attendee, "ABSENT", None).await;
        assert_eq!(error_code(&body), Some(code), "{body:#}");
        assert_eq!(day.records().await, before);
    }
    // An attendee of another session cannot be marked on this one.
    let body = day
        .mark(Some(&day.ina_token), session, kim, "PRESENT", Some(true))
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
    assert_eq!(day.records().await, before);

    // Admins mark any session.
    let body = day
        .mark(Some(&day.admin), session, sam, "ABSENT", None)
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(day.records().await.len(), 2);
    assert_eq!(app.audit_rows("attendance.mark").await.len(), 3);

    let data = app
        .gql_ok(SHEET, json!({ "id": session }), Some(&day.ina_token))
        .await;
    let sheet = &data["courseSession"]["attendees"];
    assert_eq!(sheet[0]["attendance"]["status"], "LATE");
    assert_eq!(
        sheet[0]["attendance"]["trainerFeedback"],
        "Needs more practice on CPR"
    );
    assert_eq!(sheet[1]["attendance"]["status"], "ABSENT");
}

#[tokio::test]
async fn session_notes_are_for_the_sessions_instructor() {
    let day = Day::new().await;
    let app = &day.app;
    let session = day.session(Some(day.ina.id), 7).await;

    let data = app
        .gql_ok(
            NOTE,
            json!({ "s": session, "t": "Projector bulb needs replacing" }),
            Some(&day.ina_token),
        )
        .await;
    assert_eq!(
        data["addSessionNote"]["content"],
        "Projector bulb needs replacing"
    );
    assert_eq!(uuid_of(&data["addSessionNote"]["author"]["id"]), day.ina.id);
    let notes = session_note::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].session_id, notes[0].author_id),
        (session, Some(day.ina.id))
    );

    for (token, code) in [
        (Some(day.ben_token.as_str()), "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ] {
        let body = app
            .gql(NOTE, json!({ "s": session, "t": "Not mine" }), token)
            .await;
        assert_eq!(error_code(&body), Some(code), "{body:#}");
    }
    let body = app
        .gql(
            NOTE,
            json!({ "s": session, "t": "   " }),
            Some(&day.ina_token),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
    assert_eq!(error_field(&body), Some("text"), "{body:#}");
    assert_eq!(app.count("session_notes").await, 1);

    let notes_query = "query($id: UUID!) { courseSession(id: $id) { notes { content } } }";
    let data = app
        .gql_ok(notes_query, json!({ "id": session }), Some(&day.ina_token))
        .await;
    assert_eq!(
        data["courseSession"]["notes"],
        json!([{ "content": "Projector bulb needs replacing" }])
    );
    let body = app
        .gql(notes_query, json!({ "id": session }), Some(&day.ben_token))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    assert!(!body.to_string().contains("Projector"));
}

#[tokio::test]
async fn certificates_go_only_to_attendees_present_or_late_who_passed_and_only_once() {
    let day = Day::new().await;
    let app = &day.app;
    let session = day.session(Some(day.ina.id), 2).await;
    let booking_id = day
        .book(
            session,
            "jo@example.com",
            None,
            &[
                ("Jo", "Bloggs"),
                ("Lou", "Late"),
                ("Abe", "Absent"),
                ("Fay", "Failed"),
                ("Pat", "Partial"),
                ("Una", "Unmarked"),
            ],
        )
        .await;
    app.move_session(session, -1).await;
    let people = day.attendees(session).await;
    let id = |name: &str| people.iter().find(|(_, n)| n == name).unwrap().0;
    day.mark_ok(session, id("Jo Bloggs"), "PRESENT", Some(true))
        .await;
    day.mark_ok(session, id("Lou Late"), "LATE", Some(true))
        .await;
    day.mark_ok(session, id("Abe Absent"), "ABSENT", Some(true))
        .await;
    day.mark_ok(session, id("Fay Failed"), "PRESENT", Some(false))
        .await;
    day.mark_ok(session, id("Pat Partial"), "PARTIAL", Some(true))
        .await;

    // Not by another instructor.
    let body = app
        .gql(ISSUE, json!({ "s": session }), Some(&day.ben_token))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    assert!(day.certificates().await.is_empty());

    let data = app
        .gql_ok(ISSUE, json!({ "s": session }), Some(&day.ina_token))
        .await;
    let issued = data["issueCertificates"].as_array().unwrap();
    let mut holders: Vec<&str> = issued
        .iter()
        .map(|c| c["holderName"].as_str().unwrap())
        .collect();
    holders.sort();
    assert_eq!(holders, ["Jo Bloggs", "Lou Late"]);
    for c in issued {
        let issued_on = date_of(&c["issuedOn"]);
        assert_eq!(date_of(&c["expiresOn"]), plus_years(issued_on, 3), "{c}");
        assert_eq!(c["status"], "ACTIVE");
        assert_eq!(c["course"]["name"], "Emergency First Aid at Work");
        assert!(
            c["certificateNumber"]
                .as_str()
                .unwrap()
                .starts_with("RFT-EFAW-"),
            "{c}"
        );
    }
    assert_ne!(
        issued[0]["certificateNumber"],
        issued[1]["certificateNumber"]
    );

    let rows = day.certificates().await;
    assert_eq!(rows.len(), 2);
    let mut attendees: Vec<Option<Uuid>> = rows.iter().map(|c| c.attendee_id).collect();
    attendees.sort();
    let mut expected = vec![Some(id("Jo Bloggs")), Some(id("Lou Late"))];
    expected.sort();
    assert_eq!(attendees, expected);
    for c in &rows {
        assert_eq!(c.status, CertificateStatus::Active);
        assert_eq!(c.session_id, Some(session));
        assert_eq!(c.booking_id, booking_id);
        assert_eq!(c.expires_on, plus_years(c.issued_on, 3));
        assert!(issued.iter().any(|i| uuid_of(&i["id"]) == c.id));
    }
    assert_ne!(rows[0].certificate_number, rows[1].certificate_number);
    let logged = day.issued_activity().await;
    assert_eq!(logged.len(), 2, "{logged:#?}");
    for c in &rows {
        assert_eq!(
            logged
                .iter()
                .filter(|l| l.related_entity_id == Some(c.id))
                .count(),
            1
        );
    }
    let b = booking::Entity::find_by_id(booking_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(b.certificate_issued);

    // Again: nothing new, by the instructor or an admin.
    for token in [&day.ina_token, &day.admin] {
        let data = app
            .gql_ok(ISSUE, json!({ "s": session }), Some(token))
            .await;
        assert_eq!(data["issueCertificates"], json!([]));
        assert_eq!(day.certificates().await.len(), 2);
        assert_eq!(day.issued_activity().await.len(), 2);
    }

    // Fay resits and passes: only hers is issued.
    day.mark_ok(session, id("Fay Failed"), "PRESENT", Some(true))
        .await;
    let data = app
        .gql_ok(ISSUE, json!({ "s": session }), Some(&day.ina_token))
        .await;
    let holders: Vec<&str> = data["issueCertificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["holderName"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["Fay Failed"]);
    assert_eq!(day.certificates().await.len(), 3);
}

#[tokio::test]
async fn an_early_renewal_runs_on_from_the_current_certificates_expiry() {
    let day = Day::new().await;
    let app = &day.app;
    let earlier = day.session(None, 30).await;
    let old_jo = day
        .book(earlier, "jo@example.com", None, &[("Jo", "Bloggs")])
        .await;
    let old_sam = day
        .book(earlier, "sam@example.com", None, &[("Sam", "Smith")])
        .await;
    let jo = day.user_by_email("jo@example.com").await;
    let sam = day.user_by_email("sam@example.com").await;
    let today = Utc::now().date_naive();
    let old_expiry = today + Duration::days(100);
    let old = |id: u8, user_id: Uuid, booking_id: Uuid, holder: &str, status: CertificateStatus| {
        certificate::Model {
            id: Uuid::now_v7(),
            booking_id,
            attendee_id: None,
            user_id,
            course_id: day.course,
            session_id: None,
            certificate_number: format!("RFT-EFAW-OLD-{id:010}"),
            holder_name: holder.into(),
            issued_on: plus_years(old_expiry, -3),
            expires_on: old_expiry,
            status,
            revoked_at: None,
            revocation_reason: None,
            issued_by_id: None,
            pdf_url: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
        .into_active_model()
        .reset_all()
    };
    old(1, jo.id, old_jo, "Jo Bloggs", CertificateStatus::Active)
        .insert(&app.db)
        .await
        .unwrap();
    // Sam's earlier certificate was revoked: no renewal credit.
    old(2, sam.id, old_sam, "Sam Smith", CertificateStatus::Revoked)
        .insert(&app.db)
        .await
        .unwrap();

    let session = day.session(Some(day.ina.id), 2).await;
    day.book(session, "jo@example.com", None, &[("Jo", "Bloggs")])
        .await;
    day.book(session, "sam@example.com", None, &[("Sam", "Smith")])
        .await;
    app.move_session(session, -1).await;
    for (attendee, _) in day.attendees(session).await {
        day.mark_ok(session, attendee, "PRESENT", Some(true)).await;
    }
    let data = app
        .gql_ok(ISSUE, json!({ "s": session }), Some(&day.ina_token))
        .await;
    let issued = data["issueCertificates"].as_array().unwrap();
    assert_eq!(issued.len(), 2, "{data:#}");
    let by_holder = |name: &str| {
        issued
            .iter()
            .find(|c| c["holderName"] == name)
            .unwrap_or_else(|| panic!("no certificate for {name}: {data:#}"))
    };
    let jo_new = by_holder("Jo Bloggs");
    let sam_new = by_holder("Sam Smith");
    assert_eq!(date_of(&jo_new["expiresOn"]), plus_years(old_expiry, 3));
    assert_eq!(
        date_of(&sam_new["expiresOn"]),
        plus_years(date_of(&sam_new["issuedOn"]), 3)
    );
    let stored = certificate::Entity::find_by_id(uuid_of(&jo_new["id"]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.user_id, jo.id);
    assert_eq!(stored.expires_on, plus_years(old_expiry, 3));

    let data = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { certificates { certificateNumber expiresOn status } } }",
            json!({ "id": jo.id }),
            Some(&day.admin),
        )
        .await;
    let certs = data["user"]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{data:#}");
    assert!(certs.iter().all(|c| c["status"] == "ACTIVE"));
}

#[tokio::test]
async fn only_admins_revoke_certificates() {
    let day = Day::new().await;
    let app = &day.app;
    let session = day.session(Some(day.ina.id), 2).await;
    day.book(session, "jo@example.com", None, &[("Jo", "Bloggs")])
        .await;
    app.move_session(session, -1).await;
    let attendee = day.attendees(session).await[0].0;
    day.mark_ok(session, attendee, "PRESENT", Some(true)).await;
    let data = app
        .gql_ok(ISSUE, json!({ "s": session }), Some(&day.ina_token))
        .await;
    let cert = uuid_of(&data["issueCertificates"][0]["id"]);
    let row = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            certificate::Entity::find_by_id(cert)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };

    for (token, code) in [
        (Some(day.ina_token.as_str()), "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ] {
        let body = app
            .gql(REVOKE, json!({ "id": cert, "r": "Issued in error" }), token)
            .await;
        assert_eq!(error_code(&body), Some(code), "{body:#}");
        assert_eq!(row(app).await.status, CertificateStatus::Active);
    }

    let data = app
        .gql_ok(
            REVOKE,
            json!({ "id": cert, "r": "Issued in error" }),
            Some(&day.admin),
        )
        .await;
    assert_eq!(data["revokeCertificate"]["status"], "REVOKED");
    assert_eq!(
        data["revokeCertificate"]["revocationReason"],
        "Issued in error"
    );
    let stored = row(app).await;
    assert_eq!(stored.status, CertificateStatus::Revoked);
    assert!(stored.revoked_at.is_some());
    assert_eq!(stored.revocation_reason.as_deref(), Some("Issued in error"));
    let logged = user_activity_log::Entity::find()
        .filter(user_activity_log::Column::ActivityType.eq("certificate_revoked"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);

    let body = app
        .gql(
            REVOKE,
            json!({ "id": cert, "r": "Again" }),
            Some(&day.admin),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(
        row(app).await.revocation_reason.as_deref(),
        Some("Issued in error")
    );
}
