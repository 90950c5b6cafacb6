//! Certificates outside the API's own types: the PDF at `GET /certificates/{id}.pdf` (who
//! gets it, what it holds, the activity it logs) and the public `verifyCertificate`.

use chrono::{Duration, Utc};
use rft_users::entities::enums::Role;
use rft_users::entities::{certificate, user, user_activity_log};
use rft_users::services::certificates::pdf::long_date;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code};

const PUBLIC_URL: &str = "https://certificates.example.test";
const VERIFY: &str = "query($n: String!) { verifyCertificate(number: $n) { certificateNumber status holderName courseName courseType issuedOn expiresOn } }";

/// An admin, an EFAW course, and a certificate issued to Zoë O’Brien (booked by herself).
struct Issued {
    app: TestApp,
    admin: user::Model,
    admin_token: String,
    course: Uuid,
    venue: Uuid,
    cert: certificate::Model,
}

impl Issued {
    async fn new() -> Self {
        let app = TestApp::spawn_with(|c| c.email.public_url = format!("{PUBLIC_URL}/")).await;
        let (admin, admin_token) = app.admin().await;
        let course = app
            .create_course(&admin_token, "Emergency First Aid at Work", "EFAW", "95.00")
            .await;
        let venue = app
            .create_venue(&admin_token, "Leeds Training Centre")
            .await;
        let cert = app
            .certify(
                &admin_token,
                course,
                venue,
                "zoe@example.com",
                &[("Zoë", "O’Brien")],
            )
            .await
            .remove(0);
        Self {
            app,
            admin,
            admin_token,
            course,
            venue,
            cert,
        }
    }

    /// `GET /certificates/{file}` with a token (or none): status, content type, body.
    async fn get(&self, file: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
        let mut req = self
            .app
            .client
            .get(self.app.url(&format!("/certificates/{file}")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, content_type, resp.bytes().await.unwrap().to_vec())
    }

    fn pdf_file(&self) -> String {
        format!("{}.pdf", self.cert.id)
    }

    async fn downloads(&self) -> Vec<user_activity_log::Model> {
        user_activity_log::Entity::find()
            .filter(user_activity_log::Column::ActivityType.eq("certificate_downloaded"))
            .all(&self.app.db)
            .await
            .unwrap()
    }
}

/// The text of a PDF's first page, read back with a PDF parser.
fn pdf_text(bytes: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(bytes).expect("the PDF opens");
    assert_eq!(doc.get_pages().len(), 1, "one page");
    doc.extract_text(&[1]).expect("the text extracts")
}

/// The text with runs of whitespace as one space (extraction may break lines anywhere).
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn an_admin_downloads_a_pdf_holding_the_certificate_and_the_download_is_logged() {
    let issued = Issued::new().await;
    let cert = &issued.cert;

    let (status, content_type, body) = issued
        .get(&issued.pdf_file(), Some(&issued.admin_token))
        .await;

    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "application/pdf");
    assert!(body.starts_with(b"%PDF-"));
    let text = squeezed(&pdf_text(&body));
    assert_eq!(cert.holder_name, "Zoë O’Brien");
    for expected in [
        "Zoë O’Brien".to_string(),
        cert.certificate_number.clone(),
        long_date(cert.issued_on),
        long_date(cert.expires_on),
        "REACT FAST TRAINING".into(),
        "Issued by React Fast Training".into(),
        "Emergency First Aid at Work".into(),
        "Course type: Emergency First Aid at Work (EFAW)".into(),
        format!(
            "with its number, visit {PUBLIC_URL}/verify?number={}",
            cert.certificate_number
        ),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in {text:?}");
    }

    let logged = issued.downloads().await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].user_id, cert.user_id, "on the holder's activity");
    assert_eq!(logged[0].actor_id, Some(issued.admin.id));
    assert_eq!(
        logged[0].related_entity_type.as_deref(),
        Some("certificate")
    );
    assert_eq!(logged[0].related_entity_id, Some(cert.id));
    assert_eq!(logged[0].user_agent.as_deref(), Some("rft-users-tests"));

    // Each download is logged.
    let (status, _, _) = issued
        .get(&issued.pdf_file(), Some(&issued.admin_token))
        .await;
    assert_eq!(status, 200);
    assert_eq!(issued.downloads().await.len(), 2);
}

#[tokio::test]
async fn the_holder_downloads_their_own_certificate_and_no_one_else_but_admins_does() {
    let issued = Issued::new().await;
    let app = &issued.app;
    let holder = app.user_row(issued.cert.user_id).await;
    let (holder_token, _) = app.session_for(&holder).await;
    let (_, other_customer) = app.customer("someone.else@example.com").await;
    let (_, instructor) = app.logged_in(Role::Instructor, "ian@example.com").await;

    let (status, content_type, body) = issued.get(&issued.pdf_file(), Some(&holder_token)).await;
    assert_eq!((status, content_type.as_str()), (200, "application/pdf"));
    assert!(pdf_text(&body).contains(&issued.cert.certificate_number));
    let logged = issued.downloads().await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].actor_id, Some(holder.id));

    // Another customer is not told the certificate exists; an instructor is refused.
    for (token, expected) in [(&other_customer, 404), (&instructor, 403)] {
        let (status, content_type, body) = issued.get(&issued.pdf_file(), Some(token)).await;
        assert_eq!(status, expected);
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert!(!String::from_utf8_lossy(&body).contains(&issued.cert.certificate_number));
    }
    assert_eq!(issued.downloads().await.len(), 1, "refusals log nothing");
}

#[tokio::test]
async fn no_token_or_a_bad_one_gets_401_and_an_unknown_certificate_404() {
    let issued = Issued::new().await;
    let file = issued.pdf_file();

    for token in [None, Some("not-a-real-token")] {
        let resp = {
            let mut req = issued
                .app
                .client
                .get(issued.app.url(&format!("/certificates/{file}")));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.unwrap()
        };
        assert_eq!(resp.status().as_u16(), 401, "token {token:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    }
    // A caller who is nobody learns nothing, not even that an id is unknown.
    let (status, _, _) = issued.get(&format!("{}.pdf", Uuid::now_v7()), None).await;
    assert_eq!(status, 401);

    let admin = Some(issued.admin_token.as_str());
    for unknown in [
        format!("{}.pdf", Uuid::now_v7()),
        "not-a-uuid.pdf".to_string(),
        issued.cert.id.to_string(),
        format!("{}.png", issued.cert.id),
    ] {
        let (status, _, body) = issued.get(&unknown, admin).await;
        assert_eq!(status, 404, "{unknown}");
        assert_eq!(String::from_utf8_lossy(&body), "no such certificate\n");
    }
    assert!(issued.downloads().await.is_empty());
}

#[tokio::test]
async fn a_revoked_certificate_answers_410_to_those_who_may_see_it() {
    let issued = Issued::new().await;
    let app = &issued.app;
    app.gql_ok(
        "mutation($id: UUID!) { revokeCertificate(id: $id, reason: \"Issued in error\") { id } }",
        json!({ "id": issued.cert.id }),
        Some(&issued.admin_token),
    )
    .await;
    let holder = app.user_row(issued.cert.user_id).await;
    let (holder_token, _) = app.session_for(&holder).await;
    let (_, other_customer) = app.customer("someone.else@example.com").await;

    for (token, expected) in [
        (&issued.admin_token, 410),
        (&holder_token, 410),
        (&other_customer, 404),
    ] {
        let (status, _, body) = issued.get(&issued.pdf_file(), Some(token)).await;
        assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
    }
    assert!(issued.downloads().await.is_empty());
}

/// Sets a certificate's dates directly (how tests get certificates from years ago).
async fn backdate(app: &TestApp, cert: &certificate::Model, years: i64) {
    let mut am = cert.clone().into_active_model();
    am.issued_on = Set(cert.issued_on - Duration::days(365 * years));
    am.expires_on = Set(Utc::now().date_naive() - Duration::days(1));
    am.update(&app.db).await.unwrap();
}

async fn verify(app: &TestApp, number: &str) -> Value {
    app.gql_ok(VERIFY, json!({ "n": number }), None).await["verifyCertificate"].clone()
}

#[tokio::test]
async fn verify_certificate_tells_anyone_whether_a_certificate_is_valid_expired_or_revoked() {
    let issued = Issued::new().await;
    let app = &issued.app;
    let admin_token = &issued.admin_token;
    let mut more = app
        .certify(
            admin_token,
            issued.course,
            issued.venue,
            "mary@example.com",
            &[("Mary Ann", "Smith"), ("Jo", "Bloggs")],
        )
        .await;
    let revoked = more.pop().unwrap();
    let expired = more.pop().unwrap();
    backdate(app, &expired, 3).await;
    let expired = certificate::Entity::find_by_id(expired.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    app.gql_ok(
        "mutation($id: UUID!) { revokeCertificate(id: $id, reason: \"Assessment not passed\") { id } }",
        json!({ "id": revoked.id }),
        Some(admin_token),
    )
    .await;
    let written = (
        app.count("audit_logs").await,
        app.count("user_activity_logs").await,
    );

    let valid = &issued.cert;
    assert_eq!(
        verify(app, &valid.certificate_number).await,
        json!({
            "certificateNumber": valid.certificate_number,
            "status": "VALID",
            "holderName": "Z. O’Brien",
            "courseName": "Emergency First Aid at Work",
            "courseType": "EFAW",
            "issuedOn": valid.issued_on.to_string(),
            "expiresOn": valid.expires_on.to_string(),
        })
    );
    // Typed from the paper: lower case, with spaces around it.
    let typed = format!("  {}  ", valid.certificate_number.to_lowercase());
    assert_eq!(verify(app, &typed).await["status"], "VALID");

    let answer = verify(app, &expired.certificate_number).await;
    assert_eq!(answer["status"], "EXPIRED");
    assert_eq!(
        answer["holderName"], "M. Smith",
        "Mary Ann is her first name"
    );
    assert_eq!(answer["expiresOn"], json!(expired.expires_on.to_string()));
    assert_eq!(answer["issuedOn"], json!(expired.issued_on.to_string()));

    let answer = verify(app, &revoked.certificate_number).await;
    assert_eq!(answer["status"], "REVOKED");
    assert_eq!(answer["holderName"], "J. Bloggs");

    assert_eq!(
        verify(app, "RFT-EFAW-2026-NOSUCHCERT").await,
        json!({
            "certificateNumber": "RFT-EFAW-2026-NOSUCHCERT",
            "status": "NOT_FOUND",
            "holderName": null,
            "courseName": null,
            "courseType": null,
            "issuedOn": null,
            "expiresOn": null,
        })
    );
    assert_eq!(verify(app, "").await["status"], "NOT_FOUND");
    assert_eq!(verify(app, &"X".repeat(500)).await["status"], "NOT_FOUND");

    // Checking writes nothing.
    assert_eq!(
        (
            app.count("audit_logs").await,
            app.count("user_activity_logs").await
        ),
        written
    );
}

#[tokio::test]
async fn verify_certificate_shows_nothing_that_identifies_or_reaches_the_holder() {
    let app = TestApp::spawn().await;
    let data = app
        .gql_ok(
            "{ __type(name: \"CertificateVerification\") { fields { name type { name kind ofType { name } } } } }",
            json!({}),
            None,
        )
        .await;
    let mut fields: Vec<(String, String)> = data["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let ty = &f["type"];
            let name = ty["name"].as_str().or(ty["ofType"]["name"].as_str());
            (
                f["name"].as_str().unwrap().to_string(),
                name.unwrap().to_string(),
            )
        })
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            ("certificateNumber", "String"),
            ("courseName", "String"),
            ("courseType", "CourseType"),
            ("expiresOn", "NaiveDate"),
            ("holderName", "String"),
            ("issuedOn", "NaiveDate"),
            ("status", "CertificateValidity"),
        ]
        .map(|(f, t)| (f.to_string(), t.to_string())),
        "scalars only: no object to walk from (a user, a booking), no email, no id"
    );
}

#[tokio::test]
async fn verify_certificate_is_limited_per_client_ip() {
    // One call a minute: a second within the test cannot have been refilled.
    let app = TestApp::spawn_with(|c| c.verify_rate_per_minute = 1).await;
    let first = app
        .gql(VERIFY, json!({ "n": "RFT-EFAW-2026-NOSUCHCERT" }), None)
        .await;
    assert_eq!(first["data"]["verifyCertificate"]["status"], "NOT_FOUND");
    let second = app
        .gql(VERIFY, json!({ "n": "RFT-EFAW-2026-NOSUCHCERT" }), None)
        .await;
    assert_eq!(error_code(&second), Some("RATE_LIMITED"), "{second:#}");
    assert!(second["data"].is_null());
    // Logging in is limited apart.
    let (admin, _) = app.staff(Role::Admin, "admin@example.com").await;
    let login = app.login(&admin.email, "a-wrong-password").await;
    assert_eq!(error_code(&login), Some("UNAUTHENTICATED"), "{login:#}");
}
