//! Entity for the `customer_insights` table: each scored customer's stored RFM scores,
//! segment and prediction inputs from the latest refresh (`services::insights::refresh`),
//! replaced as a whole by the next one.

use sea_orm::entity::prelude::*;

use super::enums::CustomerSegment;

/// A customer's scores as of the model's date.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_insights")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// The `insight_models` row this came from.
    pub model_id: Uuid,
    /// Days from the last live booking to the model's date.
    pub recency_days: i32,
    /// Live bookings made by the model's date.
    pub bookings: i32,
    /// Net spent by the model's date, in pence.
    pub monetary_pence: i64,
    pub recency_score: i16,
    pub frequency_score: i16,
    pub monetary_score: i16,
    pub segment: CustomerSegment,
    /// BG/NBD `x`: repeat bookings that were not renewals.
    pub repeat_bookings: f64,
    /// BG/NBD `t_x`: weeks from the first booking to the last repeat one.
    pub recency_weeks: f64,
    /// BG/NBD `T`: weeks from the first booking to the model's date.
    pub age_weeks: f64,
    /// Mean value of the customer's bookings, in pence.
    pub average_value_pence: i64,
    /// BG/NBD P(active).
    pub probability_active: f64,
    /// `predictedValue(months: 36, annualDiscountRate: 0.1)`, in pence (for sorting).
    pub predicted_value_pence: i64,
    /// Renewals expected after the model's date (`services::insights::ExpectedRenewal`), as JSON.
    #[sea_orm(column_type = "Json")]
    pub renewals: Json,
    /// Backtest: live bookings made in the 12 months after the model's date.
    pub actual_bookings: Option<i32>,
    /// Backtest: net payments in the 12 months after the model's date, in pence.
    pub actual_revenue_pence: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
