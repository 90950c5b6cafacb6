//! HS256 access tokens with a pinned algorithm and checked `iss`, `aud`, `sub` and `exp`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{JWT_AUDIENCE, JWT_ISSUER, Secret};
use crate::entities::enums::Role;
use crate::error::{AppError, AppResult};

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: Uuid,
    /// The refresh-token family (login session) this token belongs to.
    pub sid: Uuid,
    /// The role at issue time (informational: each request re-reads the user).
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

/// Signing and verification keys with a fixed validation policy.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    /// Keys from the configured secret.
    pub fn new(secret: &Secret, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[JWT_ISSUER]);
        validation.set_audience(&[JWT_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            ttl,
        }
    }

    /// Issues an access token; returns it with its expiry.
    pub fn issue(
        &self,
        user_id: Uuid,
        role: Role,
        session_family: Uuid,
    ) -> AppResult<(String, DateTime<Utc>)> {
        let now = Utc::now();
        let expires_at = now + chrono::Duration::from_std(self.ttl).map_err(AppError::internal)?;
        let claims = Claims {
            iss: JWT_ISSUER.into(),
            aud: JWT_AUDIENCE.into(),
            sub: user_id,
            sid: session_family,
            role,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, expires_at))
    }

    /// Verifies signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&Secret::new("x".repeat(40)), Duration::from_secs(900))
    }

    #[test]
    fn round_trips_and_rejects_tampering() {
        let k = keys();
        let (token, _) = k
            .issue(Uuid::now_v7(), Role::Admin, Uuid::now_v7())
            .unwrap();
        assert!(k.verify(&token).is_some());
        let other = JwtKeys::new(&Secret::new("y".repeat(40)), Duration::from_secs(900));
        assert!(other.verify(&token).is_none());
    }

    #[test]
    fn rejects_other_algorithms_and_audiences() {
        let k = keys();
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: JWT_ISSUER.into(),
            aud: "someone-else".into(),
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            role: Role::Admin,
            iat: now,
            exp: now + 600,
        };
        let key = EncodingKey::from_secret("x".repeat(40).as_bytes());
        let wrong_aud = encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
        assert!(k.verify(&wrong_aud).is_none());
        let claims = Claims {
            aud: JWT_AUDIENCE.into(),
            ..claims
        };
        let hs512 = encode(&Header::new(Algorithm::HS512), &claims, &key).unwrap();
        assert!(k.verify(&hs512).is_none());
        let expired = Claims {
            exp: now - 60,
            ..claims
        };
        let expired = encode(&Header::new(Algorithm::HS256), &expired, &key).unwrap();
        assert!(k.verify(&expired).is_none());
    }
}
