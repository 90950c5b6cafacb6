//! `User.insights` (a customer's exact history, segment and prediction) and
//! `insightsModel` (the last fit of the models behind them).

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject, dataloader::DataLoader};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::entities::insight_model;
use crate::error::AppError;
use crate::graphql::loaders::{CourseLoader, InsightsBundle, VenueLoader};
use crate::graphql::types::booking::{Course, Venue};
use crate::graphql::types::enums::{CourseType, CustomerSegment, CustomerType, PaymentMethod};
use crate::money;
use crate::services::insights::facts::Share;
use crate::services::insights::predict::Prediction;
use crate::services::insights::refresh::ModelFit;

/// A customer's insights: exact history from the facts, and the segment and prediction of
/// the last refresh (`refreshInsights`). Admin only.
pub struct CustomerInsights(pub Arc<InsightsBundle>);

fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn loader_error(e: Arc<sea_orm::DbErr>) -> async_graphql::Error {
    AppError::internal(anyhow::anyhow!("{e}")).into()
}

/// A customer's insights: exact history from the facts, and the segment and prediction of
/// the last refresh (`refreshInsights`). Admin only.
#[Object]
impl CustomerInsights {
    /// Bookings not cancelled (equals `User.totalBookings`).
    async fn total_bookings(&self) -> i32 {
        int(self.0.facts.total_bookings)
    }
    /// Bookings completed.
    async fn completed_bookings(&self) -> i32 {
        int(self.0.facts.completed_bookings)
    }
    /// Bookings cancelled.
    async fn cancelled_bookings(&self) -> i32 {
        int(self.0.facts.cancelled_bookings)
    }
    /// Places on the bookings not cancelled.
    async fn total_attendees(&self) -> i32 {
        int(self.0.facts.total_attendees)
    }
    /// Payments received (succeeded, including those later refunded), in pounds.
    async fn gross_spent(&self) -> Decimal {
        money::from_pence(self.0.facts.gross_spent_pence)
    }
    /// Refunds completed, in pounds.
    async fn total_refunded(&self) -> Decimal {
        money::from_pence(self.0.facts.total_refunded_pence)
    }
    /// Gross spent less refunds, in pounds (equals `User.totalSpent`).
    async fn net_spent(&self) -> Decimal {
        money::from_pence(self.0.facts.net_spent_pence())
    }
    /// Net spent per booking not cancelled, in pounds to the penny; null without bookings
    /// (equals `User.averageBookingValue`).
    async fn average_booking_value(&self) -> Option<Decimal> {
        let f = &self.0.facts;
        (f.total_bookings > 0).then(|| {
            (money::from_pence(f.net_spent_pence()) / Decimal::from(f.total_bookings)).round_dp(2)
        })
    }
    /// What the bookings not cancelled still owe (total less paid), in pounds.
    async fn outstanding_balance(&self) -> Decimal {
        money::from_pence(self.0.facts.outstanding_pence)
    }
    /// Payments that failed.
    async fn failed_payments(&self) -> i32 {
        int(self.0.facts.failed_payments)
    }
    /// When the customer's first booking (any status) was made.
    async fn first_booking_at(&self) -> Option<DateTime<Utc>> {
        self.0.facts.first_booking_at
    }
    /// When the customer's latest booking (any status) was made.
    async fn last_booking_at(&self) -> Option<DateTime<Utc>> {
        self.0.facts.last_booking_at
    }
    /// Mean days between the bookings not cancelled (first to last, over the gaps); null
    /// with fewer than two.
    async fn booking_frequency_days(&self) -> Option<f64> {
        self.0.facts.booking_frequency_days
    }
    /// Courses booked (bookings not cancelled), most booked first.
    async fn preferred_courses(&self) -> Vec<PreferredCourse> {
        self.0
            .facts
            .courses
            .iter()
            .cloned()
            .map(PreferredCourse)
            .collect()
    }
    /// The venue of most bookings not cancelled (ties: the one booked most recently).
    async fn preferred_venue(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Venue>> {
        let Some(id) = self.0.facts.preferred_venue else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<DataLoader<VenueLoader>>()
            .load_one(id)
            .await
            .map_err(loader_error)?
            .map(Venue))
    }
    /// Payments received by method, largest amount first.
    async fn payment_methods(&self) -> Vec<PaymentMethodTotal> {
        self.0
            .facts
            .payment_methods
            .iter()
            .map(|m| PaymentMethodTotal {
                method: m.method.into(),
                payments: int(m.payments),
                amount: money::from_pence(m.amount_pence),
            })
            .collect()
    }
    /// The customer's certificates by state, today.
    async fn certificates(&self) -> CertificateSummary {
        let c = &self.0.facts.certificates;
        CertificateSummary {
            active: int(c.active),
            expiring_within_90_days: int(c.expiring_soon),
            expired: int(c.expired),
            next_expiry: c.next_expiry,
        }
    }
    /// The customer's segment at the last refresh; null when it did not score them (not an
    /// active customer with a booking then) or before the first refresh.
    async fn segment(&self) -> Option<CustomerSegment> {
        self.0.stored.as_ref().map(|s| s.segment.into())
    }
    /// Recency, frequency and monetary scores (1 to 5, by quintile over all active
    /// customers) at the last refresh; null when it did not score the customer.
    async fn rfm(&self) -> Option<RfmScores> {
        self.0.stored.as_ref().map(|s| RfmScores {
            recency: s.recency_score.into(),
            frequency: s.frequency_score.into(),
            monetary: s.monetary_score.into(),
            recency_days: s.recency_days,
            bookings: s.bookings,
            net_spent: money::from_pence(s.monetary_pence),
        })
    }
    /// What the last refresh predicts for the customer, from the date it was taken as of;
    /// null when it did not score the customer.
    async fn prediction(&self) -> Option<CustomerPrediction> {
        self.0.latest.as_ref()?;
        self.0.stored.as_ref()?;
        Some(CustomerPrediction(self.0.clone()))
    }
}

/// A course's share of a customer's bookings.
pub struct PreferredCourse(Share);

/// A course's share of a customer's bookings.
#[Object]
impl PreferredCourse {
    /// The course.
    async fn course(&self, ctx: &Context<'_>) -> async_graphql::Result<Course> {
        ctx.data_unchecked::<DataLoader<CourseLoader>>()
            .load_one(self.0.course_id)
            .await
            .map_err(loader_error)?
            .map(Course)
            .ok_or_else(|| AppError::NotFound("course").into())
    }
    /// Bookings of it, not cancelled.
    async fn bookings(&self) -> i32 {
        int(self.0.bookings)
    }
    /// Its fraction (0 to 1) of the customer's bookings not cancelled.
    async fn share(&self) -> f64 {
        self.0.share
    }
}

/// Payments received by one method.
#[derive(SimpleObject)]
pub struct PaymentMethodTotal {
    /// The method.
    method: PaymentMethod,
    /// How many payments.
    payments: i32,
    /// Their total, in pounds.
    amount: Decimal,
}

/// A customer's certificates by state.
#[derive(SimpleObject)]
pub struct CertificateSummary {
    /// Active and not yet expired.
    active: i32,
    /// Active and expiring within the next 90 days.
    #[graphql(name = "expiringWithin90Days")]
    expiring_within_90_days: i32,
    /// Expired.
    expired: i32,
    /// The earliest expiry among the active ones.
    next_expiry: Option<NaiveDate>,
}

/// Recency, frequency and monetary scores, 1 (lowest fifth) to 5 (highest fifth).
#[derive(SimpleObject)]
pub struct RfmScores {
    /// 5: booked most recently.
    recency: i32,
    /// 5: booked most often.
    frequency: i32,
    /// 5: spent most.
    monetary: i32,
    /// Days from the last booking to the refresh's date.
    recency_days: i32,
    /// Bookings (not cancelled) by the refresh's date.
    bookings: i32,
    /// Net spent by the refresh's date, in pounds.
    net_spent: Decimal,
}

/// What the last refresh predicts for a customer. Repeat bookings come from a BG/NBD
/// model of bookings that were not renewals, renewals from the renewal rate of the
/// customer's expiring certificates, and values from a Gamma-Gamma model of booking value.
pub struct CustomerPrediction(Arc<InsightsBundle>);

impl CustomerPrediction {
    fn prediction(&self) -> Option<Prediction<'_>> {
        let latest = self.0.latest.as_ref()?;
        let row = self.0.stored.as_ref()?;
        Some(Prediction::of(latest.fit.models(latest.row.as_of), row))
    }
}

fn months_arg(months: i32) -> async_graphql::Result<u32> {
    u32::try_from(months)
        .ok()
        .filter(|m| (1..=120).contains(m))
        .ok_or_else(|| AppError::bad_input("months", "months must be from 1 to 120").into())
}

fn pounds(pence: f64) -> Decimal {
    money::from_pence(pence.round() as i64)
}

/// What the last refresh predicts for a customer. Repeat bookings come from a BG/NBD
/// model of bookings that were not renewals, renewals from the renewal rate of the
/// customer's expiring certificates, and values from a Gamma-Gamma model of booking value.
#[Object]
impl CustomerPrediction {
    /// The date the prediction was made as of (the refresh's `asOf`); horizons start here.
    async fn as_of(&self) -> Option<NaiveDate> {
        self.0.latest.as_ref().map(|l| l.row.as_of)
    }
    /// The probability (0 to 1) that the customer books again: still a repeat customer,
    /// or renewing a certificate.
    async fn probability_active(&self) -> f64 {
        self.prediction().map_or(0.0, |p| p.probability_active())
    }
    /// Expected bookings over the next `months`.
    async fn expected_bookings(
        &self,
        #[graphql(desc = "The horizon, 1 to 120 months.", default = 12)] months: i32,
    ) -> async_graphql::Result<f64> {
        let months = months_arg(months)?;
        Ok(self
            .prediction()
            .map_or(0.0, |p| p.expected_bookings(months)))
    }
    /// Expected spend over the next `months`, in pounds.
    async fn expected_spend(
        &self,
        #[graphql(desc = "The horizon, 1 to 120 months.", default = 12)] months: i32,
    ) -> async_graphql::Result<Decimal> {
        let months = months_arg(months)?;
        Ok(pounds(
            self.prediction()
                .map_or(0.0, |p| p.expected_spend_pence(months)),
        ))
    }
    /// The probability (0 to 1) that the customer renews their next expiring certificate;
    /// null when none is due.
    async fn renewal_probability(&self) -> Option<f64> {
        self.prediction()?.next_renewal().map(|r| r.probability)
    }
    /// When that renewal is expected (the expiry moved by the usual timing of renewals).
    async fn next_renewal_due(&self) -> Option<NaiveDate> {
        self.prediction()?.next_renewal().map(|r| r.due_on)
    }
    /// Expected spend over the next `months`, each booking discounted to today's money at
    /// `annualDiscountRate`, in pounds: the customer's predicted lifetime value.
    async fn predicted_value(
        &self,
        #[graphql(desc = "The horizon, 1 to 120 months.", default = 36)] months: i32,
        #[graphql(desc = "Annual discount rate, 0 to 1.", default = 0.1)] annual_discount_rate: f64,
    ) -> async_graphql::Result<Decimal> {
        let months = months_arg(months)?;
        if !(0.0..=1.0).contains(&annual_discount_rate) {
            return Err(AppError::bad_input(
                "annualDiscountRate",
                "annualDiscountRate must be from 0 to 1",
            )
            .into());
        }
        Ok(pounds(self.prediction().map_or(0.0, |p| {
            p.predicted_value_pence(months, annual_discount_rate)
        })))
    }
    /// Backtest: bookings the customer actually made in the 12 months after `asOf`
    /// (null unless those months have passed).
    async fn actual_bookings(&self) -> Option<i32> {
        self.0.stored.as_ref()?.actual_bookings
    }
    /// Backtest: the customer's actual net payments in the 12 months after `asOf`, in
    /// pounds (null unless those months have passed).
    async fn actual_revenue(&self) -> Option<Decimal> {
        self.0
            .stored
            .as_ref()?
            .actual_revenue_pence
            .map(money::from_pence)
    }
}

/// The last refresh of the insights: the date its facts were taken as of, the fitted
/// models, the RFM boundaries and, when the year after it has passed, the backtest.
pub struct InsightsModel {
    row: insight_model::Model,
    fit: ModelFit,
}

impl InsightsModel {
    /// The API object of a stored fit.
    pub fn new(row: insight_model::Model, fit: ModelFit) -> Self {
        Self { row, fit }
    }
}

/// The last refresh of the insights: the date its facts were taken as of, the fitted
/// models, the RFM boundaries and, when the year after it has passed, the backtest.
#[Object]
impl InsightsModel {
    /// Unique id.
    async fn id(&self) -> Uuid {
        self.row.id
    }
    /// The facts were taken as they stood at the end of this day (UTC).
    async fn as_of(&self) -> NaiveDate {
        self.row.as_of
    }
    /// When the refresh ran.
    async fn fitted_at(&self) -> DateTime<Utc> {
        self.row.fitted_at
    }
    /// How long it took, in milliseconds.
    async fn duration_ms(&self) -> i64 {
        self.row.duration_ms
    }
    /// Customers scored: active customers (not merged away) with a booking by `asOf`.
    async fn customers(&self) -> i64 {
        self.row.customers
    }
    /// The repeat-booking model (BG/NBD over bookings that were not renewals); null when
    /// there was too little history to fit it (`repeatModelError` says why).
    async fn repeat_model(&self) -> Option<RepeatModel> {
        self.fit.repeat.as_ref().map(|f| RepeatModel {
            r: f.params.r,
            alpha: f.params.alpha,
            a: f.params.a,
            b: f.params.b,
            sample_size: int(f.sample_size as i64),
            log_likelihood: f.log_likelihood,
            iterations: int(f.iterations as i64),
            fit_ms: int(f.fit_ms as i64),
        })
    }
    /// Why the repeat-booking model could not be fitted.
    async fn repeat_model_error(&self) -> Option<&str> {
        self.fit.repeat_error.as_deref()
    }
    /// The value-per-booking model (Gamma-Gamma); null when it could not be fitted.
    async fn value_model(&self) -> Option<ValueModel> {
        self.fit.value.as_ref().map(|f| ValueModel {
            p: f.params.p,
            q: f.params.q,
            gamma: f.params.gamma,
            sample_size: int(f.sample_size as i64),
            log_likelihood: f.log_likelihood,
            iterations: int(f.iterations as i64),
            fit_ms: int(f.fit_ms as i64),
        })
    }
    /// Why the value model could not be fitted.
    async fn value_model_error(&self) -> Option<&str> {
        self.fit.value_error.as_deref()
    }
    /// Renewal rates by course type and customer type: of the certificates whose renewal
    /// window (90 days either side of expiry) had closed by `asOf`, the share whose holder
    /// booked the same course type within it.
    async fn renewal_rates(&self) -> Vec<RenewalRateRow> {
        self.fit
            .renewal
            .rates
            .iter()
            .map(|r| RenewalRateRow {
                course_type: r.course_type.into(),
                customer_type: r.customer_type.into(),
                eligible: int(r.eligible),
                renewed: int(r.renewed),
                rate: if r.eligible > 0 {
                    r.renewed as f64 / r.eligible as f64
                } else {
                    0.0
                },
            })
            .collect()
    }
    /// The RFM quintile boundaries.
    async fn quintiles(&self) -> RfmQuintiles {
        let q = &self.fit.quintiles;
        RfmQuintiles {
            recency_days: q.recency_days.iter().map(|v| int(*v)).collect(),
            frequency: q.frequency.iter().map(|v| int(*v)).collect(),
            monetary: q
                .monetary_pence
                .iter()
                .map(|v| money::from_pence(*v))
                .collect(),
        }
    }
    /// Predicted against actual over the 12 months after `asOf`; null unless those months
    /// have passed.
    async fn backtest(&self) -> Option<Backtest> {
        let b = self.fit.backtest.as_ref()?;
        let error = |predicted: f64, actual: f64| {
            if actual == 0.0 {
                None
            } else {
                Some((predicted - actual) / actual)
            }
        };
        Some(Backtest {
            months: b.months as i32,
            customers: int(b.customers),
            predicted_bookings: b.predicted_bookings,
            actual_bookings: int(b.actual_bookings),
            bookings_mean_absolute_error: b.bookings_mean_absolute_error,
            bookings_total_error: error(b.predicted_bookings, b.actual_bookings as f64),
            predicted_revenue: money::from_pence(b.predicted_revenue_pence),
            actual_revenue: money::from_pence(b.actual_revenue_pence),
            revenue_mean_absolute_error: money::from_pence(b.revenue_mean_absolute_error_pence),
            revenue_total_error: error(
                b.predicted_revenue_pence as f64,
                b.actual_revenue_pence as f64,
            ),
        })
    }
}

/// BG/NBD parameters (Fader, Hardie and Lee 2005): booking rates are Gamma(r, alpha)
/// across customers (per week), the chance of dropping out after each booking Beta(a, b).
#[derive(SimpleObject)]
pub struct RepeatModel {
    /// Shape of the booking-rate distribution.
    r: f64,
    /// Scale of the booking-rate distribution (weeks).
    alpha: f64,
    /// Dropout distribution's first parameter.
    a: f64,
    /// Dropout distribution's second parameter.
    b: f64,
    /// Customers it was fitted on.
    sample_size: i32,
    /// Log-likelihood at the fit.
    log_likelihood: f64,
    /// Nelder-Mead iterations the fit took.
    iterations: i32,
    /// How long the fit took, in milliseconds.
    fit_ms: i32,
}

/// Gamma-Gamma parameters for the value of a booking.
#[derive(SimpleObject)]
pub struct ValueModel {
    /// Shape of a customer's booking-value distribution.
    p: f64,
    /// Shape of the distribution of customers' scales.
    q: f64,
    /// Scale of the distribution of customers' scales (pence).
    gamma: f64,
    /// Customers it was fitted on.
    sample_size: i32,
    /// Log-likelihood at the fit.
    log_likelihood: f64,
    /// Nelder-Mead iterations the fit took.
    iterations: i32,
    /// How long the fit took, in milliseconds.
    fit_ms: i32,
}

/// One cell of the renewal table.
#[derive(SimpleObject)]
pub struct RenewalRateRow {
    /// The certificates' course type.
    course_type: CourseType,
    /// Their holders' customer type.
    customer_type: CustomerType,
    /// Certificates whose renewal window had closed by `asOf`.
    eligible: i32,
    /// Of those, renewed within the window.
    renewed: i32,
    /// renewed / eligible (0 with none eligible).
    rate: f64,
}

/// The boundaries between the RFM quintiles (four each): a value beyond the k-th boundary
/// scores above k.
#[derive(SimpleObject)]
pub struct RfmQuintiles {
    /// Days since the last booking: the fewest in each of the four oldest fifths.
    recency_days: Vec<i32>,
    /// Bookings: the most in each of the four lowest fifths.
    frequency: Vec<i32>,
    /// Net spent, in pounds: the most in each of the four lowest fifths.
    monetary: Vec<Decimal>,
}

/// Predicted against actual over the months after the refresh's date, over every scored
/// customer.
#[derive(SimpleObject)]
pub struct Backtest {
    /// Months compared.
    months: i32,
    /// Customers compared.
    customers: i32,
    /// Total bookings predicted.
    predicted_bookings: f64,
    /// Total bookings made (not cancelled).
    actual_bookings: i32,
    /// Mean absolute error of bookings per customer.
    bookings_mean_absolute_error: f64,
    /// (predicted - actual) / actual bookings; null with no actual bookings.
    bookings_total_error: Option<f64>,
    /// Total revenue predicted, in pounds.
    predicted_revenue: Decimal,
    /// Actual net revenue (payments less refunds), in pounds.
    actual_revenue: Decimal,
    /// Mean absolute error of revenue per customer, in pounds.
    revenue_mean_absolute_error: Decimal,
    /// (predicted - actual) / actual revenue; null with no actual revenue.
    revenue_total_error: Option<f64>,
}
