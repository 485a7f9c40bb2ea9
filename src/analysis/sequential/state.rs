//! A metric's running test across looks, and the decision of each look.
//!
//! Increments: a look brings what happened in the window since the previous look's end (the
//! first look: the request's window), so windows never overlap and no event or value is
//! counted twice. An ask less than [`MIN_LOOK_SECS`] after the previous look takes no new look:
//! it answers from the evidence so far.
//!
//! What `pass` means: the test has not rejected, **and** the fixed-horizon judge passes on the
//! data it is given (so there is enough data and no visible regression). A fixed-horizon fail
//! that the anytime-valid test does not (yet) confirm is `inconclusive`, never `fail`: that is
//! what keeps the false-fail rate bounded.

use serde::{Deserialize, Serialize};

use super::{RateRatioTest, SignTest, Worse};
use crate::analysis::canary::{Classification, MetricData, MetricJudgement};
use crate::numfmt::sig;
use crate::spec::{CanaryMeasure, CanaryMetric, Counted, Direction};
use crate::verdict::{Outcome, Sequential};

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
    /// Event counts: the rate ratio.
    RateRatio(RateRatioTest),
    /// Values: the sign test.
    Signs(SignTest),
}

impl Test {
    fn log_e_value(&self) -> f64 {
        match self {
            Test::RateRatio(t) => t.log_e_value(),
            Test::Signs(t) => t.log_e_value(),
        }
    }

    fn worse(&self) -> Worse {
        match self {
            Test::RateRatio(t) => t.worse,
            Test::Signs(t) => t.worse,
        }
    }

    fn tolerance(&self) -> f64 {
        match self {
            Test::RateRatio(t) => t.tolerance,
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

fn fresh_tests(metric: &CanaryMetric, events: bool) -> Vec<Test> {
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
                Test::RateRatio(RateRatioTest::new(tolerance, worse))
            } else {
                Test::Signs(SignTest::new(tolerance, worse))
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

/// Adds look `look`'s increment to a metric's test. A prior state of another kind, direction
/// or tolerance (the definitions changed mid-rollout) is not the same test: it starts again.
/// Missing data or inconsistent counts add nothing.
pub fn advance(
    prior: Option<MetricState>,
    metric: &CanaryMetric,
    increment: &MetricData,
    look: u64,
    alpha: f64,
) -> MetricState {
    let events = is_events(metric, increment);
    let wanted = fresh_tests(metric, events);
    let mut state = match prior {
        Some(p) if compatible(&p.tests, &wanted) => p,
        _ => MetricState {
            name: metric.name.clone(),
            tests: wanted,
            looks: 0,
            baseline: Tally::default(),
            canary: Tally::default(),
            rejected: None,
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
                if let Test::Signs(t) = t {
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

fn capped(log_e: f64) -> f64 {
    let e = log_e.exp();
    if e.is_finite() { e } else { f64::MAX }
}

/// The metric's judgement at look `look`: the sequential test's evidence combined with the
/// fixed-horizon judgement `fixed` (made by the caller on the data it chooses: the request's
/// window in the gate, everything so far in a replay).
pub fn decide(
    metric: &CanaryMetric,
    state: &MetricState,
    mut fixed: MetricJudgement,
    look: u64,
    alpha: f64,
) -> MetricJudgement {
    let strongest = state
        .tests
        .iter()
        .max_by(|a, b| a.log_e_value().total_cmp(&b.log_e_value()));
    let e_value = state
        .rejected
        .as_ref()
        .map(|r| r.e_value)
        .or_else(|| strongest.map(|t| capped(t.log_e_value())))
        .unwrap_or(1.0);
    let threshold = 1.0 / alpha;
    fixed.sequential = Some(Sequential {
        look,
        e_value,
        threshold,
        rejected_at: state.rejected.as_ref().map(|r| r.look),
    });
    let looks = plural(look, "look");
    let evidence = format!(
        "e-value {} vs {} after {looks}",
        sig(e_value),
        sig(threshold)
    );
    if let Some(r) = &state.rejected {
        let high = r.worse == Worse::Higher;
        fixed.classification = if high {
            Classification::High
        } else {
            Classification::Low
        };
        fixed.outcome = Outcome::Fail;
        let beyond_critical = fixed.effect.is_some_and(|e| {
            if high {
                metric.critical_increase.is_some_and(|c| e > c)
            } else {
                metric.critical_decrease.is_some_and(|c| e < c)
            }
        });
        fixed.critical_failure = metric.critical || beyond_critical;
        let tolerance = state
            .tests
            .iter()
            .find(|t| t.worse() == r.worse)
            .map_or(1.0, Test::tolerance);
        fixed.reason = format!(
            "{} with anytime-valid confidence {}% after {} (e-value {} >= {}{}); {}{}",
            claim(metric, state, r.worse, tolerance),
            sig(100.0 * (1.0 - alpha)),
            plural(r.look, "look"),
            sig(r.e_value),
            sig(threshold),
            if r.look < look {
                format!(", rejected at look {} of {look}", r.look)
            } else {
                String::new()
            },
            totals(state),
            if beyond_critical {
                " (beyond the critical bound)"
            } else {
                ""
            }
        );
        return fixed;
    }
    match fixed.outcome {
        Outcome::Pass => {
            fixed.reason = format!(
                "no anytime-valid evidence of a regression ({evidence}); {}",
                fixed.reason
            );
        }
        Outcome::Fail => {
            fixed.outcome = Outcome::Inconclusive;
            fixed.classification = Classification::Unclear;
            fixed.critical_failure = false;
            fixed.reason = format!(
                "a fixed-horizon test would fail ({}), but the anytime-valid evidence is not \
                 conclusive yet ({evidence}): the next looks will tell",
                fixed.reason
            );
        }
        Outcome::Inconclusive => {
            fixed.reason = format!("{} ({evidence})", fixed.reason);
        }
    }
    fixed
}

/// "canary error-rate rate exceeds baseline by more than 20%", in the metric's terms.
fn claim(metric: &CanaryMetric, state: &MetricState, worse: Worse, tolerance: f64) -> String {
    let by = |more: bool| {
        let pct = 100.0
            * if more {
                tolerance - 1.0
            } else {
                1.0 - tolerance
            };
        if pct.abs() < 1e-9 {
            String::new()
        } else {
            format!(" by more than {}%", sig(pct))
        }
    };
    let high = worse == Worse::Higher;
    let events = state
        .tests
        .first()
        .is_some_and(|t| matches!(t, Test::RateRatio(_)));
    if events {
        let what = match metric.measure {
            CanaryMeasure::PrometheusEvents {
                counted: Counted::Good,
                ..
            } => "good-event rate",
            _ => "error rate",
        };
        format!(
            "canary {what} ({}) {} baseline{}",
            metric.name,
            if high { "exceeds" } else { "is below" },
            by(high)
        )
    } else {
        let (wins, pairs) = state
            .tests
            .iter()
            .find_map(|t| match t {
                Test::Signs(s) if s.worse == worse => Some((s.wins, s.wins + s.losses)),
                _ => None,
            })
            .unwrap_or((0, 0));
        format!(
            "canary {} is {} than baseline{} more often than not ({wins} of {pairs} pairs)",
            metric.name,
            if high { "higher" } else { "lower" },
            if (tolerance - 1.0).abs() < 1e-9 {
                String::new()
            } else {
                format!(" x{}", sig(tolerance))
            }
        )
    }
}

fn totals(state: &MetricState) -> String {
    let events = state
        .tests
        .first()
        .is_some_and(|t| matches!(t, Test::RateRatio(_)));
    if events {
        format!(
            "canary {} of {} vs baseline {} of {} events over all looks",
            state.canary.counted, state.canary.total, state.baseline.counted, state.baseline.total
        )
    } else {
        format!(
            "canary {} vs baseline {} values over all looks",
            state.canary.total, state.baseline.total
        )
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
