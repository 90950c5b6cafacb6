//! The customer portal: starting a session with an email and a booking reference, the
//! customer's own profile changes, and ending the session.

use async_graphql::{Context, Object};

use crate::app::AppState;
use crate::error::AppError;
use crate::graphql::guard::{PortalGuard, client_key, request_context, require_customer};
use crate::graphql::types::portal::{MyProfile, MyProfileInput, PortalSession};
use crate::services::audit::Actor;
use crate::services::{portal, validate};

/// The customer portal's mutations.
#[derive(Default)]
pub struct PortalMutation;

/// Takes one attempt from each of the lookup's limits, widest first: the global ceiling,
/// the client's address, the email and the reference (each a keyed hash in the buckets).
/// Here in the resolver, so every alias and every operation of a batch counts. A refused
/// attempt is audited with the limit it hit.
async fn throttle_lookup(ctx: &Context<'_>, email: &str, reference: &str) -> Result<(), AppError> {
    let state = ctx.data_unchecked::<AppState>();
    let limits = &state.config.portal_limits;
    let ip = client_key(ctx);
    let email = validate::normalise_email(email);
    let reference = portal::normalise_reference(reference);
    let checks = [
        ("portal-global", "all", limits.global),
        ("portal-ip", ip.as_str(), limits.per_ip),
        ("portal-email", email.as_str(), limits.per_email),
        ("portal-reference", reference.as_str(), limits.per_reference),
    ];
    for (kind, value, limit) in checks {
        if let Err(e) = state.limiter.check(&state.db, kind, value, limit).await {
            if matches!(e, AppError::RateLimited { .. }) {
                let actor = Actor::from_request(request_context(ctx));
                portal::record_throttled(&state.db, &actor, kind).await?;
            }
            return Err(e);
        }
    }
    Ok(())
}

#[Object]
impl PortalMutation {
    /// Opens the customer portal (public): when the email (any case, following merged
    /// profiles) owns the booking with this reference, a session for that customer. Any
    /// mismatch answers UNAUTHENTICATED, "no booking matches that email and reference".
    /// Throttled per client, per email, per reference and overall (RATE_LIMITED with
    /// `retryAfter`); every attempt is audited.
    async fn customer_lookup(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The email the booking was made with.")] email: String,
        #[graphql(desc = "One of the customer's booking references (`RFT-…`).")]
        booking_reference: String,
    ) -> async_graphql::Result<PortalSession> {
        throttle_lookup(ctx, &email, &booking_reference).await?;
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        let started = portal::lookup(&state.db, &actor, &email, &booking_reference).await?;
        Ok(started.into())
    }

    /// Changes the signed-in customer's own contact details, emergency contact, dietary
    /// and medical declaration and consents (a portal session only). Audited, and logged
    /// as `profile_updated_by_customer` activity.
    #[graphql(guard = "PortalGuard")]
    async fn update_my_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes; omitted fields are left alone.")] input: MyProfileInput,
    ) -> async_graphql::Result<MyProfile> {
        let customer = require_customer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        let updated =
            portal::update_profile(&state.db, &actor, customer.user_id, input.into()).await?;
        Ok(MyProfile::new(updated))
    }

    /// Ends the portal session whose token this request carries; the token stops working
    /// at once.
    #[graphql(guard = "PortalGuard")]
    async fn end_portal_session(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let customer = require_customer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let actor = Actor::from_request(request_context(ctx));
        portal::end(&state.db, &actor, customer).await?;
        Ok(true)
    }
}
