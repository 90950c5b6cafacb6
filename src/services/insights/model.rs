//! The customer-base models behind the insights, as pure numerics (no database, no GraphQL):
//!
//! - [`BgNbd`], the beta-geometric/negative-binomial model of repeat purchases (Fader, Hardie
//!   and Lee 2005, "Counting your customers the easy way: an alternative to the Pareto/NBD
//!   model", Marketing Science 24(2)). While alive a customer buys as a Poisson process with
//!   rate λ ~ Gamma(r, α); after each repeat purchase they drop out for good with probability
//!   p ~ Beta(a, b).
//! - [`GammaGamma`], the model of the value of those purchases (Fader, Hardie and Lee 2005,
//!   "RFM and CLV: using iso-value curves for customer base analysis", Journal of Marketing
//!   Research 42(4), in the form of the Python `lifetimes` package): a customer's purchases are
//!   Gamma(p, ν) with ν ~ Gamma(q, γ) across customers, independent of the purchase process.
//! - [`discounted_purchases`], the discounted number of future purchases that turns the two
//!   into a predicted value.
//!
//! Time is in whatever unit the caller chooses (the insights use weeks) and must be the same
//! for fitting and predicting; so is money for the Gamma-Gamma model.
//!
//! Both fits maximise the likelihood over the logarithms of the parameters (so they stay
//! positive) with the Nelder-Mead method of the `argmin` crate; there is no penalty term.

use std::cell::OnceCell;
use std::f64::consts::PI;

use argmin::core::{CostFunction, Error as ArgminError, Executor, State};
use argmin::solver::neldermead::NelderMead;
use serde::{Deserialize, Serialize};

/// Fewest customers (total weight) either fit accepts.
pub const MIN_CUSTOMERS: usize = 10;

/// One customer's purchase history, in the BG/NBD's terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Repeat purchases: purchases after the first one (a whole number, 0 or more).
    pub x: f64,
    /// Time of the last purchase, measured from the first purchase (0 when `x` is 0).
    pub t_x: f64,
    /// The customer's age: time from the first purchase to the as-of date (`t_x ≤ t`).
    pub t: f64,
}

/// The fitted BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the Gamma distribution of purchase rates across customers.
    pub r: f64,
    /// Rate (inverse scale, in the caller's time unit) of that Gamma distribution.
    pub alpha: f64,
    /// First shape of the Beta distribution of dropout probabilities.
    pub a: f64,
    /// Second shape of the Beta distribution of dropout probabilities.
    pub b: f64,
}

/// The fitted Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of the Gamma distribution of one customer's purchase values.
    pub p: f64,
    /// Shape of the Gamma distribution of that distribution's rate across customers.
    pub q: f64,
    /// Rate of the Gamma distribution of that distribution's rate across customers.
    pub gamma: f64,
}

/// A model fitted by maximum likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit<T> {
    /// The maximum-likelihood parameters.
    pub params: T,
    /// The log-likelihood of the data at `params` (summed over customers, weights applied).
    pub log_likelihood: f64,
    /// Customers the fit saw (the sum of the weights, rounded).
    pub sample_size: usize,
    /// Nelder-Mead iterations, over all restarts.
    pub iterations: u64,
    /// Wall-clock time of the fit, in milliseconds (0 in fits stored before it was kept).
    #[serde(default)]
    pub fit_ms: u64,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// Fewer customers than [`MIN_CUSTOMERS`].
    #[error("too few customers to fit the model: {found}, at least {required} are needed")]
    TooFewCustomers {
        /// Customers given (total weight, rounded).
        found: usize,
        /// The minimum, [`MIN_CUSTOMERS`].
        required: usize,
    },
    /// Nobody made a repeat purchase, so the dropout process cannot be estimated.
    #[error("no customer made a repeat purchase, so the BG/NBD model cannot be fitted")]
    NoRepeatPurchases,
    /// A row of the input is not a valid observation.
    #[error("row {index} is invalid: {reason}")]
    InvalidInput {
        /// Position of the row in the input slice.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The optimiser ended at a point where the likelihood or a parameter is not finite.
    #[error("the fit did not converge to finite parameters")]
    NonFinite,
    /// The optimiser itself reported an error.
    #[error("the optimiser failed: {0}")]
    Optimiser(String),
}

// ---------------------------------------------------------------------------------------
// BG/NBD
// ---------------------------------------------------------------------------------------

impl BgNbd {
    /// The parameters whose logarithms are `v` (the optimiser's coordinates).
    fn from_log(v: &[f64]) -> Self {
        Self {
            r: v[0].exp(),
            alpha: v[1].exp(),
            a: v[2].exp(),
            b: v[3].exp(),
        }
    }

    /// Log-likelihood of `data` under these parameters: the sum over customers of the log of
    /// the paper's likelihood of one customer,
    ///
    /// ```text
    /// L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
    ///   + [x > 0] · B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))
    /// ```
    ///
    /// with the two terms added in log space.
    pub fn log_likelihood(&self, data: &[History]) -> f64 {
        data.iter().map(|h| self.customer_log_likelihood(h)).sum()
    }

    /// [`Self::log_likelihood`] of weighted histories: `Σ weight · ln L`.
    pub fn log_likelihood_weighted(&self, data: &[(History, f64)]) -> f64 {
        data.iter()
            .map(|(h, w)| w * self.customer_log_likelihood(h))
            .sum()
    }

    /// One customer's log-likelihood, straight from the formula (the fit uses a grouped
    /// evaluation that must agree with this one).
    fn customer_log_likelihood(&self, h: &History) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let x = h.x;
        let s = r + x;
        let common = ln_gamma(s) - ln_gamma(r) + r * alpha.ln() + ln_beta(a, b + x) - ln_beta(a, b);
        let alive = -s * (alpha + h.t).ln();
        if x > 0.0 {
            let dead = (a / (b + x - 1.0)).ln() - s * (alpha + h.t_x).ln();
            common + log_add_exp(alive, dead)
        } else {
            common + alive
        }
    }

    /// Maximum-likelihood fit to one history per customer. Identical histories are grouped
    /// first, then [`Self::fit_weighted`] does the work.
    pub fn fit(data: &[History]) -> Result<Fit<BgNbd>, FitError> {
        let weighted: Vec<(History, f64)> = data.iter().map(|h| (*h, 1.0)).collect();
        Self::fit_weighted(&weighted)
    }

    /// Maximum-likelihood fit to weighted histories: a row `(h, w)` stands for `w` customers
    /// with history `h` (weights are usually counts, but any finite `w ≥ 0` is accepted).
    ///
    /// Nelder-Mead runs over `(ln r, ln α, ln a, ln b)` from `r = a = b = 1` and `α` = mean
    /// age / mean repeat purchases, in rounds of 400 iterations, each restarted from the best
    /// point so far with a smaller simplex, until a round no longer improves the mean
    /// log-likelihood by more than 1e-9 (at most 15 rounds). Points
    /// with a log-parameter beyond ±[`LOG_PARAM_BOUND`] count as infeasible.
    pub fn fit_weighted(data: &[(History, f64)]) -> Result<Fit<BgNbd>, FitError> {
        let started = std::time::Instant::now();
        let prepared = BgNbdData::new(data)?;
        let start = [
            0.0,
            (prepared.mean_t / prepared.mean_x.max(1e-3)).max(1e-6).ln(),
            0.0,
            0.0,
        ];
        let weight = prepared.weight;
        let (best, _cost, iterations) = minimise(
            |v| -prepared.log_likelihood(&BgNbd::from_log(v)) / weight,
            &start,
        )?;
        let params = BgNbd::from_log(&best);
        let log_likelihood = prepared.log_likelihood(&params);
        if !(log_likelihood.is_finite()
            && [params.r, params.alpha, params.a, params.b]
                .iter()
                .all(|v| v.is_finite() && *v > 0.0))
        {
            return Err(FitError::NonFinite);
        }
        Ok(Fit {
            params,
            log_likelihood,
            sample_size: weight.round() as usize,
            iterations,
            fit_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// P(alive at T | x, t_x, T), the posterior probability that the customer has not dropped
    /// out: `1 / (1 + [x > 0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))`. It is 1 when `x` is 0, since
    /// in the BG/NBD a customer can only drop out right after a repeat purchase.
    pub fn probability_alive(&self, h: &History) -> f64 {
        if h.x <= 0.0 {
            return 1.0;
        }
        let s = self.r + h.x;
        let ln_odds = (self.a / (self.b + h.x - 1.0)).ln()
            + s * ((h.t - h.t_x) / (self.alpha + h.t_x)).ln_1p();
        1.0 / (1.0 + ln_odds.exp())
    }

    /// Expected number of purchases in `(T, T + horizon]` given the history, the paper's
    /// equation (10):
    /// `(a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x-1; t/(α+T+t))]`
    /// divided by `1 + [x > 0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)`.
    ///
    /// It is evaluated as `P(alive) · H(horizon/(α+T))`, where `H` is that bracket in a form
    /// with no singularity at `a = 1` and no loss of accuracy as the ₂F₁ argument nears 1
    /// (`PurchaseCurve` in the source); relative accuracy is about 1e-10. 0 for a horizon ≤ 0.
    pub fn expected_purchases(&self, h: &History, horizon: f64) -> f64 {
        if horizon.is_nan() || horizon <= 0.0 {
            return 0.0;
        }
        let curve = PurchaseCurve::new(self, h.x);
        self.probability_alive(h) * curve.at(horizon / (self.alpha + h.t))
    }

    /// Expected number of purchases in `(0, t]` by a customer just acquired, the paper's
    /// equation (7): `(a+b-1)/(a-1) · [1 - (α/(α+t))^r · ₂F₁(r, b; a+b-1; t/(α+t))]`.
    pub fn expected_purchases_new(&self, t: f64) -> f64 {
        if t.is_nan() || t <= 0.0 {
            return 0.0;
        }
        PurchaseCurve::new(self, 0.0).at(t / self.alpha)
    }
}

/// The discounted expected purchases of the next `months` months:
/// `Σ_{k=1..months} (E[Y(k·w)] − E[Y((k−1)·w)]) / (1 + annual_rate)^(k/12)`, where `w` is
/// `weeks_per_month` (the length of a month in the model's time unit) and `E[Y(t)]` is
/// [`BgNbd::expected_purchases`]. Multiplied by the expected value per purchase it is the
/// customer's predicted value. The shared parts of the 36 or so evaluations are computed once.
pub fn discounted_purchases(
    model: &BgNbd,
    h: &History,
    months: u32,
    weeks_per_month: f64,
    annual_rate: f64,
) -> f64 {
    if months == 0 || weeks_per_month.is_nan() || weeks_per_month <= 0.0 {
        return 0.0;
    }
    let curve = PurchaseCurve::new(model, h.x);
    let step = weeks_per_month / (model.alpha + h.t);
    let monthly_discount = (1.0 + annual_rate).powf(-1.0 / 12.0);
    let mut discount = 1.0;
    let mut previous = 0.0;
    let mut total = 0.0;
    for k in 1..=months {
        discount *= monthly_discount;
        let cumulative = curve.at(f64::from(k) * step);
        total += (cumulative - previous) * discount;
        previous = cumulative;
    }
    model.probability_alive(h) * total
}

/// Data of a BG/NBD fit, grouped by repeat purchases so that the terms that depend only on
/// `x` and the parameters (the log-gamma functions) are computed once per `x` per evaluation.
struct BgNbdData {
    /// One entry per distinct `x`, in increasing order.
    groups: Vec<XGroup>,
    /// The distinct `(t_x, T)` rows of all groups, with their weights.
    rows: Vec<Row>,
    /// Total weight.
    weight: f64,
    /// Weighted mean of `T`.
    mean_t: f64,
    /// Weighted mean of `x`.
    mean_x: f64,
}

/// The rows sharing one value of `x`.
struct XGroup {
    x: f64,
    weight: f64,
    rows: std::ops::Range<usize>,
}

/// One distinct observation and how many customers it stands for.
#[derive(Clone, Copy)]
struct Row {
    t_x: f64,
    t: f64,
    weight: f64,
}

impl BgNbdData {
    /// Validates, aggregates identical histories and groups them by `x`.
    fn new(data: &[(History, f64)]) -> Result<Self, FitError> {
        let mut entries = Vec::with_capacity(data.len());
        for (index, (h, w)) in data.iter().enumerate() {
            let invalid = |reason| FitError::InvalidInput { index, reason };
            if !(w.is_finite() && *w >= 0.0) {
                return Err(invalid("the weight must be finite and not negative"));
            }
            if !(h.x.is_finite() && h.x >= 0.0 && h.x.fract() == 0.0) {
                return Err(invalid("x must be a whole number, 0 or more"));
            }
            if !(h.t.is_finite() && h.t >= 0.0) {
                return Err(invalid("T must be finite and not negative"));
            }
            if !(h.t_x.is_finite() && h.t_x >= 0.0 && h.t_x <= h.t) {
                return Err(invalid("t_x must lie between 0 and T"));
            }
            if *w > 0.0 {
                // t_x does not enter the likelihood of a customer without repeat purchases.
                let t_x = if h.x > 0.0 { h.t_x } else { 0.0 };
                entries.push((h.x, t_x, h.t, *w));
            }
        }
        entries.sort_by(|p, q| {
            p.0.total_cmp(&q.0)
                .then(p.1.total_cmp(&q.1))
                .then(p.2.total_cmp(&q.2))
        });
        let mut groups: Vec<XGroup> = Vec::new();
        let mut rows: Vec<Row> = Vec::with_capacity(entries.len());
        let (mut weight, mut sum_t, mut sum_x, mut repeat_weight) = (0.0, 0.0, 0.0, 0.0);
        for (x, t_x, t, w) in entries {
            weight += w;
            sum_t += w * t;
            sum_x += w * x;
            if x > 0.0 {
                repeat_weight += w;
            }
            match groups.last_mut() {
                Some(g) if g.x == x => {
                    g.weight += w;
                    let last = rows.last_mut().expect("a group has rows");
                    if last.t_x == t_x && last.t == t {
                        last.weight += w;
                    } else {
                        rows.push(Row { t_x, t, weight: w });
                        g.rows.end = rows.len();
                    }
                }
                _ => {
                    rows.push(Row { t_x, t, weight: w });
                    groups.push(XGroup {
                        x,
                        weight: w,
                        rows: rows.len() - 1..rows.len(),
                    });
                }
            }
        }
        if weight < MIN_CUSTOMERS as f64 {
            return Err(FitError::TooFewCustomers {
                found: weight.round() as usize,
                required: MIN_CUSTOMERS,
            });
        }
        if repeat_weight == 0.0 {
            return Err(FitError::NoRepeatPurchases);
        }
        Ok(Self {
            groups,
            rows,
            weight,
            mean_t: sum_t / weight,
            mean_x: sum_x / weight,
        })
    }

    /// The weighted log-likelihood, in one pass over the rows.
    fn log_likelihood(&self, m: &BgNbd) -> f64 {
        let BgNbd { r, alpha, a, b } = *m;
        let ln_alpha = alpha.ln();
        let (ln_gamma_r, ln_beta_ab) = (ln_gamma(r), ln_beta(a, b));
        let mut total = 0.0;
        for g in &self.groups {
            let rows = &self.rows[g.rows.clone()];
            if g.x == 0.0 {
                // ln L = r ln(α/(α+T)).
                let mut sum = 0.0;
                for row in rows {
                    sum += row.weight * (row.t / alpha).ln_1p();
                }
                total -= r * sum;
                continue;
            }
            let s = r + g.x;
            let common = ln_gamma(s) - ln_gamma_r + r * ln_alpha + ln_beta(a, b + g.x) - ln_beta_ab;
            let ln_ratio = (a / (b + g.x - 1.0)).ln();
            let mut sum = 0.0;
            for row in rows {
                let alive = -s * (alpha + row.t).ln();
                let dead = ln_ratio - s * (alpha + row.t_x).ln();
                sum += row.weight * log_add_exp(alive, dead);
            }
            total += g.weight * common + sum;
        }
        total
    }
}

// ---------------------------------------------------------------------------------------
// Conditional expectation: the ₂F₁ part of equation (10)
// ---------------------------------------------------------------------------------------

/// `H(u)`, the expected purchases of a customer alive now with `x` repeat purchases, over a
/// window of length `u·(α+T)`.
///
/// Given alive, the posterior is λ ~ Gamma(s, α+T), p ~ Beta(a, β) with `s = r+x`,
/// `β = b+x`, and the expected purchases over a window `t` given (λ, p) are
/// `(1 - e^(-λpt))/p`. So, with `c = a+β-1`,
///
/// `H(u) = E_p[(1 - (1+pu)^(-s))/p] = c/(a-1) · (1 - ₂F₁(s, a-1; c; -u))`,
///
/// which is equation (10)'s bracket: `₂F₁(s, a-1; c; -u) = (1-z)^s ₂F₁(s, β; c; z)` with
/// `z = u/(1+u)` (Pfaff's transformation). `H` itself has no singularity at `a = 1` or
/// `c = 0`; the evaluations below divide those factors out analytically. Each evaluation
/// also estimates its own rounding error, and the next method is tried when it is too big:
///
/// 1. `u ≤ 1/2`: the Taylor series of `H` in `u`, whose coefficients are the moments of p.
/// 2. `1/2 < u ≤ 2`: the series of Pfaff's form `(1+u)^(1-a) ₂F₁(a-1, c-s; c; u/(1+u))`.
/// 3. `u > 2`: the connection formula to `-1/u` (Abramowitz and Stegun 15.3.7), whose two
///    series converge fast however close `z` is to 1. It is singular when `s - a` is an
///    integer or `a = 1`, and the error estimate rejects it near those; then, for `u ≤ 9`,
///    the series of 2 (which converges for every `u`, slowly as `u` grows).
/// 4. For `u ≤ 9`, when those cancel too much (large `s`): the series of the other Pfaff
///    form, `(1+u)^(-s) ₂F₁(s, β; c; u/(1+u))`, whose terms are all positive.
/// 5. Otherwise: tanh-sinh quadrature of the integral over p, always accurate but some
///    50 times slower (about 20 µs).
struct PurchaseCurve {
    s: f64,
    a: f64,
    beta: f64,
    c: f64,
    /// Coefficients of the connection formula, computed when first needed.
    far: OnceCell<Far>,
}

/// The `u`-independent parts of the connection formula,
/// `H(u) = c/(a-1) − C1 u^(-s) ₂F₁(s, 1-c+s; 2-a+s; -1/u) − C2 u^(1-a) ₂F₁(a-1, 1-β; a-s; -1/u)`
/// with `C1 = Γ(c+1) Γ(a-1-s) / (Γ(a) Γ(c-s))` and
/// `C2 = Γ(c+1) Γ(s-a+1) / ((a-1) Γ(s) Γ(β))`.
#[derive(Clone, Copy)]
struct Far {
    lead: f64,
    ln_c1: f64,
    sign_c1: f64,
    /// Sum of the magnitudes of the log-gamma values in `ln_c1` (for the error estimate).
    size_c1: f64,
    ln_c2: f64,
    sign_c2: f64,
    size_c2: f64,
}

/// A value with an estimate of its relative rounding error.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    value: f64,
    relative_error: f64,
}

/// Which evaluation of [`PurchaseCurve`] produced a value (tests check the fast ones are used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Taylor,
    PfaffB,
    Connection,
    PfaffA,
    Quadrature,
}

/// Relative error accepted from a series evaluation before trying the next method.
const ACCEPTED_ERROR: f64 = 1e-10;

/// Rounding error per unit of the magnitudes summed: a multiple of ε, applied to the sum of
/// the terms' magnitudes (so the estimates are pessimistic).
const ROUNDING: f64 = 8.0 * f64::EPSILON;

impl PurchaseCurve {
    fn new(model: &BgNbd, x: f64) -> Self {
        let s = model.r + x;
        let beta = model.b + x;
        Self {
            s,
            a: model.a,
            beta,
            c: model.a + beta - 1.0,
            far: OnceCell::new(),
        }
    }

    /// `H(u)`.
    fn at(&self, u: f64) -> f64 {
        self.evaluate(u).0
    }

    /// `H(u)` and the method that produced it.
    fn evaluate(&self, u: f64) -> (f64, Method) {
        if u.is_nan() || u <= 0.0 {
            return (0.0, Method::Taylor);
        }
        let accept = |e: Estimate| e.value.is_finite() && e.relative_error <= ACCEPTED_ERROR;
        if u <= 2.0 {
            let (first, method) = if u <= 0.5 {
                (self.taylor(u), Method::Taylor)
            } else {
                (self.pfaff_b(u), Method::PfaffB)
            };
            if accept(first) {
                return (first.value, method);
            }
        } else {
            let far = self.connection(u);
            if accept(far) {
                return (far.value, Method::Connection);
            }
            if u <= 9.0 {
                let near = self.pfaff_b(u);
                if accept(near) {
                    return (near.value, Method::PfaffB);
                }
            }
        }
        if u <= 9.0 {
            let positive = self.pfaff_a(u);
            if accept(positive) {
                return (positive.value, Method::PfaffA);
            }
        }
        (self.quadrature(u), Method::Quadrature)
    }

    /// `H(u) = Σ_{n≥1} (-1)^(n+1) (s)_n (a)_(n-1) u^n / ((c+1)_(n-1) n!)`, for `u < 1`.
    fn taylor(&self, u: f64) -> Estimate {
        let Self { s, a, c, .. } = *self;
        let sum = sum_series(s * u, 1.0, 0.0, |n| {
            -(s + n) * (a + n - 1.0) * u / ((c + n) * (n + 1.0))
        })
        .plain();
        estimate(sum.value, ROUNDING * sum.magnitude)
    }

    /// `H(u) = c·(1 - (1+u)^(1-a))/(a-1) − (1+u)^(1-a) Σ_{n≥1} (a)_(n-1) (c-s)_n w^n /
    /// ((c+1)_(n-1) n!)` with `w = u/(1+u)`.
    fn pfaff_b(&self, u: f64) -> Estimate {
        let Self { s, a, c, .. } = *self;
        let ln_1pu = u.ln_1p();
        let w = u / (1.0 + u);
        let y = (1.0 - a) * ln_1pu;
        // (1 - (1+u)^(1-a))/(a-1), which tends to ln(1+u) as a → 1.
        let e1 = if y == 0.0 {
            ln_1pu
        } else {
            ln_1pu * y.exp_m1() / y
        };
        let power = y.exp();
        let n_min = if s > c { (s - c).ceil() + 1.0 } else { 0.0 };
        let sum = sum_series((c - s) * w, 1.0, n_min, |n| {
            (a + n - 1.0) * (c - s + n) * w / ((c + n) * (n + 1.0))
        })
        .plain();
        let value = c * e1 - power * sum.value;
        estimate(value, ROUNDING * ((c * e1).abs() + power * sum.magnitude))
    }

    /// `H(u) = (c − c·G)/(a-1)` with `c·G = (1+u)^(-s) [c + Σ_{n≥1} (s)_n (β)_n w^n /
    /// ((c+1)_(n-1) n!)]`, all terms positive.
    fn pfaff_a(&self, u: f64) -> Estimate {
        let Self { s, a, beta, c, .. } = *self;
        let ln_1pu = u.ln_1p();
        let w = u / (1.0 + u);
        let sum = sum_series(s * beta * w, 1.0, 0.0, |n| {
            (s + n) * (beta + n) * w / ((c + n) * (n + 1.0))
        });
        let head = c * (-s * ln_1pu).exp();
        let scale = (sum.ln_scale - s * ln_1pu).exp();
        let cg = head + sum.value * scale;
        let value = (c - cg) / (a - 1.0);
        let size = (c.abs() + head.abs() + sum.magnitude * scale) / (a - 1.0).abs();
        estimate(value, ROUNDING * size)
    }

    /// The connection formula (see [`Far`]), for `u > 1`.
    fn connection(&self, u: f64) -> Estimate {
        let Self { s, a, beta, c, .. } = *self;
        let far = *self.far.get_or_init(|| self.far_coefficients());
        let ln_u = u.ln();
        let z = -1.0 / u;
        // A term whose coefficient vanishes (1/Γ at a pole, or underflow) is skipped.
        let term = |ln_coefficient: f64, sign: f64, power: f64, a: f64, b: f64, c: f64| {
            let m = (ln_coefficient + power * ln_u).exp();
            if m == 0.0 {
                return (0.0, 0.0);
            }
            let f = hyp2f1_series(a, b, c, z);
            (sign * m * f.value, m * f.magnitude)
        };
        let (t1, m1) = term(far.ln_c1, far.sign_c1, -s, s, 1.0 - c + s, 2.0 - a + s);
        let (t2, m2) = term(far.ln_c2, far.sign_c2, 1.0 - a, a - 1.0, 1.0 - beta, a - s);
        let value = far.lead - t1 - t2;
        let rounding = ROUNDING * (far.lead.abs() + m1 + m2);
        // ln Γ is accurate to a few ulps of its value, so a large one shifts the term.
        let log_gamma = 4.0
            * f64::EPSILON
            * (t1.abs() * (far.size_c1 + (s * ln_u).abs())
                + t2.abs() * (far.size_c2 + ((1.0 - a) * ln_u).abs()));
        estimate(value, rounding + log_gamma)
    }

    fn far_coefficients(&self) -> Far {
        let Self { s, a, beta, c, .. } = *self;
        let ln_gamma_c1 = ln_gamma(c + 1.0);
        let (g_am1s, sign_am1s) = ln_gamma_signed(a - 1.0 - s);
        let (g_cms, sign_cms) = ln_gamma_signed(c - s);
        let ln_gamma_a = ln_gamma(a);
        let (g_sa1, sign_sa1) = ln_gamma_signed(s - a + 1.0);
        let (ln_gamma_s, ln_gamma_beta) = (ln_gamma(s), ln_gamma(beta));
        let finite_abs = |v: f64| if v.is_finite() { v.abs() } else { 0.0 };
        Far {
            lead: c / (a - 1.0),
            ln_c1: ln_gamma_c1 + g_am1s - ln_gamma_a - g_cms,
            sign_c1: sign_am1s * sign_cms,
            size_c1: ln_gamma_c1.abs() + finite_abs(g_am1s) + ln_gamma_a.abs() + finite_abs(g_cms),
            ln_c2: ln_gamma_c1 + g_sa1 - ln_gamma_s - ln_gamma_beta - (a - 1.0).abs().ln(),
            sign_c2: sign_sa1 * (a - 1.0).signum(),
            size_c2: ln_gamma_c1.abs() + finite_abs(g_sa1) + ln_gamma_s.abs() + ln_gamma_beta.abs(),
        }
    }

    /// `H(u) = ∫₀¹ (1 - (1+pu)^(-s))/p · p^(a-1) (1-p)^(β-1) / B(a, β) dp` by tanh-sinh
    /// quadrature (`p = 1/(1 + e^(-π sinh τ))`), halving the step until two levels agree to
    /// 1e-13.
    fn quadrature(&self, u: f64) -> f64 {
        let Self { s, a, beta, .. } = *self;
        let ln_b = ln_beta(a, beta);
        let integrand = |tau: f64| -> f64 {
            let v = PI * tau.sinh();
            // ln p = -ln(1 + e^(-v)), ln(1-p) = -ln(1 + e^v), both without cancellation.
            let (ln_p, ln_q) = (-softplus(-v), -softplus(v));
            let p = ln_p.exp();
            let g = if p * u < 1e-300 {
                s * u
            } else {
                -(-s * (p * u).ln_1p()).exp_m1() / p
            };
            let density = (a * ln_p + beta * ln_q - ln_b).exp();
            g * density * PI * tau.cosh()
        };
        // Extent of the sum at the coarsest step: out to where the terms are negligible.
        let h0 = 0.5;
        let mut sum = integrand(0.0);
        let mut extent = [0usize; 2];
        for (side, sign) in [(0, 1.0), (1, -1.0)] {
            let mut k = 1usize;
            loop {
                let tau = sign * k as f64 * h0;
                let term = integrand(tau);
                sum += term;
                if (tau.abs() > 1.0 && term.abs() <= 1e-18 * sum.abs()) || tau.abs() >= 12.0 {
                    break;
                }
                k += 1;
            }
            extent[side] = k;
        }
        let (lo, hi) = (-(extent[1] as f64) * h0, extent[0] as f64 * h0);
        let mut h = h0;
        let mut estimate = h * sum;
        for _ in 0..10 {
            // Halve the step: add the midpoints.
            let mut tau = lo + h / 2.0;
            while tau < hi {
                sum += integrand(tau);
                tau += h;
            }
            h /= 2.0;
            let refined = h * sum;
            let converged = (refined - estimate).abs() <= 1e-13 * refined.abs();
            estimate = refined;
            if converged {
                break;
            }
        }
        estimate
    }
}

fn estimate(value: f64, error: f64) -> Estimate {
    Estimate {
        value,
        relative_error: error / value.abs(),
    }
}

// ---------------------------------------------------------------------------------------
// Gamma-Gamma
// ---------------------------------------------------------------------------------------

impl GammaGamma {
    /// The parameters whose logarithms are `v` (the optimiser's coordinates).
    fn from_log(v: &[f64]) -> Self {
        Self {
            p: v[0].exp(),
            q: v[1].exp(),
            gamma: v[2].exp(),
        }
    }

    /// Log-likelihood of `(x, mean value)` pairs: the sum of
    /// `ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m + px ln x − (px+q) ln(γ + x m)`,
    /// the density of the mean `m` of `x` purchases (as in `lifetimes`).
    pub fn log_likelihood(&self, data: &[(f64, f64)]) -> f64 {
        data.iter()
            .map(|&(x, m)| {
                let px = self.p * x;
                ln_gamma(px + self.q) - ln_gamma(px) - ln_gamma(self.q)
                    + self.q * self.gamma.ln()
                    + (px - 1.0) * m.ln()
                    + px * x.ln()
                    - (px + self.q) * (self.gamma + x * m).ln()
            })
            .sum()
    }

    /// Maximum-likelihood fit to `(x, mean value)` pairs, one per customer with repeat
    /// purchases: `x > 0` purchases whose mean value is `m > 0`. Identical pairs are grouped.
    ///
    /// Nelder-Mead runs over `(ln p, ln q, ln γ)` from `p = 1, q = 2` and `γ` = the mean of
    /// `m` (so the population mean `pγ/(q-1)` starts at the sample's), with the restarts of
    /// [`BgNbd::fit_weighted`].
    pub fn fit(data: &[(f64, f64)]) -> Result<Fit<GammaGamma>, FitError> {
        let started = std::time::Instant::now();
        let prepared = GammaGammaData::new(data)?;
        let start = [0.0, 2f64.ln(), prepared.mean_m.ln()];
        let weight = prepared.weight;
        let (best, _cost, iterations) = minimise(
            |v| -prepared.log_likelihood(&GammaGamma::from_log(v)) / weight,
            &start,
        )?;
        let params = GammaGamma::from_log(&best);
        let log_likelihood = prepared.log_likelihood(&params);
        if !(log_likelihood.is_finite()
            && [params.p, params.q, params.gamma]
                .iter()
                .all(|v| v.is_finite() && *v > 0.0))
        {
            return Err(FitError::NonFinite);
        }
        Ok(Fit {
            params,
            log_likelihood,
            sample_size: weight.round() as usize,
            iterations,
            fit_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Conditional expected value of a purchase of a customer whose `x` purchases averaged
    /// `mean`: `(γ + x·mean)·p / (px + q − 1)`, a weighted mean of the population mean
    /// `pγ/(q−1)` and `mean`. For `x = 0` it is the population mean. Infinite where that
    /// expectation does not exist (`px + q ≤ 1`, e.g. `q ≤ 1` for `x = 0`).
    pub fn expected_value(&self, x: f64, mean: f64) -> f64 {
        let x = x.max(0.0);
        let denominator = self.p * x + self.q - 1.0;
        if denominator <= 0.0 {
            return f64::INFINITY;
        }
        let spent = if x > 0.0 { x * mean } else { 0.0 };
        (self.gamma + spent) * self.p / denominator
    }
}

/// Data of a Gamma-Gamma fit, grouped by `x`.
struct GammaGammaData {
    /// `(x, total weight, rows)` per distinct `x`.
    groups: Vec<(f64, f64, std::ops::Range<usize>)>,
    /// `(m, ln m, weight)` per distinct pair.
    rows: Vec<(f64, f64, f64)>,
    weight: f64,
    mean_m: f64,
}

impl GammaGammaData {
    fn new(data: &[(f64, f64)]) -> Result<Self, FitError> {
        let mut entries = Vec::with_capacity(data.len());
        for (index, &(x, m)) in data.iter().enumerate() {
            if !(x.is_finite() && x > 0.0) {
                return Err(FitError::InvalidInput {
                    index,
                    reason: "x must be finite and positive",
                });
            }
            if !(m.is_finite() && m > 0.0) {
                return Err(FitError::InvalidInput {
                    index,
                    reason: "the mean value must be finite and positive",
                });
            }
            entries.push((x, m));
        }
        if entries.len() < MIN_CUSTOMERS {
            return Err(FitError::TooFewCustomers {
                found: entries.len(),
                required: MIN_CUSTOMERS,
            });
        }
        entries.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.total_cmp(&q.1)));
        let mut groups: Vec<(f64, f64, std::ops::Range<usize>)> = Vec::new();
        let mut rows: Vec<(f64, f64, f64)> = Vec::with_capacity(entries.len());
        let mut sum_m = 0.0;
        for (x, m) in entries {
            sum_m += m;
            match groups.last_mut() {
                Some((gx, w, range)) if *gx == x => {
                    *w += 1.0;
                    let last = rows.last_mut().expect("a group has rows");
                    if last.0 == m {
                        last.2 += 1.0;
                    } else {
                        rows.push((m, m.ln(), 1.0));
                        range.end = rows.len();
                    }
                }
                _ => {
                    rows.push((m, m.ln(), 1.0));
                    groups.push((x, 1.0, rows.len() - 1..rows.len()));
                }
            }
        }
        let weight = data.len() as f64;
        Ok(Self {
            groups,
            rows,
            weight,
            mean_m: sum_m / weight,
        })
    }

    fn log_likelihood(&self, model: &GammaGamma) -> f64 {
        let GammaGamma { p, q, gamma } = *model;
        let (ln_gamma_q, ln_g) = (ln_gamma(q), gamma.ln());
        let mut total = 0.0;
        for (x, weight, range) in &self.groups {
            let px = p * x;
            let common = ln_gamma(px + q) - ln_gamma(px) - ln_gamma_q + q * ln_g + px * x.ln();
            let mut sum = 0.0;
            for &(m, ln_m, w) in &self.rows[range.clone()] {
                sum += w * ((px - 1.0) * ln_m - (px + q) * (gamma + x * m).ln());
            }
            total += weight * common + sum;
        }
        total
    }
}

// ---------------------------------------------------------------------------------------
// Optimisation
// ---------------------------------------------------------------------------------------

/// Log-parameters beyond ± this (parameters beyond e^±30) are treated as infeasible.
pub const LOG_PARAM_BOUND: f64 = 30.0;

/// Nelder-Mead iterations per round. Each round after the first restarts from the best
/// point so far with a fresh, small simplex.
const ROUND_ITERATIONS: u64 = 400;

/// Rounds allowed in all (so at most 6,000 iterations).
const MAX_ROUNDS: usize = 15;

/// A round that improves the objective (a mean log-likelihood per customer) by no more
/// than this ends the search. On data whose maximum lies at infinity along a ridge (no
/// heterogeneity in the dropout rate: `a` and `b` grow together without bound) the
/// objective keeps improving by ever smaller amounts; this stops the walk once the gains
/// no longer matter, instead of running out the iteration budget.
const STALL: f64 = 1e-9;

/// The objective's standard deviation over the simplex at which a run stops.
const SD_TOLERANCE: f64 = 1e-11;

/// An objective given as a closure, for argmin.
struct Objective<F>(F);

impl<F: Fn(&[f64]) -> f64> CostFunction for Objective<F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, param: &Vec<f64>) -> Result<f64, ArgminError> {
        if param
            .iter()
            .any(|v| v.is_nan() || v.abs() > LOG_PARAM_BOUND)
        {
            return Ok(f64::INFINITY);
        }
        let value = (self.0)(param);
        Ok(if value.is_finite() {
            value
        } else {
            f64::INFINITY
        })
    }
}

/// Minimises `cost` from `start` with restarted Nelder-Mead; returns the best point, its
/// cost and the iterations used.
fn minimise(cost: impl Fn(&[f64]) -> f64, start: &[f64]) -> Result<(Vec<f64>, f64, u64), FitError> {
    let objective = Objective(cost);
    let mut best = start.to_vec();
    let mut best_cost = objective.cost(&best).map_err(optimiser_error)?;
    let mut iterations = 0;
    for round in 0..MAX_ROUNDS {
        let step = if round == 0 { 0.5 } else { 0.05 };
        let mut simplex = vec![best.clone()];
        for i in 0..best.len() {
            let mut vertex = best.clone();
            vertex[i] += step;
            simplex.push(vertex);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(SD_TOLERANCE)
            .map_err(optimiser_error)?;
        let result = Executor::new(Objective(&objective.0), solver)
            .configure(|state| state.max_iters(ROUND_ITERATIONS))
            .run()
            .map_err(optimiser_error)?;
        let state = result.state();
        iterations += state.get_iter();
        let cost = state.get_best_cost();
        let improvement = best_cost - cost;
        if cost < best_cost
            && let Some(param) = state.get_best_param()
        {
            best = param.clone();
            best_cost = cost;
        }
        if round > 0 && (improvement.is_nan() || improvement <= STALL) {
            break;
        }
    }
    if !best_cost.is_finite() {
        return Err(FitError::NonFinite);
    }
    Ok((best, best_cost, iterations))
}

fn optimiser_error(e: ArgminError) -> FitError {
    FitError::Optimiser(e.to_string())
}

// ---------------------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------------------

/// ln Γ(x) for x > 0.
fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ln |Γ(x)| and the sign of Γ(x), for any real x (infinite at the poles).
fn ln_gamma_signed(x: f64) -> (f64, f64) {
    let (value, sign) = libm::lgamma_r(x);
    (value, if sign < 0 { -1.0 } else { 1.0 })
}

/// ln B(a, b).
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln(e^x + e^y) without overflow.
fn log_add_exp(x: f64, y: f64) -> f64 {
    let (hi, lo) = if x >= y { (x, y) } else { (y, x) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// ln(1 + e^x) without overflow or cancellation.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// A series' sum, the sum of its terms' magnitudes (for error estimates), and a scale:
/// the true values are these times `e^ln_scale` (the terms are rescaled if they would
/// overflow).
#[derive(Clone, Copy, Debug)]
struct Series {
    value: f64,
    magnitude: f64,
    ln_scale: f64,
}

impl Series {
    /// The series as plain numbers: NaN if its terms had to be rescaled (such a sum is
    /// useless to the callers that do not expect it).
    fn plain(self) -> Self {
        if self.ln_scale == 0.0 {
            self
        } else {
            Self {
                value: f64::NAN,
                magnitude: f64::NAN,
                ln_scale: 0.0,
            }
        }
    }
}

/// Terms most summed before a series is declared divergent (its value is then NaN).
const MAX_TERMS: usize = 20_000;

/// `Σ_{n ≥ n0} t_n` from its first term and the ratio `t_(n+1)/t_n = ratio(n)`. It stops at
/// the first term below 1e-17 of the sum once `n ≥ n_min` — callers set `n_min` past every
/// sign change of the ratio's factors, where a term can be small by accident.
fn sum_series(first: f64, n0: f64, n_min: f64, mut ratio: impl FnMut(f64) -> f64) -> Series {
    const RESCALE: f64 = 1e250;
    let mut term = first;
    let mut sum = first;
    let mut magnitude = first.abs();
    let mut ln_scale = 0.0;
    let mut n = n0;
    for _ in 0..MAX_TERMS {
        if term == 0.0 && n >= n_min {
            break;
        }
        term *= ratio(n);
        n += 1.0;
        sum += term;
        magnitude += term.abs();
        if magnitude > RESCALE {
            term /= RESCALE;
            sum /= RESCALE;
            magnitude /= RESCALE;
            ln_scale += RESCALE.ln();
        }
        if n >= n_min && term.abs() <= 1e-17 * sum.abs() {
            return Series {
                value: sum,
                magnitude,
                ln_scale,
            };
        }
    }
    if term == 0.0 {
        return Series {
            value: sum,
            magnitude,
            ln_scale,
        };
    }
    Series {
        value: f64::NAN,
        magnitude: f64::NAN,
        ln_scale,
    }
}

/// The Gauss hypergeometric series `₂F₁(a, b; c; z) = Σ (a)_n (b)_n / (c)_n · z^n / n!`,
/// for `|z| ≤ 1/2` or so (it converges for `|z| < 1`, slowly near 1). Its value is NaN
/// where `c` is a pole (0, −1, −2, …) the numerator does not cancel.
fn hyp2f1_series(a: f64, b: f64, c: f64, z: f64) -> Series {
    let past = |p: f64| if p < 0.0 { (-p).ceil() + 1.0 } else { 0.0 };
    let n_min = past(a).max(past(b)).max(past(c));
    sum_series(1.0, 0.0, n_min, |n| {
        (a + n) * (b + n) * z / ((c + n) * (n + 1.0))
    })
    .plain()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Beta, Distribution, Gamma, Poisson};

    /// The paper's estimates for the CDNOW data (time in weeks).
    const CDNOW: BgNbd = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    /// `lifetimes`' Gamma-Gamma estimates for the CDNOW data.
    const CDNOW_VALUE: GammaGamma = GammaGamma {
        p: 6.25,
        q: 3.74,
        gamma: 15.44,
    };

    fn relative(value: f64, reference: f64) -> f64 {
        ((value - reference) / reference).abs()
    }

    /// Draws a customer's purchase rate and dropout probability from the model's priors.
    fn draw_customer(model: &BgNbd, rng: &mut StdRng) -> (f64, f64) {
        let lambda = Gamma::new(model.r, 1.0 / model.alpha).unwrap().sample(rng);
        let p = Beta::new(model.a, model.b).unwrap().sample(rng);
        (lambda, p)
    }

    /// Purchases at rate `lambda` in `(0, horizon]` by a customer alive at 0, who drops out
    /// right after each purchase with probability `p`: (count, time of the last one).
    fn purchases(lambda: f64, p: f64, horizon: f64, rng: &mut StdRng) -> (u32, f64) {
        let (mut count, mut last, mut now) = (0, 0.0, 0.0);
        if lambda <= 0.0 {
            return (0, 0.0);
        }
        loop {
            now += -(1.0 - rng.r#gen::<f64>()).ln() / lambda;
            if now > horizon {
                return (count, last);
            }
            count += 1;
            last = now;
            if rng.r#gen::<f64>() < p {
                return (count, last);
            }
        }
    }

    /// Histories of `n` customers simulated by the BG/NBD's generative process, with ages
    /// drawn uniformly from `ages`.
    fn simulate(
        model: &BgNbd,
        n: usize,
        ages: std::ops::Range<f64>,
        rng: &mut StdRng,
    ) -> Vec<History> {
        (0..n)
            .map(|_| {
                let t = rng.gen_range(ages.clone());
                let (lambda, p) = draw_customer(model, rng);
                let (x, t_x) = purchases(lambda, p, t, rng);
                History {
                    x: f64::from(x),
                    t_x,
                    t,
                }
            })
            .collect()
    }

    #[test]
    fn hyp2f1_series_matches_closed_forms_to_1e_14() {
        let check = |value: f64, reference: f64, what: &str| {
            assert!(
                relative(value, reference) < 1e-14,
                "{what}: {value} against {reference}"
            );
        };
        for z in [-0.6, -0.5, -0.2, 1e-3, 0.3, 0.5, 0.65] {
            check(
                hyp2f1_series(1.0, 1.0, 2.0, z).value,
                -(-z).ln_1p() / z,
                &format!("2F1(1,1;2;{z}) = -ln(1-z)/z"),
            );
            check(
                hyp2f1_series(0.37, 2.5, 2.5, z).value,
                (1.0 - z).powf(-0.37),
                &format!("2F1(a,b;b;{z}) = (1-z)^-a"),
            );
            check(
                hyp2f1_series(-2.7, 0.4, -1.3, z).value,
                // Euler: 2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z), with c-b = -1.7
                // and c-a = 1.4: checks the series past the poles of (c)_n.
                (1.0 - z).powf(-1.3 + 2.7 - 0.4) * hyp2f1_series(1.4, -1.7, -1.3, z).value,
                &format!("Euler's transformation at {z}"),
            );
        }
        for x in [0.1, 0.5, 0.8] {
            check(
                hyp2f1_series(0.5, 1.0, 1.5, -x * x).value,
                x.atan() / x,
                &format!("2F1(1/2,1;3/2;-{x}^2) = atan(x)/x"),
            );
            check(
                hyp2f1_series(0.5, 0.5, 1.5, x * x).value,
                x.asin() / x,
                &format!("2F1(1/2,1/2;3/2;{x}^2) = asin(x)/x"),
            );
        }
        // A terminating series: 2F1(-2, b; c; z) = 1 - 2bz/c + b(b+1)z²/(c(c+1)).
        let (b, c, z) = (0.7, 1.9, 0.4);
        check(
            hyp2f1_series(-2.0, b, c, z).value,
            1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0)),
            "terminating series",
        );
    }

    /// `u` from tiny to 10⁶ (the ₂F₁ argument z = u/(1+u) within 10⁻⁶ of 1), on both sides of
    /// the switches between methods.
    const HORIZONS: [f64; 14] = [
        1e-4, 0.01, 0.3, 0.5, 0.5001, 0.7, 1.5, 2.0, 2.0001, 2.5, 8.0, 30.0, 1e3, 1e6,
    ];

    #[test]
    fn purchase_curve_matches_closed_forms_to_1e_10() {
        // With b = r + 1 - a, c = s for every x and ₂F₁(s, a-1; s; -u) = (1+u)^(1-a), so
        // H(u) = s((1+u)^(1-a) - 1)/(1-a) (s ln(1+u) when a = 1): a < 1, a > 1, a = 1, and
        // r - a an integer (where the connection formula is singular).
        for (r, a) in [
            (0.5, 0.8),
            (2.0, 2.5),
            (0.3, 1.0),
            (0.8, 0.8),
            (0.243, 0.793),
        ] {
            let model = BgNbd {
                r,
                alpha: 1.0,
                a,
                b: r + 1.0 - a,
            };
            for x in [0.0, 1.0, 3.0, 40.0] {
                let curve = PurchaseCurve::new(&model, x);
                let s = r + x;
                for u in HORIZONS {
                    let reference = if a == 1.0 {
                        s * u.ln_1p()
                    } else {
                        s * ((1.0 - a) * u.ln_1p()).exp_m1() / (1.0 - a)
                    };
                    let (value, method) = curve.evaluate(u);
                    assert!(
                        relative(value, reference) < 1e-10,
                        "r={r} a={a} x={x} u={u}: {value} ({method:?}) against {reference}"
                    );
                }
            }
        }
        // r = 1, a = 2, b = 1, x = 0: ₂F₁(1, 1; 2; z) = -ln(1-z)/z, so H = 2(1 - ln(1+u)/u);
        // r = b = 1/2, a = 2: ₂F₁(1/2, 1; 3/2; -u) = atan(√u)/√u and H = 3/2 (1 - that).
        let log_case = PurchaseCurve::new(
            &BgNbd {
                r: 1.0,
                alpha: 1.0,
                a: 2.0,
                b: 1.0,
            },
            0.0,
        );
        let atan_case = PurchaseCurve::new(
            &BgNbd {
                r: 0.5,
                alpha: 1.0,
                a: 2.0,
                b: 0.5,
            },
            0.0,
        );
        for u in HORIZONS {
            let reference = 2.0 * (1.0 - u.ln_1p() / u);
            let (value, method) = log_case.evaluate(u);
            assert!(
                relative(value, reference) < 1e-10,
                "log case u={u}: {value} ({method:?}) against {reference}"
            );
            let reference = 1.5 * (1.0 - u.sqrt().atan() / u.sqrt());
            let (value, method) = atan_case.evaluate(u);
            assert!(
                relative(value, reference) < 1e-10,
                "atan case u={u}: {value} ({method:?}) against {reference}"
            );
        }
    }

    #[test]
    fn purchase_curve_series_agree_with_quadrature_to_1e_9() {
        for a in [0.05, 0.793, 0.999_99, 1.3, 4.0] {
            for b in [0.2, 2.426, 40.0] {
                for r in [0.05, 0.243, 3.0, 30.5] {
                    let model = BgNbd {
                        r,
                        alpha: 1.0,
                        a,
                        b,
                    };
                    for x in [0.0, 2.0, 60.0] {
                        let curve = PurchaseCurve::new(&model, x);
                        for u in [1e-3, 0.4, 0.6, 1.9, 2.1, 8.5, 60.0, 1e4] {
                            let (value, method) = curve.evaluate(u);
                            // The comparison is only worth something if the series did the
                            // work, as they must away from the singular cases (a = 1 or r − a
                            // an integer, both in the grid).
                            let singular =
                                (r - a - (r - a).round()).abs() < 1e-3 || (a - 1.0).abs() < 1e-3;
                            assert!(
                                singular || method != Method::Quadrature,
                                "a={a} b={b} r={r} x={x} u={u}: no series was accurate enough"
                            );
                            let reference = curve.quadrature(u);
                            assert!(
                                relative(value, reference) < 1e-9,
                                "a={a} b={b} r={r} x={x} u={u}: {value} ({method:?}) against \
                                 quadrature {reference}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn cdnow_predictions_never_need_quadrature() {
        for x in 0..=30 {
            let curve = PurchaseCurve::new(&CDNOW, f64::from(x));
            for t in [0.0, 1.0, 10.0, 39.0, 150.0] {
                for k in 1..=36 {
                    let u = f64::from(k) * (52.0 / 12.0) / (CDNOW.alpha + t);
                    let (_, method) = curve.evaluate(u);
                    assert_ne!(method, Method::Quadrature, "x={x} T={t} month {k}");
                }
            }
        }
    }

    #[test]
    fn expected_purchases_match_the_papers_formula_to_1e_10() {
        // Equation (10) as printed, with the plain ₂F₁ series, where that converges fast.
        for model in [
            CDNOW,
            BgNbd {
                r: 1.7,
                alpha: 12.0,
                a: 2.2,
                b: 0.6,
            },
        ] {
            let BgNbd { r, alpha, a, b } = model;
            for h in [
                History {
                    x: 0.0,
                    t_x: 0.0,
                    t: 30.0,
                },
                History {
                    x: 2.0,
                    t_x: 10.0,
                    t: 35.0,
                },
                History {
                    x: 7.0,
                    t_x: 33.0,
                    t: 35.0,
                },
            ] {
                let History { x, t_x, t: big_t } = h;
                for t in [1.0, 10.0, 30.0] {
                    let z = t / (alpha + big_t + t);
                    assert!(z <= 0.5);
                    let f = hyp2f1_series(r + x, b + x, a + b + x - 1.0, z).value;
                    let bracket = 1.0 - ((alpha + big_t) / (alpha + big_t + t)).powf(r + x) * f;
                    let numerator = (a + b + x - 1.0) / (a - 1.0) * bracket;
                    let dead = if x > 0.0 {
                        a / (b + x - 1.0) * ((alpha + big_t) / (alpha + t_x)).powf(r + x)
                    } else {
                        0.0
                    };
                    let reference = numerator / (1.0 + dead);
                    let value = model.expected_purchases(&h, t);
                    assert!(
                        relative(value, reference) < 1e-10,
                        "{model:?} {h:?} t={t}: {value} against {reference}"
                    );
                }
            }
        }
    }

    #[test]
    fn expected_purchases_of_new_customers_match_simulation_within_3_percent() {
        let mut rng = StdRng::seed_from_u64(7);
        let n = 200_000;
        let (mut sum, mut sum_sq) = ([0.0; 2], [0.0; 2]);
        for _ in 0..n {
            let (lambda, p) = draw_customer(&CDNOW, &mut rng);
            // Purchases by 52 weeks and by 156 weeks of the same simulated customer.
            let mut now = 0.0;
            let mut counts = [0.0; 2];
            if lambda > 0.0 {
                loop {
                    now += -(1.0 - rng.r#gen::<f64>()).ln() / lambda;
                    if now > 156.0 {
                        break;
                    }
                    counts[1] += 1.0;
                    if now <= 52.0 {
                        counts[0] += 1.0;
                    }
                    if rng.r#gen::<f64>() < p {
                        break;
                    }
                }
            }
            for i in 0..2 {
                sum[i] += counts[i];
                sum_sq[i] += counts[i] * counts[i];
            }
        }
        for (i, t) in [52.0, 156.0].into_iter().enumerate() {
            let mean = sum[i] / n as f64;
            let se = ((sum_sq[i] / n as f64 - mean * mean) / n as f64).sqrt();
            let value = CDNOW.expected_purchases_new(t);
            assert!(se < 0.01 * mean, "the simulation is too small to judge");
            assert!(
                (value - mean).abs() < (4.0 * se).max(0.0) && relative(value, mean) < 0.03,
                "E[X({t})] = {value}, simulated {mean} ± {se}"
            );
        }
    }

    /// Importance sampling of the posterior of one customer, from the individual-level
    /// likelihood alone (`(1-p)^x λ^x e^(-λT) + [x > 0] p (1-p)^(x-1) λ^x e^(-λ t_x)`): draws (λ, p) from a proposal close to the posterior,
    /// weights them by prior × likelihood / proposal, decides alive or not from the two
    /// terms of the likelihood, and simulates purchases over the next 52 and 156 weeks.
    /// Returns (marginal likelihood, P(alive), E[Y(52)], E[Y(156)]), each with its standard
    /// error.
    fn posterior_simulation(model: &BgNbd, h: &History, n: usize, seed: u64) -> [(f64, f64); 4] {
        let mut rng = StdRng::seed_from_u64(seed);
        let BgNbd { r, alpha, a, b } = *model;
        let x = h.x;
        // Proposals: λ ~ Gamma(r+x, α+t_x) (wider than the posterior), p ~ Beta(a, b+x-1)
        // (covering both the alive and the dead branch) or the prior for x = 0.
        let (shape, rate) = (r + x, alpha + h.t_x);
        let (pa, pb) = (a, if x > 0.0 { b + x - 1.0 } else { b });
        let proposal_lambda = Gamma::new(shape, 1.0 / rate).unwrap();
        let proposal_p = Beta::new(pa, pb).unwrap();
        let ln_gamma_density =
            |v: f64, k: f64, rate: f64| k * rate.ln() + (k - 1.0) * v.ln() - rate * v - ln_gamma(k);
        let ln_beta_density =
            |v: f64, a: f64, b: f64| (a - 1.0) * v.ln() + (b - 1.0) * (-v).ln_1p() - ln_beta(a, b);
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let lambda: f64 = proposal_lambda.sample(&mut rng);
            let p: f64 = proposal_p.sample(&mut rng);
            if !(lambda > 0.0 && p > 0.0 && p < 1.0) {
                continue;
            }
            let alive = x * (-p).ln_1p() + x * lambda.ln() - lambda * h.t;
            let dead = if x > 0.0 {
                p.ln() + (x - 1.0) * (-p).ln_1p() + x * lambda.ln() - lambda * h.t_x
            } else {
                f64::NEG_INFINITY
            };
            let ln_likelihood = log_add_exp(alive, dead);
            let ln_weight =
                ln_likelihood + ln_gamma_density(lambda, r, alpha) + ln_beta_density(p, a, b)
                    - ln_gamma_density(lambda, shape, rate)
                    - ln_beta_density(p, pa, pb);
            let p_alive = (alive - ln_likelihood).exp();
            let is_alive = rng.r#gen::<f64>() < p_alive;
            let (mut y52, mut y156) = (0.0, 0.0);
            if is_alive {
                let mut now = 0.0;
                loop {
                    now += -(1.0 - rng.r#gen::<f64>()).ln() / lambda;
                    if now > 156.0 {
                        break;
                    }
                    y156 += 1.0;
                    if now <= 52.0 {
                        y52 += 1.0;
                    }
                    if rng.r#gen::<f64>() < p {
                        break;
                    }
                }
            }
            samples.push([ln_weight.exp(), p_alive, y52, y156]);
        }
        // Each sample: [weight, P(alive | λ, p, history), Y(52), Y(156)].
        let total: f64 = samples.iter().map(|s| s[0]).sum();
        let count = samples.len() as f64;
        // Self-normalised estimates and their delta-method standard errors.
        let ratio = |i: usize| {
            let mean = samples.iter().map(|s| s[0] * s[i]).sum::<f64>() / total;
            let var = samples
                .iter()
                .map(|s| (s[0] * (s[i] - mean)).powi(2))
                .sum::<f64>()
                / (total * total);
            (mean, var.sqrt())
        };
        let marginal = total / count;
        let marginal_se = (samples
            .iter()
            .map(|s| (s[0] - marginal).powi(2))
            .sum::<f64>()
            / (count * count))
            .sqrt();
        [(marginal, marginal_se), ratio(1), ratio(2), ratio(3)]
    }

    #[test]
    fn expected_purchases_alive_and_likelihood_match_posterior_simulation_within_3_percent() {
        let histories = [
            (0.0, 0.0, 30.0),
            (1.0, 30.0, 39.0),
            (2.0, 10.0, 35.0),
            (5.0, 33.0, 35.0),
            (12.0, 37.0, 38.0),
        ];
        for (i, (x, t_x, t)) in histories.into_iter().enumerate() {
            let h = History { x, t_x, t };
            let [likelihood, alive, y52, y156] =
                posterior_simulation(&CDNOW, &h, 100_000, 100 + i as u64);
            let checks = [
                ("likelihood", CDNOW.log_likelihood(&[h]).exp(), likelihood),
                ("P(alive)", CDNOW.probability_alive(&h), alive),
                ("E[Y(52)]", CDNOW.expected_purchases(&h, 52.0), y52),
                ("E[Y(156)]", CDNOW.expected_purchases(&h, 156.0), y156),
            ];
            for (what, value, (mean, se)) in checks {
                assert!(
                    se < 0.007 * mean,
                    "{h:?} {what}: the simulation is too small to judge ({mean} ± {se})"
                );
                assert!(
                    (value - mean).abs() <= 4.0 * se && relative(value, mean) < 0.03,
                    "{h:?} {what} = {value}, simulated {mean} ± {se}"
                );
            }
        }
    }

    #[test]
    fn probability_alive_is_one_without_repeat_purchases_and_falls_with_recency() {
        let none = History {
            x: 0.0,
            t_x: 0.0,
            t: 30.0,
        };
        assert_eq!(CDNOW.probability_alive(&none), 1.0);
        let mut previous = f64::INFINITY;
        for t_x in [39.0, 38.0, 35.0, 30.0, 20.0, 10.0, 1.0] {
            let h = History {
                x: 3.0,
                t_x,
                t: 39.0,
            };
            let p = CDNOW.probability_alive(&h);
            assert!(p > 0.0 && p < previous, "t_x={t_x}: {p} after {previous}");
            previous = p;
        }
        // Bought just now: alive unless that purchase was the last, a/(b+x-1) against 1.
        let now = History {
            x: 3.0,
            t_x: 39.0,
            t: 39.0,
        };
        let reference = 1.0 / (1.0 + CDNOW.a / (CDNOW.b + 2.0));
        assert!(relative(CDNOW.probability_alive(&now), reference) < 1e-14);
    }

    #[test]
    fn discounted_purchases_add_up_the_monthly_increments() {
        let weeks_per_month = 52.0 / 12.0;
        for h in [
            History {
                x: 0.0,
                t_x: 0.0,
                t: 3.0,
            },
            History {
                x: 4.0,
                t_x: 30.0,
                t: 39.0,
            },
        ] {
            // Without discounting the sum telescopes to E[Y(36 months)].
            let undiscounted = discounted_purchases(&CDNOW, &h, 36, weeks_per_month, 0.0);
            let whole = CDNOW.expected_purchases(&h, 36.0 * weeks_per_month);
            assert!(
                relative(undiscounted, whole) < 1e-12,
                "{undiscounted} against {whole}"
            );
            let discounted = discounted_purchases(&CDNOW, &h, 36, weeks_per_month, 0.1);
            let mut reference = 0.0;
            for k in 1..=36 {
                let k = f64::from(k);
                let increment = CDNOW.expected_purchases(&h, k * weeks_per_month)
                    - CDNOW.expected_purchases(&h, (k - 1.0) * weeks_per_month);
                reference += increment / 1.1f64.powf(k / 12.0);
            }
            assert!(
                relative(discounted, reference) < 1e-12,
                "{discounted} against {reference}"
            );
            assert!(discounted < undiscounted && discounted > undiscounted / 1.1f64.powi(3));
        }
    }

    #[test]
    fn grouped_log_likelihood_matches_the_per_customer_sum() {
        let mut rng = StdRng::seed_from_u64(11);
        // Ages and purchase times in whole days, so that many histories repeat.
        let data: Vec<(History, f64)> = simulate(&CDNOW, 3_000, 0.0..40.0, &mut rng)
            .into_iter()
            .map(|h| {
                let days = |v: f64| (v * 7.0).floor() / 7.0;
                let h = History {
                    x: h.x,
                    t_x: days(h.t_x),
                    t: days(h.t).max(days(h.t_x)),
                };
                (h, f64::from(rng.gen_range(1u8..4)))
            })
            .collect();
        let prepared = BgNbdData::new(&data).unwrap();
        assert!(prepared.rows.len() < data.len(), "nothing was grouped");
        for model in [
            CDNOW,
            BgNbd {
                r: 2.0,
                alpha: 0.5,
                a: 3.0,
                b: 0.4,
            },
        ] {
            let grouped = prepared.log_likelihood(&model);
            let direct = model.log_likelihood_weighted(&data);
            assert!(
                relative(grouped, direct) < 1e-10,
                "{grouped} against {direct}"
            );
        }
    }

    #[test]
    fn bgnbd_fit_recovers_cdnow_parameters_within_25_percent() {
        let mut rng = StdRng::seed_from_u64(2005);
        let data = simulate(&CDNOW, 50_000, 27.0..39.0, &mut rng);
        let fit = BgNbd::fit(&data).unwrap();
        let BgNbd { r, alpha, a, b } = fit.params;
        for (name, value, truth) in [
            ("r", r, CDNOW.r),
            ("alpha", alpha, CDNOW.alpha),
            ("a", a, CDNOW.a),
            ("b", b, CDNOW.b),
        ] {
            assert!(
                relative(value, truth) < 0.25,
                "{name} = {value}, true {truth} (more than 25% off): {fit:?}"
            );
        }
        assert_eq!(fit.sample_size, 50_000);
        assert!(relative(fit.log_likelihood, fit.params.log_likelihood(&data)) < 1e-10);
        assert!(
            fit.log_likelihood >= CDNOW.log_likelihood(&data),
            "the fit is less likely than the truth: {fit:?}"
        );
    }

    #[test]
    fn gamma_gamma_fit_recovers_cdnow_parameters_within_25_percent() {
        let mut rng = StdRng::seed_from_u64(2005);
        let purchases_beyond_one = Poisson::new(2.0).unwrap();
        let rate = Gamma::new(CDNOW_VALUE.q, 1.0 / CDNOW_VALUE.gamma).unwrap();
        let data: Vec<(f64, f64)> = (0..30_000)
            .map(|_| {
                let x = 1.0 + purchases_beyond_one.sample(&mut rng);
                let nu: f64 = rate.sample(&mut rng);
                let value = Gamma::new(CDNOW_VALUE.p, 1.0 / nu).unwrap();
                let total: f64 = (0..x as usize).map(|_| value.sample(&mut rng)).sum();
                (x, total / x)
            })
            .collect();
        let fit = GammaGamma::fit(&data).unwrap();
        let GammaGamma { p, q, gamma } = fit.params;
        for (name, value, truth) in [
            ("p", p, CDNOW_VALUE.p),
            ("q", q, CDNOW_VALUE.q),
            ("gamma", gamma, CDNOW_VALUE.gamma),
        ] {
            assert!(
                relative(value, truth) < 0.25,
                "{name} = {value}, true {truth} (more than 25% off): {fit:?}"
            );
        }
        assert!(relative(fit.log_likelihood, fit.params.log_likelihood(&data)) < 1e-10);
        assert!(fit.log_likelihood >= CDNOW_VALUE.log_likelihood(&data));
    }

    #[test]
    fn gamma_gamma_expected_value_shrinks_towards_the_population_mean() {
        let m = CDNOW_VALUE;
        let population = m.p * m.gamma / (m.q - 1.0);
        assert!(relative(m.expected_value(0.0, 123.0), population) < 1e-14);
        // One purchase of 100: (γ + 100) p / (p + q - 1).
        let one = m.expected_value(1.0, 100.0);
        assert!(relative(one, (m.gamma + 100.0) * m.p / (m.p + m.q - 1.0)) < 1e-14);
        assert!(one > population && one < 100.0);
        // Many purchases: close to the customer's own mean.
        assert!(relative(m.expected_value(1e6, 100.0), 100.0) < 1e-5);
        let heavy = GammaGamma { q: 0.8, ..m };
        assert_eq!(heavy.expected_value(0.0, 10.0), f64::INFINITY);
    }

    #[test]
    fn fits_reject_data_they_cannot_use() {
        let one = History {
            x: 1.0,
            t_x: 2.0,
            t: 5.0,
        };
        assert_eq!(
            BgNbd::fit(&[one; 9]),
            Err(FitError::TooFewCustomers {
                found: 9,
                required: MIN_CUSTOMERS
            })
        );
        let never = History {
            x: 0.0,
            t_x: 0.0,
            t: 5.0,
        };
        assert_eq!(BgNbd::fit(&[never; 50]), Err(FitError::NoRepeatPurchases));
        let mut bad = vec![one; 20];
        bad[3].t_x = 6.0;
        assert!(matches!(
            BgNbd::fit(&bad),
            Err(FitError::InvalidInput { index: 3, .. })
        ));
        bad[3] = History { x: 1.5, ..one };
        assert!(matches!(
            BgNbd::fit(&bad),
            Err(FitError::InvalidInput { index: 3, .. })
        ));
        assert!(matches!(
            BgNbd::fit_weighted(&[(one, f64::NAN)]),
            Err(FitError::InvalidInput { index: 0, .. })
        ));
        assert!(matches!(
            GammaGamma::fit(&[(1.0, 10.0); 5]),
            Err(FitError::TooFewCustomers { found: 5, .. })
        ));
        let mut values = vec![(2.0, 10.0); 20];
        values[7] = (0.0, 10.0);
        assert!(matches!(
            GammaGamma::fit(&values),
            Err(FitError::InvalidInput { index: 7, .. })
        ));
        assert!(FitError::NoRepeatPurchases.to_string().contains("repeat"));
    }

    /// Fit time for 100,000 customers acquired over two years, times in whole days: run
    /// with `--release -- --ignored --nocapture`.
    #[test]
    #[ignore = "a timing, for release builds"]
    fn fit_time_for_100k_customers() {
        let mut rng = StdRng::seed_from_u64(1);
        let data: Vec<History> = simulate(&CDNOW, 100_000, 0.0..104.0, &mut rng)
            .into_iter()
            .map(|h| {
                let days = |v: f64| (v * 7.0).floor() / 7.0;
                History {
                    x: h.x,
                    t_x: days(h.t_x),
                    t: days(h.t).max(days(h.t_x)),
                }
            })
            .collect();
        let started = std::time::Instant::now();
        let fit = BgNbd::fit(&data).unwrap();
        let fit_time = started.elapsed();
        let started = std::time::Instant::now();
        let total: f64 = data
            .iter()
            .map(|h| discounted_purchases(&fit.params, h, 36, 52.0 / 12.0, 0.1))
            .sum();
        let predict_time = started.elapsed();
        let rows = BgNbdData::new(&data.iter().map(|h| (*h, 1.0)).collect::<Vec<_>>())
            .unwrap()
            .rows
            .len();
        println!(
            "BG/NBD fit of 100,000 customers ({rows} distinct histories): {fit_time:?}, \
             {} iterations, {:?}; 36-month discounted purchases for all: {predict_time:?} \
             (total {total:.1})",
            fit.iterations, fit.params
        );
    }
}
