//! Demo data for an empty database: the three courses, the five venues, past and upcoming
//! sessions, one instructor, and about fifty customers with bookings, payments and
//! certificates. Everything is consistent: session places, customer stats and spend all
//! agree with the rows behind them. It is deterministic, so demos look the same each time.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait};
use serde_json::json;
use uuid::Uuid;

use crate::auth::password;
use crate::db::begin_write;
use crate::entities::encrypted;
use crate::entities::enums::*;
use crate::entities::{
    booking, booking_attendee, certificate, course, course_session, payment, venue,
};
use crate::error::AppResult;
use crate::services::audit::{self, Actor};
use crate::services::{customer_stats, references, users};

/// Email of the demo instructor.
pub const DEMO_INSTRUCTOR_EMAIL: &str = "instructor@reactfasttraining.co.uk";

const FIRST_NAMES: &[&str] = &[
    "Olivia", "Jack", "Amelia", "Harry", "Isla", "Oliver", "Zoë", "George", "Siân", "Noah",
    "Emily", "Charlie", "Grace", "Thomas", "Sophie", "James", "Chloé", "William", "Ruby", "Dafydd",
    "Aisha", "Mohammed", "Priya", "Connor", "Niamh",
];
const LAST_NAMES: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "O'Brien",
    "Evans", "Thomas", "Roberts", "Walker", "Wright", "Robinson", "Thompson", "Hughes", "Khan",
    "Patel", "Clarke",
];
/// Customers from this index on duplicate earlier ones (see `seed_if_empty`).
const DEMO_DUPLICATES_FROM: usize = 47;

const COMPANIES: &[&str] = &[
    "Leeds Nursery Group",
    "Sheffield Steelworks Ltd",
    "York Minster Cafés",
    "Bradford Builders",
    "Harrogate Care Homes",
];

fn insertable<A: ActiveModelTrait>(am: A) -> A {
    am.reset_all()
}

/// Seeds demo data when the database holds no courses; returns a summary when it did.
#[tracing::instrument(skip_all)]
pub async fn seed_if_empty(db: &DatabaseConnection) -> AppResult<Option<String>> {
    if course::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let instructor_password = password::generate();
    let instructor_hash = password::hash(instructor_password.clone()).await?;
    let mut rng = StdRng::seed_from_u64(2024);
    let now = Utc::now();
    let txn = begin_write(db).await?;

    let courses = [
        (
            "Emergency First Aid at Work",
            CourseType::Efaw,
            6,
            7500,
            "One-day course for low-risk workplaces (HSE compliant).",
        ),
        (
            "First Aid at Work",
            CourseType::Faw,
            18,
            9500,
            "Three-day course for higher-risk workplaces.",
        ),
        (
            "Paediatric First Aid",
            CourseType::Paediatric,
            12,
            8500,
            "Two-day course for nurseries, childminders and schools (EYFS).",
        ),
    ];
    let mut course_rows = Vec::new();
    for (name, course_type, hours, price, description) in courses {
        let m = course::Model {
            id: Uuid::now_v7(),
            name: name.into(),
            description: Some(description.into()),
            course_type,
            duration_hours: hours,
            price_pence: price,
            max_capacity: 12,
            certification_validity_years: 3,
            is_active: true,
            created_by_id: None,
            updated_by_id: None,
            created_at: now,
            updated_at: now,
        };
        course_rows.push(insertable(m.into_active_model()).insert(&txn).await?);
    }

    let venues = [
        (
            "Leeds City Centre Training Venue",
            Some("12 Park Row"),
            Some("Leeds"),
            Some("LS1 5HD"),
            Some(16),
        ),
        (
            "Sheffield Business Park",
            Some("Europa Link"),
            Some("Sheffield"),
            Some("S9 1XU"),
            Some(14),
        ),
        (
            "Bradford Community Centre",
            Some("Manor Row"),
            Some("Bradford"),
            Some("BD1 4PB"),
            Some(12),
        ),
        (
            "York Conference Centre",
            Some("Blossom Street"),
            Some("York"),
            Some("YO24 1AJ"),
            Some(20),
        ),
        ("Client On-Site Training", None, None, None, None),
    ];
    let mut venue_rows = Vec::new();
    for (name, line1, city, postcode, capacity) in venues {
        let m = venue::Model {
            id: Uuid::now_v7(),
            name: name.into(),
            address_line_1: line1.map(Into::into),
            address_line_2: None,
            city: city.map(Into::into),
            postcode: postcode.map(Into::into),
            capacity,
            facilities: capacity.map(|_| json!(["parking", "kitchen", "wheelchair access"])),
            parking_info: capacity.map(|_| "Free on-site parking".to_string()),
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        venue_rows.push(insertable(m.into_active_model()).insert(&txn).await?);
    }

    let mut instructor = users::blank(
        DEMO_INSTRUCTOR_EMAIL.into(),
        "Lisa".into(),
        "Thompson".into(),
        now,
    );
    instructor.role = Role::Instructor;
    instructor.phone = Some("07700 900001".into());
    instructor.password_hash = Some(instructor_hash);
    instructor.password_changed_at = Some(now);
    users::refresh_derived(&mut instructor);
    let instructor = users::insert(&txn, instructor).await?;

    // Six past sessions (completed) and six upcoming ones, across courses and venues.
    let mut sessions = Vec::new();
    for i in 0..12i64 {
        let course = &course_rows[(i % 3) as usize];
        let venue = &venue_rows[(i % 5) as usize];
        let days = if i < 6 { -30 * (i + 1) } else { 7 * (i - 5) };
        let day = (now + Duration::days(days)).date_naive();
        let starts_at = Utc
            .from_utc_datetime(&day.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()));
        let m = course_session::Model {
            id: Uuid::now_v7(),
            course_id: course.id,
            venue_id: venue.id,
            instructor_id: Some(instructor.id),
            starts_at,
            ends_at: starts_at + Duration::hours(i64::from(course.duration_hours.min(8))),
            capacity: 12,
            booked_places: 0,
            status: if i < 6 {
                SessionStatus::Completed
            } else {
                SessionStatus::Scheduled
            },
            cancelled_at: None,
            cancellation_reason: None,
            created_by_id: None,
            updated_by_id: None,
            created_at: now,
            updated_at: now,
        };
        sessions.push((
            insertable(m.into_active_model()).insert(&txn).await?,
            course.clone(),
        ));
    }

    let mut cert_seq = 0u32;
    let (mut n_customers, mut n_bookings, mut n_certs) = (0, 0, 0);
    let mut customer_ids = Vec::new();
    for i in 0..50usize {
        // The last three customers are duplicates of customers 2, 3 and 4, as real data
        // has them, so the duplicates worklist has something to show.
        let person = if i >= DEMO_DUPLICATES_FROM { i - 45 } else { i };
        let first = FIRST_NAMES[person % FIRST_NAMES.len()];
        let last = LAST_NAMES[(person * 7) % LAST_NAMES.len()];
        let corporate = i % 5 == 0;
        let local = format!(
            "{}.{}",
            first
                .to_lowercase()
                .replace(['ë', 'é'], "e")
                .replace('â', "a"),
            last.to_lowercase().replace('\'', ""),
        );
        let email = match i {
            // A renewal from a new employer.
            47 => format!("{local}@harrogatecare.org.uk"),
            // A typo in the domain.
            48 => format!("{local}{person}@exmaple.com"),
            // A personal address.
            49 => format!("{local}{person}@gmail.com"),
            _ => format!("{local}{i}@example.com"),
        };
        let created = now - Duration::days(400 - i as i64 * 3);
        let mut customer = users::blank(email, first.into(), last.into(), created);
        customer.phone = match i {
            47 => Some(format!("+44 7700 900{:03}", 100 + person)),
            48 => None,
            49 => Some(format!("07700900{:03}", 100 + person)),
            _ => Some(format!("07700 900{:03}", 100 + i)),
        };
        customer.customer_type = if corporate {
            CustomerType::Corporate
        } else {
            CustomerType::Individual
        };
        customer.company_name = if i == 47 {
            Some("Harrogate Care Homes".into())
        } else {
            corporate.then(|| COMPANIES[i % COMPANIES.len()].to_string())
        };
        customer.marketing_consent = i % 3 == 0;
        customer.customer_since = Some(created.date_naive());
        customer.city = Some(["Leeds", "Sheffield", "Bradford", "York", "Harrogate"][i % 5].into());
        if i % 9 == 0 {
            customer.dietary_requirements = encrypted::seal(Some("Vegetarian".into()));
        }
        users::refresh_derived(&mut customer);
        let mut customer = users::insert(&txn, customer).await?;
        n_customers += 1;

        let bookings_for_customer = 1 + (i % 3);
        for b in 0..bookings_for_customer {
            let attendees = if corporate { 1 + (i + b) % 3 } else { 1 };
            let Some(idx) = (0..sessions.len())
                .map(|k| (i * 5 + b * 7 + k) % sessions.len())
                .find(|&k| {
                    sessions[k].0.booked_places + attendees as i32 <= sessions[k].0.capacity
                })
            else {
                continue;
            };
            let (session, course) = sessions[idx].clone();
            let past = session.starts_at < now;
            let booked_at = (session.starts_at - Duration::days(rng.gen_range(3..40)))
                .min(now - Duration::hours(1));
            let total = course.price_pence * attendees as i64;
            let paid = past || rng.gen_bool(0.7);
            let bk = booking::Model {
                id: Uuid::now_v7(),
                user_id: customer.id,
                session_id: session.id,
                reference: references::booking_reference(),
                status: if past {
                    BookingStatus::Completed
                } else {
                    BookingStatus::Confirmed
                },
                payment_status: if paid {
                    PaymentStatus::Paid
                } else {
                    PaymentStatus::Pending
                },
                unit_price_pence: course.price_pence,
                discount_pence: 0,
                total_amount_pence: total,
                amount_paid_pence: if paid { total } else { 0 },
                amount_refunded_pence: 0,
                number_of_attendees: attendees as i32,
                special_requirements: encrypted::seal(
                    (i % 11 == 0).then(|| "Wheelchair access".to_string()),
                ),
                contact_details: Some(json!({
                    "firstName": customer.first_name, "lastName": customer.last_name,
                    "email": customer.email, "phone": customer.phone, "company": customer.company_name,
                })),
                legacy_id: None,
                legacy_reference: None,
                confirmation_sent: true,
                reminder_sent: past,
                certificate_issued: past,
                cancelled_at: None,
                cancellation_reason: None,
                created_by_id: None,
                updated_by_id: None,
                created_at: booked_at,
                updated_at: booked_at,
            };
            let bk = insertable(bk.into_active_model()).insert(&txn).await?;
            n_bookings += 1;
            let mut session_am = sessions[idx].0.clone().into_active_model();
            let new_places = sessions[idx].0.booked_places + attendees as i32;
            session_am.booked_places = sea_orm::Set(new_places);
            sessions[idx].0 = session_am.update(&txn).await?;

            for a in 0..attendees {
                let (af, al, ae) = if a == 0 {
                    (
                        customer.first_name.clone(),
                        customer.last_name.clone(),
                        Some(customer.email.clone()),
                    )
                } else {
                    let f = FIRST_NAMES[(i + a * 3) % FIRST_NAMES.len()];
                    let l = LAST_NAMES[(i + a * 5) % LAST_NAMES.len()];
                    (f.to_string(), l.to_string(), None)
                };
                let attendee = booking_attendee::Model {
                    id: Uuid::now_v7(),
                    booking_id: bk.id,
                    user_id: (a == 0).then_some(customer.id),
                    first_name: af.clone(),
                    last_name: al.clone(),
                    email: ae,
                    phone: None,
                    special_requirements: None,
                    created_at: booked_at,
                };
                let attendee = insertable(attendee.into_active_model())
                    .insert(&txn)
                    .await?;
                if past {
                    cert_seq += 1;
                    let issued_on = session.starts_at.date_naive();
                    let expires_on = add_years(issued_on, course.certification_validity_years);
                    let cert = certificate::Model {
                        id: Uuid::now_v7(),
                        booking_id: bk.id,
                        attendee_id: Some(attendee.id),
                        user_id: customer.id,
                        course_id: course.id,
                        session_id: Some(session.id),
                        certificate_number: format!("RFT-DEMO-{}-{cert_seq:05}", issued_on.year()),
                        holder_name: format!("{af} {al}"),
                        issued_on,
                        expires_on,
                        status: CertificateStatus::Active,
                        revoked_at: None,
                        revocation_reason: None,
                        issued_by_id: Some(instructor.id),
                        pdf_url: None,
                        created_at: session.ends_at,
                        updated_at: session.ends_at,
                    };
                    insertable(cert.into_active_model()).insert(&txn).await?;
                    n_certs += 1;
                }
            }
            if paid {
                let pay = payment::Model {
                    id: Uuid::now_v7(),
                    booking_id: bk.id,
                    user_id: customer.id,
                    stripe_payment_intent_id: Some(format!("pi_demo_{}", Uuid::now_v7().simple())),
                    amount_pence: total,
                    currency: "GBP".into(),
                    status: PaymentRecordStatus::Succeeded,
                    method: PaymentMethod::Stripe,
                    recorded_by_id: None,
                    paid_at: Some(booked_at),
                    created_at: booked_at,
                    updated_at: booked_at,
                };
                insertable(pay.into_active_model()).insert(&txn).await?;
            }
            if booked_at > customer.last_activity_at {
                let before = customer.clone();
                customer.last_activity_at = booked_at;
                customer = users::changed_columns(&before, &customer)
                    .update(&txn)
                    .await?;
            }
        }
        customer_ids.push(customer.id);
    }
    // The counters come from the facts just written, through the one rule that sets them.
    customer_stats::recompute(&txn, &customer_ids).await?;
    let summary =
        json!({ "customers": n_customers, "bookings": n_bookings, "certificates": n_certs });
    audit::record(
        &txn,
        &Actor::system(),
        "demo.seed",
        "database",
        None,
        Some(summary),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(format!(
        "Seeded demo data: 3 courses, 5 venues, 12 sessions, {n_customers} customers, {n_bookings} bookings, \
         {n_certs} certificates.\nDemo instructor: {DEMO_INSTRUCTOR_EMAIL}\n  password (shown once): {instructor_password}"
    )))
}

/// The same day `years` later (29 February becomes 28 February).
pub fn add_years(date: NaiveDate, years: i32) -> NaiveDate {
    date.with_year(date.year() + years)
        .or_else(|| NaiveDate::from_ymd_opt(date.year() + years, date.month(), 28))
        .unwrap_or(date)
}
