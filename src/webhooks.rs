//! `POST /webhooks/stripe`: Stripe tells us about payments and refunds.
//!
//! The `Stripe-Signature` header is checked (HMAC-SHA256 over `"{t}.{body}"` with
//! `RFT_STRIPE_WEBHOOK_SECRET`, 5-minute tolerance) before the body is read as JSON. Each
//! event id is recorded in `stripe_events` in the same transaction as its effects, so a
//! replayed event changes nothing, and a failed one is retried by Stripe.

use axum::{Json, body::Bytes, extract::State, http::HeaderMap, http::StatusCode};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::OnConflict,
};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::app::AppState;
use crate::db::begin_write;
use crate::entities::enums::{BookingStatus, PaymentMethod};
use crate::entities::{booking, payment, stripe_event};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Actor};
use crate::services::payments::{self, NewPayment};

/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECS: i64 = 300;

/// Checks a `Stripe-Signature` header against the raw body.
pub fn verify_signature(secret: &str, header: &str, body: &[u8], now: DateTime<Utc>) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now.timestamp() - t).abs() > TOLERANCE_SECS {
        return false;
    }
    signatures.iter().any(|sig| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(sig).is_ok()
    })
}

/// Signs a body the way Stripe does (for tests and local tooling).
pub fn sign(secret: &str, body: &[u8], at: DateTime<Utc>) -> String {
    let t = at.timestamp();
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The webhook handler.
pub async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let Some(secret) = state.config.stripe_webhook_secret.as_ref() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "Stripe webhooks are not configured"})),
        );
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !verify_signature(secret.expose(), header, &body, Utc::now()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid signature"})),
        );
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "body is not JSON"})),
        );
    };
    match handle(&state, &event).await {
        Ok(outcome) => (
            StatusCode::OK,
            Json(json!({"received": true, "outcome": outcome})),
        ),
        Err(AppError::BadUserInput { message, .. }) => {
            (StatusCode::BAD_REQUEST, Json(json!({"error": message})))
        }
        // Stripe retries on any non-2xx; 503 tells it (and operators) this was an outage.
        Err(e @ AppError::Unavailable(_)) => {
            tracing::warn!(error = %e, "stripe webhook: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": e.to_string(), "code": e.code()})),
            )
        }
        Err(e) => {
            tracing::error!(error = ?e, "stripe webhook failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "internal server error"})),
            )
        }
    }
}

async fn handle(state: &AppState, event: &Value) -> AppResult<&'static str> {
    let id = event["id"]
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 255);
    let kind = event["type"].as_str().unwrap_or("");
    let Some(id) = id else {
        return Err(AppError::bad_input("id", "event has no id"));
    };
    let txn = begin_write(&state.db).await?;
    let now = Utc::now();
    let inserted = stripe_event::Entity::insert(
        stripe_event::Model {
            id: id.to_string(),
            event_type: kind.chars().take(100).collect(),
            received_at: now,
            processed_at: Some(now),
        }
        .into_active_model()
        .reset_all(),
    )
    .on_conflict(
        OnConflict::column(stripe_event::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Ok("duplicate");
    }
    let object = &event["data"]["object"];
    let outcome = match kind {
        "payment_intent.succeeded" => payment_succeeded(&txn, object).await?,
        "charge.refunded" => charge_refunded(&txn, object).await?,
        _ => "ignored",
    };
    txn.commit().await?;
    Ok(outcome)
}

async fn payment_succeeded(conn: &impl ConnectionTrait, intent: &Value) -> AppResult<&'static str> {
    let intent_id = intent["id"].as_str().unwrap_or_default();
    let amount = intent["amount_received"]
        .as_i64()
        .or_else(|| intent["amount"].as_i64())
        .unwrap_or(0);
    let currency = intent["currency"].as_str().unwrap_or("gbp");
    let Some(reference) = intent["metadata"]["booking_reference"].as_str() else {
        tracing::warn!(
            intent_id,
            "payment_intent.succeeded without metadata.booking_reference"
        );
        return Ok("no_booking_reference");
    };
    if !currency.eq_ignore_ascii_case("gbp") {
        tracing::warn!(intent_id, currency, "payment in a currency other than GBP");
        return Ok("unsupported_currency");
    }
    let Some(b) = booking::Entity::find()
        .filter(booking::Column::Reference.eq(reference))
        .one(conn)
        .await?
    else {
        tracing::warn!(
            intent_id,
            reference,
            "payment for an unknown booking reference"
        );
        return Ok("unknown_booking");
    };
    if payment::Entity::find()
        .filter(payment::Column::StripePaymentIntentId.eq(intent_id))
        .one(conn)
        .await?
        .is_some()
    {
        return Ok("already_recorded");
    }
    if b.status == BookingStatus::Cancelled {
        // Money Stripe took for a booking we cancelled: the booking cannot take it, but the
        // event must not be retried for days either. It is recorded for an admin to refund.
        tracing::warn!(intent_id, booking_id = %b.id, "payment received for a cancelled booking");
        audit::record(
            conn,
            &Actor::system(),
            "stripe.payment_for_cancelled_booking",
            "booking",
            Some(b.id),
            Some(json!({ "paymentIntent": intent_id, "amountPence": amount })),
        )
        .await?;
        return Ok("booking_cancelled");
    }
    payments::apply_payment(
        conn,
        &Actor::system(),
        NewPayment {
            booking_id: b.id,
            amount_pence: amount,
            method: PaymentMethod::Stripe,
            stripe_payment_intent_id: Some(intent_id.to_string()),
            allow_overpayment: true,
        },
    )
    .await?;
    Ok("payment_recorded")
}

async fn charge_refunded(conn: &impl ConnectionTrait, charge: &Value) -> AppResult<&'static str> {
    let intent_id = charge["payment_intent"].as_str().unwrap_or_default();
    let Some(pay) = payment::Entity::find()
        .filter(payment::Column::StripePaymentIntentId.eq(intent_id))
        .one(conn)
        .await?
    else {
        tracing::warn!(intent_id, "refund for a payment we have no record of");
        return Ok("unknown_payment");
    };
    let mut recorded = 0;
    for r in charge["refunds"]["data"].as_array().into_iter().flatten() {
        let (Some(refund_id), Some(amount)) = (r["id"].as_str(), r["amount"].as_i64()) else {
            continue;
        };
        if r["status"].as_str().is_some_and(|s| s != "succeeded") {
            continue;
        }
        if payments::apply_stripe_refund(conn, pay.booking_id, refund_id, amount)
            .await?
            .is_some()
        {
            recorded += 1;
        }
    }
    if recorded == 0 {
        // Older payloads carry only the cumulative amount: record what is new.
        if let (Some(charge_id), Some(total)) =
            (charge["id"].as_str(), charge["amount_refunded"].as_i64())
        {
            let b = booking::Entity::find_by_id(pay.booking_id)
                .one(conn)
                .await?
                .ok_or(AppError::NotFound("booking"))?;
            let new = total - b.amount_refunded_pence;
            if new > 0 {
                let key = format!("{charge_id}:{total}");
                if payments::apply_stripe_refund(conn, pay.booking_id, &key, new)
                    .await?
                    .is_some()
                {
                    recorded += 1;
                }
            }
        }
    }
    Ok(if recorded > 0 {
        "refund_recorded"
    } else {
        "nothing_new"
    })
}
