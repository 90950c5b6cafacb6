//! Money on bookings: payments recorded by admins, the signed Stripe webhook (payments,
//! refunds, replays, forged or stale signatures) and the refund workflow, with the
//! booking's amounts and the customer's lifetime spend exact in pence behind every step.

use chrono::{Duration, Utc};
use rft_users::entities::enums::{
    BookingStatus, PaymentMethod, PaymentRecordStatus, PaymentStatus, RefundStatus, Role,
};
use rft_users::entities::{booking, payment, refund, user_activity_log};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, error_field, payment_succeeded, sign_stripe, uuid_of};

const REQUEST_REFUND: &str = "mutation($b: UUID!, $a: Decimal!, $r: String!) { requestRefund(bookingId: $b, amount: $a, reason: $r) { id reference amount status reason requestedAt } }";
const APPROVE_REFUND: &str =
    "mutation($id: UUID!) { approveRefund(id: $id) { id status approvedAt } }";
const REJECT_REFUND: &str = "mutation($id: UUID!, $r: String) { rejectRefund(id: $id, reason: $r) { id status reason rejectedAt } }";
const COMPLETE_REFUND: &str = "mutation($id: UUID!) { completeRefund(id: $id) { id status completedAt booking { amountRefunded paymentStatus } } }";
const BOOKING_MONEY: &str = "query($id: UUID!) { booking(id: $id) { status paymentStatus totalAmount amountPaid amountRefunded balanceDue payments { amount method status stripePaymentIntentId } refunds { amount status } user { totalSpent } } }";

/// A server with an admin and one future session of a £150.00 course.
struct Shop {
    app: TestApp,
    admin: String,
    admin_id: Uuid,
    session: Uuid,
}

impl Shop {
    async fn open() -> Self {
        let app = TestApp::spawn().await;
        let (admin_user, admin) = app.admin().await;
        let course = app
            .create_course(&admin, "First Aid at Work", "FAW", "150.00")
            .await;
        let venue = app.create_venue(&admin, "Leeds Training Centre").await;
        let session = app
            .create_session(&admin, course, venue, None, 14, Some(40))
            .await;
        Self {
            app,
            admin,
            admin_id: admin_user.id,
            session,
        }
    }

    /// A new booking for `attendees` people; returns (booking id, reference, customer id).
    async fn booking(&self, email: &str, attendees: usize) -> (Uuid, String, Uuid) {
        let b = self.app.book_ok(None, self.session, email, attendees).await;
        let id = uuid_of(&b["id"]);
        let row = self.booking_row(id).await;
        (id, row.reference, row.user_id)
    }

    async fn booking_row(&self, id: Uuid) -> booking::Model {
        booking::Entity::find_by_id(id)
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("booking row")
    }

    async fn spent(&self, user_id: Uuid) -> i64 {
        self.app.user_row(user_id).await.total_spent_pence
    }

    async fn pay_ok(&self, booking: Uuid, amount: &str, method: &str) -> Value {
        let body = self.app.pay(&self.admin, booking, amount, method).await;
        assert!(body.get("errors").is_none(), "payment failed: {body:#}");
        body["data"]["recordPayment"].clone()
    }

    async fn gql_ok(&self, query: &str, vars: Value) -> Value {
        self.app.gql_ok(query, vars, Some(&self.admin)).await
    }

    async fn gql(&self, query: &str, vars: Value) -> Value {
        self.app.gql(query, vars, Some(&self.admin)).await
    }

    /// A refund requested, approved and completed; returns its id.
    async fn refund_fully(&self, booking: Uuid, amount: &str) -> Uuid {
        let data = self
            .gql_ok(
                REQUEST_REFUND,
                json!({ "b": booking, "a": amount, "r": "Customer cancelled" }),
            )
            .await;
        let id = uuid_of(&data["requestRefund"]["id"]);
        self.gql_ok(APPROVE_REFUND, json!({ "id": id })).await;
        self.gql_ok(COMPLETE_REFUND, json!({ "id": id })).await;
        id
    }

    async fn refund_row(&self, id: Uuid) -> refund::Model {
        refund::Entity::find_by_id(id)
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("refund row")
    }

    async fn payments_of(&self, booking: Uuid) -> Vec<payment::Model> {
        payment::Entity::find()
            .filter(payment::Column::BookingId.eq(booking))
            .order_by_asc(payment::Column::Id)
            .all(&self.app.db)
            .await
            .unwrap()
    }

    async fn refunds_of(&self, booking: Uuid) -> Vec<refund::Model> {
        refund::Entity::find()
            .filter(refund::Column::BookingId.eq(booking))
            .order_by_asc(refund::Column::Id)
            .all(&self.app.db)
            .await
            .unwrap()
    }

    /// Every row count money operations touch, with one booking's amounts and its
    /// customer's spend: what a refused operation must leave exactly as it was.
    async fn ledger(&self, booking: Uuid) -> (Vec<i64>, (i64, i64, PaymentStatus), i64) {
        let mut counts = Vec::new();
        for t in [
            "payments",
            "refunds",
            "stripe_events",
            "audit_logs",
            "user_activity_logs",
        ] {
            counts.push(self.app.count(t).await);
        }
        let b = self.booking_row(booking).await;
        let spent = self.spent(b.user_id).await;
        (
            counts,
            (
                b.amount_paid_pence,
                b.amount_refunded_pence,
                b.payment_status,
            ),
            spent,
        )
    }
}

fn charge_refunded(event_id: &str, intent: &str, refunds: &[(&str, i64)]) -> Value {
    let total: i64 = refunds.iter().map(|(_, a)| a).sum();
    json!({
        "id": event_id,
        "object": "event",
        "type": "charge.refunded",
        "data": { "object": {
            "id": "ch_3PqRsT",
            "object": "charge",
            "payment_intent": intent,
            "amount_refunded": total,
            "refunded": true,
            "refunds": { "object": "list", "data": refunds
                .iter()
                .map(|(id, amount)| json!({ "id": id, "object": "refund", "amount": amount, "currency": "gbp", "status": "succeeded" }))
                .collect::<Vec<_>>() },
        } },
    })
}

#[tokio::test]
async fn record_payment_settles_the_booking_and_counts_the_spend() {
    let shop = Shop::open().await;
    let (booking, _, customer) = shop.booking("jo@example.com", 2).await;

    let p = shop.pay_ok(booking, "100.00", "BANK_TRANSFER").await;
    assert_eq!(p["amount"], "100.00");
    assert_eq!(p["method"], "BANK_TRANSFER");
    assert_eq!(p["status"], "SUCCEEDED");
    assert_eq!(p["booking"]["paymentStatus"], "PARTIALLY_PAID");
    assert_eq!(p["booking"]["status"], "PENDING");
    assert_eq!(p["booking"]["amountPaid"], "100.00");
    assert_eq!(p["booking"]["balanceDue"], "200.00");
    let row = shop.booking_row(booking).await;
    assert_eq!(
        (row.amount_paid_pence, row.payment_status, row.status),
        (10000, PaymentStatus::PartiallyPaid, BookingStatus::Pending)
    );
    assert_eq!(shop.spent(customer).await, 10000);

    let p = shop.pay_ok(booking, "200.00", "CASH").await;
    assert_eq!(p["booking"]["paymentStatus"], "PAID");
    assert_eq!(p["booking"]["status"], "CONFIRMED");
    assert_eq!(p["booking"]["balanceDue"], "0.00");
    let row = shop.booking_row(booking).await;
    assert_eq!(
        (row.amount_paid_pence, row.payment_status, row.status),
        (30000, PaymentStatus::Paid, BookingStatus::Confirmed)
    );
    assert_eq!(shop.spent(customer).await, 30000);

    let stored: Vec<(i64, PaymentMethod, PaymentRecordStatus, Option<Uuid>)> = shop
        .payments_of(booking)
        .await
        .iter()
        .map(|p| (p.amount_pence, p.method, p.status, p.recorded_by_id))
        .collect();
    assert_eq!(
        stored,
        [
            (
                10000,
                PaymentMethod::BankTransfer,
                PaymentRecordStatus::Succeeded,
                Some(shop.admin_id)
            ),
            (
                20000,
                PaymentMethod::Cash,
                PaymentRecordStatus::Succeeded,
                Some(shop.admin_id)
            ),
        ]
    );
    let logged = user_activity_log::Entity::find()
        .filter(user_activity_log::Column::UserId.eq(customer))
        .filter(user_activity_log::Column::ActivityType.eq("payment_made"))
        .all(&shop.app.db)
        .await
        .unwrap();
    assert_eq!(logged.len(), 2);
    assert_eq!(shop.app.audit_rows("payment.record").await.len(), 2);

    let data = shop.gql_ok(BOOKING_MONEY, json!({ "id": booking })).await;
    assert_eq!(data["booking"]["amountPaid"], "300.00");
    assert_eq!(data["booking"]["user"]["totalSpent"], "300.00");
    let amounts: Vec<&str> = data["booking"]["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["100.00", "200.00"]);
}

#[tokio::test]
async fn payments_beyond_the_balance_or_malformed_are_refused_and_write_nothing() {
    let shop = Shop::open().await;
    let (booking, _, customer) = shop.booking("jo@example.com", 1).await;
    shop.pay_ok(booking, "100.00", "CARD").await;

    let before = shop.ledger(booking).await;
    for amount in ["50.01", "150.00", "0", "-5.00", "1.005"] {
        let body = shop.app.pay(&shop.admin, booking, amount, "CARD").await;
        assert_eq!(
            error_code(&body),
            Some("BAD_USER_INPUT"),
            "{amount}: {body:#}"
        );
        assert_eq!(error_field(&body), Some("amount"), "{amount}: {body:#}");
        assert_eq!(
            shop.ledger(booking).await,
            before,
            "{amount} wrote something"
        );
    }
    let body = shop
        .app
        .pay(&shop.admin, Uuid::new_v4(), "1.00", "CARD")
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
    assert_eq!(shop.ledger(booking).await, before);

    // The exact balance is fine.
    let p = shop.pay_ok(booking, "50.00", "CARD").await;
    assert_eq!(p["booking"]["paymentStatus"], "PAID");
    assert_eq!(shop.spent(customer).await, 15000);

    // A cancelled booking takes no money.
    let (other, _, _) = shop.booking("sam@example.com", 1).await;
    shop.gql_ok(
        "mutation($id: UUID!) { cancelBooking(id: $id, reason: \"Changed plans\") { id } }",
        json!({ "id": other }),
    )
    .await;
    let before = shop.ledger(other).await;
    let body = shop.app.pay(&shop.admin, other, "10.00", "CARD").await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(shop.ledger(other).await, before);
}

#[tokio::test]
async fn instructors_never_touch_or_see_money() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (_, trainer) = app.logged_in(Role::Instructor, "trainer@example.com").await;
    let (customer, customer_token) = app.customer("casey@example.com").await;
    let (booking, _, owner) = shop.booking("casey@example.com", 1).await;
    assert_eq!(owner, customer.id);
    shop.pay_ok(booking, "150.00", "CARD").await;
    let pending = uuid_of(
        &shop
            .gql_ok(
                REQUEST_REFUND,
                json!({ "b": booking, "a": "10.00", "r": "Goodwill" }),
            )
            .await["requestRefund"]["id"],
    );

    let before = shop.ledger(booking).await;
    let attempts = [
        (
            "mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { id } }",
            json!({ "input": { "bookingId": booking, "amount": "1.00", "method": "CASH" } }),
        ),
        (
            REQUEST_REFUND,
            json!({ "b": booking, "a": "1.00", "r": "Trainer says so" }),
        ),
        (APPROVE_REFUND, json!({ "id": pending })),
        (REJECT_REFUND, json!({ "id": pending, "r": "no" })),
        (COMPLETE_REFUND, json!({ "id": pending })),
    ];
    for (query, vars) in &attempts {
        let body = app.gql(query, vars.clone(), Some(&trainer)).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{query}: {body:#}");
        let body = app.gql(query, vars.clone(), None).await;
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "{query}: {body:#}"
        );
    }
    let body = app
        .gql(
            "query($id: UUID!) { booking(id: $id) { payments { amount } refunds { amount } } }",
            json!({ "id": booking }),
            Some(&trainer),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
    assert!(
        body["data"].is_null() || body["data"]["booking"].is_null(),
        "{body:#}"
    );
    assert!(!body.to_string().contains("150.00"), "{body:#}");
    assert_eq!(shop.ledger(booking).await, before);
    assert_eq!(shop.refund_row(pending).await.status, RefundStatus::Pending);

    // The customer does see their own payments.
    let data = app
        .gql_ok(
            "{ me { bookings { edges { node { payments { amount method } } } } } }",
            json!({}),
            Some(&customer_token),
        )
        .await;
    assert_eq!(
        data["me"]["bookings"]["edges"][0]["node"]["payments"],
        json!([{ "amount": "150.00", "method": "CARD" }])
    );
}

#[tokio::test]
async fn stripe_payment_is_recorded_once_however_often_it_is_sent() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (booking, reference, customer) = shop.booking("jo@example.com", 1).await;

    let event = payment_succeeded("evt_1PaymentOk", "pi_3PqAbC", 15000, &reference);
    let (status, answer) = app.stripe_event(&event).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["received"], true);

    let payments = shop.payments_of(booking).await;
    assert_eq!(payments.len(), 1, "{payments:#?}");
    assert_eq!(payments[0].method, PaymentMethod::Stripe);
    assert_eq!(
        payments[0].stripe_payment_intent_id.as_deref(),
        Some("pi_3PqAbC")
    );
    assert_eq!(payments[0].amount_pence, 15000);
    assert_eq!(payments[0].recorded_by_id, None);
    let row = shop.booking_row(booking).await;
    assert_eq!(
        (row.amount_paid_pence, row.payment_status, row.status),
        (15000, PaymentStatus::Paid, BookingStatus::Confirmed)
    );
    assert_eq!(shop.spent(customer).await, 15000);
    assert_eq!(app.count("stripe_events").await, 1);

    let data = shop.gql_ok(BOOKING_MONEY, json!({ "id": booking })).await;
    assert_eq!(data["booking"]["paymentStatus"], "PAID");
    assert_eq!(
        data["booking"]["payments"],
        json!([{ "amount": "150.00", "method": "STRIPE", "status": "SUCCEEDED", "stripePaymentIntentId": "pi_3PqAbC" }])
    );
    assert_eq!(data["booking"]["user"]["totalSpent"], "150.00");

    // Stripe retries: the same event again changes nothing.
    let before = shop.ledger(booking).await;
    let (status, answer) = app.stripe_event(&event).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(shop.ledger(booking).await, before);

    // A second event about the same PaymentIntent is not a second payment either.
    let again = payment_succeeded("evt_2PaymentOk", "pi_3PqAbC", 15000, &reference);
    let (status, answer) = app.stripe_event(&again).await;
    assert_eq!(status, 200, "{answer}");
    let after = shop.ledger(booking).await;
    assert_eq!(after.1, before.1);
    assert_eq!(after.2, before.2);
    assert_eq!(shop.payments_of(booking).await.len(), 1);
}

/// Stripe may take money for a booking that was cancelled meanwhile. The event is answered
/// 200 (so Stripe does not retry it for days), recorded once, no payment is booked against
/// the cancelled booking, and an audit row tells an admin to refund it.
#[tokio::test]
async fn stripe_payment_for_a_cancelled_booking_is_recorded_for_a_refund_not_retried() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (booking, reference, customer) = shop.booking("late@example.com", 1).await;
    shop.gql_ok(
        "mutation($id: UUID!) { cancelBooking(id: $id, reason: \"Changed plans\") { id } }",
        json!({ "id": booking }),
    )
    .await;
    let audits = app.count("audit_logs").await;
    let event = payment_succeeded("evt_1Late", "pi_3Late", 15000, &reference);
    let (status, answer) = app.stripe_event(&event).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "booking_cancelled", "{answer}");
    assert!(shop.payments_of(booking).await.is_empty());
    assert_eq!(shop.spent(customer).await, 0);
    assert_eq!(app.count("stripe_events").await, 1);
    assert_eq!(app.count("audit_logs").await, audits + 1);
    let row = rft_users::entities::audit_log::Entity::find()
        .filter(
            rft_users::entities::audit_log::Column::Action
                .eq("stripe.payment_for_cancelled_booking"),
        )
        .one(&app.db)
        .await
        .unwrap()
        .expect("an audit row for the admin");
    assert_eq!(row.entity_id, Some(booking));
    // A retry of the same event changes nothing.
    let (status, answer) = app.stripe_event(&event).await;
    assert_eq!(
        (status, &answer["outcome"]),
        (200, &json!("duplicate")),
        "{answer}"
    );
    assert_eq!(app.count("audit_logs").await, audits + 1);
}

#[tokio::test]
async fn stripe_webhook_refuses_bad_or_stale_signatures() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (booking, reference, customer) = shop.booking("jo@example.com", 1).await;
    let event = payment_succeeded("evt_1Forged", "pi_3Forged", 15000, &reference);
    let body = serde_json::to_vec(&event).unwrap();
    let other_body = serde_json::to_vec(&payment_succeeded(
        "evt_1Forged",
        "pi_3Forged",
        1,
        &reference,
    ))
    .unwrap();
    let secret = app.stripe_secret.clone();
    let now = Utc::now();
    let before = shop.ledger(booking).await;

    let bad: Vec<(&str, Option<String>)> = vec![
        ("no signature", None),
        ("garbage header", Some("t=abc,v1=zz".into())),
        (
            "wrong secret",
            Some(sign_stripe("whsec_not_the_right_one", &body)),
        ),
        (
            "signature of another body",
            Some(sign_stripe(&secret, &other_body)),
        ),
        (
            "stale timestamp",
            Some(rft_users::webhooks::sign(
                &secret,
                &body,
                now - Duration::minutes(6),
            )),
        ),
        (
            "timestamp from the future",
            Some(rft_users::webhooks::sign(
                &secret,
                &body,
                now + Duration::minutes(6),
            )),
        ),
    ];
    for (name, sig) in bad {
        let (status, answer) = app.stripe_webhook(&body, sig.as_deref()).await;
        assert_eq!(status, 400, "{name}: {answer}");
        assert_eq!(shop.ledger(booking).await, before, "{name} wrote something");
    }
    assert_eq!(app.count("stripe_events").await, 0);

    // Within the tolerance, and correctly signed, it is accepted.
    let sig = rft_users::webhooks::sign(&secret, &body, now - Duration::minutes(4));
    let (status, answer) = app.stripe_webhook(&body, Some(&sig)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(shop.spent(customer).await, 15000);
}

#[tokio::test]
async fn stripe_refunds_are_recorded_completed_and_lower_the_spend() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (booking, reference, customer) = shop.booking("jo@example.com", 2).await;
    let (status, _) = app
        .stripe_event(&payment_succeeded(
            "evt_pay",
            "pi_3Refund",
            30000,
            &reference,
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(shop.spent(customer).await, 30000);

    let first = charge_refunded("evt_ref1", "pi_3Refund", &[("re_1Part", 5000)]);
    let (status, answer) = app.stripe_event(&first).await;
    assert_eq!(status, 200, "{answer}");
    let refunds = shop.refunds_of(booking).await;
    assert_eq!(refunds.len(), 1, "{refunds:#?}");
    assert_eq!(refunds[0].status, RefundStatus::Completed);
    assert_eq!(refunds[0].stripe_refund_id.as_deref(), Some("re_1Part"));
    assert_eq!(refunds[0].amount_pence, 5000);
    assert!(refunds[0].completed_at.is_some());
    let row = shop.booking_row(booking).await;
    assert_eq!(
        (row.amount_refunded_pence, row.payment_status),
        (5000, PaymentStatus::PartiallyRefunded)
    );
    assert_eq!(shop.spent(customer).await, 25000);
    let data = shop.gql_ok(BOOKING_MONEY, json!({ "id": booking })).await;
    assert_eq!(data["booking"]["amountRefunded"], "50.00");
    assert_eq!(data["booking"]["paymentStatus"], "PARTIALLY_REFUNDED");
    assert_eq!(
        data["booking"]["refunds"],
        json!([{ "amount": "50.00", "status": "COMPLETED" }])
    );
    assert_eq!(data["booking"]["user"]["totalSpent"], "250.00");

    // Stripe lists every refund of the charge each time: only the new one is recorded.
    let second = charge_refunded(
        "evt_ref2",
        "pi_3Refund",
        &[("re_1Part", 5000), ("re_2Rest", 25000)],
    );
    let (status, answer) = app.stripe_event(&second).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(shop.refunds_of(booking).await.len(), 2);
    let row = shop.booking_row(booking).await;
    assert_eq!(
        (row.amount_refunded_pence, row.payment_status),
        (30000, PaymentStatus::Refunded)
    );
    assert_eq!(shop.spent(customer).await, 0);

    // Replays change nothing.
    let before = shop.ledger(booking).await;
    for event in [&first, &second] {
        let (status, _) = app.stripe_event(event).await;
        assert_eq!(status, 200);
    }
    assert_eq!(shop.ledger(booking).await, before);
}

#[tokio::test]
async fn refund_requests_never_exceed_what_was_paid_less_earlier_refunds() {
    let shop = Shop::open().await;
    let (booking, _, customer) = shop.booking("jo@example.com", 2).await;
    let (unpaid, _, _) = shop.booking("sam@example.com", 1).await;
    shop.pay_ok(booking, "200.00", "CARD").await;

    let refuse = |b: Uuid, amount: &'static str| {
        let shop = &shop;
        async move {
            let before = shop.ledger(b).await;
            let body = shop
                .gql(
                    REQUEST_REFUND,
                    json!({ "b": b, "a": amount, "r": "Customer cancelled" }),
                )
                .await;
            assert_eq!(
                error_code(&body),
                Some("BAD_USER_INPUT"),
                "{amount}: {body:#}"
            );
            assert_eq!(error_field(&body), Some("amount"), "{amount}: {body:#}");
            assert_eq!(
                shop.ledger(b).await,
                before,
                "refused {amount} wrote something"
            );
        }
    };
    refuse(unpaid, "1.00").await;
    refuse(booking, "200.01").await;
    refuse(booking, "0").await;

    let data = shop
        .gql_ok(
            REQUEST_REFUND,
            json!({ "b": booking, "a": "150.00", "r": "Customer cancelled" }),
        )
        .await;
    let r = &data["requestRefund"];
    assert_eq!(r["status"], "PENDING");
    assert_eq!(r["amount"], "150.00");
    assert!(r["reference"].as_str().unwrap().starts_with("RFD-"), "{r}");
    let big = uuid_of(&r["id"]);
    let stored = shop.refund_row(big).await;
    assert_eq!(
        (stored.amount_pence, stored.status, stored.user_id),
        (15000, RefundStatus::Pending, customer)
    );
    // A pending refund moves no money yet.
    assert_eq!(shop.spent(customer).await, 20000);

    // 150 of the 200 paid is spoken for.
    refuse(booking, "50.01").await;
    shop.gql_ok(
        REQUEST_REFUND,
        json!({ "b": booking, "a": "50.00", "r": "Parking refund" }),
    )
    .await;
    refuse(booking, "0.01").await;

    // A rejected refund frees its amount again.
    let data = shop
        .gql_ok(
            REJECT_REFUND,
            json!({ "id": big, "r": "Outside the policy" }),
        )
        .await;
    let r = &data["rejectRefund"];
    assert_eq!(r["status"], "REJECTED");
    assert!(r["rejectedAt"].is_string(), "{r}");
    assert!(
        r["reason"].as_str().unwrap().contains("Outside the policy"),
        "{r}"
    );
    let stored = shop.refund_row(big).await;
    assert_eq!(stored.status, RefundStatus::Rejected);
    assert!(stored.rejected_at.is_some());
    assert_eq!(shop.spent(customer).await, 20000);
    assert_eq!(shop.booking_row(booking).await.amount_refunded_pence, 0);
    shop.gql_ok(
        REQUEST_REFUND,
        json!({ "b": booking, "a": "150.00", "r": "Customer cancelled, agreed" }),
    )
    .await;
    refuse(booking, "0.01").await;
    // A rejected refund cannot be approved.
    let body = shop.gql(APPROVE_REFUND, json!({ "id": big })).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
}

#[tokio::test]
async fn completed_refunds_lower_the_booking_and_the_lifetime_spend() {
    let shop = Shop::open().await;
    let (booking, _, customer) = shop.booking("jo@example.com", 2).await;
    shop.pay_ok(booking, "300.00", "BANK_TRANSFER").await;
    assert_eq!(shop.spent(customer).await, 30000);

    let data = shop
        .gql_ok(
            REQUEST_REFUND,
            json!({ "b": booking, "a": "100.00", "r": "One attendee dropped out" }),
        )
        .await;
    let first = uuid_of(&data["requestRefund"]["id"]);
    let data = shop.gql_ok(APPROVE_REFUND, json!({ "id": first })).await;
    assert_eq!(data["approveRefund"]["status"], "APPROVED");
    assert!(data["approveRefund"]["approvedAt"].is_string());
    // Approval alone moves no money.
    assert_eq!(shop.spent(customer).await, 30000);
    assert_eq!(shop.booking_row(booking).await.amount_refunded_pence, 0);

    let data = shop.gql_ok(COMPLETE_REFUND, json!({ "id": first })).await;
    let c = &data["completeRefund"];
    assert_eq!(c["status"], "COMPLETED");
    assert!(c["completedAt"].is_string());
    assert_eq!(c["booking"]["amountRefunded"], "100.00");
    assert_eq!(c["booking"]["paymentStatus"], "PARTIALLY_REFUNDED");
    let row = shop.booking_row(booking).await;
    assert_eq!(
        (
            row.amount_paid_pence,
            row.amount_refunded_pence,
            row.payment_status
        ),
        (30000, 10000, PaymentStatus::PartiallyRefunded)
    );
    assert_eq!(shop.spent(customer).await, 20000);
    assert_eq!(shop.refund_row(first).await.status, RefundStatus::Completed);

    // Completing it again is refused and does not refund twice.
    let body = shop.gql(COMPLETE_REFUND, json!({ "id": first })).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(shop.spent(customer).await, 20000);

    shop.refund_fully(booking, "200.00").await;
    let data = shop.gql_ok(BOOKING_MONEY, json!({ "id": booking })).await;
    assert_eq!(data["booking"]["amountRefunded"], "300.00");
    assert_eq!(data["booking"]["paymentStatus"], "REFUNDED");
    assert_eq!(data["booking"]["user"]["totalSpent"], "0.00");
    let row = shop.booking_row(booking).await;
    assert_eq!(
        (row.amount_refunded_pence, row.payment_status),
        (30000, PaymentStatus::Refunded)
    );
    assert_eq!(shop.spent(customer).await, 0);
    let logged = user_activity_log::Entity::find()
        .filter(user_activity_log::Column::UserId.eq(customer))
        .filter(user_activity_log::Column::ActivityType.eq("refund_completed"))
        .all(&shop.app.db)
        .await
        .unwrap();
    assert_eq!(logged.len(), 2);
    let body = shop
        .gql(
            REQUEST_REFUND,
            json!({ "b": booking, "a": "0.01", "r": "More" }),
        )
        .await;
    assert_eq!(error_field(&body), Some("amount"), "{body:#}");
}

#[tokio::test]
async fn completing_an_unapproved_refund_conflicts_and_moves_no_money() {
    let shop = Shop::open().await;
    let (booking, _, customer) = shop.booking("jo@example.com", 1).await;
    shop.pay_ok(booking, "150.00", "CARD").await;
    let data = shop
        .gql_ok(
            REQUEST_REFUND,
            json!({ "b": booking, "a": "150.00", "r": "Customer cancelled" }),
        )
        .await;
    let id = uuid_of(&data["requestRefund"]["id"]);

    let before = shop.ledger(booking).await;
    let body = shop.gql(COMPLETE_REFUND, json!({ "id": id })).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(shop.ledger(booking).await, before);
    assert_eq!(shop.refund_row(id).await.status, RefundStatus::Pending);
    assert_eq!(shop.spent(customer).await, 15000);

    // Nor can a rejected one be completed.
    shop.gql_ok(REJECT_REFUND, json!({ "id": id, "r": null }))
        .await;
    let before = shop.ledger(booking).await;
    let body = shop.gql(COMPLETE_REFUND, json!({ "id": id })).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_eq!(shop.ledger(booking).await, before);
    assert_eq!(shop.refund_row(id).await.status, RefundStatus::Rejected);

    let body = shop
        .gql(COMPLETE_REFUND, json!({ "id": Uuid::new_v4() }))
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
}

#[tokio::test]
async fn a_refund_made_in_stripe_and_in_the_api_is_not_counted_twice() {
    // The admin requests and approves a refund here, pays it back in the Stripe dashboard
    // (so Stripe sends `charge.refunded`), then marks it complete here too.
    let shop = Shop::open().await;
    let app = &shop.app;
    let (booking, reference, customer) = shop.booking("jo@example.com", 1).await;
    let (status, _) = app
        .stripe_event(&payment_succeeded(
            "evt_pay",
            "pi_3Twice",
            15000,
            &reference,
        ))
        .await;
    assert_eq!(status, 200);
    let data = shop
        .gql_ok(
            REQUEST_REFUND,
            json!({ "b": booking, "a": "150.00", "r": "Customer cancelled" }),
        )
        .await;
    let id = uuid_of(&data["requestRefund"]["id"]);
    shop.gql_ok(APPROVE_REFUND, json!({ "id": id })).await;
    let (status, _) = app
        .stripe_event(&charge_refunded(
            "evt_ref",
            "pi_3Twice",
            &[("re_1Twice", 15000)],
        ))
        .await;
    assert_eq!(status, 200);
    let _ = shop.gql(COMPLETE_REFUND, json!({ "id": id })).await;

    let row = shop.booking_row(booking).await;
    assert!(
        row.amount_refunded_pence <= row.amount_paid_pence,
        "refunded {} of {} paid",
        row.amount_refunded_pence,
        row.amount_paid_pence
    );
    assert_eq!(
        shop.spent(customer).await,
        0,
        "lifetime spend must be net of refunds, never below zero"
    );
}

#[tokio::test]
async fn completing_a_refund_never_takes_refunds_beyond_what_was_paid() {
    // A partial refund is requested and approved here; meanwhile the whole payment is
    // refunded in the Stripe dashboard. Completing the partial one afterwards must not
    // refund money that has already gone back.
    let shop = Shop::open().await;
    let app = &shop.app;
    let (booking, reference, customer) = shop.booking("jo@example.com", 1).await;
    let (status, _) = app
        .stripe_event(&payment_succeeded(
            "evt_pay",
            "pi_3Beyond",
            15000,
            &reference,
        ))
        .await;
    assert_eq!(status, 200);
    let data = shop
        .gql_ok(
            REQUEST_REFUND,
            json!({ "b": booking, "a": "100.00", "r": "Partial goodwill" }),
        )
        .await;
    let partial = uuid_of(&data["requestRefund"]["id"]);
    shop.gql_ok(APPROVE_REFUND, json!({ "id": partial })).await;
    let (status, _) = app
        .stripe_event(&charge_refunded(
            "evt_ref",
            "pi_3Beyond",
            &[("re_1Whole", 15000)],
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(shop.spent(customer).await, 0);

    let body = shop.gql(COMPLETE_REFUND, json!({ "id": partial })).await;
    let row = shop.booking_row(booking).await;
    assert!(
        row.amount_refunded_pence <= row.amount_paid_pence,
        "refunded {} of {} paid; completeRefund answered {body}",
        row.amount_refunded_pence,
        row.amount_paid_pence
    );
    assert_eq!(
        shop.spent(customer).await,
        0,
        "completeRefund answered {body}"
    );
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert_ne!(
        shop.refund_row(partial).await.status,
        RefundStatus::Completed
    );
}
