//! A deterministic simulator of a training provider's history, written as real rows: the
//! benchmark's data and the insights backtest's ground truth.
//!
//! Customers are acquired at random times over the span (their first booking). Each live
//! booking on a session that has taken place issues one certificate per attendee,
//! expiring after the course's validity. At expiry the customer books the same course type
//! again ("renews") with a known probability per customer type, the booking made at a
//! random time within a window around the expiry (by default 60 days before to 30 days
//! after). Separately, each customer makes a few other bookings of a different course type
//! by a BG/NBD process: Poisson bookings at a rate λ ~ Gamma(r, α) while active, dropping
//! out with probability p ~ Beta(a, b) after each one. A small share of bookings is first
//! made and cancelled (with a completed refund when it was paid) before the booking that
//! stands; some payments fail before succeeding, some invoices are still unpaid at the
//! end, and a few completed bookings get a partial refund.
//!
//! Nothing happens after [`HistoryConfig::until`]: every booking, payment, cancellation
//! and refund is dated on or before it. Sessions after it (booked before it) are
//! scheduled, and issue nothing yet. The same configuration (seed included) writes the
//! same rows, ids included, into an empty database.
//!
//! Rules kept, as every writer keeps them (docs/ARCHITECTURE.md):
//! - a session's `booked_places` is the attendees of its live bookings, never over its
//!   capacity;
//! - customer counters are set by [`customer_stats::recompute`], in the transaction that
//!   wrote the customer's rows;
//! - users written in bulk are keyed for duplicate detection afterwards by
//!   [`duplicates::backfill_missing`], as the server does at start;
//! - a renewal taken before the old certificate expires runs on from the old expiry (as
//!   `services::certificates` issues it).
//!
//! Renewals are never mixed up with other bookings: a non-renewal booking is only made for
//! a course type of which the customer holds no certificate whose renewal window is still
//! open (and no booking still to take place), so "the holder booked the same course type
//! within the window" is true exactly for the renewals the simulation decided.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::{Rng, RngCore, SeedableRng, rngs::StdRng};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::json;
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::*;
use crate::entities::{
    booking, booking_attendee, certificate, course, course_session, payment, refund, user, venue,
};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::catalogue::course_code;
use crate::services::demo::add_years;
use crate::services::payments::payment_status;
use crate::services::{customer_stats, duplicates, places, users};

/// Customers simulated and written per transaction.
const CUSTOMERS_PER_TRANSACTION: usize = 1000;

/// Users per multi-row `INSERT` (about 55 columns each: SQLite binds at most 32,766
/// values a statement).
const USERS_PER_INSERT: usize = 300;
/// Rows of the other tables per multi-row `INSERT` (at most 24 columns each).
const ROWS_PER_INSERT: usize = 500;

/// What history to simulate. [`Default`] is a test-sized history (3,000 customers over 8
/// years ending today); [`HistoryConfig::benchmark`] the benchmark's (100,000 customers,
/// about 400,000 bookings).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryConfig {
    /// Customers to create. Default 3,000.
    pub customers: usize,
    /// The seed of every random choice (and of the rows' ids). Default 16.
    pub seed: u64,
    /// The last day of the history: nothing is booked, paid, cancelled or refunded after
    /// it. Default: today (UTC).
    pub until: NaiveDate,
    /// The span of the history, in years, ending at `until`. Customers are acquired
    /// uniformly over it. Default 8 (so a fit a year before `until` sees 7 years, and
    /// certificates expiring in the following year come from customers acquired 3 or 6
    /// years before).
    pub years: u32,
    /// Share of customers that are companies (booking 1 to 6 attendees at a time).
    /// Default 0.3.
    pub corporate_share: f64,
    /// Probability that an individual renews a certificate at expiry. Default 0.45.
    pub renewal_probability_individual: f64,
    /// Probability that a company renews its staff's certificates at expiry. Default 0.7.
    pub renewal_probability_corporate: f64,
    /// A renewal is booked at most this many days before the expiry. Default 60.
    pub renewal_window_before_days: u32,
    /// ... and at most this many days after it. Default 30.
    pub renewal_window_after_days: u32,
    /// Mean rate of other (non-renewal) bookings per year while a customer is active: the
    /// mean of λ ~ Gamma(`extra_rate_shape`, ·). Default 0.15; 0 disables them.
    pub extra_booking_rate: f64,
    /// Shape `r` of the Gamma distribution of λ across customers. Default 1.5.
    pub extra_rate_shape: f64,
    /// Beta(`dropout_a`, `dropout_b`) of p, the probability of dropping out after each
    /// non-renewal booking. Defaults 2 and 6 (mean 0.25).
    pub dropout_a: f64,
    /// See `dropout_a`.
    pub dropout_b: f64,
    /// Share of bookings made first on another date and cancelled (refunded when paid).
    /// Default 0.04.
    pub cancellation_share: f64,
    /// Share of online (Stripe or card) payments with a failed attempt first. Default 0.03.
    pub failed_payment_share: f64,
    /// Share of completed, paid bookings given a partial (goodwill) refund. Default 0.01.
    pub partial_refund_share: f64,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            customers: 3_000,
            seed: 16,
            until: Utc::now().date_naive(),
            years: 8,
            corporate_share: 0.3,
            renewal_probability_individual: 0.45,
            renewal_probability_corporate: 0.7,
            renewal_window_before_days: 60,
            renewal_window_after_days: 30,
            extra_booking_rate: 0.15,
            extra_rate_shape: 1.5,
            dropout_a: 2.0,
            dropout_b: 6.0,
            cancellation_share: 0.04,
            failed_payment_share: 0.03,
            partial_refund_share: 0.01,
        }
    }
}

impl HistoryConfig {
    /// The benchmark's history: 100,000 customers over 12 years ending today, with more
    /// non-renewal bookings: about 4.2 bookings a customer (418,000 in all, 16,000 of them
    /// cancelled), 600,000 certificates and 58,000 sessions.
    pub fn benchmark() -> Self {
        Self {
            customers: 100_000,
            years: 12,
            extra_booking_rate: 0.75,
            extra_rate_shape: 2.0,
            dropout_a: 2.0,
            dropout_b: 8.0,
            ..Self::default()
        }
    }

    /// The first day of the history (`until` less `years`).
    pub fn start(&self) -> NaiveDate {
        add_years(self.until, -i32::try_from(self.years).unwrap_or(i32::MAX))
    }

    /// The renewal probability of a customer type.
    pub fn renewal_probability(&self, corporate: bool) -> f64 {
        if corporate {
            self.renewal_probability_corporate
        } else {
            self.renewal_probability_individual
        }
    }

    /// Rejects a configuration the simulator cannot run.
    fn validate(&self) -> AppResult<()> {
        let shares = [
            ("corporateShare", self.corporate_share),
            (
                "renewalProbabilityIndividual",
                self.renewal_probability_individual,
            ),
            (
                "renewalProbabilityCorporate",
                self.renewal_probability_corporate,
            ),
            ("cancellationShare", self.cancellation_share),
            ("failedPaymentShare", self.failed_payment_share),
            ("partialRefundShare", self.partial_refund_share),
        ];
        for (field, p) in shares {
            if !(0.0..=1.0).contains(&p) {
                return Err(AppError::bad_input(field, "must be between 0 and 1"));
            }
        }
        if self.years == 0 || self.years > 50 {
            return Err(AppError::bad_input("years", "must be 1 to 50"));
        }
        if !(self.extra_booking_rate >= 0.0 && self.extra_booking_rate.is_finite()) {
            return Err(AppError::bad_input("extraBookingRate", "must be 0 or more"));
        }
        for (field, v) in [
            ("extraRateShape", self.extra_rate_shape),
            ("dropoutA", self.dropout_a),
            ("dropoutB", self.dropout_b),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(AppError::bad_input(field, "must be more than 0"));
            }
        }
        Ok(())
    }
}

/// Certificates whose renewal window had closed by `until`, and how many were renewed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenewalTally {
    /// Certificates expiring at least `renewal_window_after_days` + 1 days before `until`.
    pub eligible: u64,
    /// Of those, the ones whose holder booked the same course type within the window.
    pub renewed: u64,
}

impl RenewalTally {
    /// `renewed / eligible` (0 with none eligible).
    pub fn share(&self) -> f64 {
        if self.eligible == 0 {
            0.0
        } else {
            self.renewed as f64 / self.eligible as f64
        }
    }
}

/// The parameters the history was drawn from, and what was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Truth {
    /// The seed.
    pub seed: u64,
    /// The first day of the history.
    pub start: NaiveDate,
    /// The last day of the history.
    pub until: NaiveDate,
    /// The configured renewal probability of individuals.
    pub renewal_probability_individual: f64,
    /// The configured renewal probability of companies.
    pub renewal_probability_corporate: f64,
    /// Days before expiry at which the renewal window opens.
    pub renewal_window_before_days: u32,
    /// Days after expiry at which it closes.
    pub renewal_window_after_days: u32,
    /// BG/NBD `r`: the shape of λ's Gamma distribution (non-renewal bookings).
    pub bgnbd_r: f64,
    /// BG/NBD `α`: the rate of λ's Gamma distribution, with λ per week (mean λ = r/α).
    pub bgnbd_alpha_weeks: f64,
    /// BG/NBD `a` of the dropout probability's Beta distribution.
    pub bgnbd_a: f64,
    /// BG/NBD `b` of the dropout probability's Beta distribution.
    pub bgnbd_b: f64,
    /// Customers created.
    pub customers: u64,
    /// Of them, companies.
    pub corporate_customers: u64,
    /// Courses created (0 when the catalogue had all three course types).
    pub courses_created: u64,
    /// Venues created (0 when there were active venues).
    pub venues_created: u64,
    /// Sessions created.
    pub sessions: u64,
    /// Bookings written, cancelled ones included.
    pub bookings: u64,
    /// Of them, cancelled.
    pub cancelled_bookings: u64,
    /// Live bookings that were a customer's first.
    pub first_bookings: u64,
    /// Live bookings that renewed a certificate.
    pub renewal_bookings: u64,
    /// Live bookings of the non-renewal (BG/NBD) process.
    pub other_bookings: u64,
    /// Non-renewal bookings the process drew but the simulator left out, because the
    /// customer held every course type with a renewal window still open.
    pub other_bookings_skipped: u64,
    /// Live bookings on sessions after `until` (confirmed or pending, no certificates yet).
    pub upcoming_bookings: u64,
    /// Attendee rows (of every booking).
    pub attendees: u64,
    /// Payment rows, failed ones included.
    pub payments: u64,
    /// Of them, failed.
    pub failed_payments: u64,
    /// Live bookings with nothing paid by `until` (unpaid invoices and cash to come).
    pub unpaid_bookings: u64,
    /// Completed refunds (of cancelled bookings, and partial ones).
    pub refunds: u64,
    /// Succeeded payments, in pence.
    pub paid_pence: i64,
    /// Completed refunds, in pence.
    pub refunded_pence: i64,
    /// Certificates issued.
    pub certificates: u64,
    /// Of them, expired by `until` (status `expired`).
    pub expired_certificates: u64,
    /// Renewals of individuals' certificates whose window had closed by `until`.
    pub renewals_individual: RenewalTally,
    /// Renewals of companies' certificates whose window had closed by `until`.
    pub renewals_corporate: RenewalTally,
}

/// Simulates the history of `config` and writes it into `db`, which must not already
/// hold one from the same seed (emails, ids and references would clash). Uses the
/// catalogue's active EFAW, FAW and Paediatric courses and its active venues, creating
/// those missing. One write transaction per 1,000 customers, each with their counters
/// recomputed; then every new user is keyed for duplicate detection; then one audit row
/// (`history.generate`). Returns the parameters and counts.
#[tracing::instrument(skip_all, fields(customers = config.customers, seed = config.seed))]
pub async fn generate(db: &DatabaseConnection, config: &HistoryConfig) -> AppResult<Truth> {
    config.validate()?;
    let (catalogue, courses_created, venues_created) = prepare_catalogue(db, config).await?;
    let mut sim = Simulator::new(config, catalogue);
    sim.truth.courses_created = courses_created;
    sim.truth.venues_created = venues_created;
    let mut next = 0;
    while next < config.customers {
        let end = (next + CUSTOMERS_PER_TRANSACTION).min(config.customers);
        for i in next..end {
            sim.customer(i);
        }
        write(db, sim.take_batch()).await?;
        next = end;
    }
    duplicates::backfill_missing(db).await?;
    let truth = sim.truth;
    let txn = begin_write(db).await?;
    audit::record(
        &txn,
        &Actor::system(),
        "history.generate",
        "database",
        None,
        Some(json!({
            "seed": truth.seed, "start": truth.start, "until": truth.until,
            "customers": truth.customers, "bookings": truth.bookings,
            "certificates": truth.certificates, "sessions": truth.sessions,
        })),
    )
    .await?;
    txn.commit().await?;
    Ok(truth)
}

/// Runs the simulation of `config` without writing anything, as [`generate`] would on a
/// database without courses or venues; returns what it would write. Cheap: for tuning a
/// configuration.
pub fn simulate(config: &HistoryConfig) -> AppResult<Truth> {
    config.validate()?;
    let mut ids = StdRng::seed_from_u64(config.seed ^ CATALOGUE_SEED);
    let now = start_of(config.start());
    let courses = default_courses()
        .into_iter()
        .map(|c| CourseInfo::of(&course_model(&c, id_at(&mut ids, now), now)))
        .collect();
    let venues = DEFAULT_VENUES
        .iter()
        .map(|_| id_at(&mut ids, now))
        .collect();
    let mut sim = Simulator::new(config, Catalogue { courses, venues });
    sim.truth.courses_created = 3;
    sim.truth.venues_created = DEFAULT_VENUES.len() as u64;
    for i in 0..config.customers {
        sim.customer(i);
        if i % CUSTOMERS_PER_TRANSACTION == CUSTOMERS_PER_TRANSACTION - 1 {
            sim.take_batch();
        }
    }
    Ok(sim.truth)
}

// ---------------------------------------------------------------------------------------
// The catalogue.

/// Mixed into the seed for the catalogue's ids, so they do not shift the simulation.
const CATALOGUE_SEED: u64 = 0x6361_7461_6c6f_6775;

/// What the simulator needs of a course.
#[derive(Debug, Clone)]
struct CourseInfo {
    id: Uuid,
    course_type: CourseType,
    price_pence: i64,
    validity_years: i32,
    capacity: i32,
    hours: i32,
}

impl CourseInfo {
    fn of(c: &course::Model) -> Self {
        Self {
            id: c.id,
            course_type: c.course_type,
            price_pence: c.price_pence.max(0),
            validity_years: c.certification_validity_years.max(1),
            capacity: c.max_capacity.max(1),
            hours: c.duration_hours.max(1),
        }
    }
}

/// The courses (EFAW, FAW, Paediatric, in that order) and venues bookings go to.
struct Catalogue {
    courses: Vec<CourseInfo>,
    venues: Vec<Uuid>,
}

/// A course the simulator creates when the catalogue has none of its type.
struct NewCourse {
    name: &'static str,
    course_type: CourseType,
    hours: i32,
    price_pence: i64,
}

/// The demo catalogue's courses (`services::demo`).
fn default_courses() -> Vec<NewCourse> {
    vec![
        NewCourse {
            name: "Emergency First Aid at Work",
            course_type: CourseType::Efaw,
            hours: 6,
            price_pence: 7500,
        },
        NewCourse {
            name: "First Aid at Work",
            course_type: CourseType::Faw,
            hours: 18,
            price_pence: 9500,
        },
        NewCourse {
            name: "Paediatric First Aid",
            course_type: CourseType::Paediatric,
            hours: 12,
            price_pence: 8500,
        },
    ]
}

fn course_model(c: &NewCourse, id: Uuid, now: DateTime<Utc>) -> course::Model {
    course::Model {
        id,
        name: c.name.into(),
        description: None,
        course_type: c.course_type,
        duration_hours: c.hours,
        price_pence: c.price_pence,
        max_capacity: 12,
        certification_validity_years: 3,
        is_active: true,
        created_by_id: None,
        updated_by_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// The demo catalogue's venues: name, city, postcode.
const DEFAULT_VENUES: &[(&str, &str, &str)] = &[
    ("Leeds City Centre Training Venue", "Leeds", "LS1 5HD"),
    ("Sheffield Business Park", "Sheffield", "S9 1XU"),
    ("Bradford Community Centre", "Bradford", "BD1 4PB"),
    ("York Conference Centre", "York", "YO24 1AJ"),
    ("Harrogate Training Rooms", "Harrogate", "HG1 1BX"),
];

/// The active courses of each type and the active venues, creating what is missing.
async fn prepare_catalogue(
    db: &DatabaseConnection,
    config: &HistoryConfig,
) -> AppResult<(Catalogue, u64, u64)> {
    let mut ids = StdRng::seed_from_u64(config.seed ^ CATALOGUE_SEED);
    let now = start_of(config.start());
    let txn = begin_write(db).await?;
    let existing = course::Entity::find()
        .filter(course::Column::IsActive.eq(true))
        .order_by_asc(course::Column::CreatedAt)
        .order_by_asc(course::Column::Id)
        .all(&txn)
        .await?;
    let (mut courses, mut courses_created) = (Vec::new(), 0);
    for wanted in default_courses() {
        let id = id_at(&mut ids, now);
        match existing
            .iter()
            .find(|c| c.course_type == wanted.course_type)
        {
            Some(c) => courses.push(CourseInfo::of(c)),
            None => {
                let m = course_model(&wanted, id, now)
                    .into_active_model()
                    .reset_all()
                    .insert(&txn)
                    .await?;
                courses.push(CourseInfo::of(&m));
                courses_created += 1;
            }
        }
    }
    let mut venues: Vec<Uuid> = venue::Entity::find()
        .filter(venue::Column::IsActive.eq(true))
        .order_by_asc(venue::Column::Name)
        .all(&txn)
        .await?
        .into_iter()
        .map(|v| v.id)
        .collect();
    let mut venues_created = 0;
    if venues.is_empty() {
        for (name, city, postcode) in DEFAULT_VENUES {
            let v = venue::Model {
                id: id_at(&mut ids, now),
                name: (*name).into(),
                address_line_1: None,
                address_line_2: None,
                city: Some((*city).into()),
                postcode: Some((*postcode).into()),
                capacity: Some(16),
                facilities: None,
                parking_info: None,
                is_active: true,
                created_at: now,
                updated_at: now,
            };
            venues.push(v.into_active_model().reset_all().insert(&txn).await?.id);
            venues_created += 1;
        }
    }
    txn.commit().await?;
    Ok((
        Catalogue { courses, venues },
        courses_created,
        venues_created,
    ))
}

// ---------------------------------------------------------------------------------------
// Random draws (rand 0.8 has uniform ones only).

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A Gamma(shape, scale) draw (Marsaglia and Tsang; boosted for shape < 1).
fn gamma(rng: &mut StdRng, shape: f64, scale: f64) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.r#gen::<f64>();
        return gamma(rng, shape + 1.0, scale) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.r#gen::<f64>();
        if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v * scale;
        }
    }
}

/// A Beta(a, b) draw.
fn beta(rng: &mut StdRng, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a, 1.0);
    let y = gamma(rng, b, 1.0);
    if x + y > 0.0 { x / (x + y) } else { 0.5 }
}

/// An exponential draw with this rate (infinite for a rate of 0).
fn exponential(rng: &mut StdRng, rate: f64) -> f64 {
    -(1.0 - rng.r#gen::<f64>()).ln() / rate
}

/// An index drawn with these weights.
fn weighted(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.gen_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// A UUIDv7 for a row made at `at`, its random bits from `rng`.
fn id_at(rng: &mut StdRng, at: DateTime<Utc>) -> Uuid {
    let mut bytes = [0u8; 10];
    rng.fill_bytes(&mut bytes);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

/// `n` characters of the references' alphabet (`services::references`).
fn code(rng: &mut StdRng, n: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..n)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Midnight (UTC) at the start of `day`.
fn start_of(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

// ---------------------------------------------------------------------------------------
// Names.

const FIRST: &[&str] = &[
    "Olivia", "Jack", "Amelia", "Harry", "Isla", "Oliver", "Zoe", "George", "Sian", "Noah",
    "Emily", "Charlie", "Grace", "Thomas", "Sophie", "James", "Ava", "William", "Ruby", "Dafydd",
    "Aisha", "Mohammed", "Priya", "Connor", "Niamh", "Freya", "Arthur", "Evie", "Leo", "Hannah",
];
const LAST: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "O'Brien",
    "Evans", "Thomas", "Roberts", "Walker", "Wright", "Robinson", "Thompson", "Hughes", "Khan",
    "Patel", "Clarke", "Hall", "Green", "Wood", "Harris", "Lewis", "Martin", "Jackson", "Turner",
];
/// Syllables of less common surnames and of company names (40 × 25).
const TAIL_START: &[&str] = &[
    "Ash", "Black", "Brad", "Brook", "Craw", "Dun", "Elling", "Fair", "Gar", "Hather", "Ing",
    "Kirk", "Lang", "Mid", "Nor", "Old", "Pen", "Rad", "Sel", "Thorn", "Under", "Wel", "Whit",
    "Yar", "Bir", "Cal", "Dal", "Eas", "Fen", "Gil", "Hol", "Ken", "Lind", "Mar", "New", "Ox",
    "Rom", "Stan", "Tad", "War",
];
const TAIL_END: &[&str] = &[
    "ford", "ley", "ton", "wood", "field", "worth", "by", "ham", "well", "dale", "stone", "bury",
    "croft", "gate", "hurst", "land", "more", "shaw", "thwaite", "wick", "cliffe", "brook",
    "holme", "ridge", "sall",
];
const SECTORS: &[&str] = &[
    "Care Homes",
    "Nurseries",
    "Builders",
    "Engineering",
    "Logistics",
    "Dental Practice",
    "Leisure Centre",
    "Primary School",
    "Hotels",
    "Manufacturing",
];
const ROLES: &[&str] = &[
    "Office Manager",
    "HR Manager",
    "Health and Safety Lead",
    "Operations Director",
];
const CITIES: &[(&str, &str)] = &[
    ("Leeds", "LS"),
    ("Sheffield", "S"),
    ("Bradford", "BD"),
    ("York", "YO"),
    ("Harrogate", "HG"),
    ("Huddersfield", "HD"),
    ("Wakefield", "WF"),
];
/// Individuals' mail domains (not `example.com`, which the demo data and the other
/// benchmark scenarios use).
const MAILBOXES: &[&str] = &[
    "example.org",
    "example.net",
    "mail.example.org",
    "post.example.net",
];

/// A person on a booking.
#[derive(Debug, Clone)]
struct Person {
    first: &'static str,
    last: String,
    /// The booking customer themself (else a colleague, with no account).
    is_customer: bool,
}

// ---------------------------------------------------------------------------------------
// The simulation.

/// A session, as the simulator tracks it.
struct SimSession {
    id: Uuid,
    date: NaiveDate,
    capacity: i32,
    places: i32,
}

/// Rows simulated and not yet written, in foreign-key order.
#[derive(Default)]
struct Batch {
    sessions: Vec<course_session::ActiveModel>,
    users: Vec<user::ActiveModel>,
    bookings: Vec<booking::ActiveModel>,
    attendees: Vec<booking_attendee::ActiveModel>,
    payments: Vec<payment::ActiveModel>,
    refunds: Vec<refund::ActiveModel>,
    certificates: Vec<certificate::ActiveModel>,
    /// Places taken by the batch's live bookings, by session.
    places: BTreeMap<Uuid, i64>,
    /// The batch's customers.
    customer_ids: Vec<Uuid>,
}

/// What a customer is about to book next.
enum Kind {
    First,
    Other,
    Renewal {
        course: usize,
        previous_expiry: NaiveDate,
        party: Vec<Person>,
    },
}

struct Intent {
    at: DateTime<Utc>,
    kind: Kind,
}

/// The customer being simulated.
struct Customer {
    id: Uuid,
    corporate: bool,
    first: &'static str,
    last: String,
    email: String,
    home_venue: usize,
    /// Latest event so far (the user's last activity).
    last_event: DateTime<Utc>,
    /// Per course: the end of the renewal window of the latest certificate, or
    /// `NaiveDate::MAX` while a booking is still to take place.
    busy_until: Vec<Option<NaiveDate>>,
}

struct Simulator<'a> {
    config: &'a HistoryConfig,
    /// Every behavioural draw.
    rng: StdRng,
    /// Ids, references and certificate numbers.
    ids: StdRng,
    catalogue: Catalogue,
    start_at: DateTime<Utc>,
    /// Midnight after `until`: every event is before it.
    end_at: DateTime<Utc>,
    sessions: Vec<SimSession>,
    /// Sessions by course, venue and day.
    slots: HashMap<(usize, usize, NaiveDate), Vec<usize>>,
    companies: usize,
    batch: Batch,
    truth: Truth,
}

impl<'a> Simulator<'a> {
    fn new(config: &'a HistoryConfig, catalogue: Catalogue) -> Self {
        let start = config.start();
        let mean_per_week = config.extra_booking_rate / (365.25 / 7.0);
        let truth = Truth {
            seed: config.seed,
            start,
            until: config.until,
            renewal_probability_individual: config.renewal_probability_individual,
            renewal_probability_corporate: config.renewal_probability_corporate,
            renewal_window_before_days: config.renewal_window_before_days,
            renewal_window_after_days: config.renewal_window_after_days,
            bgnbd_r: config.extra_rate_shape,
            bgnbd_alpha_weeks: if mean_per_week > 0.0 {
                config.extra_rate_shape / mean_per_week
            } else {
                f64::INFINITY
            },
            bgnbd_a: config.dropout_a,
            bgnbd_b: config.dropout_b,
            ..Truth::default()
        };
        let expected_companies = config.customers as f64 * config.corporate_share / 4.0;
        Self {
            config,
            rng: StdRng::seed_from_u64(config.seed),
            ids: StdRng::seed_from_u64(config.seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15),
            catalogue,
            start_at: start_of(start),
            end_at: start_of(config.until) + Duration::days(1),
            sessions: Vec::new(),
            slots: HashMap::new(),
            companies: (expected_companies as usize).clamp(1, 10_000),
            batch: Batch::default(),
            truth,
        }
    }

    fn take_batch(&mut self) -> Batch {
        std::mem::take(&mut self.batch)
    }

    /// A random instant in `[from, to)`.
    fn between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let secs = (to - from).num_seconds();
        if secs <= 0 {
            return from;
        }
        from + Duration::seconds(self.rng.gen_range(0..secs))
    }

    /// A random time during office hours (08:00 to 20:00 UTC) on `day`.
    fn during(&mut self, day: NaiveDate) -> DateTime<Utc> {
        start_of(day) + Duration::seconds(self.rng.gen_range(8 * 3600..20 * 3600))
    }

    /// Simulates customer `i` and adds their rows to the batch.
    fn customer(&mut self, i: usize) {
        let corporate = self.rng.gen_bool(self.config.corporate_share);
        let acquired = self.between(self.start_at, self.end_at);
        let first = FIRST[self.rng.gen_range(0..FIRST.len())];
        let last = self.surname();
        let (city, area) = CITIES[self.rng.gen_range(0..CITIES.len())];
        let company = corporate.then(|| {
            let k = self.rng.gen_range(0..self.companies);
            format!(
                "{}{} {} Ltd",
                TAIL_START[k % TAIL_START.len()],
                TAIL_END[(k / TAIL_START.len()) % TAIL_END.len()],
                SECTORS[(k / (TAIL_START.len() * TAIL_END.len())) % SECTORS.len()],
            )
        });
        let domain = match &company {
            Some(c) => format!(
                "{}.example.co.uk",
                c.to_lowercase()
                    .replace(" ltd", "")
                    .replace(|ch: char| !ch.is_ascii_alphanumeric(), "")
            ),
            None => MAILBOXES[self.rng.gen_range(0..MAILBOXES.len())].to_string(),
        };
        let email = format!(
            "{}.{}{i}@{domain}",
            first.to_lowercase(),
            last.to_lowercase().replace('\'', "")
        );
        let mut c = Customer {
            id: id_at(&mut self.ids, acquired),
            corporate,
            first,
            last,
            email,
            home_venue: self.rng.gen_range(0..self.catalogue.venues.len()),
            last_event: acquired,
            busy_until: vec![None; self.catalogue.courses.len()],
        };
        let mut intents = vec![Intent {
            at: acquired,
            kind: Kind::First,
        }];
        self.other_bookings(acquired, &mut intents);
        let mut first_event = acquired;
        while let Some(next) = (0..intents.len()).min_by_key(|&k| (intents[k].at, k)) {
            let intent = intents.remove(next);
            let cancelled_first = self.config.cancellation_share > 0.0
                && self.rng.gen_bool(self.config.cancellation_share);
            let earlier = cancelled_first
                .then(|| {
                    intent.at
                        - Duration::days(self.rng.gen_range(1..=21))
                        - Duration::seconds(self.rng.gen_range(0..86_400))
                })
                .filter(|at| *at >= self.start_at);
            let check = earlier.unwrap_or(intent.at).date_naive();
            let (course, party, previous_expiry, kind) = match intent.kind {
                Kind::First => {
                    let course = self.course_for(corporate, &|_| true);
                    (course, self.party(&c), None, BookingKind::First)
                }
                Kind::Other => {
                    let busy = c.busy_until.clone();
                    let free = move |k: usize| busy[k].is_none_or(|end| end < check);
                    if !(0..self.catalogue.courses.len()).any(&free) {
                        self.truth.other_bookings_skipped += 1;
                        continue;
                    }
                    let course = self.course_for(corporate, &free);
                    (course, self.party(&c), None, BookingKind::Other)
                }
                Kind::Renewal {
                    course,
                    previous_expiry,
                    party,
                } => (course, party, Some(previous_expiry), BookingKind::Renewal),
            };
            if let Some(at) = earlier {
                first_event = first_event.min(at);
                self.cancelled_booking(&mut c, course, &party, at, intent.at);
            }
            if let Some(renewal) =
                self.live_booking(&mut c, course, &party, intent.at, previous_expiry, kind)
            {
                intents.push(renewal);
            }
        }
        self.user_row(&c, company, city, area, i, first_event);
    }

    /// A surname: one of the common ones, or (70%) from the long tail.
    fn surname(&mut self) -> String {
        if self.rng.gen_bool(0.3) {
            LAST[self.rng.gen_range(0..LAST.len())].to_string()
        } else {
            format!(
                "{}{}",
                TAIL_START[self.rng.gen_range(0..TAIL_START.len())],
                TAIL_END[self.rng.gen_range(0..TAIL_END.len())]
            )
        }
    }

    /// The non-renewal bookings of a customer acquired at `from`: BG/NBD, with λ per week
    /// ~ Gamma(r, α) and, after each booking, a dropout with p ~ Beta(a, b).
    fn other_bookings(&mut self, from: DateTime<Utc>, intents: &mut Vec<Intent>) {
        if self.config.extra_booking_rate <= 0.0 {
            return;
        }
        let lambda = gamma(
            &mut self.rng,
            self.truth.bgnbd_r,
            1.0 / self.truth.bgnbd_alpha_weeks,
        );
        let p = beta(&mut self.rng, self.truth.bgnbd_a, self.truth.bgnbd_b);
        let mut at = from;
        loop {
            let weeks = exponential(&mut self.rng, lambda);
            let left = (self.end_at - at).num_seconds() as f64;
            if weeks.is_nan() || weeks * 604_800.0 >= left {
                break;
            }
            at += Duration::seconds((weeks * 604_800.0) as i64);
            intents.push(Intent {
                at,
                kind: Kind::Other,
            });
            if self.rng.gen_bool(p) {
                break;
            }
        }
    }

    /// A course for a customer type, among those `allowed`.
    fn course_for(&mut self, corporate: bool, allowed: &dyn Fn(usize) -> bool) -> usize {
        let popularity: &[u32] = if corporate {
            &[50, 40, 10]
        } else {
            &[45, 20, 35]
        };
        let weights: Vec<u32> = (0..self.catalogue.courses.len())
            .map(|k| {
                if allowed(k) {
                    popularity.get(k).copied().unwrap_or(10)
                } else {
                    0
                }
            })
            .collect();
        weighted(&mut self.rng, &weights)
    }

    /// Who attends a new booking: the customer alone, or for a company 1 to 6 people,
    /// the booker among them half the time.
    fn party(&mut self, c: &Customer) -> Vec<Person> {
        if !c.corporate {
            return vec![Person {
                first: c.first,
                last: c.last.clone(),
                is_customer: true,
            }];
        }
        let n = 1 + weighted(&mut self.rng, &[30, 25, 20, 12, 8, 5]);
        let booker_attends = self.rng.gen_bool(0.5);
        (0..n)
            .map(|k| {
                if k == 0 && booker_attends {
                    Person {
                        first: c.first,
                        last: c.last.clone(),
                        is_customer: true,
                    }
                } else {
                    Person {
                        first: FIRST[self.rng.gen_range(0..FIRST.len())],
                        last: self.surname(),
                        is_customer: false,
                    }
                }
            })
            .collect()
    }

    /// The venue of a booking: the customer's usual one, 85% of the time.
    fn venue_for(&mut self, c: &Customer) -> usize {
        if self.rng.gen_bool(0.85) {
            c.home_venue
        } else {
            self.rng.gen_range(0..self.catalogue.venues.len())
        }
    }

    /// The first day on or after `day` when `course` runs at `venue` (each pair runs on
    /// one weekday, Monday to Friday).
    fn session_day(&self, course: usize, venue: usize, day: NaiveDate) -> NaiveDate {
        let weekday = ((course * 2 + venue) % 5) as i64;
        let today = i64::from(day.weekday().num_days_from_monday());
        day + Duration::days((weekday - today).rem_euclid(7))
    }

    /// A session of `course` at `venue` on the first day it runs from `day`, with room for
    /// `places` (a new one when those are full); `places` 0 takes none.
    fn session(&mut self, course: usize, venue: usize, day: NaiveDate, places: i32) -> usize {
        let day = self.session_day(course, venue, day);
        let capacity = self.catalogue.courses[course].capacity;
        let found = self.slots.get(&(course, venue, day)).and_then(|list| {
            list.iter()
                .copied()
                .find(|&k| self.sessions[k].places + places <= self.sessions[k].capacity)
        });
        let k = match found {
            Some(k) => k,
            None => self.new_session(course, venue, day, capacity.max(places)),
        };
        self.sessions[k].places += places;
        if places > 0 {
            *self.batch.places.entry(self.sessions[k].id).or_default() += i64::from(places);
        }
        k
    }

    fn new_session(&mut self, course: usize, venue: usize, day: NaiveDate, capacity: i32) -> usize {
        let info = &self.catalogue.courses[course];
        let starts_at = start_of(day) + Duration::hours(9);
        let created_at = starts_at - Duration::days(180);
        let id = id_at(&mut self.ids, created_at);
        let past = day <= self.config.until;
        let row = course_session::Model {
            id,
            course_id: info.id,
            venue_id: self.catalogue.venues[venue],
            instructor_id: None,
            starts_at,
            ends_at: starts_at + Duration::hours(i64::from(info.hours.min(8))),
            capacity,
            booked_places: 0,
            status: if past {
                SessionStatus::Completed
            } else {
                SessionStatus::Scheduled
            },
            cancelled_at: None,
            cancellation_reason: None,
            created_by_id: None,
            updated_by_id: None,
            created_at,
            updated_at: created_at,
        };
        self.batch
            .sessions
            .push(row.into_active_model().reset_all());
        self.truth.sessions += 1;
        let k = self.sessions.len();
        self.sessions.push(SimSession {
            id,
            date: day,
            capacity,
            places: 0,
        });
        self.slots.entry((course, venue, day)).or_default().push(k);
        k
    }

    /// Days from booking to session.
    fn lead_days(&mut self, corporate: bool) -> i64 {
        if corporate {
            self.rng.gen_range(10..=60)
        } else {
            self.rng.gen_range(5..=40)
        }
    }

    /// A booking row with the common fields.
    fn booking_model(
        &mut self,
        c: &Customer,
        session: usize,
        course: usize,
        n: usize,
        at: DateTime<Utc>,
    ) -> booking::Model {
        let unit = self.catalogue.courses[course].price_pence;
        let n = i32::try_from(n).unwrap_or(1);
        let gross = unit * i64::from(n);
        let discount = if n >= 4 { gross / 10 } else { 0 };
        booking::Model {
            id: id_at(&mut self.ids, at),
            user_id: c.id,
            session_id: self.sessions[session].id,
            reference: format!(
                "RFT-{}-{}-{}",
                code(&mut self.ids, 5),
                code(&mut self.ids, 5),
                code(&mut self.ids, 3)
            ),
            status: BookingStatus::Pending,
            payment_status: PaymentStatus::Pending,
            unit_price_pence: unit,
            discount_pence: discount,
            total_amount_pence: gross - discount,
            amount_paid_pence: 0,
            amount_refunded_pence: 0,
            number_of_attendees: n,
            special_requirements: None,
            contact_details: None,
            legacy_id: None,
            legacy_reference: None,
            confirmation_sent: true,
            reminder_sent: false,
            certificate_issued: false,
            cancelled_at: None,
            cancellation_reason: None,
            created_by_id: None,
            updated_by_id: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn attendee_rows(
        &mut self,
        c: &Customer,
        booking_id: Uuid,
        party: &[Person],
        at: DateTime<Utc>,
    ) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(party.len());
        for p in party {
            let row = booking_attendee::Model {
                id: id_at(&mut self.ids, at),
                booking_id,
                user_id: p.is_customer.then_some(c.id),
                first_name: p.first.into(),
                last_name: p.last.clone(),
                email: p.is_customer.then(|| c.email.clone()),
                phone: None,
                special_requirements: None,
                created_at: at,
            };
            ids.push(row.id);
            self.batch
                .attendees
                .push(row.into_active_model().reset_all());
        }
        self.truth.attendees += party.len() as u64;
        ids
    }

    #[allow(clippy::too_many_arguments)]
    fn payment_row(
        &mut self,
        c: &Customer,
        booking_id: Uuid,
        amount: i64,
        method: PaymentMethod,
        status: PaymentRecordStatus,
        at: DateTime<Utc>,
    ) -> Uuid {
        let id = id_at(&mut self.ids, at);
        let row = payment::Model {
            id,
            booking_id,
            user_id: c.id,
            stripe_payment_intent_id: (method == PaymentMethod::Stripe)
                .then(|| format!("pi_hist_{}", id.simple())),
            amount_pence: amount,
            currency: "GBP".into(),
            status,
            method,
            recorded_by_id: None,
            paid_at: (status == PaymentRecordStatus::Succeeded).then_some(at),
            created_at: at,
            updated_at: at,
        };
        self.batch
            .payments
            .push(row.into_active_model().reset_all());
        self.truth.payments += 1;
        match status {
            PaymentRecordStatus::Succeeded => self.truth.paid_pence += amount,
            PaymentRecordStatus::Failed => self.truth.failed_payments += 1,
            _ => {}
        }
        id
    }

    #[allow(clippy::too_many_arguments)]
    fn refund_row(
        &mut self,
        c: &Customer,
        booking_id: Uuid,
        payment_id: Uuid,
        amount: i64,
        reason: &str,
        requested_at: DateTime<Utc>,
        completed_at: DateTime<Utc>,
    ) {
        let row = refund::Model {
            id: id_at(&mut self.ids, requested_at),
            booking_id,
            payment_id: Some(payment_id),
            user_id: c.id,
            reference: format!(
                "RFD-{}-{}-{}",
                code(&mut self.ids, 5),
                code(&mut self.ids, 5),
                code(&mut self.ids, 3)
            ),
            amount_pence: amount,
            processing_fee_pence: 0,
            status: RefundStatus::Completed,
            reason: reason.into(),
            stripe_refund_id: None,
            requested_by_id: None,
            processed_by_id: None,
            requested_at,
            approved_at: Some(requested_at),
            rejected_at: None,
            completed_at: Some(completed_at),
            created_at: requested_at,
            updated_at: completed_at,
        };
        self.batch.refunds.push(row.into_active_model().reset_all());
        self.truth.refunds += 1;
        self.truth.refunded_pence += amount;
    }

    /// A booking made at `at` and cancelled before `rebooked_at` (when the booking that
    /// stands was made); refunded in full when it was paid.
    fn cancelled_booking(
        &mut self,
        c: &mut Customer,
        course: usize,
        party: &[Person],
        at: DateTime<Utc>,
        rebooked_at: DateTime<Utc>,
    ) {
        let venue = self.venue_for(c);
        let lead = self.lead_days(c.corporate);
        let session = self.session(course, venue, at.date_naive() + Duration::days(lead), 0);
        let mut b = self.booking_model(c, session, course, party.len(), at);
        let cancelled_at = self.between(
            at + Duration::hours(1),
            rebooked_at.max(at + Duration::hours(2)),
        );
        let cancelled_at = cancelled_at.min(rebooked_at);
        let attendee_at = at;
        self.attendee_rows(c, b.id, party, attendee_at);
        let mut last = cancelled_at;
        if self.rng.gen_bool(0.6) {
            let paid_at = at + Duration::minutes(self.rng.gen_range(1..30)).min(cancelled_at - at);
            let pid = self.payment_row(
                c,
                b.id,
                b.total_amount_pence,
                PaymentMethod::Stripe,
                PaymentRecordStatus::Succeeded,
                paid_at,
            );
            let done = (cancelled_at + Duration::days(self.rng.gen_range(1..=5)))
                .min(self.end_at - Duration::seconds(1));
            self.refund_row(
                c,
                b.id,
                pid,
                b.total_amount_pence,
                "Cancelled by the customer",
                cancelled_at,
                done,
            );
            b.amount_paid_pence = b.total_amount_pence;
            b.amount_refunded_pence = b.total_amount_pence;
            b.payment_status = PaymentStatus::Refunded;
            last = done;
        }
        b.status = BookingStatus::Cancelled;
        b.cancelled_at = Some(cancelled_at);
        b.cancellation_reason = Some("Rebooked onto another date".into());
        b.updated_at = last;
        c.last_event = c.last_event.max(last);
        self.batch.bookings.push(b.into_active_model().reset_all());
        self.truth.bookings += 1;
        self.truth.cancelled_bookings += 1;
    }

    /// A booking that stands, made at `at`: its session, attendees, payments, any partial
    /// refund and, once the session has taken place, its certificates. Returns the
    /// renewal it leads to, if the customer will renew and the renewal is made by `until`.
    fn live_booking(
        &mut self,
        c: &mut Customer,
        course: usize,
        party: &[Person],
        at: DateTime<Utc>,
        previous_expiry: Option<NaiveDate>,
        kind: BookingKind,
    ) -> Option<Intent> {
        let venue = self.venue_for(c);
        let lead = self.lead_days(c.corporate);
        let n = i32::try_from(party.len()).unwrap_or(1);
        let session = self.session(course, venue, at.date_naive() + Duration::days(lead), n);
        let day = self.sessions[session].date;
        let starts_at = start_of(day) + Duration::hours(9);
        let ends_at =
            starts_at + Duration::hours(i64::from(self.catalogue.courses[course].hours.min(8)));
        let past = day <= self.config.until;
        let mut b = self.booking_model(c, session, course, party.len(), at);
        let attendees = self.attendee_rows(c, b.id, party, at);
        let total = b.total_amount_pence;
        self.truth.bookings += 1;
        match kind {
            BookingKind::First => self.truth.first_bookings += 1,
            BookingKind::Renewal => self.truth.renewal_bookings += 1,
            BookingKind::Other => self.truth.other_bookings += 1,
        }
        let mut last = at;

        // Payment: online at booking, cash on the day, or transfer and invoice later.
        let method = if c.corporate {
            [
                PaymentMethod::Invoice,
                PaymentMethod::BankTransfer,
                PaymentMethod::Stripe,
                PaymentMethod::Card,
            ][weighted(&mut self.rng, &[40, 35, 20, 5])]
        } else {
            [
                PaymentMethod::Stripe,
                PaymentMethod::Card,
                PaymentMethod::Cash,
                PaymentMethod::BankTransfer,
            ][weighted(&mut self.rng, &[70, 20, 5, 5])]
        };
        let mut paid_at = match method {
            PaymentMethod::Stripe | PaymentMethod::Card => {
                at + Duration::minutes(self.rng.gen_range(1..15))
            }
            PaymentMethod::Cash => starts_at + Duration::minutes(self.rng.gen_range(0..60)),
            _ => at + Duration::days(self.rng.gen_range(2..=45)),
        };
        if matches!(method, PaymentMethod::Stripe | PaymentMethod::Card)
            && self.config.failed_payment_share > 0.0
            && self.rng.gen_bool(self.config.failed_payment_share)
        {
            self.payment_row(c, b.id, total, method, PaymentRecordStatus::Failed, at);
            paid_at += Duration::minutes(self.rng.gen_range(5..60));
        }
        let paid = paid_at < self.end_at && total > 0;
        let mut payment_id = None;
        if paid {
            payment_id = Some(self.payment_row(
                c,
                b.id,
                total,
                method,
                PaymentRecordStatus::Succeeded,
                paid_at,
            ));
            b.amount_paid_pence = total;
            last = last.max(paid_at);
        } else {
            self.truth.unpaid_bookings += 1;
        }
        if let Some(pid) = payment_id.filter(|_| {
            past && self.config.partial_refund_share > 0.0
                && self.rng.gen_bool(self.config.partial_refund_share)
        }) {
            let requested = paid_at.max(ends_at) + Duration::days(self.rng.gen_range(1..=7));
            let done = requested + Duration::days(self.rng.gen_range(1..=5));
            if done < self.end_at {
                let amount = (total / 4).max(1);
                self.refund_row(
                    c,
                    b.id,
                    pid,
                    amount,
                    "Goodwill: part of the course missed",
                    requested,
                    done,
                );
                b.amount_refunded_pence = amount;
                last = last.max(done);
            }
        }
        b.payment_status = payment_status(total, b.amount_paid_pence, b.amount_refunded_pence);
        b.status = if past {
            BookingStatus::Completed
        } else if paid {
            BookingStatus::Confirmed
        } else {
            BookingStatus::Pending
        };
        b.reminder_sent = past;
        b.certificate_issued = past;
        b.updated_at = last;
        c.last_event = c.last_event.max(last);
        let booking_id = b.id;
        let session_id = b.session_id;
        self.batch.bookings.push(b.into_active_model().reset_all());
        if !past {
            self.truth.upcoming_bookings += 1;
            c.busy_until[course] = Some(NaiveDate::MAX);
            return None;
        }

        // Certificates: one per attendee; an early renewal runs on from the old expiry.
        let info = self.catalogue.courses[course].clone();
        let from = previous_expiry.filter(|e| *e > day).unwrap_or(day);
        let expires_on = add_years(from, info.validity_years);
        let status = if expires_on < self.config.until {
            CertificateStatus::Expired
        } else {
            CertificateStatus::Active
        };
        for (p, attendee_id) in party.iter().zip(attendees) {
            let row = certificate::Model {
                id: id_at(&mut self.ids, ends_at),
                booking_id,
                attendee_id: Some(attendee_id),
                user_id: c.id,
                course_id: info.id,
                session_id: Some(session_id),
                certificate_number: format!(
                    "RFT-{}-{}-{}",
                    course_code(info.course_type),
                    day.year(),
                    code(&mut self.ids, 10)
                ),
                holder_name: format!("{} {}", p.first, p.last),
                issued_on: day,
                expires_on,
                status,
                revoked_at: None,
                revocation_reason: None,
                issued_by_id: None,
                pdf_url: None,
                created_at: ends_at,
                updated_at: ends_at,
            };
            self.batch
                .certificates
                .push(row.into_active_model().reset_all());
        }
        self.truth.certificates += party.len() as u64;
        if status == CertificateStatus::Expired {
            self.truth.expired_certificates += party.len() as u64;
        }

        // The renewal, decided now, booked within the window around expiry.
        let before = i64::from(self.config.renewal_window_before_days);
        let after = i64::from(self.config.renewal_window_after_days);
        let window_end = expires_on + Duration::days(after);
        c.busy_until[course] = Some(window_end);
        let renews = self
            .rng
            .gen_bool(self.config.renewal_probability(c.corporate));
        let offset = self.rng.gen_range(-before..=after);
        let renew_at = self.during(expires_on + Duration::days(offset));
        if window_end < self.config.until {
            let tally = if c.corporate {
                &mut self.truth.renewals_corporate
            } else {
                &mut self.truth.renewals_individual
            };
            tally.eligible += party.len() as u64;
            if renews {
                tally.renewed += party.len() as u64;
            }
        }
        (renews && renew_at < self.end_at).then(|| Intent {
            at: renew_at,
            kind: Kind::Renewal {
                course,
                previous_expiry: expires_on,
                party: party.to_vec(),
            },
        })
    }

    /// The customer's `users` row, counters left at zero for `recompute`.
    fn user_row(
        &mut self,
        c: &Customer,
        company: Option<String>,
        city: &str,
        area: &str,
        i: usize,
        first_event: DateTime<Utc>,
    ) {
        let created = first_event - Duration::minutes(5);
        let mut m = users::blank(c.email.clone(), c.first.into(), c.last.clone(), created);
        m.id = c.id;
        m.customer_type = if c.corporate {
            CustomerType::Corporate
        } else {
            CustomerType::Individual
        };
        m.company_role = company
            .as_ref()
            .map(|_| ROLES[self.rng.gen_range(0..ROLES.len())].to_string());
        m.company_name = company;
        m.phone = Some(format!(
            "07{:03} {:06}",
            700 + (i / 1_000_000) % 300,
            i % 1_000_000
        ));
        m.city = Some(city.into());
        m.postcode = Some(format!(
            "{area}{} {}{}{}",
            self.rng.gen_range(1..30),
            self.rng.gen_range(1..10),
            (b'A' + self.rng.gen_range(0..26)) as char,
            (b'A' + self.rng.gen_range(0..26)) as char,
        ));
        m.customer_since = Some(first_event.date_naive());
        m.marketing_consent = self.rng.gen_bool(0.6);
        m.sms_consent = self.rng.gen_bool(0.2);
        m.newsletter_subscribed = self.rng.gen_bool(0.5);
        m.last_activity_at = c.last_event;
        m.updated_at = c.last_event;
        users::refresh_derived(&mut m);
        self.batch.users.push(m.into_active_model().reset_all());
        self.batch.customer_ids.push(c.id);
        self.truth.customers += 1;
        if c.corporate {
            self.truth.corporate_customers += 1;
        }
    }
}

/// What a live booking was, for the counts.
#[derive(Clone, Copy)]
enum BookingKind {
    First,
    Other,
    Renewal,
}

// ---------------------------------------------------------------------------------------
// Writing.

/// Inserts `rows` in multi-row statements of `per` rows.
async fn insert_all<A>(conn: &impl ConnectionTrait, rows: Vec<A>, per: usize) -> AppResult<()>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let part: Vec<A> = rows.by_ref().take(per).collect();
        <A::Entity as EntityTrait>::insert_many(part)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Writes a batch in one transaction: its rows, the places its bookings take, and its
/// customers' counters.
async fn write(db: &DatabaseConnection, batch: Batch) -> AppResult<()> {
    let txn = begin_write(db).await?;
    insert_all(&txn, batch.sessions, ROWS_PER_INSERT).await?;
    insert_all(&txn, batch.users, USERS_PER_INSERT).await?;
    insert_all(&txn, batch.bookings, ROWS_PER_INSERT).await?;
    insert_all(&txn, batch.attendees, ROWS_PER_INSERT).await?;
    insert_all(&txn, batch.payments, ROWS_PER_INSERT).await?;
    insert_all(&txn, batch.refunds, ROWS_PER_INSERT).await?;
    insert_all(&txn, batch.certificates, ROWS_PER_INSERT).await?;
    places::add_places(&txn, &batch.places).await?;
    customer_stats::recompute(&txn, &batch.customer_ids).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HistoryConfig {
        HistoryConfig {
            customers: 2_000,
            until: NaiveDate::from_ymd_opt(2025, 6, 30).unwrap(),
            ..HistoryConfig::default()
        }
    }

    #[test]
    fn gamma_and_beta_draws_have_their_means() {
        let mut rng = StdRng::seed_from_u64(1);
        let n = 40_000;
        for (shape, scale) in [(0.5, 2.0), (1.5, 1.0), (4.0, 0.25)] {
            let mean = (0..n).map(|_| gamma(&mut rng, shape, scale)).sum::<f64>() / n as f64;
            assert!(
                (mean - shape * scale).abs() < 0.05 * shape * scale,
                "{shape} {scale}: {mean}"
            );
        }
        let mean = (0..n).map(|_| beta(&mut rng, 2.0, 6.0)).sum::<f64>() / n as f64;
        assert!((mean - 0.25).abs() < 0.01, "{mean}");
    }

    #[test]
    fn the_simulation_is_deterministic_and_keeps_to_its_span() {
        let a = simulate(&config()).unwrap();
        assert_eq!(a, simulate(&config()).unwrap());
        let other = simulate(&HistoryConfig {
            seed: 17,
            ..config()
        })
        .unwrap();
        assert_ne!(a, other);
        assert_eq!(a.customers, 2_000);
        assert_eq!(
            a.bookings,
            a.cancelled_bookings + a.first_bookings + a.renewal_bookings + a.other_bookings
        );
        assert_eq!(a.first_bookings, 2_000);
        assert!(a.renewal_bookings > 300, "{a:#?}");
        assert!(a.other_bookings > 100, "{a:#?}");
    }

    #[test]
    fn simulated_renewals_follow_the_configured_probabilities() {
        let t = simulate(&HistoryConfig {
            customers: 20_000,
            ..config()
        })
        .unwrap();
        assert!(
            (t.renewals_individual.share() - 0.45).abs() < 0.02,
            "{t:#?}"
        );
        assert!((t.renewals_corporate.share() - 0.7).abs() < 0.03, "{t:#?}");
    }

    #[test]
    fn invalid_configurations_are_refused() {
        for bad in [
            HistoryConfig {
                corporate_share: 1.5,
                ..config()
            },
            HistoryConfig {
                years: 0,
                ..config()
            },
            HistoryConfig {
                dropout_a: 0.0,
                ..config()
            },
        ] {
            assert!(simulate(&bad).is_err());
        }
    }
}
