//! Customer insights: `User.insights` exact from the facts, `refreshInsights` storing RFM
//! scores, segments, renewal rates and predictions, `insightsModel`, the `users` segment
//! filter and the NET_SPENT / PREDICTED_VALUE sorts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use rft_users::entities::enums::*;
use rft_users::entities::{
    booking, certificate, course, course_session, customer_insight, insight_model, payment, refund,
    user, venue,
};
use rft_users::services::{customer_stats, references};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code};

/// Builds a history directly in the database, with chosen dates (the API stamps `now`).
pub struct History<'a> {
    app: &'a TestApp,
    venue: Uuid,
    courses: Vec<(CourseType, Uuid)>,
    n: usize,
}

impl<'a> History<'a> {
    pub async fn new(app: &'a TestApp) -> Self {
        let now = Utc::now();
        let venue = venue::Model {
            id: Uuid::now_v7(),
            name: "Leeds Training Centre".into(),
            address_line_1: None,
            address_line_2: None,
            city: Some("Leeds".into()),
            postcode: Some("LS1 4AP".into()),
            capacity: None,
            facilities: None,
            parking_info: None,
            is_active: true,
            created_at: now,
            updated_at: now,
        }
        .into_active_model()
        .reset_all()
        .insert(&app.db)
        .await
        .unwrap();
        let mut courses = Vec::new();
        for (t, name, price) in [
            (CourseType::Efaw, "Emergency First Aid at Work", 9500),
            (CourseType::Faw, "First Aid at Work", 15000),
            (CourseType::Paediatric, "Paediatric First Aid", 12000),
        ] {
            let c = course::Model {
                id: Uuid::now_v7(),
                name: name.into(),
                description: None,
                course_type: t,
                duration_hours: 6,
                price_pence: price,
                max_capacity: 12,
                certification_validity_years: 3,
                is_active: true,
                created_by_id: None,
                updated_by_id: None,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .reset_all()
            .insert(&app.db)
            .await
            .unwrap();
            courses.push((t, c.id));
        }
        Self {
            app,
            venue: venue.id,
            courses,
            n: 0,
        }
    }

    pub fn course(&self, t: CourseType) -> Uuid {
        self.courses.iter().find(|c| c.0 == t).unwrap().1
    }

    /// A customer, with a type (and a company when corporate).
    pub async fn customer(&mut self, email: &str, kind: CustomerType) -> Uuid {
        let (u, _) = self.app.customer(email).await;
        let mut am = u.into_active_model();
        am.customer_type = Set(kind);
        if kind == CustomerType::Corporate {
            am.company_name = Set(Some("Acme Ltd".into()));
        }
        am.update(&self.app.db).await.unwrap().id
    }

    /// A booking made at `at` for a session a week later, paid in full by card when
    /// `paid`; returns its id.
    pub async fn booking(
        &mut self,
        user_id: Uuid,
        t: CourseType,
        at: DateTime<Utc>,
        status: BookingStatus,
        pence: i64,
        paid: bool,
    ) -> Uuid {
        self.n += 1;
        let starts = at + Duration::days(7);
        let session = course_session::Model {
            id: Uuid::now_v7(),
            course_id: self.course(t),
            venue_id: self.venue,
            instructor_id: None,
            starts_at: starts,
            ends_at: starts + Duration::hours(6),
            capacity: 12,
            booked_places: 0,
            status: SessionStatus::Completed,
            cancelled_at: None,
            cancellation_reason: None,
            created_by_id: None,
            updated_by_id: None,
            created_at: at,
            updated_at: at,
        }
        .into_active_model()
        .reset_all()
        .insert(&self.app.db)
        .await
        .unwrap();
        let cancelled = status == BookingStatus::Cancelled;
        let b = booking::Model {
            id: Uuid::now_v7(),
            user_id,
            session_id: session.id,
            reference: references::booking_reference(),
            status,
            payment_status: if paid {
                PaymentStatus::Paid
            } else {
                PaymentStatus::Pending
            },
            unit_price_pence: pence,
            discount_pence: 0,
            total_amount_pence: pence,
            amount_paid_pence: if paid { pence } else { 0 },
            amount_refunded_pence: 0,
            number_of_attendees: 1,
            special_requirements: None,
            contact_details: None,
            legacy_id: None,
            legacy_reference: None,
            confirmation_sent: true,
            reminder_sent: false,
            certificate_issued: false,
            cancelled_at: cancelled.then_some(at + Duration::days(1)),
            cancellation_reason: cancelled.then(|| "Changed plans".to_string()),
            created_by_id: None,
            updated_by_id: None,
            created_at: at,
            updated_at: at,
        }
        .into_active_model()
        .reset_all()
        .insert(&self.app.db)
        .await
        .unwrap();
        if paid {
            self.payment(
                user_id,
                b.id,
                pence,
                PaymentMethod::Card,
                PaymentRecordStatus::Succeeded,
                at,
            )
            .await;
        }
        b.id
    }

    pub async fn payment(
        &self,
        user_id: Uuid,
        booking_id: Uuid,
        pence: i64,
        method: PaymentMethod,
        status: PaymentRecordStatus,
        at: DateTime<Utc>,
    ) {
        payment::Model {
            id: Uuid::now_v7(),
            booking_id,
            user_id,
            stripe_payment_intent_id: None,
            amount_pence: pence,
            currency: "GBP".into(),
            status,
            method,
            recorded_by_id: None,
            paid_at: (status == PaymentRecordStatus::Succeeded).then_some(at),
            created_at: at,
            updated_at: at,
        }
        .into_active_model()
        .reset_all()
        .insert(&self.app.db)
        .await
        .unwrap();
    }

    pub async fn refund(&self, user_id: Uuid, booking_id: Uuid, pence: i64, at: DateTime<Utc>) {
        refund::Model {
            id: Uuid::now_v7(),
            booking_id,
            payment_id: None,
            user_id,
            reference: format!("RF-{}", &Uuid::new_v4().simple().to_string()[..10]),
            amount_pence: pence,
            processing_fee_pence: 0,
            status: RefundStatus::Completed,
            reason: "Goodwill".into(),
            stripe_refund_id: None,
            requested_by_id: None,
            processed_by_id: None,
            requested_at: at,
            approved_at: Some(at),
            rejected_at: None,
            completed_at: Some(at),
            created_at: at,
            updated_at: at,
        }
        .into_active_model()
        .reset_all()
        .insert(&self.app.db)
        .await
        .unwrap();
    }

    /// A certificate for `booking_id`, issued on `issued`, expiring three years later.
    pub async fn certificate(
        &mut self,
        user_id: Uuid,
        booking_id: Uuid,
        t: CourseType,
        issued: NaiveDate,
        status: CertificateStatus,
    ) -> Uuid {
        self.n += 1;
        certificate::Model {
            id: Uuid::now_v7(),
            booking_id,
            attendee_id: None,
            user_id,
            course_id: self.course(t),
            session_id: None,
            certificate_number: format!("RFT-TEST-{:06}", self.n),
            holder_name: "Casey Customer".into(),
            issued_on: issued,
            expires_on: issued.checked_add_months(chrono::Months::new(36)).unwrap(),
            status,
            revoked_at: (status == CertificateStatus::Revoked).then(Utc::now),
            revocation_reason: (status == CertificateStatus::Revoked).then(|| "Error".into()),
            issued_by_id: None,
            pdf_url: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
        .into_active_model()
        .reset_all()
        .insert(&self.app.db)
        .await
        .unwrap()
        .id
    }

    /// Sets every customer's counters from the facts, as the writers keep them.
    pub async fn settle(&self) {
        let ids: Vec<Uuid> = user::Entity::find()
            .all(&self.app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        customer_stats::recompute(&self.app.db, &ids).await.unwrap();
    }
}

fn days_ago(n: i64) -> DateTime<Utc> {
    Utc::now() - Duration::days(n)
}

fn date_days_ago(n: u64) -> NaiveDate {
    Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(n))
        .unwrap()
}

const INSIGHTS: &str = "query($id: UUID!) { user(id: $id) { totalSpent averageBookingValue totalBookings insights {
    totalBookings completedBookings cancelledBookings totalAttendees grossSpent totalRefunded netSpent
    averageBookingValue outstandingBalance failedPayments firstBookingAt lastBookingAt bookingFrequencyDays
    preferredCourses { course { name courseType } bookings share } preferredVenue { name }
    paymentMethods { method payments amount }
    certificates { active expiringWithin90Days expired nextExpiry }
    segment rfm { recency frequency monetary } prediction { probabilityActive } } } }";

#[tokio::test]
async fn insights_are_exact_from_the_facts() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let mut h = History::new(&app).await;
    let c = h
        .customer("pat@example.com", CustomerType::Individual)
        .await;
    let other = h
        .customer("sam@example.com", CustomerType::Individual)
        .await;

    // Three live bookings (two EFAW, one FAW) 100 days apart, one cancelled, one unpaid.
    let b1 = h
        .booking(
            c,
            CourseType::Efaw,
            days_ago(300),
            BookingStatus::Completed,
            9500,
            true,
        )
        .await;
    h.booking(
        c,
        CourseType::Faw,
        days_ago(200),
        BookingStatus::Completed,
        15000,
        true,
    )
    .await;
    let b3 = h
        .booking(
            c,
            CourseType::Efaw,
            days_ago(100),
            BookingStatus::Confirmed,
            9500,
            false,
        )
        .await;
    h.booking(
        c,
        CourseType::Faw,
        days_ago(50),
        BookingStatus::Cancelled,
        15000,
        false,
    )
    .await;
    // Part of the third paid in cash; a failed card payment; £20 of the first refunded.
    h.payment(
        c,
        b3,
        2500,
        PaymentMethod::Cash,
        PaymentRecordStatus::Succeeded,
        days_ago(99),
    )
    .await;
    h.payment(
        c,
        b3,
        7000,
        PaymentMethod::Card,
        PaymentRecordStatus::Failed,
        days_ago(99),
    )
    .await;
    h.refund(c, b1, 2000, days_ago(290)).await;
    // Certificates: one active expiring in 60 days, one active in two years, one expired,
    // one revoked.
    h.certificate(
        c,
        b1,
        CourseType::Efaw,
        date_days_ago(3 * 365 - 60),
        CertificateStatus::Active,
    )
    .await;
    h.certificate(
        c,
        b1,
        CourseType::Faw,
        date_days_ago(365),
        CertificateStatus::Active,
    )
    .await;
    h.certificate(
        c,
        b1,
        CourseType::Efaw,
        date_days_ago(4 * 365),
        CertificateStatus::Expired,
    )
    .await;
    h.certificate(
        c,
        b1,
        CourseType::Paediatric,
        date_days_ago(10),
        CertificateStatus::Revoked,
    )
    .await;
    // Someone else's history must not leak in.
    let ob = h
        .booking(
            other,
            CourseType::Efaw,
            days_ago(10),
            BookingStatus::Confirmed,
            9500,
            true,
        )
        .await;
    h.refund(other, ob, 9500, days_ago(5)).await;
    h.settle().await;

    let data = app.gql_ok(INSIGHTS, json!({ "id": c }), Some(&admin)).await;
    let u = &data["user"];
    let i = &u["insights"];
    assert_eq!(i["totalBookings"], 3);
    assert_eq!(i["completedBookings"], 2);
    assert_eq!(i["cancelledBookings"], 1);
    assert_eq!(i["totalAttendees"], 3);
    // 95 + 150 + 25 paid; 20 refunded.
    assert_eq!(i["grossSpent"], "270.00");
    assert_eq!(i["totalRefunded"], "20.00");
    assert_eq!(i["netSpent"], "250.00");
    assert_eq!(
        i["netSpent"], u["totalSpent"],
        "netSpent equals User.totalSpent"
    );
    assert_eq!(i["averageBookingValue"], "83.33");
    assert_eq!(i["averageBookingValue"], u["averageBookingValue"]);
    assert_eq!(i["totalBookings"], u["totalBookings"]);
    // 95 - 0 paid on the booking row (the cash payment is not on it) on the live unpaid one.
    assert_eq!(i["outstandingBalance"], "95.00");
    assert_eq!(i["failedPayments"], 1);
    let days = i["bookingFrequencyDays"].as_f64().unwrap();
    assert!((days - 100.0).abs() < 0.01, "{days}");
    assert_eq!(
        i["preferredCourses"],
        json!([
            { "course": { "name": "Emergency First Aid at Work", "courseType": "EFAW" }, "bookings": 2, "share": 2.0 / 3.0 },
            { "course": { "name": "First Aid at Work", "courseType": "FAW" }, "bookings": 1, "share": 1.0 / 3.0 },
        ])
    );
    assert_eq!(i["preferredVenue"]["name"], "Leeds Training Centre");
    assert_eq!(
        i["paymentMethods"],
        json!([
            { "method": "CARD", "payments": 2, "amount": "245.00" },
            { "method": "CASH", "payments": 1, "amount": "25.00" },
        ])
    );
    let certs = &i["certificates"];
    assert_eq!(certs["active"], 2);
    assert_eq!(certs["expiringWithin90Days"], 1);
    assert_eq!(certs["expired"], 1);
    let next = certs["nextExpiry"].as_str().unwrap();
    assert_eq!(
        next,
        date_days_ago(3 * 365 - 60)
            .checked_add_months(chrono::Months::new(36))
            .unwrap()
            .to_string()
    );
    // Never refreshed: no segment, scores or prediction yet.
    assert_eq!(i["segment"], Value::Null);
    assert_eq!(i["rfm"], Value::Null);
    assert_eq!(i["prediction"], Value::Null);
}

#[tokio::test]
async fn a_customer_has_no_insights_and_a_bad_horizon_is_refused() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let (me, customer_token) = app.customer("casey@example.com").await;
    let body = app
        .gql(
            "{ me { insights { netSpent } } }",
            json!({}),
            Some(&customer_token),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    let mut h = History::new(&app).await;
    h.booking(
        me.id,
        CourseType::Efaw,
        days_ago(30),
        BookingStatus::Completed,
        9500,
        true,
    )
    .await;
    h.settle().await;
    app.gql_ok(
        "mutation { refreshInsights { id } }",
        json!({}),
        Some(&admin),
    )
    .await;
    let body = app
        .gql(
            "query($id: UUID!) { user(id: $id) { insights { prediction { predictedValue(months: 0) } } } }",
            json!({ "id": me.id }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
}

#[tokio::test]
async fn refresh_refuses_a_future_date_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive();
    let body = app
        .gql(
            "mutation($d: NaiveDate!) { refreshInsights(asOf: $d) { id } }",
            json!({ "d": tomorrow }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(app.count("insight_models").await, 0);
    assert!(app.audit_rows("insights.refreshed").await.is_empty());
}

/// Ten customers with distinct recency, frequency and spend: customer k (1..=10) booked k
/// times, the last one 10·(11-k) days ago, paying £10·k each time.
async fn ten_customers(app: &TestApp) -> Vec<Uuid> {
    let mut h = History::new(app).await;
    let mut ids = Vec::new();
    for k in 1..=10i64 {
        let c = h
            .customer(&format!("c{k:02}@example.com"), CustomerType::Individual)
            .await;
        for j in 0..k {
            let at = days_ago(10 * (11 - k) + 20 * j);
            h.booking(
                c,
                CourseType::Faw,
                at,
                BookingStatus::Completed,
                1000 * k,
                true,
            )
            .await;
        }
        ids.push(c);
    }
    h.settle().await;
    ids
}

#[tokio::test]
async fn refresh_scores_quintiles_and_segments_and_users_filter_and_sort_by_them() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let ids = ten_customers(&app).await;

    let data = app
        .gql_ok(
            "mutation { refreshInsights { id asOf customers quintiles { recencyDays frequency monetary } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let m = &data["refreshInsights"];
    assert_eq!(m["customers"], 10);
    assert_eq!(m["asOf"], Utc::now().date_naive().to_string());
    // Two customers a quintile: boundaries at the 2nd, 4th, 6th and 8th values.
    assert_eq!(m["quintiles"]["frequency"], json!([2, 4, 6, 8]));
    assert_eq!(
        m["quintiles"]["monetary"],
        json!(["40.00", "160.00", "360.00", "640.00"])
    );
    assert_eq!(m["quintiles"]["recencyDays"], json!([90, 70, 50, 30]));

    // Stored scores: customer k is in quintile ceil(k/2) on every measure.
    for (i, id) in ids.iter().enumerate() {
        let row = customer_insight::Entity::find_by_id(*id)
            .one(&app.db)
            .await
            .unwrap()
            .expect("scored");
        let q = (i as i16) / 2 + 1;
        assert_eq!(
            (row.recency_score, row.frequency_score, row.monetary_score),
            (q, q, q),
            "customer {}",
            i + 1
        );
    }
    // Segments by the table: 5/5/5 and 4/4/4 champions; 3/3/3 promising; 1/1/1 with one
    // booking one-off; 1/1/1 with two lapsed; 2/2/2 lapsed.
    let segments: Vec<String> = {
        let mut out = Vec::new();
        for id in &ids {
            let data = app
                .gql_ok(
                    "query($id: UUID!) { user(id: $id) { insights { segment rfm { recency frequency monetary } } } }",
                    json!({ "id": id }),
                    Some(&admin),
                )
                .await;
            out.push(
                data["user"]["insights"]["segment"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        out
    };
    assert_eq!(
        segments,
        [
            "ONE_OFF",
            "LAPSED",
            "LAPSED",
            "LAPSED",
            "PROMISING",
            "PROMISING",
            "CHAMPION",
            "CHAMPION",
            "CHAMPION",
            "CHAMPION"
        ]
    );

    // The segment filter.
    let data = app
        .gql_ok(
            "{ users(filter: { segment: [CHAMPION, ONE_OFF] }, orderBy: { field: NET_SPENT, direction: DESC }) { totalCount edges { node { id } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let got: Vec<Uuid> = data["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| crate::helpers::uuid_of(&e["node"]["id"]))
        .collect();
    assert_eq!(data["users"]["totalCount"], 5);
    assert_eq!(got, vec![ids[9], ids[8], ids[7], ids[6], ids[0]]);

    // PREDICTED_VALUE, paged two at a time, follows the stored values exactly.
    let mut stored: Vec<(i64, Uuid)> = customer_insight::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.predicted_value_pence, r.user_id))
        .collect();
    stored.sort_by(|a, b| b.cmp(a));
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .gql_ok(
                "query($after: String) { users(first: 2, after: $after, filter: { role: CUSTOMER }, orderBy: { field: PREDICTED_VALUE, direction: DESC }) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
                Some(&admin),
            )
            .await;
        for e in data["users"]["edges"].as_array().unwrap() {
            paged.push(crate::helpers::uuid_of(&e["node"]["id"]));
        }
        if !data["users"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = data["users"]["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from);
    }
    assert_eq!(paged, stored.iter().map(|s| s.1).collect::<Vec<_>>());
    assert!(
        stored[0].0 > 0,
        "the best customer has a positive predicted value"
    );

    // The audit row.
    let audit = app.audit_rows("insights.refreshed").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].changes.as_ref().unwrap()["customers"], 10);
}

#[tokio::test]
async fn the_renewal_rate_is_exact_on_a_hand_made_history() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let mut h = History::new(&app).await;
    // Certificates issued 3 years + 200 days ago expired 200 days ago: their window (90
    // days either side) has closed.
    let issued = date_days_ago(3 * 365 + 200);
    let expiry = issued.checked_add_months(chrono::Months::new(36)).unwrap();
    let around = |days: i64| expiry.and_hms_opt(12, 0, 0).unwrap().and_utc() + Duration::days(days);
    let first = |d: NaiveDate| d.and_hms_opt(9, 0, 0).unwrap().and_utc() - Duration::days(14);
    let mut individual = Vec::new();
    for k in 0..6 {
        individual.push(
            h.customer(&format!("i{k}@example.com"), CustomerType::Individual)
                .await,
        );
    }
    for (k, c) in individual.iter().enumerate() {
        let b = h
            .booking(
                *c,
                CourseType::Efaw,
                first(issued),
                BookingStatus::Completed,
                9500,
                true,
            )
            .await;
        let status = if k == 5 {
            CertificateStatus::Revoked
        } else {
            CertificateStatus::Expired
        };
        h.certificate(*c, b, CourseType::Efaw, issued, status).await;
    }
    // Renewed in the window: 30 days before, 60 after, 89 before (EFAW again).
    for (c, offset) in [
        (individual[0], -30),
        (individual[1], 60),
        (individual[2], -89),
    ] {
        h.booking(
            c,
            CourseType::Efaw,
            around(offset),
            BookingStatus::Completed,
            9500,
            true,
        )
        .await;
    }
    // Too late (120 days after), and the wrong course type: not renewals.
    h.booking(
        individual[3],
        CourseType::Efaw,
        around(120),
        BookingStatus::Completed,
        9500,
        true,
    )
    .await;
    h.booking(
        individual[4],
        CourseType::Faw,
        around(0),
        BookingStatus::Completed,
        15000,
        true,
    )
    .await;
    // A renewal booking later cancelled does not count.
    let cancelled = h
        .booking(
            individual[3],
            CourseType::Efaw,
            around(10),
            BookingStatus::Cancelled,
            9500,
            false,
        )
        .await;
    assert_ne!(cancelled, Uuid::nil());

    // Corporate: two eligible, one renewed; one whose window is still open (not eligible).
    let mut corporate = Vec::new();
    for k in 0..3 {
        corporate.push(
            h.customer(&format!("k{k}@example.com"), CustomerType::Corporate)
                .await,
        );
    }
    for c in &corporate[..2] {
        let b = h
            .booking(
                *c,
                CourseType::Efaw,
                first(issued),
                BookingStatus::Completed,
                9500,
                true,
            )
            .await;
        h.certificate(*c, b, CourseType::Efaw, issued, CertificateStatus::Expired)
            .await;
    }
    h.booking(
        corporate[0],
        CourseType::Efaw,
        around(-5),
        BookingStatus::Completed,
        9500,
        true,
    )
    .await;
    let recent = date_days_ago(3 * 365 - 30);
    let b = h
        .booking(
            corporate[2],
            CourseType::Efaw,
            first(recent),
            BookingStatus::Completed,
            9500,
            true,
        )
        .await;
    h.certificate(
        corporate[2],
        b,
        CourseType::Efaw,
        recent,
        CertificateStatus::Active,
    )
    .await;
    h.settle().await;

    let data = app
        .gql_ok(
            "mutation { refreshInsights { renewalRates { courseType customerType eligible renewed rate } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        data["refreshInsights"]["renewalRates"],
        json!([
            { "courseType": "EFAW", "customerType": "CORPORATE", "eligible": 2, "renewed": 1, "rate": 0.5 },
            { "courseType": "EFAW", "customerType": "INDIVIDUAL", "eligible": 5, "renewed": 3, "rate": 0.6 },
        ])
    );

    // The corporate customer whose certificate expires in about 30 days is expected to
    // renew at the corporate rate, less the part of the renewals' timing already past: of
    // the four renewals seen (at -89, -30, -5 and +60 days from expiry), those at or before
    // today's offset would have happened by now.
    let data = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { insights { prediction { renewalProbability nextRenewalDue expectedBookings(months: 3) } } } }",
            json!({ "id": corporate[2] }),
            Some(&admin),
        )
        .await;
    let p = &data["user"]["insights"]["prediction"];
    let probability = p["renewalProbability"].as_f64().unwrap();
    let expires = recent.checked_add_months(chrono::Months::new(36)).unwrap();
    let elapsed = (Utc::now().date_naive() - expires).num_days();
    let done = [-89, -30, -5, 60].iter().filter(|o| **o <= elapsed).count() as f64 / 4.0;
    let expected = 0.5 * (1.0 - done) / (1.0 - 0.5 * done);
    assert!(done > 0.0 && done < 1.0, "{elapsed}");
    assert!((probability - expected).abs() < 1e-9, "{p} vs {expected}");
    assert!(p["nextRenewalDue"].is_string(), "{p}");
}

#[tokio::test]
async fn merged_tombstones_never_count_twice() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let mut h = History::new(&app).await;
    let a = h.customer("jo@example.com", CustomerType::Individual).await;
    let b = h
        .customer("jo.work@example.com", CustomerType::Individual)
        .await;
    h.booking(
        a,
        CourseType::Efaw,
        days_ago(400),
        BookingStatus::Completed,
        9500,
        true,
    )
    .await;
    h.booking(
        b,
        CourseType::Faw,
        days_ago(100),
        BookingStatus::Completed,
        15000,
        true,
    )
    .await;
    h.settle().await;
    app.gql_ok(
        "mutation($s: UUID!, $d: [UUID!]!) { mergeUsers(input: { survivorId: $s, duplicateIds: $d }) { id } }",
        json!({ "s": a, "d": [b] }),
        Some(&admin),
    )
    .await;
    let data = app
        .gql_ok(
            "mutation { refreshInsights { customers } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(data["refreshInsights"]["customers"], 1);
    assert!(
        customer_insight::Entity::find_by_id(b)
            .one(&app.db)
            .await
            .unwrap()
            .is_none(),
        "the tombstone is not scored"
    );
    let data = app.gql_ok(INSIGHTS, json!({ "id": a }), Some(&admin)).await;
    let i = &data["user"]["insights"];
    assert_eq!(i["totalBookings"], 2);
    assert_eq!(i["netSpent"], "245.00");
    let row = customer_insight::Entity::find_by_id(a)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.bookings, row.monetary_pence), (2, 24_500));
}

async fn statements_for_page_of(n: usize) -> usize {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::spawn_counting(counter.clone()).await;
    let (_, admin) = app.admin().await;
    let mut h = History::new(&app).await;
    for k in 0..n {
        let c = h
            .customer(&format!("p{k:02}@example.com"), CustomerType::Individual)
            .await;
        let b = h
            .booking(
                c,
                CourseType::Efaw,
                days_ago(200 + k as i64),
                BookingStatus::Completed,
                9500,
                true,
            )
            .await;
        h.booking(
            c,
            CourseType::Faw,
            days_ago(20),
            BookingStatus::Confirmed,
            15000,
            false,
        )
        .await;
        h.certificate(
            c,
            b,
            CourseType::Efaw,
            date_days_ago(190),
            CertificateStatus::Active,
        )
        .await;
    }
    h.settle().await;
    app.gql_ok(
        "mutation { refreshInsights { id } }",
        json!({}),
        Some(&admin),
    )
    .await;
    let page = "query($n: Int) { users(first: $n, filter: { role: CUSTOMER }) { edges { node { id insights {
        totalBookings netSpent outstandingBalance preferredCourses { course { name } share } preferredVenue { name }
        paymentMethods { method amount } certificates { active nextExpiry } segment rfm { recency }
        prediction { probabilityActive expectedBookings expectedSpend predictedValue renewalProbability } } } } } }";
    let warm = app.gql(page, json!({ "n": n }), Some(&admin)).await;
    assert!(warm.get("errors").is_none(), "{warm:#}");
    let mut counts = Vec::new();
    for _ in 0..3 {
        counter.store(0, Ordering::SeqCst);
        let body = app.gql(page, json!({ "n": n }), Some(&admin)).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(body["data"]["users"]["edges"].as_array().unwrap().len(), n);
        counts.push(counter.load(Ordering::SeqCst));
    }
    counts.into_iter().min().unwrap()
}

#[tokio::test]
async fn a_page_of_users_with_insights_runs_as_many_statements_for_1_as_for_50() {
    let one = statements_for_page_of(1).await;
    let fifty = statements_for_page_of(50).await;
    assert_eq!(one, fifty, "statements for 1 user vs 50");
    assert!(one <= 16, "{one} statements");
}

#[tokio::test]
async fn insights_model_reads_the_last_refresh() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let data = app
        .gql_ok("{ insightsModel { id } }", json!({}), Some(&admin))
        .await;
    assert_eq!(data["insightsModel"], Value::Null);
    ten_customers(&app).await;
    let long_ago = (Utc::now() - Duration::days(150)).date_naive();
    let first = app
        .gql_ok(
            "mutation($d: NaiveDate!) { refreshInsights(asOf: $d) { id asOf customers backtest { months } } }",
            json!({ "d": long_ago }),
            Some(&admin),
        )
        .await;
    // 150 days ago: only the customers who had booked by then (first bookings were
    // 90 + 10·k days ago, so k = 6 to 10); no backtest (the year has not passed).
    assert_eq!(first["refreshInsights"]["asOf"], long_ago.to_string());
    assert_eq!(first["refreshInsights"]["backtest"], Value::Null);
    let scored = first["refreshInsights"]["customers"].as_i64().unwrap();
    assert_eq!(scored, 5);
    let model = insight_model::Entity::find()
        .filter(insight_model::Column::AsOf.eq(long_ago))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(model.customers, scored);
    let data = app
        .gql_ok(
            "{ insightsModel { id asOf customers durationMs repeatModel { r alpha a b sampleSize logLikelihood } repeatModelError valueModel { p q gamma } renewalRates { rate } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(data["insightsModel"]["id"], first["refreshInsights"]["id"]);
    assert_eq!(
        app.count("customer_insights").await,
        scored,
        "one stored row per scored customer"
    );
}

#[test]
fn the_readme_segment_table_is_the_one_the_code_uses() {
    use rft_users::services::insights::segments::RULES;
    /// Segment, recency, frequency and monetary ranges, and "exactly one booking".
    type Line = (String, (i16, i16), (i16, i16), (i16, i16), Option<bool>);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Customer insights")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Customer insights section");
    let range = |cell: &str| -> (i16, i16) {
        let cell = cell.trim();
        if cell.is_empty() {
            return (1, 5);
        }
        let (lo, hi) = cell.split_once('–').expect("a range like 4–5");
        (lo.parse().unwrap(), hi.parse().unwrap())
    };
    let rows: Vec<Line> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').collect();
            let one = match cells[5].trim() {
                "" => None,
                "exactly 1" => Some(true),
                "more than 1" => Some(false),
                other => panic!("bookings cell {other:?}"),
            };
            (
                cells[1].trim().trim_matches('`').to_string(),
                range(cells[2]),
                range(cells[3]),
                range(cells[4]),
                one,
            )
        })
        .collect();
    let code: Vec<Line> = RULES
        .iter()
        .map(|r| {
            let name = serde_json::to_value(r.segment).unwrap();
            (
                name.as_str().unwrap().to_uppercase(),
                r.recency,
                r.frequency,
                r.monetary,
                r.single_booking,
            )
        })
        .collect();
    assert_eq!(rows, code);
}

#[tokio::test]
async fn a_backtest_on_simulated_history_predicts_total_bookings_within_15_percent() {
    use rft_users::services::history::{self, HistoryConfig};
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let config = HistoryConfig::default();
    let truth = history::generate(&app.db, &config).await.unwrap();
    assert!(truth.renewal_bookings > 500, "{truth:?}");

    // As of 13 months ago: the 12 months after it have passed.
    let as_of = config
        .until
        .checked_sub_months(chrono::Months::new(13))
        .unwrap();
    let data = app
        .gql_ok(
            "mutation($d: NaiveDate!) { refreshInsights(asOf: $d) { customers durationMs
                repeatModel { r alpha a b iterations fitMs } valueModel { iterations fitMs } renewalRates { courseType customerType eligible renewed rate }
                backtest { months customers predictedBookings actualBookings bookingsTotalError
                           bookingsMeanAbsoluteError predictedRevenue actualRevenue revenueTotalError } } }",
            json!({ "d": as_of }),
            Some(&admin),
        )
        .await;
    let m = &data["refreshInsights"];
    let b = &m["backtest"];
    assert_eq!(b["months"], 12);
    assert_eq!(b["customers"], m["customers"]);
    let predicted = b["predictedBookings"].as_f64().unwrap();
    let actual = b["actualBookings"].as_f64().unwrap();
    assert!(actual > 300.0, "{b}");
    let error = b["bookingsTotalError"].as_f64().unwrap();
    eprintln!("backtest: {b}; repeat model {}", m["repeatModel"]);
    // The store keeps how each fit went: a search ran, and its time was kept.
    for model in ["repeatModel", "valueModel"] {
        assert!(m[model]["iterations"].as_i64().unwrap() > 0, "{model}");
        assert!(
            m[model]["fitMs"].as_i64().unwrap() <= m["durationMs"].as_i64().unwrap(),
            "{model}: a fit within the refresh"
        );
    }
    assert!((error - (predicted - actual) / actual).abs() < 1e-9);
    assert!(
        error.abs() <= 0.15,
        "predicted {predicted:.1} bookings against {actual} actual ({:+.1}%): {m:#}",
        100.0 * error
    );

    // The renewal rates the model learned are the simulation's, per customer type.
    let rate_of = |kind: &str| {
        let rows = m["renewalRates"].as_array().unwrap();
        let (e, r) =
            rows.iter()
                .filter(|r| r["customerType"] == kind)
                .fold((0.0, 0.0), |(e, n), r| {
                    (
                        e + r["eligible"].as_f64().unwrap(),
                        n + r["renewed"].as_f64().unwrap(),
                    )
                });
        r / e
    };
    assert!(
        (rate_of("INDIVIDUAL") - config.renewal_probability_individual).abs() < 0.06,
        "{m:#}"
    );
    assert!(
        (rate_of("CORPORATE") - config.renewal_probability_corporate).abs() < 0.06,
        "{m:#}"
    );

    // Each customer's actual bookings are stored beside the prediction.
    let stored: i64 = customer_insight::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|r| i64::from(r.actual_bookings.unwrap()))
        .sum();
    assert_eq!(stored as f64, actual);
}
