//! Input objects for bookings, payments, refunds and attendance, and their conversions
//! into the services' own types.

use async_graphql::InputObject;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::services::bookings;
use crate::services::consents::Consents;

/// Who is booking: the customer, found (or created) by email.
#[derive(Debug, Clone, InputObject)]
pub struct BookingContactInput {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email: identifies the customer (any case, stray spaces ignored).
    pub email: String,
    /// Phone, as typed.
    pub phone: Option<String>,
    /// Company, for corporate bookings.
    pub company: Option<String>,
    /// Consent to marketing email, as ticked on the booking form. Like the two below, it
    /// is a new customer's first choice (recorded in their consent history, source
    /// BOOKING); a known customer's consents are left as they are.
    pub marketing_consent: Option<bool>,
    /// Consent to SMS messages, as ticked on the booking form (new customers only).
    pub sms_consent: Option<bool>,
    /// Subscribed to the newsletter, as ticked on the booking form (new customers only).
    pub newsletter_subscribed: Option<bool>,
}

/// A person attending the session.
#[derive(Debug, Clone, InputObject)]
pub struct AttendeeInput {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email, if known.
    pub email: Option<String>,
}

/// A new booking for one session, for 1 to 20 attendees.
#[derive(Debug, Clone, InputObject)]
pub struct CreateBookingInput {
    /// The session to book.
    pub session_id: Uuid,
    /// The person booking.
    pub contact: BookingContactInput,
    /// Who will attend (1 to 20 people).
    pub attendees: Vec<AttendeeInput>,
    /// Accessibility, dietary or other needs.
    pub special_requirements: Option<String>,
}

/// A payment recorded by an admin (bank transfer, cash, invoice, or a card taken by phone).
#[derive(Debug, Clone, InputObject)]
pub struct RecordPaymentInput {
    /// The booking paid for.
    pub booking_id: Uuid,
    /// Amount in pounds, more than zero and at most the balance due.
    pub amount: Decimal,
    /// How it was paid.
    pub method: crate::graphql::types::enums::PaymentMethod,
    /// The Stripe PaymentIntent id, for card payments.
    pub stripe_payment_intent_id: Option<String>,
}

impl From<CreateBookingInput> for bookings::NewBooking {
    fn from(i: CreateBookingInput) -> Self {
        let c = i.contact;
        Self {
            session_id: i.session_id,
            contact: bookings::BookingContact {
                first_name: c.first_name,
                last_name: c.last_name,
                email: c.email,
                phone: c.phone,
                company: c.company,
                consents: Consents {
                    marketing: c.marketing_consent,
                    sms: c.sms_consent,
                    newsletter: c.newsletter_subscribed,
                    share_medical_with_trainer: None,
                },
            },
            attendees: i
                .attendees
                .into_iter()
                .map(|a| bookings::NewAttendee {
                    first_name: a.first_name,
                    last_name: a.last_name,
                    email: a.email,
                })
                .collect(),
            special_requirements: i.special_requirements,
        }
    }
}
