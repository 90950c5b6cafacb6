//! The booking side's front door: the public catalogue and its filters, the admin-only
//! catalogue mutations, `createBooking` (customer found or created by email, places taken,
//! priced, referenced, counted, logged), the bookings it must refuse without writing
//! anything, `cancelBooking` and `cancelCourseSession`.

use chrono::{Duration, Utc};
use rft_users::entities::enums::{BookingStatus, Role, SessionStatus};
use rft_users::entities::{
    audit_log, booking, booking_attendee, course, course_session, user, user_activity_log,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    BOOKING_FIELDS, Catalogue, TestApp, error_code, error_field, is_booking_reference, uuid_of,
};

fn create_booking() -> String {
    format!(
        "mutation($input: CreateBookingInput!) {{ createBooking(input: $input) {{ {BOOKING_FIELDS} }} }}"
    )
}

const CANCEL_BOOKING: &str = "mutation($id: UUID!, $reason: String!) { cancelBooking(id: $id, reason: $reason) { id status cancelledAt cancellationReason balanceDue } }";
const CANCEL_SESSION: &str = "mutation($id: UUID!, $reason: String!) { cancelCourseSession(id: $id, reason: $reason) { id status cancellationReason bookedPlaces remainingPlaces } }";

async fn session_row(app: &TestApp, id: Uuid) -> course_session::Model {
    course_session::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("session row")
}

async fn booking_row(app: &TestApp, id: Uuid) -> booking::Model {
    booking::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("booking row")
}

async fn user_by_email(app: &TestApp, email: &str) -> Vec<user::Model> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .all(&app.db)
        .await
        .unwrap()
}

async fn activity(app: &TestApp, user_id: Uuid, kind: &str) -> Vec<user_activity_log::Model> {
    user_activity_log::Entity::find()
        .filter(user_activity_log::Column::UserId.eq(user_id))
        .filter(user_activity_log::Column::ActivityType.eq(kind))
        .order_by_asc(user_activity_log::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// The public listing's session ids for a filter, in the order served.
async fn listed(app: &TestApp, filter: Value) -> Vec<Uuid> {
    let data = app
        .gql_ok(
            "query($f: CourseSessionFilter) { courseSessions(filter: $f) { id } }",
            json!({ "f": filter }),
            None,
        )
        .await;
    data["courseSessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| uuid_of(&s["id"]))
        .collect()
}

fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339()
}

/// Everything a refused booking must leave alone.
#[derive(Debug, PartialEq)]
struct Snapshot {
    bookings: i64,
    attendees: i64,
    users: i64,
    audit: i64,
    activity: i64,
    booked_places: Vec<(Uuid, i32)>,
}

async fn snapshot(app: &TestApp) -> Snapshot {
    Snapshot {
        bookings: app.count("bookings").await,
        attendees: app.count("booking_attendees").await,
        users: app.count("users").await,
        audit: app.count("audit_logs").await,
        activity: app.count("user_activity_logs").await,
        booked_places: course_session::Entity::find()
            .order_by_asc(course_session::Column::Id)
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.id, s.booked_places))
            .collect(),
    }
}

fn booking_input(session: Uuid, email: &str, attendees: Vec<Value>) -> Value {
    json!({ "input": {
        "sessionId": session,
        "contact": { "firstName": "Jo", "lastName": "Bloggs", "email": email },
        "attendees": attendees,
    } })
}

fn people(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({ "firstName": format!("Person{i}"), "lastName": "Attendee" }))
        .collect()
}

#[tokio::test]
async fn catalogue_is_public_with_remaining_places_and_filters() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let (trainer, _) = app.logged_in(Role::Instructor, "trainer@example.com").await;
    let Catalogue {
        efaw,
        faw,
        leeds,
        york,
    } = app.catalogue(&admin).await;
    let s1 = app
        .create_session(&admin, efaw, leeds, Some(trainer.id), 5, Some(12))
        .await;
    let s2 = app
        .create_session(&admin, faw, york, None, 10, Some(12))
        .await;
    let s3 = app
        .create_session(&admin, efaw, york, None, 20, Some(2))
        .await;
    let cancelled = app.create_session(&admin, faw, leeds, None, 15, None).await;
    let past = app.create_session(&admin, efaw, leeds, None, 3, None).await;
    app.book_ok(None, s1, "ann@example.com", 3).await;
    app.book_ok(None, s3, "bob@example.com", 2).await;
    app.gql_ok(
        CANCEL_SESSION,
        json!({ "id": cancelled, "reason": "Venue closed" }),
        Some(&admin),
    )
    .await;
    app.move_session(past, -2).await;

    // Anonymous: courses and venues.
    let data = app
        .gql_ok(
            "{ courses { id name courseType price maxCapacity certificationValidityYears } venues { id name city } }",
            json!({}),
            None,
        )
        .await;
    let courses: Vec<(String, String, String)> = data["courses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["courseType"].as_str().unwrap().to_string(),
                c["price"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        courses,
        vec![
            (
                "Emergency First Aid at Work".to_string(),
                "EFAW".to_string(),
                "95.00".to_string()
            ),
            (
                "First Aid at Work".to_string(),
                "FAW".to_string(),
                "150.00".to_string()
            ),
        ]
    );
    let venue_names: Vec<&str> = data["venues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(venue_names, ["Leeds Training Centre", "York Hub"]);
    let stored_prices: Vec<i64> = course::Entity::find()
        .order_by_asc(course::Column::Name)
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|c| c.price_pence)
        .collect();
    assert_eq!(stored_prices, [9500, 15000]);

    // Anonymous: the default listing is future, uncancelled sessions, soonest first.
    let data = app
        .gql_ok(
            "{ courseSessions { id capacity bookedPlaces remainingPlaces status instructorName course { name } venue { name } } }",
            json!({}),
            None,
        )
        .await;
    let sessions = data["courseSessions"].as_array().unwrap();
    let ids: Vec<Uuid> = sessions.iter().map(|s| uuid_of(&s["id"])).collect();
    assert_eq!(ids, [s1, s2, s3]);
    let remaining: Vec<i64> = sessions
        .iter()
        .map(|s| s["remainingPlaces"].as_i64().unwrap())
        .collect();
    assert_eq!(remaining, [9, 12, 0]);
    assert_eq!(sessions[0]["instructorName"], "Test Staff");
    assert_eq!(sessions[0]["course"]["name"], "Emergency First Aid at Work");
    assert_eq!(sessions[1]["venue"]["name"], "York Hub");
    for s in sessions {
        let row = session_row(&app, uuid_of(&s["id"])).await;
        assert_eq!(
            s["remainingPlaces"].as_i64().unwrap(),
            i64::from(row.capacity - row.booked_places),
            "remainingPlaces must be capacity less booked places: {s}"
        );
        assert_eq!(
            s["bookedPlaces"].as_i64().unwrap(),
            i64::from(row.booked_places)
        );
    }

    // Filters.
    assert_eq!(
        listed(&app, json!({ "courseType": "EFAW" })).await,
        [s1, s3]
    );
    assert_eq!(listed(&app, json!({ "courseType": "FAW" })).await, [s2]);
    assert_eq!(listed(&app, json!({ "venueId": york })).await, [s2, s3]);
    assert_eq!(listed(&app, json!({ "hasSpace": true })).await, [s1, s2]);
    assert_eq!(listed(&app, json!({ "hasSpace": false })).await, [s3]);
    assert_eq!(
        listed(&app, json!({ "from": in_days(7), "to": in_days(12) })).await,
        [s2]
    );
    assert_eq!(
        listed(&app, json!({ "courseType": "EFAW", "venueId": leeds })).await,
        [s1]
    );
    assert_eq!(
        listed(&app, json!({ "includeCancelled": true })).await,
        [s1, s2, cancelled, s3]
    );
    assert_eq!(
        listed(&app, json!({ "from": in_days(-30) })).await,
        [past, s1, s2, s3]
    );
}

#[tokio::test]
async fn catalogue_mutations_need_an_admin() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let (_, trainer) = app.logged_in(Role::Instructor, "trainer@example.com").await;
    let (_, customer) = app.customer("casey@example.com").await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let session = app
        .create_session(&admin, course, venue, None, 7, None)
        .await;

    let starts = Utc::now() + Duration::days(9);
    let attempts: Vec<(&str, Value)> = vec![
        (
            "mutation($input: CreateCourseInput!) { createCourse(input: $input) { id } }",
            json!({ "input": { "name": "Paediatric First Aid", "courseType": "PAEDIATRIC", "durationHours": 12, "price": "180.00", "maxCapacity": 12, "certificationValidityYears": 3 } }),
        ),
        (
            "mutation($id: UUID!) { updateCourse(id: $id, input: { price: \"1.00\" }) { id } }",
            json!({ "id": course }),
        ),
        (
            "mutation($input: CreateVenueInput!) { createVenue(input: $input) { id } }",
            json!({ "input": { "name": "York Hub" } }),
        ),
        (
            "mutation($id: UUID!) { updateVenue(id: $id, input: { name: \"Renamed\" }) { id } }",
            json!({ "id": venue }),
        ),
        (
            "mutation($input: CreateCourseSessionInput!) { createCourseSession(input: $input) { id } }",
            json!({ "input": { "courseId": course, "venueId": venue, "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::hours(6)).to_rfc3339() } }),
        ),
        (
            "mutation($id: UUID!) { updateCourseSession(id: $id, input: { capacity: 1 }) { id } }",
            json!({ "id": session }),
        ),
        (CANCEL_SESSION, json!({ "id": session, "reason": "No" })),
    ];
    let before = (
        app.count("courses").await,
        app.count("venues").await,
        app.count("course_sessions").await,
        app.count("audit_logs").await,
    );
    for (query, vars) in &attempts {
        let body = app.gql(query, vars.clone(), None).await;
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "{query}: {body:#}"
        );
        for token in [&trainer, &customer] {
            let body = app.gql(query, vars.clone(), Some(token)).await;
            assert_eq!(error_code(&body), Some("FORBIDDEN"), "{query}: {body:#}");
        }
    }
    let after = (
        app.count("courses").await,
        app.count("venues").await,
        app.count("course_sessions").await,
        app.count("audit_logs").await,
    );
    assert_eq!(before, after, "refused catalogue changes wrote something");
    let c = course::Entity::find_by_id(course)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.price_pence, 9500);
    let s = session_row(&app, session).await;
    assert_eq!((s.status, s.capacity), (SessionStatus::Scheduled, 12));
}

#[tokio::test]
async fn create_booking_anonymously_creates_the_customer_and_everything_behind_it() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let session = app
        .create_session(&admin, course, venue, None, 14, None)
        .await;
    let users_before = app.count("users").await;

    let body = app
        .gql(
            &create_booking(),
            json!({ "input": {
                "sessionId": session,
                "contact": {
                    "firstName": "Jo", "lastName": "Bloggs", "email": "  Jo.Bloggs@Example.COM ",
                    "phone": "07700 900123", "company": "Bloggs Joinery",
                },
                "attendees": [
                    { "firstName": "Jo", "lastName": "Bloggs" },
                    { "firstName": "Sam", "lastName": "Smith", "email": "sam.smith@example.com" },
                    { "firstName": "Ali", "lastName": "Khan" },
                ],
                "specialRequirements": "Step-free access please",
            } }),
            None,
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let b = &body["data"]["createBooking"];
    let reference = b["reference"].as_str().unwrap();
    assert!(is_booking_reference(reference), "bad reference {reference}");
    assert_eq!(b["unitPrice"], "95.00");
    assert_eq!(b["totalAmount"], "285.00");
    assert_eq!(b["amountPaid"], "0.00");
    assert_eq!(b["balanceDue"], "285.00");
    assert_eq!(b["numberOfAttendees"], 3);
    assert_eq!(b["status"], "PENDING");
    assert_eq!(b["paymentStatus"], "PENDING");
    assert_eq!(b["specialRequirements"], "Step-free access please");
    let names: Vec<&str> = b["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["firstName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Jo", "Sam", "Ali"]);
    let booking_id = uuid_of(&b["id"]);

    // The customer: created once, normalised, passwordless.
    assert_eq!(app.count("users").await, users_before + 1);
    let found = user_by_email(&app, "jo.bloggs@example.com").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let customer = &found[0];
    let row = booking_row(&app, booking_id).await;
    assert_eq!(customer.role, Role::Customer);
    assert_eq!(customer.password_hash, None);
    assert_eq!(
        (customer.first_name.as_str(), customer.last_name.as_str()),
        ("Jo", "Bloggs")
    );
    assert_eq!(customer.phone.as_deref(), Some("07700 900123"));
    assert_eq!(customer.company_name.as_deref(), Some("Bloggs Joinery"));
    assert_eq!(customer.customer_since, Some(row.created_at.date_naive()));
    assert_eq!(customer.total_bookings, 1);
    assert_eq!(customer.total_spent_pence, 0);
    assert!(customer.first_booking_at.is_some(), "{customer:#?}");
    assert!(customer.last_booking_at.is_some(), "{customer:#?}");
    assert_eq!(customer.first_booking_at, customer.last_booking_at);

    // The booking row and its attendees.
    assert_eq!(row.user_id, customer.id);
    assert_eq!(row.session_id, session);
    assert_eq!(row.reference, reference);
    assert_eq!(row.status, BookingStatus::Pending);
    assert_eq!(
        (
            row.unit_price_pence,
            row.total_amount_pence,
            row.number_of_attendees
        ),
        (9500, 28500, 3)
    );
    let attendees = booking_attendee::Entity::find()
        .filter(booking_attendee::Column::BookingId.eq(booking_id))
        .order_by_asc(booking_attendee::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let stored: Vec<(&str, &str, Option<&str>)> = attendees
        .iter()
        .map(|a| {
            (
                a.first_name.as_str(),
                a.last_name.as_str(),
                a.email.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        stored,
        [
            ("Jo", "Bloggs", None),
            ("Sam", "Smith", Some("sam.smith@example.com")),
            ("Ali", "Khan", None),
        ]
    );
    assert_eq!(
        attendees[0].user_id,
        Some(customer.id),
        "the contact attending is linked to their record"
    );
    assert_eq!(app.count("booking_attendees").await, 3);

    // The places, the activity log and the audit trail.
    assert_eq!(session_row(&app, session).await.booked_places, 3);
    let logged = activity(&app, customer.id, "booking_created").await;
    assert_eq!(logged.len(), 1, "{logged:#?}");
    assert_eq!(logged[0].related_entity_id, Some(booking_id));
    assert_eq!(logged[0].related_entity_type.as_deref(), Some("booking"));
    let audits: Vec<audit_log::Model> = app
        .audit_rows("booking.create")
        .await
        .into_iter()
        .filter(|a| a.entity_id == Some(booking_id))
        .collect();
    assert_eq!(audits.len(), 1, "{audits:#?}");
    assert_eq!(
        audits[0].actor_id, None,
        "the public website books anonymously"
    );
    assert_eq!(
        app.audit_rows("user.create")
            .await
            .iter()
            .filter(|a| a.entity_id == Some(customer.id))
            .count(),
        1
    );

    // And the admin sees the same through the API.
    let data = app
        .gql_ok(
            "query($id: UUID!) { booking(id: $id) { reference totalAmount user { email totalBookings customerSince } session { bookedPlaces remainingPlaces } } }",
            json!({ "id": booking_id }),
            Some(&admin),
        )
        .await;
    assert_eq!(data["booking"]["reference"], reference);
    assert_eq!(data["booking"]["user"]["email"], "jo.bloggs@example.com");
    assert_eq!(data["booking"]["user"]["totalBookings"], 1);
    assert_eq!(data["booking"]["session"]["bookedPlaces"], 3);
    assert_eq!(data["booking"]["session"]["remainingPlaces"], 9);
}

#[tokio::test]
async fn repeat_bookings_reuse_the_customer_and_only_fill_blanks() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "First Aid at Work", "FAW", "150.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let s1 = app
        .create_session(&admin, course, venue, None, 7, None)
        .await;
    let s2 = app
        .create_session(&admin, course, venue, None, 14, None)
        .await;
    let s3 = app
        .create_session(&admin, course, venue, None, 21, None)
        .await;
    let query = create_booking();
    let book = |session: Uuid,
                email: &str,
                first: &str,
                phone: Option<&str>,
                company: Option<&str>| {
        json!({ "input": {
            "sessionId": session,
            "contact": { "firstName": first, "lastName": "Jones", "email": email, "phone": phone, "company": company },
            "attendees": [{ "firstName": first, "lastName": "Jones" }],
        } })
    };

    let first = app
        .gql_ok(
            &query,
            book(s1, "sam.jones@example.com", "Sam", None, Some("Acme Ltd")),
            None,
        )
        .await;
    let users_after_first = app.count("users").await;
    let customer = user_by_email(&app, "sam.jones@example.com").await.remove(0);
    assert_eq!(customer.phone, None);
    assert_eq!(customer.company_name.as_deref(), Some("Acme Ltd"));

    // Same person, other case and spaces: the same record; the blank phone is filled, the
    // company and first name are not overwritten.
    let second = app
        .gql_ok(
            &query,
            book(
                s2,
                " SAM.Jones@Example.com",
                "Samuel",
                Some("07700 900456"),
                Some("Other Co"),
            ),
            None,
        )
        .await;
    assert_eq!(app.count("users").await, users_after_first);
    let after = app.user_row(customer.id).await;
    assert_eq!(after.phone.as_deref(), Some("07700 900456"));
    assert_eq!(after.company_name.as_deref(), Some("Acme Ltd"));
    assert_eq!(after.first_name, "Sam");
    assert_eq!(after.total_bookings, 2);
    assert_eq!(after.first_booking_at, customer.first_booking_at);
    assert!(after.last_booking_at > customer.last_booking_at);

    // A third booking never overwrites the phone now on file.
    app.gql_ok(
        &query,
        book(
            s3,
            "sam.jones@example.com",
            "Sam",
            Some("0113 496 0000"),
            Some("Third Co"),
        ),
        None,
    )
    .await;
    assert_eq!(app.count("users").await, users_after_first);
    let last = app.user_row(customer.id).await;
    assert_eq!(last.phone.as_deref(), Some("07700 900456"));
    assert_eq!(last.company_name.as_deref(), Some("Acme Ltd"));
    assert_eq!(last.total_bookings, 3);

    let owners: Vec<Uuid> = booking::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|b| b.user_id)
        .collect();
    assert_eq!(owners, [customer.id; 3]);
    let data = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { totalBookings phone companyName bookings { edges { node { id } } } } }",
            json!({ "id": customer.id }),
            Some(&admin),
        )
        .await;
    assert_eq!(data["user"]["totalBookings"], 3);
    assert_eq!(data["user"]["phone"], "07700 900456");
    assert_eq!(data["user"]["companyName"], "Acme Ltd");
    let listed: Vec<Uuid> = data["user"]["bookings"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| uuid_of(&e["node"]["id"]))
        .collect();
    assert_eq!(listed.len(), 3);
    assert!(listed.contains(&uuid_of(&first["createBooking"]["id"])));
    assert!(listed.contains(&uuid_of(&second["createBooking"]["id"])));

    // A blank company is filled the same way, and the phone on file is kept.
    app.gql_ok(
        &query,
        book(s1, "kim.lee@example.com", "Kim", Some("07700 900789"), None),
        None,
    )
    .await;
    let kim = user_by_email(&app, "kim.lee@example.com").await.remove(0);
    assert_eq!(kim.company_name, None);
    let users_now = app.count("users").await;
    app.gql_ok(
        &query,
        book(
            s2,
            "Kim.Lee@example.com",
            "Kim",
            Some("07700 900000"),
            Some("Lee Nurseries"),
        ),
        None,
    )
    .await;
    assert_eq!(app.count("users").await, users_now);
    let kim = app.user_row(kim.id).await;
    assert_eq!(kim.company_name.as_deref(), Some("Lee Nurseries"));
    assert_eq!(kim.phone.as_deref(), Some("07700 900789"));
    assert_eq!(kim.total_bookings, 2);
}

#[tokio::test]
async fn refused_bookings_get_a_code_and_write_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let full = app
        .create_session(&admin, course, venue, None, 7, Some(2))
        .await;
    let nearly_full = app
        .create_session(&admin, course, venue, None, 8, Some(3))
        .await;
    let past = app
        .create_session(&admin, course, venue, None, 9, None)
        .await;
    let cancelled = app
        .create_session(&admin, course, venue, None, 10, None)
        .await;
    let open = app
        .create_session(&admin, course, venue, None, 11, Some(30))
        .await;
    app.book_ok(None, full, "first@example.com", 2).await;
    app.book_ok(None, nearly_full, "first@example.com", 2).await;
    app.move_session(past, -1).await;
    app.gql_ok(
        CANCEL_SESSION,
        json!({ "id": cancelled, "reason": "Trainer unwell" }),
        Some(&admin),
    )
    .await;

    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            "full session",
            booking_input(full, "new@example.com", people(1)),
            "CONFLICT",
            None,
        ),
        (
            "more attendees than places left",
            booking_input(nearly_full, "new@example.com", people(2)),
            "CONFLICT",
            None,
        ),
        (
            "unknown session",
            booking_input(Uuid::new_v4(), "new@example.com", people(1)),
            "NOT_FOUND",
            None,
        ),
        (
            "session in the past",
            booking_input(past, "new@example.com", people(1)),
            "BAD_USER_INPUT",
            Some("sessionId"),
        ),
        (
            "cancelled session",
            booking_input(cancelled, "new@example.com", people(1)),
            "BAD_USER_INPUT",
            Some("sessionId"),
        ),
        (
            "invalid email",
            booking_input(open, "jo.bloggs@", people(1)),
            "BAD_USER_INPUT",
            Some("contact.email"),
        ),
        (
            "no attendees",
            booking_input(open, "new@example.com", people(0)),
            "BAD_USER_INPUT",
            Some("attendees"),
        ),
        (
            "21 attendees",
            booking_input(open, "new@example.com", people(21)),
            "BAD_USER_INPUT",
            Some("attendees"),
        ),
    ];
    let before = snapshot(&app).await;
    for (name, vars, code, field) in cases {
        let body = app.gql(&create_booking(), vars, None).await;
        assert_eq!(error_code(&body), Some(code), "{name}: {body:#}");
        if let Some(field) = field {
            assert_eq!(error_field(&body), Some(field), "{name}: {body:#}");
        }
        assert!(
            body["data"].is_null() || body["data"]["createBooking"].is_null(),
            "{name}: {body:#}"
        );
        assert_eq!(snapshot(&app).await, before, "{name} wrote something");
    }
    assert!(user_by_email(&app, "new@example.com").await.is_empty());

    // Twenty attendees is allowed, and takes twenty places.
    app.gql_ok(
        &create_booking(),
        booking_input(open, "new@example.com", people(20)),
        None,
    )
    .await;
    assert_eq!(session_row(&app, open).await.booked_places, 20);
}

#[tokio::test]
async fn instructors_and_bad_tokens_cannot_create_bookings() {
    let app = TestApp::spawn().await;
    let (admin_user, admin) = app.admin().await;
    let (_, trainer) = app.logged_in(Role::Instructor, "trainer@example.com").await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let session = app
        .create_session(&admin, course, venue, None, 7, None)
        .await;

    let before = snapshot(&app).await;
    let body = app
        .gql(
            &create_booking(),
            booking_input(session, "pat@example.com", people(1)),
            Some(&trainer),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    let body = app
        .gql(
            &create_booking(),
            booking_input(session, "pat@example.com", people(1)),
            Some("not-a-real-token"),
        )
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body:#}");
    assert_eq!(snapshot(&app).await, before);

    // An admin may book on a customer's behalf; the booking records who made it.
    let b = app
        .book_ok(Some(&admin), session, "pat@example.com", 1)
        .await;
    let row = booking_row(&app, uuid_of(&b["id"])).await;
    assert_eq!(row.created_by_id, Some(admin_user.id));
}

#[tokio::test]
async fn cancel_booking_frees_places_and_cannot_happen_twice() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let (_, trainer) = app.logged_in(Role::Instructor, "trainer@example.com").await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let session = app
        .create_session(&admin, course, venue, None, 7, Some(10))
        .await;
    let b1 = uuid_of(&app.book_ok(None, session, "jo@example.com", 2).await["id"]);
    app.book_ok(None, session, "jo@example.com", 1).await;
    let customer = user_by_email(&app, "jo@example.com").await.remove(0);
    assert_eq!(customer.total_bookings, 2);
    assert_eq!(session_row(&app, session).await.booked_places, 3);

    // Only admins cancel.
    let vars = json!({ "id": b1, "reason": "Customer request" });
    let body = app.gql(CANCEL_BOOKING, vars.clone(), None).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body:#}");
    let body = app.gql(CANCEL_BOOKING, vars.clone(), Some(&trainer)).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    assert_eq!(booking_row(&app, b1).await.status, BookingStatus::Pending);

    let data = app.gql_ok(CANCEL_BOOKING, vars.clone(), Some(&admin)).await;
    let c = &data["cancelBooking"];
    assert_eq!(c["status"], "CANCELLED");
    assert_eq!(c["cancellationReason"], "Customer request");
    assert!(c["cancelledAt"].is_string(), "{c}");
    let balance_due = c["balanceDue"].clone();
    let row = booking_row(&app, b1).await;
    assert_eq!(row.status, BookingStatus::Cancelled);
    assert!(row.cancelled_at.is_some());
    assert_eq!(session_row(&app, session).await.booked_places, 1);
    assert_eq!(app.user_row(customer.id).await.total_bookings, 1);
    let data = app
        .gql_ok(
            "query($id: UUID!) { courseSession(id: $id) { remainingPlaces } }",
            json!({ "id": session }),
            None,
        )
        .await;
    assert_eq!(data["courseSession"]["remainingPlaces"], 9);

    // Again: CONFLICT, and the places and the count are not released twice.
    let body = app.gql(CANCEL_BOOKING, vars, Some(&admin)).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(session_row(&app, session).await.booked_places, 1);
    assert_eq!(app.user_row(customer.id).await.total_bookings, 1);
    assert_eq!(
        app.audit_rows("booking.cancel")
            .await
            .iter()
            .filter(|a| a.entity_id == Some(b1))
            .count(),
        1
    );
    assert_eq!(
        activity(&app, customer.id, "booking_cancelled").await.len(),
        1
    );
    // Money is always two-decimal pounds in the API, a cancelled booking's zero included.
    assert_eq!(balance_due, "0.00", "balanceDue of a cancelled booking");
}

#[tokio::test]
async fn cancel_course_session_cancels_its_live_bookings() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let doomed = app
        .create_session(&admin, course, venue, None, 7, Some(10))
        .await;
    let other = app
        .create_session(&admin, course, venue, None, 14, Some(10))
        .await;
    let jo_a = uuid_of(&app.book_ok(None, doomed, "jo@example.com", 2).await["id"]);
    let sam_b = uuid_of(&app.book_ok(None, doomed, "sam@example.com", 3).await["id"]);
    let ali_c = uuid_of(&app.book_ok(None, doomed, "ali@example.com", 1).await["id"]);
    let jo_d = uuid_of(&app.book_ok(None, other, "jo@example.com", 1).await["id"]);
    app.gql_ok(
        CANCEL_BOOKING,
        json!({ "id": ali_c, "reason": "Changed plans" }),
        Some(&admin),
    )
    .await;
    let ali_cancelled_at = booking_row(&app, ali_c).await.cancelled_at;
    let jo = user_by_email(&app, "jo@example.com").await.remove(0);
    let sam = user_by_email(&app, "sam@example.com").await.remove(0);
    let ali = user_by_email(&app, "ali@example.com").await.remove(0);
    assert_eq!(session_row(&app, doomed).await.booked_places, 5);

    let data = app
        .gql_ok(
            CANCEL_SESSION,
            json!({ "id": doomed, "reason": "Trainer unwell" }),
            Some(&admin),
        )
        .await;
    let s = &data["cancelCourseSession"];
    assert_eq!(s["status"], "CANCELLED");
    assert_eq!(s["cancellationReason"], "Trainer unwell");
    assert_eq!(s["bookedPlaces"], 0);
    assert_eq!(s["remainingPlaces"], 0);

    let row = session_row(&app, doomed).await;
    assert_eq!(row.status, SessionStatus::Cancelled);
    assert_eq!(row.booked_places, 0);
    for id in [jo_a, sam_b] {
        let b = booking_row(&app, id).await;
        assert_eq!(b.status, BookingStatus::Cancelled, "{b:#?}");
        assert!(
            b.cancellation_reason
                .as_deref()
                .is_some_and(|r| r.contains("Trainer unwell")),
            "{b:#?}"
        );
    }
    let c = booking_row(&app, ali_c).await;
    assert_eq!(c.cancellation_reason.as_deref(), Some("Changed plans"));
    assert_eq!(c.cancelled_at, ali_cancelled_at);
    assert_eq!(booking_row(&app, jo_d).await.status, BookingStatus::Pending);
    assert_eq!(session_row(&app, other).await.booked_places, 1);
    assert_eq!(app.user_row(jo.id).await.total_bookings, 1);
    assert_eq!(app.user_row(sam.id).await.total_bookings, 0);
    assert_eq!(
        app.user_row(ali.id).await.total_bookings,
        0,
        "an already-cancelled booking is not uncounted twice"
    );
    assert_eq!(activity(&app, jo.id, "booking_cancelled").await.len(), 1);
    assert_eq!(activity(&app, sam.id, "booking_cancelled").await.len(), 1);
    assert_eq!(activity(&app, ali.id, "booking_cancelled").await.len(), 1);

    // Gone from the public listing; booking it now is refused.
    assert_eq!(listed(&app, json!({})).await, [other]);
    let body = app.book(None, doomed, "late@example.com", 1).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
    let body = app
        .gql(
            CANCEL_SESSION,
            json!({ "id": doomed, "reason": "again" }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
}
