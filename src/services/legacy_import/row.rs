//! One row of the export: its fields as the old booking service wrote them, checked and
//! normalised into a [`LegacyBooking`], or the reason it cannot be imported.
//!
//! Amounts are read from the row's JSON text, a string (`"150.00"`) or a number (`150.0`),
//! straight into a `Decimal`: never through a float.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::file::RawRow;
use crate::entities::enums::{BookingStatus, CourseType};
use crate::money;
use crate::services::consents::Consents;
use crate::services::customers::Contact;
use crate::services::validate;

/// Longest legacy id and reference kept on a booking (the columns' width).
const MAX_LEGACY_KEY: usize = 64;

/// A row as the old service exported it. Every field is optional here so that a missing
/// one is reported by name rather than as a parse error; the derived `Serialize` (in
/// declaration order, the amount as its own JSON text) is what the content hash covers,
/// so neither whitespace nor key order nor unknown fields change it.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyRow<'a> {
    id: Option<String>,
    booking_reference: Option<String>,
    course_type: Option<String>,
    course_name: Option<String>,
    session_date: Option<String>,
    venue: Option<String>,
    status: Option<String>,
    payment_status: Option<String>,
    #[serde(borrow)]
    total_amount: Option<&'a RawValue>,
    created_at: Option<String>,
    contact_details: Option<LegacyContact>,
    participants: Option<Vec<LegacyPerson>>,
    special_requirements: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyContact {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    // The consents the old service held, when its export has them: a new customer's first
    // choices. Left out of the content hash when absent, so the hash of a row without them
    // is what it always was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marketing_consent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sms_consent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newsletter_subscribed: Option<bool>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyPerson {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
}

/// Just the keys of a row, read leniently, for the ledger of a row that does not parse.
#[derive(Deserialize)]
struct Keys {
    id: Option<serde_json::Value>,
    #[serde(rename = "bookingReference")]
    booking_reference: Option<serde_json::Value>,
}

/// What the old service recorded about the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegacyPayment {
    /// Paid in full.
    Paid,
    /// Nothing paid yet.
    Pending,
    /// Paid, then refunded in full.
    Refunded,
    /// A payment was tried and failed.
    Failed,
}

/// A person on the booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Attendee {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
}

/// A row that can be imported: checked and normalised.
#[derive(Debug, Clone)]
pub(super) struct LegacyBooking {
    pub legacy_id: String,
    pub reference: Option<String>,
    pub course_type: CourseType,
    pub course_name: Option<String>,
    pub session_date: NaiveDate,
    /// The venue's name, trimmed.
    pub venue: String,
    pub status: BookingStatus,
    pub payment: LegacyPayment,
    pub amount_pence: i64,
    pub created_at: DateTime<Utc>,
    pub contact: Contact,
    /// The contact details as typed, kept on the booking.
    pub contact_json: serde_json::Value,
    pub attendees: Vec<Attendee>,
    pub special_requirements: Option<String>,
    /// What was left out of the row (an unusable phone, say), for the ledger's reason.
    pub warnings: Vec<String>,
}

/// A row read from the file, ready for its chunk.
pub(super) struct Prepared {
    pub ordinal: i64,
    pub line: i64,
    pub legacy_id: Option<String>,
    pub reference: Option<String>,
    /// SHA-256 (hex) of the row's content.
    pub hash: String,
    /// The row's JSON text as in the file.
    pub raw: Box<RawValue>,
    /// The booking, or why the row cannot be imported.
    pub parsed: Result<LegacyBooking, String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn key_text(v: Option<serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Reads, checks and hashes one row.
pub(super) fn prepare(row: RawRow) -> Prepared {
    let text = row.raw.get();
    let (legacy_id, reference, hash, parsed) = match serde_json::from_str::<LegacyRow>(text) {
        Ok(legacy) => {
            let hash = serde_json::to_vec(&legacy).map_or_else(
                |_| sha256_hex(text.as_bytes()),
                |canonical| sha256_hex(&canonical),
            );
            let legacy_id = legacy
                .id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let reference = legacy
                .booking_reference
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            (
                legacy_id.map(String::from),
                reference.map(String::from),
                hash,
                check(&legacy),
            )
        }
        Err(e) => {
            let keys = serde_json::from_str::<Keys>(text).ok();
            let (id, reference) = keys.map_or((None, None), |k| {
                (key_text(k.id), key_text(k.booking_reference))
            });
            let message = e.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            (
                id,
                reference,
                sha256_hex(text.as_bytes()),
                Err(format!("not a booking: {message}")),
            )
        }
    };
    Prepared {
        ordinal: row.ordinal as i64,
        line: row.line as i64,
        legacy_id,
        reference,
        hash,
        raw: row.raw,
        parsed,
    }
}

fn present<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("missing {what}"))
}

fn course_type(raw: &str) -> Result<CourseType, String> {
    match raw.trim().to_ascii_uppercase().as_str() {
        "EFAW" => Ok(CourseType::Efaw),
        "FAW" => Ok(CourseType::Faw),
        "PAEDIATRIC" | "PFA" => Ok(CourseType::Paediatric),
        _ => Err(format!("unknown course type {raw:?}")),
    }
}

fn booking_status(raw: &str) -> Result<BookingStatus, String> {
    match raw
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_")
        .as_str()
    {
        "pending" => Ok(BookingStatus::Pending),
        "confirmed" => Ok(BookingStatus::Confirmed),
        "cancelled" | "canceled" => Ok(BookingStatus::Cancelled),
        "completed" => Ok(BookingStatus::Completed),
        "no_show" | "noshow" => Ok(BookingStatus::NoShow),
        _ => Err(format!("unknown status {raw:?}")),
    }
}

fn payment(raw: &str) -> Result<LegacyPayment, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "paid" => Ok(LegacyPayment::Paid),
        "pending" | "unpaid" => Ok(LegacyPayment::Pending),
        "refunded" => Ok(LegacyPayment::Refunded),
        "failed" => Ok(LegacyPayment::Failed),
        _ => Err(format!("unknown payment status {raw:?}")),
    }
}

/// Pence from the amount's JSON text: a string or a number, read exactly.
fn amount_pence(raw: Option<&RawValue>) -> Result<i64, String> {
    let text = raw.map(|r| r.get().trim()).ok_or("missing totalAmount")?;
    let literal = if text.starts_with('"') {
        serde_json::from_str::<String>(text)
            .map_err(|_| "bad amount: totalAmount is not a number".to_string())?
            .trim()
            .to_string()
    } else {
        text.to_string()
    };
    let amount = Decimal::from_str_exact(&literal)
        .or_else(|e| {
            // A JSON number may come with an exponent (`1.5e2`).
            if literal.contains(['e', 'E']) {
                Decimal::from_scientific(&literal)
            } else {
                Err(e)
            }
        })
        .map_err(|_| format!("bad amount: totalAmount {literal:?} is not a number"))?;
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(format!("bad amount: totalAmount {literal} is negative"));
    }
    money::to_pence("totalAmount", amount).map_err(|e| format!("bad amount: {e}"))
}

fn date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().or_else(|| {
        DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| t.date_naive())
    })
}

fn bounded_key(value: Option<&str>, what: &str) -> Result<(), String> {
    match value {
        Some(v) if v.chars().count() > MAX_LEGACY_KEY => {
            Err(format!("{what} is longer than {MAX_LEGACY_KEY} characters"))
        }
        _ => Ok(()),
    }
}

/// The checks a row must pass, in the order a person fixing the file would want them.
fn check(row: &LegacyRow<'_>) -> Result<LegacyBooking, String> {
    let legacy_id = present(&row.id, "id")?.to_string();
    bounded_key(Some(&legacy_id), "id")?;
    let reference = row
        .booking_reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from);
    bounded_key(reference.as_deref(), "bookingReference")?;

    let mut warnings = Vec::new();
    let contact = row
        .contact_details
        .as_ref()
        .ok_or("missing contactDetails")?;
    let email = match contact.email.as_deref().map(str::trim) {
        None | Some("") => return Err("missing email".into()),
        Some(raw) => validate::email("contactDetails.email", raw)
            .map_err(|e| format!("invalid email: {e}"))?,
    };
    let first_name = validate::required(
        "contactDetails.firstName",
        contact.first_name.as_deref().unwrap_or(""),
        100,
    )
    .map_err(|e| e.to_string())?;
    let last_name = validate::required(
        "contactDetails.lastName",
        contact.last_name.as_deref().unwrap_or(""),
        100,
    )
    .map_err(|e| e.to_string())?;
    // A phone or company that cannot be kept does not cost the customer their booking.
    let phone =
        validate::phone("contactDetails.phone", contact.phone.as_deref()).unwrap_or_else(|e| {
            warnings.push(format!("phone left out: {e}"));
            None
        });
    let company = validate::optional("contactDetails.company", contact.company.as_deref(), 255)
        .unwrap_or_else(|e| {
            warnings.push(format!("company left out: {e}"));
            None
        });

    let course_type = course_type(present(&row.course_type, "courseType")?)?;
    let session_date = {
        let raw = present(&row.session_date, "sessionDate")?;
        date(raw).ok_or_else(|| format!("bad sessionDate {raw:?}"))?
    };
    let venue = validate::required("venue", row.venue.as_deref().unwrap_or(""), 255)
        .map_err(|e| e.to_string())?;
    let status = booking_status(present(&row.status, "status")?)?;
    let payment = payment(present(&row.payment_status, "paymentStatus")?)?;
    let amount_pence = amount_pence(row.total_amount)?;
    let created_at = {
        let raw = present(&row.created_at, "createdAt")?;
        DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| format!("bad createdAt {raw:?}"))?
    };

    let people = row.participants.as_deref().unwrap_or_default();
    if people.is_empty() {
        return Err("no participants".into());
    }
    let mut attendees = Vec::with_capacity(people.len());
    for (i, p) in people.iter().enumerate() {
        let first_name = validate::required(
            &format!("participants.{i}.firstName"),
            p.first_name.as_deref().unwrap_or(""),
            100,
        )
        .map_err(|e| e.to_string())?;
        let last_name = validate::required(
            &format!("participants.{i}.lastName"),
            p.last_name.as_deref().unwrap_or(""),
            100,
        )
        .map_err(|e| e.to_string())?;
        let email = match p.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(raw) => match validate::email(&format!("participants.{i}.email"), raw) {
                Ok(e) => Some(e),
                Err(e) => {
                    warnings.push(format!("participant email left out: {e}"));
                    None
                }
            },
        };
        attendees.push(Attendee {
            first_name,
            last_name,
            email,
        });
    }
    let special_requirements = validate::optional(
        "specialRequirements",
        row.special_requirements.as_deref(),
        2000,
    )
    .map_err(|e| e.to_string())?;

    Ok(LegacyBooking {
        legacy_id,
        reference,
        course_type,
        course_name: row
            .course_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from),
        session_date,
        venue,
        status,
        payment,
        amount_pence,
        created_at,
        contact: Contact {
            email,
            first_name,
            last_name,
            phone,
            company,
            consents: Consents {
                marketing: contact.marketing_consent,
                sms: contact.sms_consent,
                newsletter: contact.newsletter_subscribed,
                share_medical_with_trainer: None,
            },
        },
        contact_json: serde_json::to_value(contact).unwrap_or(serde_json::Value::Null),
        attendees,
        special_requirements,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"id": "880fa3ce-e543-4a92-a595-6e2bdf02eac3", "bookingReference": "RFT-2023-000002", "courseType": "EFAW", "courseName": "Emergency First Aid at Work", "sessionDate": "2023-09-07", "venue": "Client On-Site Training", "status": "completed", "paymentStatus": "paid", "totalAmount": 75.0, "createdAt": "2023-09-04T10:22:00Z", "contactDetails": {"firstName": "Siân", "lastName": "Williams", "email": "  Sian.Williams0@btinternet.com ", "phone": "07700 900000", "company": ""}, "participants": [{"firstName": "Siân", "lastName": "Williams", "email": "sian.williams0@btinternet.com"}], "specialRequirements": "Wheelchair access"}"#;

    fn prepared(text: &str) -> Prepared {
        prepare(RawRow {
            ordinal: 1,
            line: 2,
            raw: RawValue::from_string(text.to_string()).unwrap(),
        })
    }

    fn with(field: &str, value: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(ROW).unwrap();
        let pointer = format!("/{}", field.replace('.', "/"));
        *v.pointer_mut(&pointer).unwrap() = serde_json::from_str(value).unwrap();
        v.to_string()
    }

    #[test]
    fn a_row_is_normalised() {
        let p = prepared(ROW);
        let b = p.parsed.unwrap();
        assert_eq!(b.contact.email, "sian.williams0@btinternet.com");
        assert_eq!(b.contact.first_name, "Siân");
        assert_eq!(b.contact.company, None, "an empty company is blank");
        assert_eq!(b.contact.phone.as_deref(), Some("07700 900000"));
        assert_eq!(b.amount_pence, 7500);
        assert_eq!(b.course_type, CourseType::Efaw);
        assert_eq!(b.status, BookingStatus::Completed);
        assert_eq!(b.payment, LegacyPayment::Paid);
        assert_eq!(b.attendees.len(), 1);
        assert_eq!(
            p.legacy_id.as_deref(),
            Some("880fa3ce-e543-4a92-a595-6e2bdf02eac3")
        );
        assert_eq!(p.reference.as_deref(), Some("RFT-2023-000002"));
    }

    #[test]
    fn amounts_are_exact_whether_strings_or_numbers() {
        for (json, pence) in [
            ("\"150.00\"", 15000),
            ("150.0", 15000),
            ("150", 15000),
            ("\" 95.10 \"", 9510),
            ("0.1", 10),
            ("1.5e2", 15000),
            // More digits than a float holds exactly: still exact.
            ("\"90071992547409.93\"", 9_007_199_254_740_993),
        ] {
            let p = prepared(&with("totalAmount", json));
            assert_eq!(p.parsed.map(|b| b.amount_pence), Ok(pence), "{json}");
        }
        for json in [
            "\"-5.00\"",
            "-5",
            "\"£150\"",
            "\"abc\"",
            "1.005",
            "true",
            "null",
        ] {
            let p = prepared(&with("totalAmount", json));
            let reason = p.parsed.unwrap_err();
            assert!(
                reason.contains("amount") || reason.contains("totalAmount"),
                "{json}: {reason}"
            );
        }
    }

    #[test]
    fn the_hash_ignores_whitespace_and_key_order_but_not_content() {
        let a = prepared(ROW).hash;
        let v: serde_json::Value = serde_json::from_str(ROW).unwrap();
        let compact = prepared(&v.to_string()).hash;
        assert_eq!(a, compact);
        let changed = prepared(&with("status", "\"cancelled\"")).hash;
        assert_ne!(a, changed);
    }

    #[test]
    fn bad_rows_say_why() {
        let cases = [
            ("contactDetails.email", "null", "missing email"),
            (
                "contactDetails.email",
                "\"john at example dot com\"",
                "invalid email",
            ),
            ("courseType", "\"CPR\"", "unknown course type"),
            ("status", "\"lost\"", "unknown status"),
            ("sessionDate", "\"yesterday\"", "bad sessionDate"),
            ("participants", "[]", "no participants"),
            ("id", "null", "missing id"),
        ];
        for (field, value, reason) in cases {
            let p = prepared(&with(field, value));
            let got = p.parsed.unwrap_err();
            assert!(got.starts_with(reason), "{field}={value}: {got}");
        }
        let p = prepared("[1, 2]");
        assert!(p.parsed.unwrap_err().starts_with("not a booking"));
        let p = prepared(r#"{"id": "x", "participants": "nobody"}"#);
        assert_eq!(p.legacy_id.as_deref(), Some("x"));
        assert!(p.parsed.is_err());
    }

    #[test]
    fn a_bad_phone_is_left_out_with_a_warning() {
        let p = prepared(&with("contactDetails.phone", "\"call me\""));
        let b = p.parsed.unwrap();
        assert_eq!(b.contact.phone, None);
        assert_eq!(b.warnings.len(), 1, "{:?}", b.warnings);
    }
}
