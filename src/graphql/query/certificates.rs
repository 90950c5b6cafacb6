//! The public certificate check.

use async_graphql::{Context, Object};
use chrono::Utc;

use crate::app::AppState;
use crate::auth::rate_limit::Limit;
use crate::graphql::guard::client_key;
use crate::graphql::types::verification::CertificateVerification;
use crate::services::certificates::verify;

/// Certificates, as the public may check them.
#[derive(Default)]
pub struct CertificateQuery;

#[Object]
impl CertificateQuery {
    /// Checks a certificate by its number, for an employer: whether it is valid, expired
    /// or revoked, the course, the dates and the holder's initialled name. Public, no login
    /// needed; an unknown number answers `NOT_FOUND`. Limited per client IP
    /// (`RFT_VERIFY_RATE_PER_MINUTE`); past it, RATE_LIMITED.
    async fn verify_certificate(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The certificate number, as printed (e.g. RFT-FAW-2026-…); case \
                          and surrounding spaces are ignored."
        )]
        number: String,
    ) -> async_graphql::Result<CertificateVerification> {
        let state = ctx.data_unchecked::<AppState>();
        // throttle: the one place verifyCertificate is limited per client IP.
        state
            .limiter
            .check(
                &state.db,
                "verify-ip",
                &client_key(ctx),
                Limit::per_minute(state.config.verify_rate_per_minute),
            )
            .await?;
        let found = verify::verify(&state.db, &number, Utc::now().date_naive()).await?;
        Ok(CertificateVerification {
            number: number.trim().to_string(),
            found,
        })
    }
}
