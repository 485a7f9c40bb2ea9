//! What a look's evidence means for the verdict, in both modes.
//!
//! - `fail`: evidence of a regression beyond the tolerance that holds under the noise the
//!   tests allow for: the anytime-valid e-value reached 1/α (sequential; final for the
//!   analysis), or the fixed-horizon z of the request's window reached its one-sided α
//!   quantile (fixed).
//! - `inconclusive`: what a person must look at: no data, too little data (the descriptive
//!   judge's minimum on the request's window), or, at the last look of an analysis, evidence
//!   that contradicts itself: the whole analysis's data tested once at level α say regression
//!   while the anytime-valid test has not confirmed it.
//! - `pass`: everything else: enough data and no evidence of a regression beyond tolerance.
//!   A canary that merely looks a little worse, without evidence, passes (Argo continues and
//!   the next looks bring more data), with the numbers in the reason.

use super::state::{MetricState, Test, advance, capped};
use super::{Worse, level};
use crate::analysis::canary::{Classification, MetricData, MetricJudgement, judge_metric};
use crate::analysis::stats::upper_quantile;
use crate::numfmt::sig;
use crate::spec::{CanaryMeasure, CanaryMetric, Counted};
use crate::verdict::{Outcome, Sequential};

/// How an ask is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judging {
    /// One look of the analysis's anytime-valid test. `last`: the caller says the analysis
    /// ends with this answer (no look follows), so contradictory evidence is inconclusive.
    Sequential {
        /// This is the analysis's last look.
        last: bool,
    },
    /// The request's window alone, a fixed-horizon test at level α.
    Fixed,
}

/// One metric judged in fixed mode on one window of `minutes`: the descriptive judge (sides,
/// effect, interval, minimum data) and the noise-robust test of that window as a single look.
pub fn judge_fixed(
    metric: &CanaryMetric,
    data: &MetricData,
    minutes: f64,
    confidence: f64,
) -> MetricJudgement {
    let alpha = level(confidence);
    let state = advance(None, metric, data, minutes, 1, alpha);
    let described = judge_metric(metric, data, confidence);
    let mut judged = decide(metric, &state, described, 1, alpha, Judging::Fixed);
    let level = crate::analysis::canary::absolute::Level::new(alpha, minutes);
    judged.absolute = crate::analysis::canary::absolute::judge_criteria(metric, data, level, true);
    judged
}

/// The metric's judgement at look `look`: the test's evidence in `state` combined with the
/// descriptive judgement `described` (made by the caller on the request's window).
pub fn decide(
    metric: &CanaryMetric,
    state: &MetricState,
    mut described: MetricJudgement,
    look: u64,
    alpha: f64,
    judging: Judging,
) -> MetricJudgement {
    let threshold = 1.0 / alpha;
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
    // The fixed-horizon test of all data so far, at the one-sided level α.
    let z_critical = upper_quantile(alpha);
    let fixed = state
        .tests
        .iter()
        .filter(|t| !matches!(t, Test::Signs(_)))
        .max_by(|a, b| a.fixed_z().total_cmp(&b.fixed_z()));
    let fixed_rejects = fixed.is_some_and(|t| t.fixed_z() >= z_critical);
    let evidence = match judging {
        Judging::Sequential { .. } => {
            described.sequential = Some(Sequential {
                look,
                e_value,
                threshold,
                rejected_at: state.rejected.as_ref().map(|r| r.look),
            });
            format!(
                "e-value {} vs {} after {}",
                sig(e_value),
                sig(threshold),
                plural(look, "look")
            )
        }
        Judging::Fixed => format!(
            "z {} vs {} at one-sided {}%",
            sig(fixed.map_or(0.0, Test::fixed_z)),
            sig(z_critical),
            sig(alpha * 100.0)
        ),
    };
    let failed = match judging {
        Judging::Sequential { .. } => state.rejected.as_ref().map(|r| (r.worse, r.look)),
        Judging::Fixed => fixed.filter(|_| fixed_rejects).map(|t| (t.worse(), look)),
    };
    if let Some((worse, at)) = failed {
        return failure(metric, state, described, worse, at, look, &evidence, alpha);
    }
    if described.classification == Classification::NoData {
        // Missing or too little data: the descriptive judge's outcome (inconclusive, or fail
        // for a metric that must have data) and reason stand.
        described.reason = format!("{} ({evidence})", described.reason);
        return described;
    }
    described.critical_failure = false;
    if judging == (Judging::Sequential { last: true }) && fixed_rejects {
        described.outcome = Outcome::Inconclusive;
        described.classification = Classification::Unclear;
        described.reason = format!(
            "contradictory evidence at the analysis's last look: all of its data tested once at \
             one-sided {}% say the canary is worse beyond tolerance (z {} >= {}), but the \
             anytime-valid test has not confirmed it ({evidence}); {}",
            sig(alpha * 100.0),
            sig(fixed.map_or(0.0, Test::fixed_z)),
            sig(z_critical),
            described.observed
        );
        return described;
    }
    described.outcome = Outcome::Pass;
    described.classification = Classification::Pass;
    described.reason = format!(
        "no evidence of a regression beyond tolerance ({evidence}); {}",
        described.observed
    );
    described
}

/// A failed check: the claim in the metric's terms, the evidence and the totals.
#[allow(clippy::too_many_arguments)]
fn failure(
    metric: &CanaryMetric,
    state: &MetricState,
    mut described: MetricJudgement,
    worse: Worse,
    at: u64,
    look: u64,
    evidence: &str,
    alpha: f64,
) -> MetricJudgement {
    let high = worse == Worse::Higher;
    described.classification = if high {
        Classification::High
    } else {
        Classification::Low
    };
    described.outcome = Outcome::Fail;
    let beyond_critical = described.effect.is_some_and(|e| {
        if high {
            metric.critical_increase.is_some_and(|c| e > c)
        } else {
            metric.critical_decrease.is_some_and(|c| e < c)
        }
    });
    described.critical_failure = metric.critical || beyond_critical;
    let tolerance = state
        .tests
        .iter()
        .find(|t| t.worse() == worse)
        .map_or(1.0, Test::tolerance);
    let confidence = if described.sequential.is_some() {
        "anytime-valid confidence"
    } else {
        "confidence"
    };
    described.reason = format!(
        "{} with {confidence} {}% ({evidence}{}); {}{}",
        claim(metric, state, worse, tolerance),
        sig(100.0 * (1.0 - alpha)),
        if at < look {
            format!(", rejected at look {at}")
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
    described
}

/// "canary error rate (error-rate) exceeds baseline by more than 20%", in the metric's terms.
fn claim(metric: &CanaryMetric, state: &MetricState, worse: Worse, tolerance: f64) -> String {
    let high = worse == Worse::Higher;
    let pct = 100.0
        * if high {
            tolerance - 1.0
        } else {
            1.0 - tolerance
        };
    let by = if pct.abs() < 1e-9 {
        String::new()
    } else {
        format!(" by more than {}%", sig(pct))
    };
    match state.tests.iter().find(|t| t.worse() == worse) {
        Some(Test::RateRatio(_)) => {
            let what = match metric.measure {
                CanaryMeasure::PrometheusEvents {
                    counted: Counted::Good,
                    ..
                } => "good-event rate",
                _ => "error rate",
            };
            format!(
                "canary {what} ({}) {} baseline{by}",
                metric.name,
                if high { "exceeds" } else { "is below" },
            )
        }
        Some(Test::Shift(t)) => {
            let ratio = t.summary().map_or(1.0, |s| s.mean.exp());
            format!(
                "canary {} is {} than baseline{by} (geometric mean ratio {}x over {} paired \
                 minutes)",
                metric.name,
                if high { "higher" } else { "lower" },
                sig(ratio),
                t.n
            )
        }
        _ => format!(
            "canary {} is {} than baseline{by}",
            metric.name,
            if high { "higher" } else { "lower" }
        ),
    }
}

fn totals(state: &MetricState) -> String {
    match state.tests.first() {
        Some(Test::RateRatio(t)) => format!(
            "canary {} of {} vs baseline {} of {} events over all looks, dispersion {}{}",
            state.canary.counted,
            state.canary.total,
            state.baseline.counted,
            state.baseline.total,
            sig(t.dispersion),
            match &t.prior.measured {
                Some(basis) => format!(" (prior {} measured {basis})", sig(t.prior.dispersion)),
                None => String::new(),
            }
        ),
        _ => format!(
            "canary {} vs baseline {} values over all looks",
            state.canary.total, state.baseline.total
        ),
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
