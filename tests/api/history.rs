//! The history generator (`services::history`): the rows it writes are consistent with
//! every rule the rest of the code keeps (counters, places, money, certificates, nothing
//! after `until`), the same seed writes the same rows, and the renewal share measured in
//! SQL over the rows is the configured probability per customer type.

use chrono::{Duration, NaiveDate, NaiveTime};
use rft_users::entities::enums::Role;
use rft_users::entities::{
    booking, booking_attendee, certificate, course, course_session, payment, refund, user, venue,
};
use rft_users::services::customer_stats;
use rft_users::services::history::{self, HistoryConfig, RenewalTally};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Statement,
};

use crate::helpers::TestApp;

fn until() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
}

fn config(customers: usize) -> HistoryConfig {
    HistoryConfig {
        customers,
        until: until(),
        ..HistoryConfig::default()
    }
}

/// A single number from a `SELECT ... AS n`.
async fn number(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
}

#[tokio::test]
async fn generated_history_is_consistent() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let cfg = config(1_500);
    let truth = history::generate(db, &cfg).await.unwrap();
    // The same as the dry run's: writing changes nothing the simulation decided.
    assert_eq!(truth, history::simulate(&cfg).unwrap());
    assert!(truth.renewal_bookings > 200, "{truth:#?}");
    assert!(truth.cancelled_bookings > 10, "{truth:#?}");
    assert!(
        truth.refunds > 10 && truth.failed_payments > 5,
        "{truth:#?}"
    );

    // Counters equal the facts (what `verify-stats` checks).
    let drift = customer_stats::diff(db).await.unwrap();
    assert!(
        drift.is_empty(),
        "{} customers drifted: {:?}",
        drift.len(),
        &drift[..1]
    );

    // The counts written are the counts reported.
    let customers = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Customer))
        .count(db)
        .await
        .unwrap();
    assert_eq!(customers, truth.customers);
    assert_eq!(
        booking::Entity::find().count(db).await.unwrap(),
        truth.bookings
    );
    assert_eq!(
        certificate::Entity::find().count(db).await.unwrap(),
        truth.certificates
    );
    assert_eq!(
        payment::Entity::find().count(db).await.unwrap(),
        truth.payments
    );
    assert_eq!(
        refund::Entity::find().count(db).await.unwrap(),
        truth.refunds
    );
    assert_eq!(
        booking_attendee::Entity::find().count(db).await.unwrap(),
        truth.attendees
    );
    assert_eq!(
        course_session::Entity::find().count(db).await.unwrap(),
        truth.sessions
    );
    let cancelled = number(
        db,
        "SELECT COUNT(*) AS n FROM bookings WHERE status = 'cancelled' AND cancelled_at IS NOT NULL",
    )
    .await;
    assert_eq!(cancelled as u64, truth.cancelled_bookings);
    let spent = number(
        db,
        "SELECT CAST(COALESCE(SUM(total_spent_pence), 0) AS BIGINT) AS n FROM users",
    )
    .await;
    assert_eq!(spent, truth.paid_pence - truth.refunded_pence);

    // Every certificate's holder has the booking it came from: live, of the same course,
    // on the certificate's session, for the attendee it names.
    let orphans = number(
        db,
        "SELECT COUNT(*) AS n FROM certificates c \
         LEFT JOIN bookings b ON b.id = c.booking_id \
         LEFT JOIN course_sessions s ON s.id = b.session_id \
         LEFT JOIN booking_attendees a ON a.id = c.attendee_id \
         WHERE b.id IS NULL OR b.user_id <> c.user_id OR b.status <> 'completed' \
           OR s.course_id <> c.course_id OR s.id <> c.session_id OR a.booking_id <> b.id \
           OR c.issued_on > c.expires_on",
    )
    .await;
    assert_eq!(orphans, 0, "certificates without their holder's booking");

    // Places: every session holds exactly its live bookings' attendees, within capacity;
    // every booking has its attendees, its payments and refunds add up to its amounts.
    let sessions_off = number(
        db,
        "SELECT COUNT(*) AS n FROM course_sessions s WHERE s.booked_places > s.capacity \
           OR s.booked_places <> (SELECT COALESCE(SUM(b.number_of_attendees), 0) FROM bookings b \
             WHERE b.session_id = s.id AND b.status <> 'cancelled')",
    )
    .await;
    assert_eq!(sessions_off, 0, "sessions whose places disagree");
    let bookings_off = number(
        db,
        "SELECT COUNT(*) AS n FROM bookings b WHERE \
           b.number_of_attendees <> (SELECT COUNT(*) FROM booking_attendees a WHERE a.booking_id = b.id) \
           OR b.amount_paid_pence <> (SELECT COALESCE(SUM(p.amount_pence), 0) FROM payments p \
             WHERE p.booking_id = b.id AND p.status = 'succeeded') \
           OR b.amount_refunded_pence <> (SELECT COALESCE(SUM(r.amount_pence), 0) FROM refunds r \
             WHERE r.booking_id = b.id AND r.status = 'completed') \
           OR EXISTS (SELECT 1 FROM payments p WHERE p.booking_id = b.id AND p.user_id <> b.user_id) \
           OR b.total_amount_pence <> b.unit_price_pence * b.number_of_attendees - b.discount_pence",
    )
    .await;
    assert_eq!(bookings_off, 0, "bookings whose rows disagree");

    // Nothing after `until`, nothing before the start; sessions after it are not done.
    let end = (until() + Duration::days(1))
        .and_time(NaiveTime::MIN)
        .and_utc();
    let start = cfg.start().and_time(NaiveTime::MIN).and_utc();
    assert_eq!(
        booking::Entity::find()
            .filter(
                Condition::any()
                    .add(booking::Column::CreatedAt.gte(end))
                    .add(booking::Column::CreatedAt.lt(start))
                    .add(booking::Column::CancelledAt.gte(end))
                    .add(booking::Column::UpdatedAt.gte(end))
            )
            .count(db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        payment::Entity::find()
            .filter(payment::Column::PaidAt.gte(end))
            .count(db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        refund::Entity::find()
            .filter(refund::Column::CompletedAt.gte(end))
            .count(db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        certificate::Entity::find()
            .filter(certificate::Column::IssuedOn.gt(until()))
            .count(db)
            .await
            .unwrap(),
        0
    );
    let late_done = number(
        db,
        "SELECT COUNT(*) AS n FROM bookings b JOIN course_sessions s ON s.id = b.session_id \
         WHERE b.status = 'completed' AND s.status <> 'completed'",
    )
    .await;
    assert_eq!(late_done, 0);
    assert_eq!(
        course_session::Entity::find()
            .filter(course_session::Column::StartsAt.gte(end))
            .filter(course_session::Column::Status.ne("scheduled"))
            .count(db)
            .await
            .unwrap(),
        0
    );

    // Every customer is keyed for duplicate detection.
    assert_eq!(app.count("user_match_keys").await, app.count("users").await);
}

/// Every row the generator writes, in id order, as text.
async fn dump(db: &DatabaseConnection) -> Vec<String> {
    macro_rules! rows {
        ($out:ident, $entity:path, $id:expr) => {
            for row in <$entity>::find().order_by_asc($id).all(db).await.unwrap() {
                $out.push(format!("{row:?}"));
            }
        };
    }
    let mut out = Vec::new();
    rows!(out, course::Entity, course::Column::Id);
    rows!(out, venue::Entity, venue::Column::Id);
    rows!(out, course_session::Entity, course_session::Column::Id);
    rows!(out, user::Entity, user::Column::Id);
    rows!(out, booking::Entity, booking::Column::Id);
    rows!(out, booking_attendee::Entity, booking_attendee::Column::Id);
    rows!(out, payment::Entity, payment::Column::Id);
    rows!(out, refund::Entity, refund::Column::Id);
    rows!(out, certificate::Entity, certificate::Column::Id);
    out
}

#[tokio::test]
async fn the_same_seed_writes_the_same_rows() {
    let cfg = config(300);
    let (a, b, c) = (
        TestApp::spawn().await,
        TestApp::spawn().await,
        TestApp::spawn().await,
    );
    let ta = history::generate(&a.db, &cfg).await.unwrap();
    let tb = history::generate(&b.db, &cfg).await.unwrap();
    let tc = history::generate(&c.db, &HistoryConfig { seed: 17, ..cfg })
        .await
        .unwrap();
    assert_eq!(ta, tb);
    let (da, db, dc) = (dump(&a.db).await, dump(&b.db).await, dump(&c.db).await);
    assert!(da.len() > 1_000, "{}", da.len());
    if let Some(k) = (0..da.len().max(db.len())).find(|&k| da.get(k) != db.get(k)) {
        panic!("row {k} differs:\n{:?}\n{:?}", da.get(k), db.get(k));
    }
    assert_ne!(ta, tc);
    assert_ne!(da, dc);
}

/// Per customer type, the certificates whose renewal window had closed by `until`, and
/// how many of them were renewed: their holder made a booking (not cancelled) of the same
/// course type within the window around expiry. Computed in SQL over the rows alone.
async fn renewals_in_sql(
    db: &DatabaseConnection,
    cfg: &HistoryConfig,
) -> (RenewalTally, RenewalTally) {
    let (before, after) = (
        cfg.renewal_window_before_days,
        cfg.renewal_window_after_days,
    );
    let backend = db.get_database_backend();
    let (opens, closes, closed) = match backend {
        DbBackend::Postgres => (
            format!("CAST(c.expires_on - {before} AS timestamp) AT TIME ZONE 'UTC'"),
            format!(
                "CAST(c.expires_on + {} AS timestamp) AT TIME ZONE 'UTC'",
                after + 1
            ),
            format!("c.expires_on + {after} < CAST($1 AS date)"),
        ),
        _ => (
            format!("date(c.expires_on, '-{before} days')"),
            format!("date(c.expires_on, '+{} days')", after + 1),
            format!("date(c.expires_on, '+{after} days') < $1"),
        ),
    };
    let sql = format!(
        "SELECT u.customer_type AS customer_type, COUNT(*) AS eligible, \
           SUM(CASE WHEN EXISTS (SELECT 1 FROM bookings b \
               JOIN course_sessions s ON s.id = b.session_id \
               JOIN courses bc ON bc.id = s.course_id \
             WHERE b.user_id = c.user_id AND bc.course_type = cc.course_type \
               AND b.status <> 'cancelled' \
               AND b.created_at >= {opens} AND b.created_at < {closes}) \
             THEN 1 ELSE 0 END) AS renewed \
         FROM certificates c \
         JOIN courses cc ON cc.id = c.course_id \
         JOIN users u ON u.id = c.user_id \
         WHERE c.status <> 'revoked' AND {closed} \
         GROUP BY u.customer_type"
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [cfg.until.into()],
        ))
        .await
        .unwrap();
    let (mut individual, mut corporate) = (RenewalTally::default(), RenewalTally::default());
    for row in rows {
        let kind: String = row.try_get("", "customer_type").unwrap();
        let eligible: i64 = row.try_get("", "eligible").unwrap();
        // SUM is a numeric on PostgreSQL.
        let renewed: i64 = row
            .try_get::<i64>("", "renewed")
            .or_else(|_| {
                row.try_get::<rust_decimal::Decimal>("", "renewed")
                    .map(|d| i64::try_from(d).unwrap())
            })
            .unwrap();
        let tally = RenewalTally {
            eligible: eligible as u64,
            renewed: renewed as u64,
        };
        match kind.as_str() {
            "corporate" => corporate = tally,
            _ => individual = tally,
        }
    }
    (individual, corporate)
}

#[tokio::test]
async fn the_renewal_share_in_the_rows_is_the_configured_probability() {
    let app = TestApp::spawn().await;
    let cfg = config(4_000);
    let truth = history::generate(&app.db, &cfg).await.unwrap();
    let (individual, corporate) = renewals_in_sql(&app.db, &cfg).await;
    // The rows say exactly what the simulation decided: no other booking passes for a
    // renewal, and no renewal is missing.
    assert_eq!(individual, truth.renewals_individual);
    assert_eq!(corporate, truth.renewals_corporate);
    assert!(individual.eligible > 1_500, "{individual:?}");
    assert!(corporate.eligible > 1_500, "{corporate:?}");
    // And that is the configured probability, within sampling error (corporate
    // certificates come in parties, so theirs is wider).
    assert!(
        (individual.share() - cfg.renewal_probability_individual).abs() < 0.04,
        "individuals renewed {:.3}, configured {}",
        individual.share(),
        cfg.renewal_probability_individual
    );
    assert!(
        (corporate.share() - cfg.renewal_probability_corporate).abs() < 0.04,
        "companies renewed {:.3}, configured {}",
        corporate.share(),
        cfg.renewal_probability_corporate
    );

    // The renewals the backtest will look for: many certificates expire in the 12 months
    // after a fit made a year before `until`.
    let from = cfg.until - Duration::days(365);
    let expiring = certificate::Entity::find()
        .filter(certificate::Column::ExpiresOn.gt(from))
        .filter(certificate::Column::ExpiresOn.lte(cfg.until))
        .count(&app.db)
        .await
        .unwrap();
    assert!(
        expiring > 500,
        "{expiring} certificates expire in the last year"
    );
}
