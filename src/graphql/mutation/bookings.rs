//! Bookings, payments, refunds, attendance and certificates.

use async_graphql::{Context, Object};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Caller;
use crate::entities::enums::{RefundStatus, Role};
use crate::error::AppError;
use crate::graphql::guard::{RoleGuard, request_context, require_principal};
use crate::graphql::types::booking::{
    AttendanceRecord, Booking, Certificate, Payment, Refund, SessionNote,
};
use crate::graphql::types::booking_input::{CreateBookingInput, RecordPaymentInput};
use crate::graphql::types::enums::AttendanceStatus;
use crate::services::audit::Actor;
use crate::services::{attendance, bookings, certificates, payments};

/// Bookings and everything that follows from them.
#[derive(Default)]
pub struct BookingMutation;

fn actor(ctx: &Context<'_>) -> Actor {
    Actor::from_request(request_context(ctx))
}

#[Object]
impl BookingMutation {
    /// Books a session: finds or creates the customer by email, fills blanks in their
    /// profile, takes the places (never overbooking), prices the booking and gives it a
    /// reference. Open to the public website without login, and to admins.
    async fn create_booking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The booking.")] input: CreateBookingInput,
    ) -> async_graphql::Result<Booking> {
        match &request_context(ctx).caller {
            Caller::User(p) if p.role == Role::Instructor => return Err(AppError::Forbidden.into()),
            // The portal books nothing: its token reaches only the portal's operations.
            Caller::Customer(_) => return Err(AppError::Forbidden.into()),
            Caller::InvalidToken => {
                return Err(AppError::Unauthenticated(
                    "the access token is invalid or expired".into(),
                )
                .into());
            }
            _ => {}
        }
        let state = ctx.data_unchecked::<AppState>();
        Ok(Booking::new(
            bookings::create(&state.db, &state.outbox, &actor(ctx), input.into()).await?,
        ))
    }

    /// Cancels a booking, freeing its places (admin only). Refunds are separate.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn cancel_booking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The booking's id.")] id: Uuid,
        #[graphql(desc = "Why it is cancelled.")] reason: String,
    ) -> async_graphql::Result<Booking> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(Booking::new(
            bookings::cancel(&state.db, &actor(ctx), id, &reason).await?,
        ))
    }

    /// Records money received for a booking (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn record_payment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The payment.")] input: RecordPaymentInput,
    ) -> async_graphql::Result<Payment> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(Payment::new(
            payments::record(
                &state.db,
                &actor(ctx),
                input.booking_id,
                input.amount,
                input.method.into(),
                input.stripe_payment_intent_id,
            )
            .await?,
        ))
    }

    /// Asks for a refund; it can never exceed what was paid less earlier refunds (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn request_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The booking to refund.")] booking_id: Uuid,
        #[graphql(desc = "Amount in pounds.")] amount: Decimal,
        #[graphql(desc = "Why.")] reason: String,
    ) -> async_graphql::Result<Refund> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(Refund(
            payments::request_refund(&state.db, &actor(ctx), booking_id, amount, &reason).await?,
        ))
    }

    /// Approves a pending refund (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn approve_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refund's id.")] id: Uuid,
    ) -> async_graphql::Result<Refund> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(Refund(
            payments::transition_refund(
                &state.db,
                &actor(ctx),
                id,
                &[RefundStatus::Pending],
                RefundStatus::Approved,
                None,
            )
            .await?,
        ))
    }

    /// Rejects a pending or approved refund (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn reject_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refund's id.")] id: Uuid,
        #[graphql(desc = "Why it is rejected.")] reason: Option<String>,
    ) -> async_graphql::Result<Refund> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(Refund(
            payments::transition_refund(
                &state.db,
                &actor(ctx),
                id,
                &[RefundStatus::Pending, RefundStatus::Approved],
                RefundStatus::Rejected,
                reason.as_deref(),
            )
            .await?,
        ))
    }

    /// Marks an approved refund as paid back: the booking and the customer's lifetime spend
    /// go down by its amount (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn complete_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The refund's id.")] id: Uuid,
    ) -> async_graphql::Result<Refund> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(Refund(
            payments::transition_refund(
                &state.db,
                &actor(ctx),
                id,
                &[RefundStatus::Approved],
                RefundStatus::Completed,
                None,
            )
            .await?,
        ))
    }

    /// Marks one attendee's attendance (the session's instructor, or an admin).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn mark_attendance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session.")] session_id: Uuid,
        #[graphql(desc = "The attendee (`id` of one of the session's `attendees`).")]
        attendee_id: Uuid,
        #[graphql(desc = "Present, absent, late, partial or excused.")] status: AttendanceStatus,
        #[graphql(desc = "Whether they passed the assessment.")] passed_assessment: Option<bool>,
        #[graphql(desc = "Feedback from the trainer.")] feedback: Option<String>,
    ) -> async_graphql::Result<AttendanceRecord> {
        let state = ctx.data_unchecked::<AppState>();
        let principal = require_principal(ctx)?;
        Ok(AttendanceRecord(
            attendance::mark(
                &state.db,
                principal,
                &actor(ctx),
                attendance::Marking {
                    session_id,
                    attendee_id,
                    status: status.into(),
                    passed_assessment,
                    feedback,
                },
            )
            .await?,
        ))
    }

    /// Adds a note to a session (the session's instructor, or an admin).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn add_session_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session.")] session_id: Uuid,
        #[graphql(desc = "The note.")] text: String,
    ) -> async_graphql::Result<SessionNote> {
        let state = ctx.data_unchecked::<AppState>();
        let principal = require_principal(ctx)?;
        Ok(SessionNote(
            attendance::add_note(&state.db, principal, &actor(ctx), session_id, &text).await?,
        ))
    }

    /// Issues certificates to everyone marked present or late who passed; running it again
    /// issues nothing twice. Returns the certificates newly issued (the session's
    /// instructor, or an admin).
    #[graphql(guard = "RoleGuard::staff()")]
    async fn issue_certificates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session.")] session_id: Uuid,
    ) -> async_graphql::Result<Vec<Certificate>> {
        let state = ctx.data_unchecked::<AppState>();
        let principal = require_principal(ctx)?;
        Ok(certificates::issue_for_session(
            &state.db,
            &state.outbox,
            principal,
            &actor(ctx),
            session_id,
        )
        .await?
        .into_iter()
        .map(Certificate::new)
        .collect())
    }

    /// Revokes a certificate (admin only).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn revoke_certificate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The certificate's id.")] id: Uuid,
        #[graphql(desc = "Why it is revoked.")] reason: String,
    ) -> async_graphql::Result<Certificate> {
        let state = ctx.data_unchecked::<AppState>();
        Ok(Certificate::new(
            certificates::revoke(&state.db, &actor(ctx), id, &reason).await?,
        ))
    }
}
