//! Emails through the outbox: written in the transaction of the change that causes them,
//! delivered by the mail worker to a real (in-process) SMTP server, retried and recorded
//! when refused, kept as NOT_SENT without SMTP, sent once when several workers share the
//! database, and renewal reminders sent once per certificate and window.

use std::time::Duration;

use chrono::Utc;
use rft_users::config::AppConfig;
use rft_users::entities::enums::{CertificateStatus, EmailStatus};
use rft_users::entities::{booking, certificate, email_log, user, user_activity_log};
use rft_users::mailer::Mailer;
use rft_users::services::email::Outbox;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, eventually, uuid_of};
use crate::smtp_sink::SmtpSink;

const PUBLIC_URL: &str = "https://portal.example.test";

/// Mail settings for tests: fast polls and retries (100 ms, doubling), a few attempts.
fn fast_mail(c: &mut AppConfig, sink: Option<&SmtpSink>) {
    c.email.public_url = PUBLIC_URL.into();
    c.email.smtp_url = sink.map(|s| rft_users::config::Secret::new(s.url()));
    c.email.poll_interval = Duration::from_millis(500);
    c.email.retry_base = Duration::from_millis(100);
    c.email.max_attempts = 3;
}

/// A server sending through `sink`.
async fn app_with(sink: &SmtpSink) -> TestApp {
    TestApp::spawn_with(|c| fast_mail(c, Some(sink))).await
}

/// An admin, a venue whose name needs escaping in HTML, and an EFAW session on it in a
/// week; returns the admin's token and the session.
async fn open_session(app: &TestApp) -> (String, Uuid) {
    let (_, admin) = app.admin().await;
    let course = app
        .create_course(&admin, "Emergency First Aid at Work", "EFAW", "95.00")
        .await;
    let venue = app.create_venue(&admin, "Smith & Sons <Hall>").await;
    let session = app
        .create_session(&admin, course, venue, None, 7, Some(20))
        .await;
    (admin, session)
}

/// Waits until the email `id` has `status`, and returns its row.
async fn email_reaches(app: &TestApp, id: Uuid, status: EmailStatus) -> email_log::Model {
    eventually(&format!("email {id} to be {status:?}"), || async {
        email_log::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .filter(|e| e.status == status)
    })
    .await
}

/// The only email of the outbox.
async fn only_email(app: &TestApp) -> email_log::Model {
    let emails = app.emails().await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    emails.into_iter().next().unwrap()
}

async fn activity(app: &TestApp, user_id: Uuid, kind: &str) -> Vec<user_activity_log::Model> {
    user_activity_log::Entity::find()
        .filter(user_activity_log::Column::UserId.eq(user_id))
        .filter(user_activity_log::Column::ActivityType.eq(kind))
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_booking_confirmation_is_queued_with_the_booking_and_delivered_over_smtp() {
    let sink = SmtpSink::start().await;
    let app = app_with(&sink).await;
    let (admin, session) = open_session(&app).await;

    let booking = app
        .book_ok(None, session, "casey.booker@example.com", 2)
        .await;
    let reference = booking["reference"].as_str().unwrap().to_string();
    let booking_id = uuid_of(&booking["id"]);

    let queued = only_email(&app).await;
    assert_eq!(queued.template_name, "booking_confirmation");
    assert_eq!(queued.recipient_email, "casey.booker@example.com");
    assert_eq!(queued.related_entity_id, Some(booking_id));
    let sent = email_reaches(&app, queued.id, EmailStatus::Sent).await;
    assert_eq!(sent.attempts, 1);
    assert!(sent.sent_at.is_some() && sent.error_message.is_none());

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.to, ["casey.booker@example.com"]);
    assert_eq!(message.from, "bookings@reactfasttraining.co.uk");
    let subject = message.header("Subject").unwrap();
    assert!(subject.contains(&reference), "{subject}");
    let text = message.text();
    for expected in [
        reference.as_str(),
        "Emergency First Aid at Work",
        "Smith & Sons <Hall>, Leeds, LS1 4AP",
        "£190.00",
        PUBLIC_URL,
        "casey.booker@example.com",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    let html = message.html();
    assert!(html.contains(&reference), "{html}");
    assert!(
        html.contains("Smith &amp; Sons &lt;Hall&gt;"),
        "escaped: {html}"
    );
    assert!(!html.contains("<Hall>"), "{html}");
    assert!(html.contains(&format!("href=\"{PUBLIC_URL}\"")), "{html}");

    // The send is recorded for the customer, and on the booking.
    let row = booking::Entity::find_by_id(booking_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.confirmation_sent);
    let sent_activity = activity(&app, row.user_id, "email_sent").await;
    assert_eq!(sent_activity.len(), 1);
    assert_eq!(sent_activity[0].related_entity_id, Some(queued.id));

    // Admins read it on the customer and in the outbox.
    let data = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { emails { id recipient template status attempts sentAt lastError } } emailOutbox(status: SENT) { edges { node { id subject user { id } } } } }",
            json!({ "id": row.user_id }),
            Some(&admin),
        )
        .await;
    let emails = data["user"]["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["id"], json!(queued.id));
    assert_eq!(emails[0]["template"], "booking_confirmation");
    assert_eq!(emails[0]["status"], "SENT");
    assert_eq!(emails[0]["attempts"], 1);
    assert!(emails[0]["lastError"].is_null());
    let outbox = data["emailOutbox"]["edges"].as_array().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["node"]["subject"], json!(subject));
    assert_eq!(outbox[0]["node"]["user"]["id"], json!(row.user_id));
}

#[tokio::test]
async fn a_refused_delivery_is_retried_with_backoff_until_it_is_accepted() {
    let sink = SmtpSink::start().await;
    sink.refuse_next(&["451 4.3.0 Mailbox busy, try again later"; 2]);
    let app = app_with(&sink).await;
    let (_, session) = open_session(&app).await;
    app.book_ok(None, session, "retry@example.com", 1).await;
    let queued = only_email(&app).await;

    let sent = email_reaches(&app, queued.id, EmailStatus::Sent).await;
    assert_eq!(sent.attempts, 3, "two refusals, then accepted");
    assert!(sent.error_message.is_none());
    assert_eq!(sink.attempts(), 3);
    assert_eq!(sink.received().len(), 1);
    // The retries waited: 100 ms, then 200 ms.
    let waited = sent.sent_at.unwrap() - sent.created_at;
    assert!(waited >= chrono::Duration::milliseconds(300), "{waited}");
}

#[tokio::test]
async fn a_delivery_refused_until_the_last_attempt_is_failed_with_its_error() {
    let sink = SmtpSink::start().await;
    sink.refuse_all("452 4.2.2 Mailbox full");
    let app = app_with(&sink).await;
    let (_, session) = open_session(&app).await;
    let booking = app.book_ok(None, session, "full@example.com", 1).await;
    let queued = only_email(&app).await;

    let failed = email_reaches(&app, queued.id, EmailStatus::Failed).await;
    assert_eq!(failed.attempts, 3, "max_attempts");
    assert!(
        failed
            .error_message
            .as_deref()
            .unwrap()
            .contains("Mailbox full"),
        "{failed:?}"
    );
    assert!(failed.sent_at.is_none());
    assert_eq!(sink.attempts(), 3);
    assert!(sink.received().is_empty());
    let row = booking::Entity::find_by_id(uuid_of(&booking["id"]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.confirmation_sent);
    assert!(activity(&app, row.user_id, "email_sent").await.is_empty());
}

#[tokio::test]
async fn a_permanent_refusal_fails_at_once() {
    let sink = SmtpSink::start().await;
    sink.refuse_next(&["550 5.1.1 No such user here"]);
    let app = app_with(&sink).await;
    let (admin, session) = open_session(&app).await;
    app.book_ok(None, session, "nobody@example.com", 1).await;
    let queued = only_email(&app).await;

    let failed = email_reaches(&app, queued.id, EmailStatus::Failed).await;
    assert_eq!(failed.attempts, 1);
    assert!(
        failed
            .error_message
            .as_deref()
            .unwrap()
            .contains("No such user"),
        "{failed:?}"
    );
    let data = app
        .gql_ok(
            "{ emailOutbox(status: FAILED) { edges { node { id attempts lastError } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let node = &data["emailOutbox"]["edges"][0]["node"];
    assert_eq!(node["id"], json!(queued.id));
    assert!(node["lastError"].as_str().unwrap().contains("No such user"));
}

#[tokio::test]
async fn without_smtp_emails_stay_in_the_outbox_as_not_sent() {
    let app = TestApp::spawn_with(|c| fast_mail(c, None)).await;
    let (admin, session) = open_session(&app).await;
    let booking = app.book_ok(None, session, "offline@example.com", 1).await;
    let queued = only_email(&app).await;

    let kept = email_reaches(&app, queued.id, EmailStatus::NotSent).await;
    assert_eq!(kept.attempts, 0);
    assert!(kept.sent_at.is_none() && kept.error_message.is_none());
    let row = booking::Entity::find_by_id(uuid_of(&booking["id"]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.confirmation_sent);
    assert!(activity(&app, row.user_id, "email_sent").await.is_empty());
    let data = app
        .gql_ok(
            "{ emailOutbox(status: NOT_SENT) { edges { node { id status bodyText } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let node = &data["emailOutbox"]["edges"][0]["node"];
    assert_eq!(node["status"], "NOT_SENT");
    assert!(
        node["bodyText"]
            .as_str()
            .unwrap()
            .contains(row.reference.as_str())
    );
}

#[tokio::test]
async fn a_booking_that_fails_queues_no_email() {
    let sink = SmtpSink::start().await;
    let app = app_with(&sink).await;
    let (admin, _) = open_session(&app).await;
    let course = app
        .create_course(&admin, "First Aid at Work", "FAW", "150.00")
        .await;
    let venue = app.create_venue(&admin, "York Hub").await;
    let last_place = app
        .create_session(&admin, course, venue, None, 7, Some(1))
        .await;

    // Bad input: nothing written at all.
    let body = app.book(None, last_place, "not-an-email", 1).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
    assert_eq!(app.count("email_logs").await, 0);

    // Eight people race for the last place: one booking, one email; every booking that
    // failed (whether before or after its email was queued) left none.
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let app = &app;
            async move {
                app.book(None, last_place, &format!("racer{i}@example.com"), 1)
                    .await
            }
        })
        .collect();
    let answers = futures::future::join_all(attempts).await;
    let won: Vec<_> = answers
        .iter()
        .filter(|b| b.get("errors").is_none())
        .collect();
    assert_eq!(won.len(), 1, "{answers:#?}");
    for lost in answers.iter().filter(|b| b.get("errors").is_some()) {
        assert!(
            matches!(error_code(lost), Some("CONFLICT" | "BAD_USER_INPUT")),
            "{lost:#}"
        );
    }
    let emails = app.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0].related_entity_id,
        Some(uuid_of(&won[0]["data"]["createBooking"]["id"]))
    );
    app.outbox_settled().await;
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn several_workers_on_one_database_send_each_email_once() {
    let sink = SmtpSink::start().await;
    let app = app_with(&sink).await;
    let (_, session) = open_session(&app).await;
    // Two more workers on the same database, as other instances would run.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for _ in 0..2 {
        let mut config = app.state.config.email.clone();
        config.batch = 2;
        let worker = Mailer::new(app.db.clone(), Outbox::new(PUBLIC_URL), &config).unwrap();
        tokio::spawn(worker.run(stopped.clone()));
    }
    let emails: Vec<String> = (0..12).map(|i| format!("many{i}@example.com")).collect();
    let bookings: Vec<_> = emails
        .iter()
        .map(|e| app.book_ok(None, session, e, 1))
        .collect();
    futures::future::join_all(bookings).await;

    app.outbox_settled().await;
    let _ = stop.send(true);
    let mut delivered: Vec<String> = sink.received().into_iter().flat_map(|m| m.to).collect();
    delivered.sort();
    let mut expected = emails.clone();
    expected.sort();
    assert_eq!(delivered, expected, "each email delivered exactly once");
    assert!(
        app.emails()
            .await
            .iter()
            .all(|e| e.status == EmailStatus::Sent && e.attempts == 1)
    );
}

#[tokio::test]
async fn an_email_claimed_by_a_sender_that_died_is_sent_once_the_claim_expires() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(|c| {
        fast_mail(c, Some(&sink));
        c.email.worker = false;
    })
    .await;
    let (_, session) = open_session(&app).await;
    app.book_ok(None, session, "orphan@example.com", 1).await;
    let queued = only_email(&app).await;
    // A sender claimed it, then died: its claim runs out in a moment.
    email_log::Entity::update_many()
        .col_expr(email_log::Column::Status, Expr::value(EmailStatus::Sending))
        .col_expr(email_log::Column::Attempts, Expr::value(1))
        .col_expr(
            email_log::Column::LockedUntil,
            Expr::value(Utc::now() + chrono::Duration::milliseconds(300)),
        )
        .col_expr(email_log::Column::ClaimToken, Expr::value(Uuid::now_v7()))
        .exec(&app.db)
        .await
        .unwrap();

    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let worker = Mailer::new(
        app.db.clone(),
        app.state.outbox.clone(),
        &app.state.config.email,
    )
    .unwrap();
    tokio::spawn(worker.run(stopped));
    let sent = email_reaches(&app, queued.id, EmailStatus::Sent).await;
    assert_eq!(sent.attempts, 2, "the dead sender's attempt counts");
    assert!(sent.sent_at.unwrap() >= queued.created_at + chrono::Duration::milliseconds(300));
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn issuing_certificates_queues_a_certificate_ready_email() {
    let sink = SmtpSink::start().await;
    let app = app_with(&sink).await;
    let (admin, session) = open_session(&app).await;
    let booking = app.book_ok(None, session, "holder@example.com", 1).await;
    let attendee = uuid_of(&booking["attendees"][0]["id"]);
    app.move_session(session, -1).await;
    app.gql_ok(
        "mutation($s: UUID!, $a: UUID!) { markAttendance(sessionId: $s, attendeeId: $a, status: PRESENT, passedAssessment: true) { id } }",
        json!({ "s": session, "a": attendee }),
        Some(&admin),
    )
    .await;
    let data = app
        .gql_ok(
            "mutation($s: UUID!) { issueCertificates(sessionId: $s) { id certificateNumber } }",
            json!({ "s": session }),
            Some(&admin),
        )
        .await;
    let cert = &data["issueCertificates"][0];
    let number = cert["certificateNumber"].as_str().unwrap();

    let ready = eventually("the certificate email", || async {
        sink.received()
            .into_iter()
            .find(|m| m.header("Subject").is_some_and(|s| s.contains(number)))
    })
    .await;
    assert_eq!(ready.to, ["holder@example.com"]);
    let text = ready.text();
    assert!(
        text.contains(number) && text.contains("Casey Booker"),
        "{text}"
    );
    assert!(
        text.contains(booking["reference"].as_str().unwrap()),
        "{text}"
    );
    let row = app
        .emails()
        .await
        .into_iter()
        .find(|e| e.template_name == "certificate_ready")
        .unwrap();
    assert_eq!(row.related_entity_id, Some(uuid_of(&cert["id"])));
    email_reaches(&app, row.id, EmailStatus::Sent).await;

    // Issuing again issues nothing and queues nothing.
    app.gql_ok(
        "mutation($s: UUID!) { issueCertificates(sessionId: $s) { id } }",
        json!({ "s": session }),
        Some(&admin),
    )
    .await;
    let certificate_emails = app
        .emails()
        .await
        .into_iter()
        .filter(|e| e.template_name == "certificate_ready")
        .count();
    assert_eq!(certificate_emails, 1);
}

/// A customer holding a certificate that expires in `days`, with or without marketing
/// consent; returns the customer and the certificate.
pub(crate) async fn holder(
    app: &TestApp,
    session: Uuid,
    email: &str,
    consent: bool,
    days: i64,
) -> (Uuid, Uuid) {
    let booking = app.book_ok(None, session, email, 1).await;
    let row = booking::Entity::find_by_id(uuid_of(&booking["id"]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut customer = app.user_row(row.user_id).await.into_active_model();
    customer.marketing_consent = Set(consent);
    customer.update(&app.db).await.unwrap();
    // Certified two years and some ago, on a booking long past: no later booking counts.
    let session_row = rft_users::entities::course_session::Entity::find_by_id(session)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let issued = (Utc::now() - chrono::Duration::days(3 * 365 - days)).date_naive();
    let cert = certificate::Model {
        id: Uuid::now_v7(),
        booking_id: row.id,
        attendee_id: None,
        user_id: row.user_id,
        course_id: session_row.course_id,
        session_id: None,
        certificate_number: format!("EFAW-TEST-{}", &email[..4]),
        holder_name: "Casey Booker".into(),
        issued_on: issued,
        expires_on: (Utc::now() + chrono::Duration::days(days)).date_naive(),
        status: CertificateStatus::Active,
        revoked_at: None,
        revocation_reason: None,
        issued_by_id: None,
        pdf_url: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
    .into_active_model()
    .insert(&app.db)
    .await
    .unwrap();
    (row.user_id, cert.id)
}

#[tokio::test]
async fn renewal_reminders_go_once_per_certificate_and_window() {
    let sink = SmtpSink::start().await;
    let app = app_with(&sink).await;
    let (admin, _) = open_session(&app).await;
    // A session long past, so the holders' bookings are not "booked again".
    let course = app
        .create_course(&admin, "First Aid at Work", "FAW", "150.00")
        .await;
    let venue = app.create_venue(&admin, "York Hub").await;
    let past = app
        .create_session(&admin, course, venue, None, 7, Some(20))
        .await;
    let (keen, keen_cert) = holder(&app, past, "keen@example.com", true, 30).await;
    let (_quiet, _) = holder(&app, past, "quiet@example.com", false, 30).await;
    let (_later, _) = holder(&app, past, "late@example.com", true, 200).await;
    app.move_session(past, -3 * 365).await;
    app.outbox_settled().await;
    let before = sink.received().len();

    let send = "mutation($d: Int!) { sendRenewalReminders(withinDays: $d) { withinDays queued alreadyQueued } }";
    let first = app.gql_ok(send, json!({ "d": 60 }), Some(&admin)).await;
    assert_eq!(
        first["sendRenewalReminders"],
        json!({ "withinDays": 60, "queued": 1, "alreadyQueued": 0 })
    );
    let again = app.gql_ok(send, json!({ "d": 60 }), Some(&admin)).await;
    assert_eq!(
        again["sendRenewalReminders"],
        json!({ "withinDays": 60, "queued": 0, "alreadyQueued": 1 })
    );

    let reminders: Vec<_> = app
        .emails()
        .await
        .into_iter()
        .filter(|e| e.template_name == "renewal_reminder")
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].user_id, keen);
    assert_eq!(reminders[0].related_entity_id, Some(keen_cert));
    assert_eq!(
        reminders[0].dedupe_key.as_deref(),
        Some(format!("renewal_reminder:{keen_cert}:60d").as_str())
    );
    email_reaches(&app, reminders[0].id, EmailStatus::Sent).await;
    let received = sink.received();
    assert_eq!(received.len(), before + 1);
    let reminder = received.last().unwrap();
    assert_eq!(reminder.to, ["keen@example.com"]);
    assert!(
        reminder.text().contains("expires on"),
        "{}",
        reminder.text()
    );
    assert_eq!(app.audit_rows("email.renewal_reminders").await.len(), 2);

    // The command line does the same, and with the same window sends nothing new.
    let url = app.state.config.database_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rft-users"))
            .args(["send-renewal-reminders", "--within-days", "60"])
            .env("DATABASE_URL", url)
            .env("RFT_DATA_KEYS", crate::helpers::data_keys())
            .output()
            .expect("rft-users runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("0 queued, 1 already queued"), "{stdout}");
    assert_eq!(
        app.emails()
            .await
            .iter()
            .filter(|e| e.template_name == "renewal_reminder")
            .count(),
        1
    );

    assert_eq!(app.audit_rows("email.renewal_reminders").await.len(), 3);

    // A window out of range is refused, and writes nothing.
    let body = app.gql(send, json!({ "d": -1 }), Some(&admin)).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body:#}");
    assert_eq!(app.audit_rows("email.renewal_reminders").await.len(), 3);
}

#[tokio::test]
async fn a_merge_moves_the_duplicates_emails_to_the_survivor() {
    let app = TestApp::spawn_with(|c| fast_mail(c, None)).await;
    let (admin, session) = open_session(&app).await;
    app.book_ok(None, session, "first@example.com", 1).await;
    app.book_ok(None, session, "second@example.com", 1).await;
    let user_of = |email: &'static str| {
        let app = &app;
        async move {
            user::Entity::find()
                .filter(user::Column::Email.eq(email))
                .one(&app.db)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let (survivor, duplicate) = (
        user_of("first@example.com").await,
        user_of("second@example.com").await,
    );
    app.outbox_settled().await;
    app.gql_ok(
        "mutation($s: UUID!, $d: UUID!) { mergeUsers(input: { survivorId: $s, duplicateIds: [$d] }) { id } }",
        json!({ "s": survivor, "d": duplicate }),
        Some(&admin),
    )
    .await;
    let data = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { emails { recipient } } }",
            json!({ "id": survivor }),
            Some(&admin),
        )
        .await;
    let mut recipients: Vec<&str> = data["user"]["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["recipient"].as_str().unwrap())
        .collect();
    recipients.sort();
    assert_eq!(recipients, ["first@example.com", "second@example.com"]);
    assert!(app.emails().await.iter().all(|e| e.user_id == survivor));
}

#[tokio::test]
async fn only_admins_read_a_customers_emails() {
    let app = TestApp::spawn_with(|c| fast_mail(c, None)).await;
    let (customer, customer_token) = app.customer("casey@example.com").await;
    let (_, instructor_token) = app
        .logged_in(
            rft_users::entities::enums::Role::Instructor,
            "ian@example.com",
        )
        .await;
    let (_, admin) = app.admin().await;
    for token in [&customer_token, &instructor_token] {
        let body = app
            .gql("{ me { email emails { id } } }", json!({}), Some(token))
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body:#}");
        assert!(body["data"]["me"]["emails"].is_null(), "{body:#}");
    }
    let data = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { emails(first: 5) { id } } }",
            json!({ "id": customer.id }),
            Some(&admin),
        )
        .await;
    assert_eq!(data["user"]["emails"], json!([]));
}

#[tokio::test]
async fn the_mail_worker_stops_with_the_server() {
    let sink = SmtpSink::start().await;
    let (url, _dir) = crate::helpers::fresh_database().await;
    let mut config = AppConfig::new(url, rft_users::config::Secret::new("x".repeat(48)));
    fast_mail(&mut config, Some(&sink));
    // A worker asleep for an hour must still stop at once.
    config.email.poll_interval = Duration::from_secs(3600);
    config.shutdown_grace = Duration::from_secs(60);
    let db = rft_users::db::connect(&config.database_url, 4)
        .await
        .unwrap();
    rft_users::db::migrate(&db).await.unwrap();
    let app =
        rft_users::app::Application::with_database(db, config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(50), server)
        .await
        .expect("the server and its mail worker stop well within the grace period")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(50));
}
