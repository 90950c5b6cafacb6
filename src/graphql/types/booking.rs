//! The booking side of the graph: courses, venues, sessions, bookings, attendees, payments,
//! refunds, certificates and attendance. Every relation resolves through a DataLoader.

use crate::entities::encrypted::{Revealed as _, RevealedText as _};
use crate::graphql::cost;
use std::sync::Arc;

use async_graphql::{Context, Object, dataloader::DataLoader};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::user::User;
use crate::app::AppState;
use crate::entities::booking::BookingKeys;
use crate::entities::certificate::CertificateExpiry;
use crate::entities::partial::{Partial, Prefetched};
use crate::entities::payment::PaymentAmount;
use crate::entities::{
    attendance_record, booking, booking_attendee, certificate, course, course_session, payment,
    refund, session_note, user, venue,
};
use crate::error::AppError;
use crate::graphql::guard::{RoleGuard, request_context, require_principal};
use crate::graphql::loaders::*;
use crate::graphql::types::enums::*;
use crate::money;
use crate::services::attendance;

fn loader_error(e: std::sync::Arc<sea_orm::DbErr>) -> async_graphql::Error {
    AppError::internal(anyhow::anyhow!("{e}")).into()
}

/// Loads one row through a by-id loader.
async fn load<L>(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<L::Value>>
where
    L: async_graphql::dataloader::Loader<Uuid, Error = std::sync::Arc<sea_orm::DbErr>>,
{
    ctx.data_unchecked::<DataLoader<L>>()
        .load_one(id)
        .await
        .map_err(loader_error)
}

/// Loads a parent's children through a has-many loader.
async fn load_many<L, M>(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Vec<M>>
where
    L: async_graphql::dataloader::Loader<
            Uuid,
            Value = Vec<M>,
            Error = std::sync::Arc<sea_orm::DbErr>,
        >,
    M: Clone + Send + Sync + 'static,
{
    Ok(ctx
        .data_unchecked::<DataLoader<L>>()
        .load_one(id)
        .await
        .map_err(loader_error)?
        .unwrap_or_default())
}

/// Whether the caller may see a customer's money and certificates: an admin, or the
/// customer themself (never an instructor).
pub(super) fn may_see_money(ctx: &Context<'_>, user_id: Uuid) -> bool {
    let rc = request_context(ctx);
    rc.is_admin() || rc.actor_id() == Some(user_id)
}

fn admin_or(ctx: &Context<'_>, user_id: Uuid) -> async_graphql::Result<()> {
    if may_see_money(ctx, user_id) {
        Ok(())
    } else {
        Err(AppError::Forbidden.into())
    }
}

/// A course in the catalogue.
pub struct Course(pub course::Model);

/// A course in the catalogue.
#[Object]
impl Course {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The course's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// A description for the website.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// EFAW, FAW or PAEDIATRIC.
    async fn course_type(&self) -> CourseType {
        self.0.course_type.into()
    }
    /// Teaching hours.
    async fn duration_hours(&self) -> i32 {
        self.0.duration_hours
    }
    /// Price per attendee in pounds.
    async fn price(&self) -> Decimal {
        money::from_pence(self.0.price_pence)
    }
    /// Default number of places on a session.
    async fn max_capacity(&self) -> i32 {
        self.0.max_capacity
    }
    /// Years a certificate from this course is valid.
    async fn certification_validity_years(&self) -> i32 {
        self.0.certification_validity_years
    }
    /// Whether the course is offered.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
}

/// A training venue.
pub struct Venue(pub venue::Model);

/// A training venue.
#[Object]
impl Venue {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The venue's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// First address line.
    async fn address_line1(&self) -> Option<&str> {
        self.0.address_line_1.as_deref()
    }
    /// Second address line.
    async fn address_line2(&self) -> Option<&str> {
        self.0.address_line_2.as_deref()
    }
    /// Town or city.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    /// Postcode.
    async fn postcode(&self) -> Option<&str> {
        self.0.postcode.as_deref()
    }
    /// Most people the room holds.
    async fn capacity(&self) -> Option<i32> {
        self.0.capacity
    }
    /// Facilities, e.g. parking or wheelchair access.
    async fn facilities(&self) -> Vec<String> {
        self.0
            .facilities
            .as_ref()
            .and_then(|f| f.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Parking directions.
    async fn parking_info(&self) -> Option<&str> {
        self.0.parking_info.as_deref()
    }
    /// Whether the venue is in use.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
}

/// A scheduled session of a course.
#[derive(Clone)]
pub struct CourseSession(pub Arc<SessionBundle>);

impl CourseSession {
    /// A session whose course and venue will come from their loaders.
    pub fn new(session: course_session::Model) -> Self {
        Self(Arc::new(SessionBundle {
            session: Partial::from_full(session),
            course: Prefetched::NotFetched,
            venue: Prefetched::NotFetched,
        }))
    }

    /// The whole row: as fetched, or loaded when only its keys were read.
    async fn row(&self, ctx: &Context<'_>) -> async_graphql::Result<&course_session::Model> {
        full_row(ctx, &self.0.session).await
    }
}

/// A scheduled session of a course.
#[Object]
impl CourseSession {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.session.keys().id
    }
    /// The course taught.
    async fn course(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Course>> {
        if let Prefetched::Fetched(course) = &self.0.course {
            return Ok(course.as_deref().cloned().map(Course));
        }
        Ok(load::<CourseLoader>(ctx, self.0.session.keys().course_id)
            .await?
            .map(Course))
    }
    /// Where it takes place.
    async fn venue(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Venue>> {
        if let Prefetched::Fetched(venue) = &self.0.venue {
            return Ok(venue.as_deref().cloned().map(Venue));
        }
        Ok(load::<VenueLoader>(ctx, self.0.session.keys().venue_id)
            .await?
            .map(Venue))
    }
    /// The instructor's name, for the public listing.
    async fn instructor_name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let Some(id) = self.row(ctx).await?.instructor_id else {
            return Ok(None);
        };
        Ok(load::<UserLoader>(ctx, id)
            .await?
            .map(|u| format!("{} {}", u.first_name, u.last_name)))
    }
    /// The instructor (staff only).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn instructor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.row(ctx).await?.instructor_id else {
            return Ok(None);
        };
        Ok(load::<UserLoader>(ctx, id).await?.map(User::new))
    }
    /// Start (UTC).
    async fn starts_at(&self, ctx: &Context<'_>) -> async_graphql::Result<DateTime<Utc>> {
        Ok(self.row(ctx).await?.starts_at)
    }
    /// End (UTC).
    async fn ends_at(&self, ctx: &Context<'_>) -> async_graphql::Result<DateTime<Utc>> {
        Ok(self.row(ctx).await?.ends_at)
    }
    /// Places in total.
    async fn capacity(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(self.row(ctx).await?.capacity)
    }
    /// Places taken by live bookings.
    async fn booked_places(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(self.row(ctx).await?.booked_places)
    }
    /// Places still free.
    async fn remaining_places(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let session = self.row(ctx).await?;
        if SessionStatus::from(session.status) == SessionStatus::Cancelled {
            return Ok(0);
        }
        Ok((session.capacity - session.booked_places).max(0))
    }
    /// Scheduled, confirmed, in progress, completed or cancelled.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<SessionStatus> {
        Ok(self.row(ctx).await?.status.into())
    }
    /// Why the session was cancelled.
    async fn cancellation_reason(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        Ok(self.row(ctx).await?.cancellation_reason.clone())
    }
    /// Who is attending: for admins, and for the instructor teaching this session. Only what
    /// an instructor needs on the day: no money, no internal notes, no other bookings.
    #[graphql(complexity = "cost::ATTENDEES * child_complexity")]
    async fn attendees(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SessionAttendee>> {
        let principal = require_principal(ctx)?;
        let session = self.row(ctx).await?;
        attendance::ensure_can_run(principal, session)?;
        let db = &ctx.data_unchecked::<AppState>().db;
        let rows = attendance::attendees(db, session.id).await?;
        let records = load_many::<AttendanceBySession, _>(ctx, session.id).await?;
        let user_ids: Vec<Uuid> = rows.iter().filter_map(|(a, _)| a.user_id).collect();
        let users = ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_many(user_ids)
            .await
            .map_err(loader_error)?;
        Ok(rows
            .into_iter()
            .map(|(attendee, bk)| {
                let person = attendee.user_id.and_then(|id| users.get(&id).cloned());
                let record = records
                    .iter()
                    .find(|r| r.attendee_id == attendee.id)
                    .cloned();
                SessionAttendee {
                    attendee,
                    booking: bk,
                    person,
                    record,
                }
            })
            .collect())
    }
    /// Notes on the session (admins and the session's instructor).
    #[graphql(complexity = "cost::SESSION_NOTES * child_complexity")]
    async fn notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SessionNote>> {
        let principal = require_principal(ctx)?;
        let session = self.row(ctx).await?;
        attendance::ensure_can_run(principal, session)?;
        let db = &ctx.data_unchecked::<AppState>().db;
        Ok(attendance::notes(db, session.id)
            .await?
            .into_iter()
            .map(SessionNote)
            .collect())
    }
}

/// An attendee as the instructor sees them on the day.
pub struct SessionAttendee {
    attendee: booking_attendee::Model,
    booking: booking::Model,
    person: Option<user::Model>,
    record: Option<attendance_record::Model>,
}

impl SessionAttendee {
    fn shares_medical(&self) -> bool {
        self.person
            .as_ref()
            .is_some_and(|p| p.share_medical_with_trainer)
    }
}

/// An attendee as the instructor sees them on the day.
#[Object]
impl SessionAttendee {
    /// The attendee's id (for `markAttendance`); clients' caches normalise on it.
    async fn id(&self) -> Uuid {
        self.attendee.id
    }
    /// The attendee's id: the same value as `id`.
    #[graphql(deprecation = "Use `id`, on which Apollo's and urql's caches normalise.")]
    async fn attendee_id(&self) -> Uuid {
        self.attendee.id
    }
    /// First name.
    async fn first_name(&self) -> &str {
        &self.attendee.first_name
    }
    /// Last name.
    async fn last_name(&self) -> &str {
        &self.attendee.last_name
    }
    /// A phone number to reach the attendee (or whoever booked for them).
    async fn contact_phone(&self) -> Option<String> {
        self.attendee
            .phone
            .clone()
            .or_else(|| {
                self.person
                    .as_ref()
                    .and_then(|p| p.mobile.clone().or_else(|| p.phone.clone()))
            })
            .or_else(|| {
                self.booking
                    .contact_details
                    .as_ref()
                    .and_then(|c| c["phone"].as_str().map(String::from))
            })
    }
    /// Emergency contact's name.
    async fn emergency_contact_name(&self) -> Option<&str> {
        self.person
            .as_ref()
            .and_then(|p| p.emergency_contact_name.plain_str())
    }
    /// Emergency contact's phone.
    async fn emergency_contact_phone(&self) -> Option<&str> {
        self.person
            .as_ref()
            .and_then(|p| p.emergency_contact_phone.plain_str())
    }
    /// Emergency contact's relationship to the attendee.
    async fn emergency_contact_relationship(&self) -> Option<&str> {
        self.person
            .as_ref()
            .and_then(|p| p.emergency_contact_relationship.plain_str())
    }
    /// Special requirements given with the booking or for this attendee.
    async fn special_requirements(&self) -> Option<String> {
        self.attendee
            .special_requirements
            .plain()
            .or_else(|| self.booking.special_requirements.plain())
            .cloned()
    }
    /// Medical notes, only when the attendee agreed to share them with the trainer.
    async fn medical_notes(&self) -> Option<&str> {
        if !self.shares_medical() {
            return None;
        }
        self.person
            .as_ref()
            .and_then(|p| p.medical_notes.plain_str())
    }
    /// Dietary requirements, only when the attendee agreed to share them with the trainer.
    async fn dietary_requirements(&self) -> Option<&str> {
        if !self.shares_medical() {
            return None;
        }
        self.person
            .as_ref()
            .and_then(|p| p.dietary_requirements.plain_str())
    }
    /// Attendance marked so far, if any.
    async fn attendance(&self) -> Option<AttendanceRecord> {
        self.record.clone().map(AttendanceRecord)
    }
}

/// Attendance of one attendee at one session.
pub struct AttendanceRecord(pub attendance_record::Model);

/// Attendance of one attendee at one session.
#[Object]
impl AttendanceRecord {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The attendee.
    async fn attendee_id(&self) -> Uuid {
        self.0.attendee_id
    }
    /// Present, absent, late, partial or excused.
    async fn status(&self) -> AttendanceStatus {
        self.0.status.into()
    }
    /// Whether the attendee passed the assessment.
    async fn passed_assessment(&self) -> Option<bool> {
        self.0.passed_assessment
    }
    /// Whether a certificate will be issued (present or late, and passed).
    async fn certificate_eligible(&self) -> bool {
        self.0.certificate_eligible
    }
    /// The trainer's feedback.
    async fn trainer_feedback(&self) -> Option<&str> {
        self.0.trainer_feedback.plain_str()
    }
    /// When it was last marked.
    async fn marked_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A note on a session, from the instructor or an admin.
pub struct SessionNote(pub session_note::Model);

/// A note on a session, from the instructor or an admin.
#[Object]
impl SessionNote {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The note's text.
    async fn content(&self) -> &str {
        &self.0.content
    }
    /// Who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.author_id else {
            return Ok(None);
        };
        Ok(load::<UserLoader>(ctx, id).await?.map(User::new))
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A booking: one customer, one session, one or more attendees.
pub struct Booking(pub BookingBundle);

impl Booking {
    /// A booking whose relations will come from their loaders.
    pub fn new(booking: booking::Model) -> Self {
        Self(BookingBundle {
            booking: Partial::from_full(booking),
            session: Prefetched::NotFetched,
            payments: Prefetched::NotFetched,
        })
    }

    /// Id, customer, session and creation time: always at hand.
    fn keys(&self) -> &BookingKeys {
        self.0.booking.keys()
    }

    /// The whole row: as fetched, or loaded when only the keys were read.
    async fn row(&self, ctx: &Context<'_>) -> async_graphql::Result<&booking::Model> {
        full_row(ctx, &self.0.booking).await
    }
}

/// A booking: one customer, one session, one or more attendees.
#[Object]
impl Booking {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.keys().id
    }
    /// The booking reference the customer quotes, e.g. `RFT-7K3QX-9MZT2-4HP`.
    async fn reference(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.row(ctx).await?.reference.clone())
    }
    /// For a booking imported from the old booking system, its reference there (e.g.
    /// `RFT-2024-000004`), which the customer may still quote (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn legacy_reference(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self.row(ctx).await?.legacy_reference.clone())
    }
    /// Pending, confirmed, cancelled, completed or no-show.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<BookingStatus> {
        Ok(self.row(ctx).await?.status.into())
    }
    /// Pending, partially paid, paid, partially refunded, refunded or failed.
    async fn payment_status(&self, ctx: &Context<'_>) -> async_graphql::Result<PaymentStatus> {
        Ok(self.row(ctx).await?.payment_status.into())
    }
    /// Price per attendee in pounds, as booked.
    async fn unit_price(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        Ok(money::from_pence(self.row(ctx).await?.unit_price_pence))
    }
    /// Total price in pounds.
    async fn total_amount(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        Ok(money::from_pence(self.row(ctx).await?.total_amount_pence))
    }
    /// Paid so far, in pounds.
    async fn amount_paid(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        Ok(money::from_pence(self.row(ctx).await?.amount_paid_pence))
    }
    /// Refunded so far, in pounds.
    async fn amount_refunded(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        Ok(money::from_pence(
            self.row(ctx).await?.amount_refunded_pence,
        ))
    }
    /// Still to pay, in pounds (zero for cancelled bookings).
    async fn balance_due(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        let b = self.row(ctx).await?;
        if BookingStatus::from(b.status) == BookingStatus::Cancelled {
            return Ok(money::from_pence(0));
        }
        Ok(money::from_pence(
            (b.total_amount_pence - b.amount_paid_pence).max(0),
        ))
    }
    /// Number of attendees.
    async fn number_of_attendees(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(self.row(ctx).await?.number_of_attendees)
    }
    /// Accessibility, dietary or other needs.
    async fn special_requirements(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        Ok(self.row(ctx).await?.special_requirements.plain().cloned())
    }
    /// When the booking was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.keys().created_at
    }
    /// When it was cancelled, if it was.
    async fn cancelled_at(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DateTime<Utc>>> {
        Ok(self.row(ctx).await?.cancelled_at)
    }
    /// Why it was cancelled.
    async fn cancellation_reason(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        Ok(self.row(ctx).await?.cancellation_reason.clone())
    }
    /// The customer who booked.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(load::<UserLoader>(ctx, self.keys().user_id)
            .await?
            .map(User::new))
    }
    /// The session booked.
    async fn session(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CourseSession>> {
        if let Prefetched::Fetched(session) = &self.0.session {
            return Ok(session.clone().map(CourseSession));
        }
        Ok(load::<SessionLoader>(ctx, self.keys().session_id)
            .await?
            .map(CourseSession::new))
    }
    /// Who is attending.
    #[graphql(complexity = "cost::ATTENDEES * child_complexity")]
    async fn attendees(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BookingAttendee>> {
        Ok(load_many::<AttendeesByBooking, _>(ctx, self.keys().id)
            .await?
            .into_iter()
            .map(BookingAttendee)
            .collect())
    }
    /// Payments on this booking (admin or the customer; never instructors).
    #[graphql(complexity = "cost::BOOKING_ROWS * child_complexity")]
    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Payment>> {
        let keys = self.keys();
        admin_or(ctx, keys.user_id)?;
        if let Prefetched::Fetched(payments) = &self.0.payments {
            return Ok(payments.iter().cloned().map(Payment).collect());
        }
        Ok(load_many::<PaymentsByBooking, _>(ctx, keys.id)
            .await?
            .into_iter()
            .map(Payment::new)
            .collect())
    }
    /// Refunds on this booking (admin or the customer; never instructors).
    #[graphql(complexity = "cost::BOOKING_ROWS * child_complexity")]
    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Refund>> {
        let keys = self.keys();
        admin_or(ctx, keys.user_id)?;
        Ok(load_many::<RefundsByBooking, _>(ctx, keys.id)
            .await?
            .into_iter()
            .map(Refund)
            .collect())
    }
    /// Certificates issued from this booking (admin or the customer).
    #[graphql(complexity = "cost::BOOKING_ROWS * child_complexity")]
    async fn certificates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Certificate>> {
        let keys = self.keys();
        admin_or(ctx, keys.user_id)?;
        Ok(load_many::<CertificatesByBooking, _>(ctx, keys.id)
            .await?
            .into_iter()
            .map(Certificate::new)
            .collect())
    }
}

/// A person on a booking.
pub struct BookingAttendee(pub booking_attendee::Model);

/// A person on a booking.
#[Object]
impl BookingAttendee {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// First name.
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    /// Last name.
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }
    /// Email, if known.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
}

/// Money received for a booking.
pub struct Payment(pub Partial<PaymentAmount, payment::Model>);

impl Payment {
    /// A payment read whole.
    pub fn new(model: payment::Model) -> Self {
        Self(Partial::from_full(model))
    }

    /// The whole row: as fetched, or loaded when only the keys and amount were read.
    async fn row(&self, ctx: &Context<'_>) -> async_graphql::Result<&payment::Model> {
        full_row(ctx, &self.0).await
    }
}

/// Money received for a booking.
#[Object]
impl Payment {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.keys().id
    }
    /// Amount in pounds.
    async fn amount(&self) -> Decimal {
        money::from_pence(self.0.keys().amount_pence)
    }
    /// ISO currency code (GBP).
    async fn currency(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.row(ctx).await?.currency.clone())
    }
    /// Pending, succeeded, failed or refunded.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<PaymentRecordStatus> {
        Ok(self.row(ctx).await?.status.into())
    }
    /// How it was paid.
    async fn method(&self, ctx: &Context<'_>) -> async_graphql::Result<PaymentMethod> {
        Ok(self.row(ctx).await?.method.into())
    }
    /// The Stripe PaymentIntent id, for card payments.
    async fn stripe_payment_intent_id(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        Ok(self.row(ctx).await?.stripe_payment_intent_id.clone())
    }
    /// When the money was received.
    async fn paid_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime<Utc>>> {
        Ok(self.row(ctx).await?.paid_at)
    }
    /// The booking paid for.
    async fn booking(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Booking>> {
        Ok(load::<BookingLoader>(ctx, self.0.keys().booking_id)
            .await?
            .map(Booking::new))
    }
}

/// Money returned to a customer.
pub struct Refund(pub refund::Model);

/// Money returned to a customer.
#[Object]
impl Refund {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Refund reference, e.g. `RFD-7K3QX-9MZT2-4HP`.
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    /// Amount in pounds.
    async fn amount(&self) -> Decimal {
        money::from_pence(self.0.amount_pence)
    }
    /// Pending, approved, rejected, processing, completed or failed.
    async fn status(&self) -> RefundStatus {
        self.0.status.into()
    }
    /// Why the refund was asked for (and, if rejected, why not).
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// When it was requested.
    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.requested_at
    }
    /// When it was approved.
    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.0.approved_at
    }
    /// When it was rejected.
    async fn rejected_at(&self) -> Option<DateTime<Utc>> {
        self.0.rejected_at
    }
    /// When the money went back.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// The booking refunded.
    async fn booking(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Booking>> {
        Ok(load::<BookingLoader>(ctx, self.0.booking_id)
            .await?
            .map(Booking::new))
    }
}

/// A first-aid certificate.
pub struct Certificate(pub Partial<CertificateExpiry, certificate::Model>);

impl Certificate {
    /// A certificate read whole.
    pub fn new(model: certificate::Model) -> Self {
        Self(Partial::from_full(model))
    }

    /// The whole row: as fetched, or loaded when only its expiry was read.
    async fn row(&self, ctx: &Context<'_>) -> async_graphql::Result<&certificate::Model> {
        full_row(ctx, &self.0).await
    }
}

/// A first-aid certificate.
#[Object]
impl Certificate {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.0.keys().id
    }
    /// The certificate number, unique.
    async fn certificate_number(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.row(ctx).await?.certificate_number.clone())
    }
    /// Who it was issued to.
    async fn holder_name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.row(ctx).await?.holder_name.clone())
    }
    /// The day it was issued.
    async fn issued_on(&self, ctx: &Context<'_>) -> async_graphql::Result<NaiveDate> {
        Ok(self.row(ctx).await?.issued_on)
    }
    /// The day it expires.
    async fn expires_on(&self) -> NaiveDate {
        self.0.keys().expires_on
    }
    /// Active, expired or revoked (active certificates past their expiry read as expired).
    async fn status(&self) -> CertificateStatus {
        let keys = self.0.keys();
        let status = CertificateStatus::from(keys.status);
        if status == CertificateStatus::Active && keys.expires_on < Utc::now().date_naive() {
            CertificateStatus::Expired
        } else {
            status
        }
    }
    /// Why it was revoked.
    async fn revocation_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self.row(ctx).await?.revocation_reason.clone())
    }
    /// The course certified.
    async fn course(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Course>> {
        let course_id = self.row(ctx).await?.course_id;
        Ok(load::<CourseLoader>(ctx, course_id).await?.map(Course))
    }
}
