//! The absolute criteria of a canary metric: limits on the canary's own level, beside the
//! ratio tolerances (`docs/statistics.md`, "Absolute criteria").
//!
//! - `max` (values, `values.rs`): the canary's level, the geometric mean of its per-minute
//!   values, above the limit. The drift-robust one-sided z of the values test
//!   (`sequential::ShiftTest`) with the limit as a constant baseline: d = ln(value / max),
//!   long-run variance s²(1 + φ)/(1 − φ) from the AR(1) fit shrunk towards its priors; it fails
//!   when the lower bound of the level, max·exp(mean(d) − z_α·√(LRV/n)), lies above the limit.
//! - `max_rate` (bad events, `rates.rs`): the canary's rate above the limit. Exact one-sided
//!   binomial bound (Clopper-Pearson) on counts tempered for overdispersion: k/φ of n/φ, with
//!   φ = 1 + n·p₀·c²/(L·(1 − p₀)) the variance inflation of a window of L minutes whose
//!   per-minute rate swings with a coefficient of variation c ([`Level`]) at the limit p₀; it
//!   fails when the lower bound lies above the limit.
//! - `max_increase_points` (bad events, `rates.rs`): the canary's rate minus the baseline's, in
//!   percentage points, above the limit. Newcombe's hybrid score interval on each side's
//!   tempered counts; it fails when its lower bound lies above the limit.
//!
//! Each fails only on evidence at the caller's one-sided level α, is `inconclusive` on too
//! little data (the metric's minimum, and for `max_rate` also the events that could show the
//! rate within the limit had none been bad), and is `inconclusive` too when the estimate is
//! above the limit without evidence: a limit the data appear to breach is never passed.
//! Sequential callers pass α spent over looks ([`look_level`]).

mod rates;
mod values;

pub use rates::events_to_show_rate;
pub use values::MIN_PHI;

use serde::{Deserialize, Serialize};

use crate::numfmt::sig;
use crate::spec::CanaryMetric;
use crate::verdict::{Outcome, Side};

use super::super::sequential::{MetricState, PRIOR_DISPERSION, Test};
use super::{Classification, MetricData, MetricJudgement};

/// What the criteria are judged at: the level, and the noise the data may carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// One-sided level α of each criterion.
    pub alpha: f64,
    /// Length of the window the data cover, in minutes (the overdispersion of counts averages
    /// out over minutes).
    pub minutes: f64,
    /// Variance of the log-odds of the canary's share of errors between the two sides, as the
    /// rate-ratio test estimates it ([`PRIOR_DISPERSION`], 0.446 for a per-side coefficient
    /// of variation of 0.5, before any estimate): each side's per-minute rate is taken to
    /// swing with c² = exp(dispersion / 2) − 1.
    pub dispersion: f64,
}

impl Level {
    /// Level α over `minutes`, with the prior dispersion.
    pub fn new(alpha: f64, minutes: f64) -> Level {
        Level {
            alpha,
            minutes,
            dispersion: PRIOR_DISPERSION,
        }
    }

    /// Level α over `minutes` for a metric of a sequential analysis: the dispersion of counts
    /// is its rate-ratio test's estimate so far (the test's prior on a first look).
    pub fn of_analysis(alpha: f64, minutes: f64, state: &MetricState) -> Level {
        let mut level = Level::new(alpha, minutes);
        if let Some(Test::RateRatio(t)) = state.tests.first() {
            level.dispersion = t.estimated_dispersion();
        }
        level
    }

    /// The quasi-binomial variance inflation of `n` events at rate `p`: 1 + n·p·c²/(L·(1 − p)).
    pub fn inflation(&self, n: f64, p: f64) -> f64 {
        let c2 = (self.dispersion.max(0.0) / 2.0).exp_m1();
        let p = p.clamp(0.0, 0.999_999);
        1.0 + n * p * c2 / (self.minutes.max(1.0) * (1.0 - p))
    }
}

/// Which absolute criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// The canary's typical value at most the limit.
    Max,
    /// The canary's bad-event rate at most the limit.
    MaxRate,
    /// The canary's bad-event rate at most the baseline's plus the limit, in points.
    MaxIncreasePoints,
}

impl Criterion {
    /// The field's name in the definitions, also the suffix of the check's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Criterion::Max => "max",
            Criterion::MaxRate => "max_rate",
            Criterion::MaxIncreasePoints => "max_increase_points",
        }
    }
}

/// One absolute criterion judged.
#[derive(Debug, Clone, PartialEq)]
pub struct AbsoluteJudgement {
    /// Which criterion.
    pub criterion: Criterion,
    /// Its limit, as written in the definitions.
    pub limit: f64,
    /// pass / fail / inconclusive.
    pub outcome: Outcome,
    /// Pass, High (beyond the limit on evidence), NoData (too little), Unclear.
    pub classification: Classification,
    /// The canary's size and level (geometric mean or rate).
    pub canary: Option<Side>,
    /// The baseline's size and rate (`max_increase_points` only).
    pub baseline: Option<Side>,
    /// The one-sided bounds at the level used, each end at α: of the level, of the rate, or
    /// of the difference of rates in points.
    pub interval: Option<[f64; 2]>,
    /// The one-sided p-value of "beyond the limit" (the tempered binomial test of `max_rate`).
    pub p_value: Option<f64>,
    /// The level the criterion was judged at.
    pub alpha: f64,
    /// Why, with the numbers.
    pub reason: String,
}

impl AbsoluteJudgement {
    /// The check's name: `<metric>:<criterion>`.
    pub fn name(&self, metric: &str) -> String {
        format!("{metric}:{}", self.criterion.as_str())
    }

    /// The criterion as a judgement of its own, for the verdict's checks (one check per
    /// criterion, after the metric's own): it counts in the metric's group with its weight,
    /// and a failure fails the verdict (a limit the definitions set is a requirement).
    pub fn as_metric(&self, of: &MetricJudgement) -> MetricJudgement {
        MetricJudgement {
            name: self.name(&of.name),
            source: of.source,
            classification: self.classification,
            outcome: self.outcome,
            critical_failure: self.outcome == Outcome::Fail,
            baseline: self.baseline.clone(),
            canary: self.canary.clone(),
            effect: None,
            interval: self.interval,
            p_value: self.p_value,
            threshold: self.threshold(),
            reason: self.reason.clone(),
            observed: String::new(),
            weight: of.weight,
            group: of.group.clone(),
            // The metric's sides, so the verdict page draws the data the limit was held to.
            distribution: of.distribution.clone(),
            sequential: None,
            left_out: of.left_out,
            absolute: Vec::new(),
        }
    }

    fn threshold(&self) -> String {
        match self.criterion {
            Criterion::Max => format!("max {}", sig(self.limit)),
            Criterion::MaxRate => format!("max_rate {}", percent(self.limit)),
            Criterion::MaxIncreasePoints => {
                format!("max_increase_points {}", sig(self.limit))
            }
        }
    }
}

/// α spent at look `look` (1, 2, ...) of an analysis asked again and again: α / (k (k + 1)),
/// whose sum over every look is α, so the chance that any look's bound rejects a canary
/// within its limits stays at most α however many looks Argo takes (a union bound: it holds
/// whatever the windows share).
pub fn look_level(alpha: f64, look: u64) -> f64 {
    let k = look.max(1) as f64;
    alpha / (k * (k + 1.0))
}

/// Judges `metric`'s absolute criteria on `data` (the request's window: per-minute values in
/// time order, or counts) at `level`. `with_baseline`: false for a preview judged alone, whose
/// `max_increase_points` (which needs a baseline) is not judged.
pub fn judge_criteria(
    metric: &CanaryMetric,
    data: &MetricData,
    level: Level,
    with_baseline: bool,
) -> Vec<AbsoluteJudgement> {
    let criteria = &metric.absolute;
    let mut out = Vec::new();
    if let Some(limit) = criteria.max {
        out.push(values::judge_max(metric, data, limit, level.alpha));
    }
    if let Some(limit) = criteria.max_rate {
        out.push(rates::judge_max_rate(metric, data, limit, level));
    }
    if let (Some(limit), true) = (criteria.max_increase_points, with_baseline) {
        out.push(rates::judge_points(metric, data, limit, level));
    }
    out
}

pub(super) fn blank(criterion: Criterion, limit: f64, alpha: f64) -> AbsoluteJudgement {
    AbsoluteJudgement {
        criterion,
        limit,
        outcome: Outcome::Inconclusive,
        classification: Classification::NoData,
        canary: None,
        baseline: None,
        interval: None,
        p_value: None,
        alpha,
        reason: String::new(),
    }
}

/// A criterion found beyond its limit at a look of a sequential analysis, kept in the
/// analysis's state: each look spends its own share of α ([`look_level`]), so a breach shown
/// at one look is shown for the whole analysis, and a later look that shows less (a shorter
/// burst, fewer events) does not take it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// The criterion's field name (`max`, `max_rate`, `max_increase_points`).
    pub criterion: String,
    /// The look that showed it.
    pub look: u64,
    /// That look's reason, with its numbers.
    pub reason: String,
}

/// Keeps the breaches `judged` shows at `look` in `breaches`, and fails again each criterion
/// that an earlier look found beyond its limit, saying when and why.
pub fn remember_breaches(judged: &mut [AbsoluteJudgement], breaches: &mut Vec<Breach>, look: u64) {
    for j in judged {
        let name = j.criterion.as_str();
        match breaches.iter().find(|b| b.criterion == name) {
            Some(earlier) if j.outcome != Outcome::Fail => {
                j.outcome = Outcome::Fail;
                j.classification = Classification::High;
                j.reason = format!(
                    "beyond its limit since look {}: {} (now: {})",
                    earlier.look, earlier.reason, j.reason
                );
            }
            Some(_) => {}
            None if j.outcome == Outcome::Fail => breaches.push(Breach {
                criterion: name.to_string(),
                look,
                reason: j.reason.clone(),
            }),
            None => {}
        }
    }
}

pub(super) fn confidence(alpha: f64) -> String {
    format!("{}%", sig(100.0 * (1.0 - alpha)))
}

pub(super) fn percent(rate: f64) -> String {
    format!("{}%", sig(rate * 100.0))
}

pub(super) fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", sig(x))
    } else {
        sig(x)
    }
}

#[cfg(test)]
mod tests;
