//! Bookings and payments racing each other: the last places of a session go to exactly as
//! many people as there are places, and one customer booking and paying a hundred times at
//! once ends up as one record with exact totals.

use futures::future::join_all;
use rft_users::entities::{booking, course_session, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, uuid_of};

async fn booked_places(app: &TestApp, session: Uuid) -> i32 {
    course_session::Entity::find_by_id(session)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .booked_places
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_bookings_for_the_last_ten_places_never_overbook() {
    const CAPACITY: i32 = 30;
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let session = app
        .create_session(&admin, course, venue, None, 10, Some(CAPACITY))
        .await;
    app.book_ok(None, session, "group@example.com", 20).await;
    assert_eq!(booked_places(&app, session).await, CAPACITY - 10);
    let users_before = app.count("users").await;

    let app_ref = &app;
    let answers = join_all((0..50).map(|i| async move {
        let email = format!("racer{i:02}@example.com");
        (email.clone(), app_ref.book(None, session, &email, 1).await)
    }))
    .await;

    let mut winners = Vec::new();
    for (email, body) in &answers {
        match error_code(body) {
            None => winners.push((email.clone(), uuid_of(&body["data"]["createBooking"]["id"]))),
            Some("CONFLICT") => {}
            Some(other) => panic!("{email}: unexpected {other}: {body:#}"),
        }
    }
    assert_eq!(winners.len(), 10, "exactly the ten free places are sold");
    assert_eq!(booked_places(&app, session).await, CAPACITY);
    assert_eq!(app.count("bookings").await, 11);
    assert_eq!(app.count("booking_attendees").await, i64::from(CAPACITY));
    // Only the winners became customers, each owning their booking.
    assert_eq!(app.count("users").await, users_before + 10);
    for (email, booking_id) in &winners {
        let b = booking::Entity::find_by_id(*booking_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let owner = app.user_row(b.user_id).await;
        assert_eq!(&owner.email, email);
        assert_eq!(owner.total_bookings, 1);
    }
    let data = app
        .gql_ok(
            "query($id: UUID!) { courseSession(id: $id) { bookedPlaces remainingPlaces } }",
            json!({ "id": session }),
            None,
        )
        .await;
    assert_eq!(data["courseSession"]["bookedPlaces"], CAPACITY);
    assert_eq!(data["courseSession"]["remainingPlaces"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_customer_booking_and_paying_a_hundred_times_at_once_keeps_exact_totals() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Leeds Training Centre").await;
    let session = app
        .create_session(&admin, course, venue, None, 10, Some(150))
        .await;

    let (app_ref, admin_ref) = (&app, admin.as_str());
    let outcomes = join_all((0..100).map(|i| async move {
        // The same person, typed a little differently each time.
        let email = match i % 3 {
            0 => "busy.bee@example.com",
            1 => "  Busy.Bee@Example.com",
            _ => "BUSY.BEE@EXAMPLE.COM ",
        };
        let booked = app_ref.book(None, session, email, 1).await;
        assert!(booked.get("errors").is_none(), "booking {i}: {booked:#}");
        let booking_id = uuid_of(&booked["data"]["createBooking"]["id"]);
        let paid = app_ref.pay(admin_ref, booking_id, "95.00", "CARD").await;
        assert!(paid.get("errors").is_none(), "payment {i}: {paid:#}");
        assert_eq!(
            paid["data"]["recordPayment"]["booking"]["paymentStatus"],
            "PAID"
        );
        booking_id
    }))
    .await;
    assert_eq!(outcomes.len(), 100);

    let found = user::Entity::find()
        .filter(user::Column::Email.eq("busy.bee@example.com"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        1,
        "one customer, however the email was typed: {found:#?}"
    );
    let customer = &found[0];
    assert_eq!(customer.total_bookings, 100);
    assert_eq!(customer.total_spent_pence, 100 * 9500);
    let owned = booking::Entity::find()
        .filter(booking::Column::UserId.eq(customer.id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(owned.len(), 100);
    assert!(owned.iter().all(|b| b.amount_paid_pence == 9500));
    assert_eq!(app.count("bookings").await, 100);
    assert_eq!(app.count("payments").await, 100);
    assert_eq!(booked_places(&app, session).await, 100);

    let data = app
        .gql_ok(
            "query { userByEmail(email: \" Busy.Bee@example.com\") { totalBookings totalSpent } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(data["userByEmail"]["totalBookings"], 100);
    assert_eq!(data["userByEmail"]["totalSpent"], "9500.00");
}
