//! Per-client limits on credential endpoints (login, token refresh, password change) and
//! on the public certificate check (`verifyCertificate`).

use std::{num::NonZeroU32, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{AppError, AppResult};

/// A keyed limiter: `per_minute` attempts per key, refilled evenly.
#[derive(Clone)]
pub struct CredentialLimiter(Arc<DefaultKeyedRateLimiter<String>>);

impl CredentialLimiter {
    /// A limiter allowing `per_minute` attempts a minute per key (at least one).
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self(Arc::new(RateLimiter::keyed(Quota::per_minute(n))))
    }

    /// Takes one attempt for `key`, or fails with RATE_LIMITED.
    pub fn check(&self, key: &str) -> AppResult<()> {
        self.0
            .check_key(&key.to_string())
            .map_err(|_| AppError::RateLimited)
    }
}
