//! The canary judge: each metric compared between baseline and canary, classified, and the
//! weighted score turned into pass / fail / inconclusive.
//!
//! Kayenta's method with its known faults fixed: a metric is `high` (or `low`) when the canary
//! is worse beyond the tolerated effect size *and* the difference is significant, judged by the
//! rank-sum test as well as by the location-shift interval (an interval alone misses a canary
//! that is much worse on a minority of samples); a canary that looks worse but is not
//! significantly so is `inconclusive`, never `pass`; too little data is its own answer; nothing
//! is random, so the same inputs give the same verdict.

//!
//! - `classify`: what each metric's data shows (rank-sum test, location shift, proportions)
//!   and its classification against the ratio tolerances;
//! - [`absolute`]: the absolute criteria (`max`, `max_rate`, `max_increase_points`), each a
//!   one-sided bound at the judge's level;
//! - `score`: the weighted group score and the canary's verdict.

mod classify;
mod score;

pub mod absolute;

pub use absolute::{AbsoluteJudgement, Criterion};
pub use score::{CanaryJudgement, judge, judge_alone};

use crate::numfmt::sig;
use crate::spec::{CanaryMeasure, CanaryMetric, Direction};
use crate::verdict::{Outcome, Side};

use super::distribution::Distribution;
use classify::{classify, events_evidence, values_evidence};

/// Confidence of the intervals and tests (Kayenta uses 98%).
pub const DEFAULT_CONFIDENCE: f64 = 0.98;
/// Fewest values per side to compare distributions when the metric names no minimum: five
/// minutes of a per-minute series (a canary step's first look, five minutes in, has them);
/// four values a side never pass.
pub const DEFAULT_MIN_VALUES: u64 = 5;
/// Fewest events per side to compare rates when the metric names no minimum.
pub const DEFAULT_MIN_EVENTS: u64 = 100;

/// Fetched data of one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricData {
    /// One value per sample (per step, per span) on each side.
    Values {
        /// Baseline samples.
        baseline: Vec<f64>,
        /// Canary samples.
        canary: Vec<f64>,
    },
    /// Counted events on each side.
    Events {
        /// Baseline counts.
        baseline: Counts,
        /// Canary counts.
        canary: Counts,
    },
    /// Nothing could be fetched, and why.
    Missing(String),
}

/// Events counted (bad, or good for success-rate metrics) out of all events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Events counted.
    pub counted: u64,
    /// All events.
    pub total: u64,
}

/// How a metric compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    /// Within tolerance.
    Pass,
    /// Canary significantly higher beyond tolerance.
    High,
    /// Canary significantly lower beyond tolerance.
    Low,
    /// No data or too little: cannot compare.
    NoData,
    /// Worse beyond tolerance but not significantly: cannot tell.
    Unclear,
}

impl Classification {
    /// The word in the verdict JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Pass => "pass",
            Classification::High => "high",
            Classification::Low => "low",
            Classification::NoData | Classification::Unclear => "nodata",
        }
    }
}

/// One metric's judgement.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricJudgement {
    /// The metric's name.
    pub name: String,
    /// Where its data came from: `prometheus` or `traces`.
    pub source: &'static str,
    /// pass / high / low / nodata.
    pub classification: Classification,
    /// This metric's outcome.
    pub outcome: Outcome,
    /// The metric failed beyond its critical bound, or is marked critical and failed.
    pub critical_failure: bool,
    /// Baseline size and value (mean, median or rate).
    pub baseline: Option<Side>,
    /// Canary size and value.
    pub canary: Option<Side>,
    /// Effect size: canary / baseline.
    pub effect: Option<f64>,
    /// Interval of the shift (values) or of the rate ratio (events).
    pub interval: Option<[f64; 2]>,
    /// One-sided p-value in the bad direction (the smaller one for `either`).
    pub p_value: Option<f64>,
    /// The tolerance applied, in words.
    pub threshold: String,
    /// Why, in words.
    pub reason: String,
    /// What the data showed, in words (sides, effect, interval), without a judgement: the
    /// decision's reasons quote it.
    pub observed: String,
    /// Weight in the score.
    pub weight: f64,
    /// Score group.
    pub group: Option<String>,
    /// What each side looked like (bounded), for the verdict page's chart; `None` without data.
    pub distribution: Option<Distribution>,
    /// The anytime-valid evidence, when judged in sequential mode.
    pub sequential: Option<crate::verdict::Sequential>,
    /// Left out of the verdict: a metric with `required: false` and no data on either side.
    pub left_out: bool,
    /// The metric's absolute criteria, judged (empty when it has none, or until the caller
    /// judges them: see [`absolute::judge_criteria`]).
    pub absolute: Vec<AbsoluteJudgement>,
}

/// Judges one metric.
pub fn judge_metric(metric: &CanaryMetric, data: &MetricData, confidence: f64) -> MetricJudgement {
    let mut j = MetricJudgement {
        name: metric.name.clone(),
        source: match metric.measure {
            CanaryMeasure::TraceLatency { .. } | CanaryMeasure::TraceErrors { .. } => "traces",
            _ => "prometheus",
        },
        classification: Classification::NoData,
        outcome: Outcome::Inconclusive,
        critical_failure: false,
        baseline: None,
        canary: None,
        effect: None,
        interval: None,
        p_value: None,
        threshold: tolerance_text(metric),
        reason: String::new(),
        observed: String::new(),
        weight: metric.weight,
        group: metric.group.clone(),
        // Values compared are summarised from the samples the tests sorted (values_evidence).
        distribution: None,
        sequential: None,
        left_out: false,
        absolute: Vec::new(),
    };
    let evidence = match data {
        MetricData::Missing(reason) => Err(format!("no data: {reason}")),
        MetricData::Values { baseline, canary } => {
            values_evidence(metric, baseline, canary, confidence, &mut j)
        }
        MetricData::Events { baseline, canary } => {
            events_evidence(metric, *baseline, *canary, confidence, &mut j)
        }
    };
    if j.distribution.is_none() {
        j.distribution = Distribution::of(data);
    }
    match evidence {
        Err(reason) => {
            j.classification = Classification::NoData;
            j.outcome = if metric.must_have_data {
                Outcome::Fail
            } else {
                Outcome::Inconclusive
            };
            j.critical_failure = metric.must_have_data && metric.critical;
            j.reason = if metric.must_have_data {
                format!("{reason} (the metric must have data)")
            } else {
                reason
            };
        }
        Ok(ev) => classify(metric, &ev, confidence, &mut j),
    }
    if !metric.required && j.classification == Classification::NoData && no_data_at_all(data) {
        j.left_out = true;
        j.reason = format!(
            "left out of the verdict: no data on either side and the metric is not required \
             ({})",
            j.reason
        );
    }
    j
}

/// Neither side has a single value or event: the source has never seen the service in the
/// window. A source error (`Missing`) is not this: an unreachable source proves nothing.
fn no_data_at_all(data: &MetricData) -> bool {
    match data {
        MetricData::Values { baseline, canary } => baseline.is_empty() && canary.is_empty(),
        MetricData::Events { baseline, canary } => baseline.total == 0 && canary.total == 0,
        MetricData::Missing(_) => false,
    }
}

fn tolerance_text(metric: &CanaryMetric) -> String {
    let mut parts = Vec::new();
    if matches!(metric.direction, Direction::Increase | Direction::Either) {
        parts.push(format!("increase up to {}x", sig(metric.allowed_increase)));
        if let Some(c) = metric.critical_increase {
            parts.push(format!("critical above {}x", sig(c)));
        }
    }
    if matches!(metric.direction, Direction::Decrease | Direction::Either) {
        parts.push(format!(
            "decrease down to {}x",
            sig(metric.allowed_decrease)
        ));
        if let Some(c) = metric.critical_decrease {
            parts.push(format!("critical below {}x", sig(c)));
        }
    }
    parts.join(", ")
}

/// canary / baseline, with 0/0 = 1 (no change) and x/0 = infinity (worse than any bound).
fn ratio(canary: f64, baseline: f64) -> f64 {
    match (canary == 0.0, baseline == 0.0) {
        (true, true) => 1.0,
        (false, true) => f64::INFINITY * canary.signum(),
        _ => canary / baseline,
    }
}

fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// A p-value for people: `= 0.0123`, or `< 0.0001` rather than a rounded `= 0`.
fn p_text(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".to_string()
    } else {
        format!("= {}", sig(p))
    }
}

fn percent(rate: f64) -> String {
    format!("{}%", sig(rate * 100.0))
}
