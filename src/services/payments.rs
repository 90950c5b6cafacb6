//! Payments and refunds. A payment raises the booking's paid amount and the customer's
//! lifetime spend; a completed refund lowers both. All with SQL increments in one
//! transaction, and a refund can never exceed what was paid less earlier refunds.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;
use uuid::Uuid;

use crate::db::begin_write;
use crate::entities::enums::{
    BookingStatus, PaymentMethod, PaymentRecordStatus, PaymentStatus, RefundStatus,
};
use crate::entities::{booking, payment, refund};
use crate::error::{AppError, AppResult};
use crate::money;
use crate::services::audit::{self, Activity, Actor};
use crate::services::{customer_stats, references, validate};

/// Reads a booking and, on PostgreSQL, locks it until commit, so money checks and updates
/// on one booking never interleave. (SQLite write transactions are already serial.)
#[tracing::instrument(level = "debug", skip_all, fields(booking_id = %id))]
pub async fn lock_booking(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<booking::Model> {
    let mut q = booking::Entity::find_by_id(id);
    if conn.get_database_backend() == DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    q.one(conn).await?.ok_or(AppError::NotFound("booking"))
}

/// The payment status that follows from the amounts.
pub(crate) fn payment_status(total: i64, paid: i64, refunded: i64) -> PaymentStatus {
    if paid > 0 && refunded >= paid {
        PaymentStatus::Refunded
    } else if refunded > 0 {
        PaymentStatus::PartiallyRefunded
    } else if paid >= total {
        PaymentStatus::Paid
    } else if paid > 0 {
        PaymentStatus::PartiallyPaid
    } else {
        PaymentStatus::Pending
    }
}

/// Recomputes a booking's payment status (and confirms it once fully paid).
async fn settle(
    conn: &impl ConnectionTrait,
    booking_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<booking::Model> {
    let b = booking::Entity::find_by_id(booking_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("booking"))?;
    let status = payment_status(
        b.total_amount_pence,
        b.amount_paid_pence,
        b.amount_refunded_pence,
    );
    let mut am = b.clone().into_active_model();
    am.payment_status = Set(status);
    if status == PaymentStatus::Paid && b.status == BookingStatus::Pending {
        am.status = Set(BookingStatus::Confirmed);
    }
    am.updated_at = Set(now);
    Ok(am.update(conn).await?)
}

/// What a new payment is.
pub struct NewPayment {
    pub booking_id: Uuid,
    pub amount_pence: i64,
    pub method: PaymentMethod,
    pub stripe_payment_intent_id: Option<String>,
    /// Money already taken (a Stripe payment) is recorded even beyond the balance due.
    pub allow_overpayment: bool,
}

/// Records a succeeded payment inside the caller's transaction.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), booking_id = %p.booking_id, payment_id = tracing::field::Empty))]
pub async fn apply_payment(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    p: NewPayment,
) -> AppResult<payment::Model> {
    if p.amount_pence <= 0 {
        return Err(AppError::bad_input(
            "amount",
            "amount must be more than zero",
        ));
    }
    let now = Utc::now();
    let b = lock_booking(conn, p.booking_id).await?;
    if b.status == BookingStatus::Cancelled {
        return Err(AppError::Conflict("this booking is cancelled".into()));
    }
    let due = b.total_amount_pence - b.amount_paid_pence;
    if p.amount_pence > due && !p.allow_overpayment {
        return Err(AppError::bad_input(
            "amount",
            format!(
                "amount exceeds the balance due of £{}",
                money::from_pence(std::cmp::max(due, 0))
            ),
        ));
    }
    let pay = payment::Model {
        id: Uuid::now_v7(),
        booking_id: b.id,
        user_id: b.user_id,
        stripe_payment_intent_id: p.stripe_payment_intent_id,
        amount_pence: p.amount_pence,
        currency: "GBP".into(),
        status: PaymentRecordStatus::Succeeded,
        method: p.method,
        recorded_by_id: actor.id,
        paid_at: Some(now),
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .reset_all()
    .insert(conn)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => {
            AppError::Conflict("this Stripe payment is already recorded".into())
        }
        other => other,
    })?;
    tracing::Span::current().record("payment_id", tracing::field::display(pay.id));
    booking::Entity::update_many()
        .col_expr(
            booking::Column::AmountPaidPence,
            Expr::col(booking::Column::AmountPaidPence).add(p.amount_pence),
        )
        .filter(booking::Column::Id.eq(b.id))
        .exec(conn)
        .await?;
    customer_stats::on_payment_completed(conn, b.user_id, p.amount_pence, now).await?;
    settle(conn, b.id, now).await?;
    audit::record(
        conn,
        actor,
        "payment.record",
        "payment",
        Some(pay.id),
        Some(audit::changes(None, Some(&pay))),
    )
    .await?;
    audit::log_activity(
        conn,
        actor,
        Activity {
            user_id: b.user_id,
            activity_type: "payment_made",
            description: Some(format!(
                "Paid £{} for {}",
                money::from_pence(pay.amount_pence),
                b.reference
            )),
            related: Some(("payment", pay.id)),
        },
    )
    .await?;
    Ok(pay)
}

/// `recordPayment`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), %booking_id))]
pub async fn record(
    db: &DatabaseConnection,
    actor: &Actor,
    booking_id: Uuid,
    amount: rust_decimal::Decimal,
    method: PaymentMethod,
    stripe_payment_intent_id: Option<String>,
) -> AppResult<payment::Model> {
    let amount_pence = money::to_pence("amount", amount)?;
    if method == PaymentMethod::Legacy {
        return Err(AppError::bad_input(
            "method",
            "LEGACY is kept for payments imported from the old booking system",
        ));
    }
    let intent = validate::optional(
        "stripePaymentIntentId",
        stripe_payment_intent_id.as_deref(),
        255,
    )?;
    let txn = begin_write(db).await?;
    let pay = apply_payment(
        &txn,
        actor,
        NewPayment {
            booking_id,
            amount_pence,
            method,
            stripe_payment_intent_id: intent,
            allow_overpayment: false,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(pay)
}

/// Pence already paid, less refunds that are not rejected or failed.
async fn refundable(conn: &impl ConnectionTrait, b: &booking::Model) -> AppResult<i64> {
    let open: i64 = refund::Entity::find()
        .filter(refund::Column::BookingId.eq(b.id))
        .filter(refund::Column::Status.is_not_in([RefundStatus::Rejected, RefundStatus::Failed]))
        .all(conn)
        .await?
        .iter()
        .map(|r| r.amount_pence)
        .sum();
    Ok(b.amount_paid_pence - open)
}

/// `requestRefund`.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), %booking_id, refund_id = tracing::field::Empty))]
pub async fn request_refund(
    db: &DatabaseConnection,
    actor: &Actor,
    booking_id: Uuid,
    amount: rust_decimal::Decimal,
    reason: &str,
) -> AppResult<refund::Model> {
    let amount_pence = money::to_pence("amount", amount)?;
    if amount_pence <= 0 {
        return Err(AppError::bad_input(
            "amount",
            "amount must be more than zero",
        ));
    }
    let reason = validate::required("reason", reason, 2000)?;
    let txn = begin_write(db).await?;
    let b = lock_booking(&txn, booking_id).await?;
    let available = refundable(&txn, &b).await?;
    if amount_pence > available {
        return Err(AppError::bad_input(
            "amount",
            format!(
                "at most £{} can be refunded on this booking",
                money::from_pence(std::cmp::max(available, 0))
            ),
        ));
    }
    let now = Utc::now();
    let r = new_refund(
        &b,
        amount_pence,
        reason,
        actor.id,
        RefundStatus::Pending,
        None,
        now,
    )
    .insert(&txn)
    .await?;
    tracing::Span::current().record("refund_id", tracing::field::display(r.id));
    audit::record(
        &txn,
        actor,
        "refund.request",
        "refund",
        Some(r.id),
        Some(audit::changes(None, Some(&r))),
    )
    .await?;
    audit::log_activity(
        &txn,
        actor,
        Activity {
            user_id: b.user_id,
            activity_type: "refund_requested",
            description: Some(format!(
                "Refund of £{} requested on {}",
                money::from_pence(amount_pence),
                b.reference
            )),
            related: Some(("refund", r.id)),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

fn new_refund(
    b: &booking::Model,
    amount_pence: i64,
    reason: String,
    by: Option<Uuid>,
    status: RefundStatus,
    stripe_refund_id: Option<String>,
    now: DateTime<Utc>,
) -> refund::ActiveModel {
    refund::Model {
        id: Uuid::now_v7(),
        booking_id: b.id,
        payment_id: None,
        user_id: b.user_id,
        reference: references::refund_reference(),
        amount_pence,
        processing_fee_pence: 0,
        status,
        reason,
        stripe_refund_id,
        requested_by_id: by,
        processed_by_id: None,
        requested_at: now,
        approved_at: None,
        rejected_at: None,
        completed_at: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .reset_all()
}

/// Moves a refund from one of `from` to `to`, applying the money on completion.
#[tracing::instrument(skip_all, fields(actor_id = actor.id.map(tracing::field::display), refund_id = %id, to = ?to))]
pub async fn transition_refund(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    from: &[RefundStatus],
    to: RefundStatus,
    note: Option<&str>,
) -> AppResult<refund::Model> {
    let txn = begin_write(db).await?;
    let find_refund = || async {
        refund::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(AppError::NotFound("refund"))
    };
    let booking_id = find_refund().await?.booking_id;
    let b = lock_booking(&txn, booking_id).await?;
    // Read the refund again now its booking is locked: every writer of a refund locks the
    // booking first, so two completions of one refund cannot both see it approved (and
    // take the money off twice).
    let before = find_refund().await?;
    if !from.contains(&before.status) {
        return Err(AppError::Conflict(format!(
            "a {} refund cannot become {}",
            sea_orm::ActiveEnum::to_value(&before.status),
            sea_orm::ActiveEnum::to_value(&to)
        )));
    }
    if to == RefundStatus::Completed
        && b.amount_refunded_pence + before.amount_pence > b.amount_paid_pence
    {
        // Money may have gone back another way meanwhile (e.g. refunded in Stripe).
        return Err(AppError::Conflict(format!(
            "only £{} paid on this booking is left to refund",
            money::from_pence(std::cmp::max(
                b.amount_paid_pence - b.amount_refunded_pence,
                0
            ))
        )));
    }
    let now = Utc::now();
    let mut am = before.clone().into_active_model();
    am.status = Set(to);
    am.updated_at = Set(now);
    am.processed_by_id = Set(actor.id);
    match to {
        RefundStatus::Approved => am.approved_at = Set(Some(now)),
        RefundStatus::Rejected => {
            am.rejected_at = Set(Some(now));
            if let Some(n) = note {
                am.reason = Set(format!(
                    "{}\nRejected: {}",
                    before.reason,
                    validate::required("reason", n, 2000)?
                ));
            }
        }
        RefundStatus::Completed => am.completed_at = Set(Some(now)),
        _ => {}
    }
    let after = am.update(&txn).await?;
    if to == RefundStatus::Completed {
        apply_refund_money(&txn, &after, now).await?;
    }
    audit::record(
        &txn,
        actor,
        &format!("refund.{}", sea_orm::ActiveEnum::to_value(&to)),
        "refund",
        Some(id),
        Some(audit::changes(Some(&before), Some(&after))),
    )
    .await?;
    if to == RefundStatus::Completed {
        audit::log_activity(
            &txn,
            actor,
            Activity {
                user_id: after.user_id,
                activity_type: "refund_completed",
                description: Some(format!(
                    "Refund of £{} completed",
                    money::from_pence(after.amount_pence)
                )),
                related: Some(("refund", after.id)),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(after)
}

/// A completed refund lowers the booking's net payment and the customer's lifetime spend.
async fn apply_refund_money(
    conn: &impl ConnectionTrait,
    r: &refund::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    booking::Entity::update_many()
        .col_expr(
            booking::Column::AmountRefundedPence,
            Expr::col(booking::Column::AmountRefundedPence).add(r.amount_pence),
        )
        .filter(booking::Column::Id.eq(r.booking_id))
        .exec(conn)
        .await?;
    customer_stats::on_refund_completed(conn, r.user_id, r.amount_pence, now).await?;
    settle(conn, r.booking_id, now).await?;
    Ok(())
}

/// Records a refund Stripe has already made (from `charge.refunded`). A refund requested
/// in the API for the same amount and not yet tied to Stripe is that refund: it is linked
/// (and completed, if it was not), so money refunded once is never counted twice.
#[tracing::instrument(skip_all, fields(%booking_id))]
pub async fn apply_stripe_refund(
    conn: &impl ConnectionTrait,
    booking_id: Uuid,
    stripe_refund_id: &str,
    amount_pence: i64,
) -> AppResult<Option<refund::Model>> {
    if refund::Entity::find()
        .filter(refund::Column::StripeRefundId.eq(stripe_refund_id))
        .one(conn)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let b = lock_booking(conn, booking_id).await?;
    let now = Utc::now();
    let same = refund::Entity::find()
        .filter(refund::Column::BookingId.eq(booking_id))
        .filter(refund::Column::StripeRefundId.is_null())
        .filter(refund::Column::AmountPence.eq(amount_pence))
        .filter(refund::Column::Status.is_in([
            RefundStatus::Pending,
            RefundStatus::Approved,
            RefundStatus::Processing,
            RefundStatus::Completed,
        ]))
        .one(conn)
        .await?;
    if let Some(existing) = same {
        let was_completed = existing.status == RefundStatus::Completed;
        let mut am = existing.clone().into_active_model();
        am.stripe_refund_id = Set(Some(stripe_refund_id.to_string()));
        am.status = Set(RefundStatus::Completed);
        am.completed_at = Set(existing.completed_at.or(Some(now)));
        am.updated_at = Set(now);
        let linked = am.update(conn).await?;
        if !was_completed {
            apply_refund_money(conn, &linked, now).await?;
        }
        audit::record(
            conn,
            &Actor::system(),
            "refund.stripe_linked",
            "refund",
            Some(linked.id),
            Some(audit::changes(Some(&existing), Some(&linked))),
        )
        .await?;
        return Ok(Some(linked));
    }
    let amount_pence = std::cmp::min(amount_pence, b.amount_paid_pence - b.amount_refunded_pence);
    if amount_pence <= 0 {
        return Ok(None);
    }
    let mut am = new_refund(
        &b,
        amount_pence,
        "Refunded in Stripe".into(),
        None,
        RefundStatus::Completed,
        Some(stripe_refund_id.into()),
        now,
    );
    am.completed_at = Set(Some(now));
    let r = am.insert(conn).await?;
    apply_refund_money(conn, &r, now).await?;
    let actor = Actor::system();
    audit::record(
        conn,
        &actor,
        "refund.stripe",
        "refund",
        Some(r.id),
        Some(json!({"stripe_refund_id": stripe_refund_id, "amount_pence": amount_pence})),
    )
    .await?;
    audit::log_activity(
        conn,
        &actor,
        Activity {
            user_id: r.user_id,
            activity_type: "refund_completed",
            description: Some(format!(
                "Refund of £{} made in Stripe",
                money::from_pence(amount_pence)
            )),
            related: Some(("refund", r.id)),
        },
    )
    .await?;
    Ok(Some(r))
}
