//! A customer's prediction from the stored fit: repeat bookings from the BG/NBD model,
//! renewals of expiring certificates from the renewal model, each booking valued by the
//! Gamma-Gamma model. Cheap enough to compute on read for any horizon.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entities::customer_insight;
use crate::entities::enums::{CourseType, CustomerType};
use crate::services::insights::model::{self, BgNbd, History};

/// Weeks in an average month (the models' time unit is the week).
pub const WEEKS_PER_MONTH: f64 = 365.25 / 12.0 / 7.0;

/// A renewal expected after the model's date: the certificates of one booking and course
/// (one renewal booking renews them all: an employer books its staff together) not yet
/// renewed, the probability that their holder renews them, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedRenewal {
    /// The booking the certificates came from.
    pub booking_id: Uuid,
    /// Their course type.
    pub course_type: CourseType,
    /// Its expiry.
    pub expires_on: NaiveDate,
    /// The expected date of the renewal booking.
    pub due_on: NaiveDate,
    /// The probability of a renewal, given none by the model's date.
    pub probability: f64,
}

/// How renewals are spread around expiry, and how often they happen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RenewalModel {
    /// Days before expiry at which the renewal window opens.
    pub window_before_days: i64,
    /// Days after expiry at which it closes.
    pub window_after_days: i64,
    /// Per course type and customer type: certificates whose window had closed by the
    /// model's date, and how many of them were renewed in it.
    pub rates: Vec<RenewalRate>,
    /// Renewals by day relative to expiry: `offsets[i]` renewals made
    /// `i - window_before_days` days from expiry.
    pub offsets: Vec<i64>,
}

/// A cell of the renewal table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenewalRate {
    /// The certificates' course type.
    pub course_type: CourseType,
    /// Their holders' customer type.
    pub customer_type: CustomerType,
    /// Certificates whose renewal window had closed by the model's date.
    pub eligible: i64,
    /// Of those, how many holders booked the same course type within the window.
    pub renewed: i64,
}

impl RenewalModel {
    /// The renewal rate for a course type and customer type: the cell's, or with an empty
    /// cell the course type's over both customer types, or the overall rate, or 0.
    pub fn rate(&self, course_type: CourseType, customer_type: CustomerType) -> f64 {
        let sum = |f: &dyn Fn(&RenewalRate) -> bool| {
            self.rates
                .iter()
                .filter(|r| f(r))
                .fold((0, 0), |(e, n), r| (e + r.eligible, n + r.renewed))
        };
        for (eligible, renewed) in [
            sum(&|r| r.course_type == course_type && r.customer_type == customer_type),
            sum(&|r| r.course_type == course_type),
            sum(&|_| true),
        ] {
            if eligible > 0 {
                return renewed as f64 / eligible as f64;
            }
        }
        0.0
    }

    /// For a certificate `elapsed` days past its expiry (negative: before) with no renewal
    /// yet: the probability of one given `rate`, and its expected offset from expiry.
    pub fn conditional(&self, rate: f64, elapsed: i64) -> (f64, i64) {
        let total: i64 = self.offsets.iter().sum();
        let mean_from = |from: usize| -> i64 {
            let (n, s) = self.offsets[from..]
                .iter()
                .enumerate()
                .fold((0i64, 0i64), |(n, s), (i, c)| {
                    (n + c, s + c * (from + i) as i64)
                });
            if n == 0 {
                (elapsed + 1).max(0)
            } else {
                (s as f64 / n as f64).round() as i64 - self.window_before_days
            }
        };
        if total == 0 {
            return (rate, elapsed.max(0) + 1);
        }
        let seen = (elapsed + self.window_before_days + 1).clamp(0, self.offsets.len() as i64);
        let done: i64 = self.offsets[..seen as usize].iter().sum();
        let f = done as f64 / total as f64;
        let p = if f >= 1.0 {
            0.0
        } else {
            rate * (1.0 - f) / (1.0 - rate * f)
        };
        (p, mean_from(seen as usize).max(elapsed + 1))
    }
}

/// The fitted models a prediction uses.
#[derive(Debug, Clone, Copy)]
pub struct Models<'a> {
    /// Repeat bookings (none when too little history to fit).
    pub repeat: Option<&'a BgNbd>,
    /// Value per booking (none when too little history to fit).
    pub value: Option<&'a model::GammaGamma>,
    /// The date the facts were taken as of.
    pub as_of: NaiveDate,
}

/// A customer's prediction.
#[derive(Debug, Clone)]
pub struct Prediction<'a> {
    models: Models<'a>,
    history: History,
    bookings: f64,
    mean_value_pence: f64,
    renewals: Vec<ExpectedRenewal>,
}

impl<'a> Prediction<'a> {
    /// The prediction for a stored row.
    pub fn of(models: Models<'a>, row: &customer_insight::Model) -> Self {
        Self {
            models,
            history: History {
                x: row.repeat_bookings,
                t_x: row.recency_weeks,
                t: row.age_weeks,
            },
            bookings: f64::from(row.bookings),
            mean_value_pence: row.average_value_pence as f64,
            renewals: serde_json::from_value(row.renewals.clone()).unwrap_or_default(),
        }
    }

    /// The renewals expected, earliest first.
    pub fn renewals(&self) -> &[ExpectedRenewal] {
        &self.renewals
    }

    /// BG/NBD P(still a repeat customer).
    fn alive(&self) -> f64 {
        self.models
            .repeat
            .map_or(0.0, |m| m.probability_alive(&self.history))
    }

    /// The probability that the customer books again: still a repeat customer, or renewing
    /// at least one certificate (taken as independent).
    pub fn probability_active(&self) -> f64 {
        let none = self
            .renewals
            .iter()
            .fold(1.0 - self.alive(), |acc, r| acc * (1.0 - r.probability));
        (1.0 - none).clamp(0.0, 1.0)
    }

    fn horizon_end(&self, months: u32) -> NaiveDate {
        self.models
            .as_of
            .checked_add_months(chrono::Months::new(months))
            .unwrap_or(NaiveDate::MAX)
    }

    /// Expected bookings in the `months` after the model's date.
    pub fn expected_bookings(&self, months: u32) -> f64 {
        let repeat = self.models.repeat.map_or(0.0, |m| {
            m.expected_purchases(&self.history, f64::from(months) * WEEKS_PER_MONTH)
        });
        let end = self.horizon_end(months);
        let renewals: f64 = self
            .renewals
            .iter()
            .filter(|r| r.due_on <= end)
            .map(|r| r.probability)
            .sum();
        repeat + renewals
    }

    /// Expected value of one booking, in pence (Gamma-Gamma, or the customer's mean).
    pub fn value_per_booking_pence(&self) -> f64 {
        match self.models.value {
            Some(gg) if self.bookings > 0.0 => {
                gg.expected_value(self.bookings, self.mean_value_pence)
            }
            _ => self.mean_value_pence,
        }
    }

    /// Expected spend in the `months` after the model's date, in pence.
    pub fn expected_spend_pence(&self, months: u32) -> f64 {
        self.expected_bookings(months) * self.value_per_booking_pence()
    }

    /// Expected spend over `months`, each booking discounted to the model's date at
    /// `annual_rate`, in pence.
    pub fn predicted_value_pence(&self, months: u32, annual_rate: f64) -> f64 {
        let repeat = self.models.repeat.map_or(0.0, |m| {
            model::discounted_purchases(m, &self.history, months, WEEKS_PER_MONTH, annual_rate)
        });
        let end = self.horizon_end(months);
        let renewals: f64 = self
            .renewals
            .iter()
            .filter(|r| r.due_on <= end)
            .map(|r| {
                let years = r
                    .due_on
                    .signed_duration_since(self.models.as_of)
                    .num_days()
                    .max(0) as f64
                    / 365.25;
                r.probability / (1.0 + annual_rate).powf(years)
            })
            .sum();
        (repeat + renewals) * self.value_per_booking_pence()
    }

    /// The next renewal expected: its probability and date.
    pub fn next_renewal(&self) -> Option<&ExpectedRenewal> {
        self.renewals.first()
    }
}

/// `date + days` (either sign), saturating.
pub(crate) fn shift(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date.checked_add_days(Days::new(days as u64))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    }
    .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(offsets: Vec<i64>) -> RenewalModel {
        RenewalModel {
            window_before_days: 2,
            window_after_days: 2,
            rates: vec![],
            offsets,
        }
    }

    #[test]
    fn a_renewal_not_made_by_now_is_less_likely_and_later() {
        // Renewals 2 days before expiry (1), on the day (2), 2 days after (1).
        let m = model(vec![1, 0, 2, 0, 1]);
        // Window not open: the rate itself, at the mean offset (0).
        assert_eq!(m.conditional(0.6, -10), (0.6, 0));
        // One day before expiry, a quarter of renewals are already past: 0.6·0.75/(1-0.15).
        let (p, at) = m.conditional(0.6, -1);
        assert!((p - 0.45 / 0.85).abs() < 1e-12, "{p}");
        // ...and expected at the mean of the offsets still ahead: (0·2 + 2·1) / 3, rounded.
        assert_eq!(at, 1);
        // After the window: none left.
        assert_eq!(m.conditional(0.6, 5).0, 0.0);
    }
}
