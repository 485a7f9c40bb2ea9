//! A metric's running test across looks.
//!
//! Increments: a look brings what happened in the window since the previous look's end (the
//! first look: the request's window), so windows never overlap and no event or value is
//! counted twice. An ask less than [`MIN_LOOK_SECS`] after the previous look takes no new look:
//! it answers from the evidence so far. What each look's evidence means for the verdict is
//! `decide.rs`.

use serde::{Deserialize, Serialize};

use super::{NoisePrior, RateRatioTest, ShiftTest, SignTest, Worse};
use crate::analysis::canary::MetricData;
use crate::analysis::canary::absolute::Breach;
use crate::spec::{CanaryMeasure, CanaryMetric, Direction};

/// Shortest new window that makes a look (a scrape interval or four, one step of value queries).
pub const MIN_LOOK_SECS: i64 = 60;

/// The one-sided level α of each direction's test at `confidence`, as the fixed judge tests
/// (1% each way at 98%).
pub fn level(confidence: f64) -> f64 {
    ((1.0 - confidence) / 2.0).clamp(1e-12, 0.5)
}

/// One direction's running test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "test", rename_all = "snake_case")]
pub enum Test {
    /// Event counts: the rate ratio, tempered by the estimated dispersion.
    RateRatio(RateRatioTest),
    /// Values: the shift of paired log ratios, with a drift-robust variance.
    Shift(ShiftTest),
    /// Values, as states written before the shift test read back: the sign test. Never made
    /// for a new look; a state holding it starts the metric's test again (see [`advance`]).
    Signs(SignTest),
}

impl Test {
    /// ln of the e-value.
    pub fn log_e_value(&self) -> f64 {
        match self {
            Test::RateRatio(t) => t.log_e_value(),
            Test::Shift(t) => t.log_e_value(),
            Test::Signs(t) => t.log_e_value(),
        }
    }

    /// The fixed-horizon one-sided z of everything so far (0 for the legacy sign test).
    pub fn fixed_z(&self) -> f64 {
        match self {
            Test::RateRatio(t) => t.fixed_z(),
            Test::Shift(t) => t.fixed_z(),
            Test::Signs(_) => 0.0,
        }
    }

    /// Which way this test looks.
    pub fn worse(&self) -> Worse {
        match self {
            Test::RateRatio(t) => t.worse,
            Test::Shift(t) => t.worse,
            Test::Signs(t) => t.worse,
        }
    }

    /// The ratio it tolerates.
    pub fn tolerance(&self) -> f64 {
        match self {
            Test::RateRatio(t) => t.tolerance,
            Test::Shift(t) => t.tolerance,
            Test::Signs(t) => t.tolerance,
        }
    }
}

/// What a side brought over all looks: events counted and all events, or values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Events counted (0 for values).
    pub counted: u64,
    /// All events, or values.
    pub total: u64,
}

/// When and how the test rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The look at which the e-value first reached 1/α.
    pub look: u64,
    /// The direction that rejected.
    pub worse: Worse,
    /// The e-value then (capped at the largest finite number).
    pub e_value: f64,
}

/// One metric's test across looks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricState {
    /// The metric's name.
    pub name: String,
    /// One test per bad direction (two for `either`).
    pub tests: Vec<Test>,
    /// Looks that brought data to this metric.
    pub looks: u64,
    /// Baseline over all looks.
    pub baseline: Tally,
    /// Canary over all looks.
    pub canary: Tally,
    /// Set once the test has rejected; a rejection is final.
    pub rejected: Option<Rejection>,
    /// The absolute criteria found beyond their limits at a look; final too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaches: Vec<Breach>,
}

/// A whole analysis (service, baseline, canary) across looks: what the store keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisState {
    /// Looks taken so far.
    pub looks: u64,
    /// Start of the first look's window (unix seconds).
    pub first_start: i64,
    /// End of the last look's window: the next look starts here.
    pub last_end: i64,
    /// Each metric's test.
    pub metrics: Vec<MetricState>,
}

impl AnalysisState {
    /// An analysis with no look yet.
    pub fn new() -> AnalysisState {
        AnalysisState {
            looks: 0,
            first_start: 0,
            last_end: 0,
            metrics: Vec::new(),
        }
    }

    /// Where the next look's window starts for a request over `[start, end]`, and whether the
    /// request brings enough new time for a look.
    pub fn next_window(&self, start: i64, end: i64) -> Option<(i64, i64)> {
        let from = if self.looks == 0 {
            start
        } else {
            start.max(self.last_end)
        };
        (end - from >= MIN_LOOK_SECS).then_some((from, end))
    }

    /// The metric's state, if it has one.
    pub fn metric(&self, name: &str) -> Option<&MetricState> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

impl Default for AnalysisState {
    fn default() -> Self {
        Self::new()
    }
}

fn is_events(metric: &CanaryMetric, data: &MetricData) -> bool {
    match data {
        MetricData::Events { .. } => true,
        MetricData::Values { .. } => false,
        MetricData::Missing(_) => matches!(
            metric.measure,
            CanaryMeasure::PrometheusEvents { .. } | CanaryMeasure::TraceErrors { .. }
        ),
    }
}

fn fresh_tests(metric: &CanaryMetric, events: bool, noise: Option<&NoisePrior>) -> Vec<Test> {
    let mut directions = Vec::new();
    if matches!(metric.direction, Direction::Increase | Direction::Either) {
        directions.push((Worse::Higher, metric.allowed_increase));
    }
    if matches!(metric.direction, Direction::Decrease | Direction::Either) {
        directions.push((Worse::Lower, metric.allowed_decrease));
    }
    directions
        .into_iter()
        .map(|(worse, tolerance)| {
            if events {
                let prior = noise.cloned().unwrap_or_default();
                Test::RateRatio(RateRatioTest::with_prior(tolerance, worse, prior))
            } else {
                Test::Shift(ShiftTest::new(tolerance, worse))
            }
        })
        .collect()
}

/// Same kind of test, same directions, same tolerances.
fn compatible(a: &[Test], b: &[Test]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            std::mem::discriminant(x) == std::mem::discriminant(y)
                && x.worse() == y.worse()
                && x.tolerance() == y.tolerance()
        })
}

/// Adds look `look`'s increment, `minutes` long, to a metric's test. A prior state of another kind, direction
/// or tolerance (the definitions changed mid-rollout) is not the same test: it starts again.
/// Missing data or inconsistent counts add nothing.
pub fn advance(
    prior: Option<MetricState>,
    metric: &CanaryMetric,
    increment: &MetricData,
    minutes: f64,
    look: u64,
    alpha: f64,
) -> MetricState {
    advance_with_noise(prior, metric, increment, minutes, look, alpha, None)
}

/// [`advance`], with the noise prior a new rate-ratio test starts from (`None`: the default).
/// A state that already has its tests keeps the prior it started with: the prior is fixed
/// before the analysis's first look, which keeps each look's tempering predictable.
pub fn advance_with_noise(
    prior: Option<MetricState>,
    metric: &CanaryMetric,
    increment: &MetricData,
    minutes: f64,
    look: u64,
    alpha: f64,
    noise: Option<&NoisePrior>,
) -> MetricState {
    let events = is_events(metric, increment);
    let wanted = fresh_tests(metric, events, noise);
    let mut state = match prior {
        Some(p) if compatible(&p.tests, &wanted) => p,
        _ => MetricState {
            name: metric.name.clone(),
            tests: wanted,
            looks: 0,
            baseline: Tally::default(),
            canary: Tally::default(),
            rejected: None,
            breaches: Vec::new(),
        },
    };
    let brought = match increment {
        MetricData::Missing(_) => false,
        MetricData::Events { baseline, canary } => {
            if baseline.counted > baseline.total || canary.counted > canary.total {
                false
            } else {
                for t in &mut state.tests {
                    if let Test::RateRatio(t) = t {
                        t.update(
                            canary.counted,
                            canary.total,
                            baseline.counted,
                            baseline.total,
                            minutes,
                        );
                    }
                }
                state.baseline.counted += baseline.counted;
                state.baseline.total += baseline.total;
                state.canary.counted += canary.counted;
                state.canary.total += canary.total;
                baseline.total > 0 || canary.total > 0
            }
        }
        MetricData::Values { baseline, canary } => {
            for t in &mut state.tests {
                if let Test::Shift(t) = t {
                    t.update(baseline, canary);
                }
            }
            state.baseline.total += baseline.len() as u64;
            state.canary.total += canary.len() as u64;
            !baseline.is_empty() || !canary.is_empty()
        }
    };
    if brought {
        state.looks += 1;
    }
    if state.rejected.is_none() {
        let threshold = (1.0 / alpha).ln();
        if let Some(t) = state
            .tests
            .iter()
            .filter(|t| t.log_e_value() >= threshold)
            .max_by(|a, b| a.log_e_value().total_cmp(&b.log_e_value()))
        {
            state.rejected = Some(Rejection {
                look,
                worse: t.worse(),
                e_value: capped(t.log_e_value()),
            });
        }
    }
    state
}

/// An e-value from its logarithm, capped at the largest finite number (valid JSON).
pub(super) fn capped(log_e: f64) -> f64 {
    let e = log_e.exp();
    if e.is_finite() { e } else { f64::MAX }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
