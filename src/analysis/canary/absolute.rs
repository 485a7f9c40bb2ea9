//! The absolute criteria of a canary metric: limits on the canary's own level, beside the
//! ratio tolerances (`docs/statistics.md`, "Absolute criteria").
//!
//! - `max` (values): the canary's typical value, the median of its samples, above the limit.
//!   One-sided sign test: under "at most half the values above the limit" the number above is
//!   at most Binomial(n, 1/2); it fails when the order-statistic lower bound of the median
//!   lies above the limit (the same decision as the sign test at level α).
//! - `max_rate` (bad events): the canary's rate above the limit. Exact one-sided binomial
//!   test; it fails when the Clopper-Pearson lower bound lies above the limit.
//! - `max_increase_points` (bad events): the canary's rate minus the baseline's, in
//!   percentage points, above the limit. It fails when Newcombe's hybrid score lower bound of
//!   the difference lies above the limit.
//!
//! Each fails only on evidence at the caller's one-sided level α, is `inconclusive` on too
//! little data (the metric's minimum, and for `max_rate` also the events that could show the
//! rate within the limit had none been bad), and is `inconclusive` too when the estimate is
//! above the limit without evidence: a limit the data appear to breach is never passed.
//! Sequential callers pass α spent over looks ([`look_level`]).

use crate::numfmt::sig;
use crate::spec::{CanaryMeasure, CanaryMetric, Counted};
use crate::verdict::{Outcome, Side};

use super::super::stats::{
    binomial_upper_tail, clopper_pearson, median_bounds, newcombe_difference,
};
use super::{
    Classification, Counts, DEFAULT_MIN_EVENTS, DEFAULT_MIN_VALUES, MetricData, MetricJudgement,
    median, p_text,
};

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
    /// The canary's size and level (median or rate).
    pub canary: Option<Side>,
    /// The baseline's size and rate (`max_increase_points` only).
    pub baseline: Option<Side>,
    /// The one-sided bounds at the level used, each end at α: of the median, of the rate, or
    /// of the difference of rates in points.
    pub interval: Option<[f64; 2]>,
    /// The one-sided p-value of "beyond the limit" (sign test, binomial test).
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
            distribution: None,
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

/// Judges `metric`'s absolute criteria on `data` at one-sided level `alpha`. `with_baseline`:
/// false for a preview judged alone, whose `max_increase_points` (which needs a baseline) is
/// not judged.
pub fn judge_criteria(
    metric: &CanaryMetric,
    data: &MetricData,
    alpha: f64,
    with_baseline: bool,
) -> Vec<AbsoluteJudgement> {
    let criteria = &metric.absolute;
    let mut out = Vec::new();
    if let Some(limit) = criteria.max {
        out.push(judge_max(metric, data, limit, alpha));
    }
    if let Some(limit) = criteria.max_rate {
        out.push(judge_max_rate(metric, data, limit, alpha));
    }
    if let (Some(limit), true) = (criteria.max_increase_points, with_baseline) {
        out.push(judge_points(metric, data, limit, alpha));
    }
    out
}

fn blank(criterion: Criterion, limit: f64, alpha: f64) -> AbsoluteJudgement {
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

fn confidence(alpha: f64) -> String {
    format!("{}%", sig(100.0 * (1.0 - alpha)))
}

fn judge_max(
    metric: &CanaryMetric,
    data: &MetricData,
    limit: f64,
    alpha: f64,
) -> AbsoluteJudgement {
    let mut j = blank(Criterion::Max, limit, alpha);
    let values = match data {
        MetricData::Values { canary, .. } => canary,
        MetricData::Missing(why) => {
            j.reason = format!("no data: {why}");
            return j;
        }
        MetricData::Events { .. } => {
            j.reason = "`max` bounds values, and this metric counts events".to_string();
            return j;
        }
    };
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as u64;
    let min = metric.min_samples.unwrap_or(DEFAULT_MIN_VALUES).max(1);
    let name = &metric.name;
    if n == 0 {
        j.reason = format!(
            "no canary value of {name} to hold against max {}",
            sig(limit)
        );
        return j;
    }
    let typical = median(&sorted);
    j.canary = Some(Side { n, value: typical });
    if n < min {
        j.reason = format!(
            "too little data: canary {n} values of {name}, at least {min} needed to hold its \
             median against max {}",
            sig(limit)
        );
        return j;
    }
    let above = sorted.iter().filter(|v| **v > limit).count() as u64;
    let p = binomial_upper_tail(above, n, 0.5);
    let [lower, upper] = median_bounds(&sorted, alpha);
    if let (Some(l), Some(u)) = (lower, upper) {
        j.interval = Some([l, u]);
    }
    j.p_value = Some(p);
    let bound = |b: Option<f64>, word: &str| match b {
        Some(b) => format!("{word} bound {} at {}", sig(b), confidence(alpha)),
        None => format!(
            "no {word} bound at {}: {n} values are too few to bound a median at this level",
            confidence(alpha)
        ),
    };
    let counts = format!("{above} of {n} values above, sign test p {}", p_text(p));
    let level = format!("canary {name} median {}", sig(typical));
    if lower.is_some_and(|l| l > limit) {
        j.outcome = Outcome::Fail;
        j.classification = Classification::High;
        j.reason = format!(
            "{level} above max {} ({}; {counts})",
            sig(limit),
            bound(lower, "lower")
        );
    } else if typical > limit {
        j.classification = Classification::Unclear;
        j.reason = format!(
            "{level} above max {} but not significantly ({}; {counts})",
            sig(limit),
            bound(lower, "lower")
        );
    } else {
        j.outcome = Outcome::Pass;
        j.classification = Classification::Pass;
        j.reason = format!(
            "{level} within max {} ({}; {counts})",
            sig(limit),
            bound(upper, "upper")
        );
    }
    j
}

/// Bad events of a side: the counted ones, or the rest for a metric that counts good ones.
fn bad(metric: &CanaryMetric, c: Counts) -> Counts {
    match metric.measure {
        CanaryMeasure::PrometheusEvents {
            counted: Counted::Good,
            ..
        } => Counts {
            counted: c.total.saturating_sub(c.counted),
            total: c.total,
        },
        _ => c,
    }
}

fn events(metric: &CanaryMetric, data: &MetricData) -> Result<(Counts, Counts), String> {
    match data {
        MetricData::Events { baseline, canary } => {
            for (side, c) in [("baseline", baseline), ("canary", canary)] {
                if c.counted > c.total {
                    return Err(format!(
                        "the {side} counts {} events of only {} in all: the queries disagree",
                        c.counted, c.total
                    ));
                }
            }
            Ok((bad(metric, *baseline), bad(metric, *canary)))
        }
        MetricData::Missing(why) => Err(format!("no data: {why}")),
        MetricData::Values { .. } => Err("a rate criterion bounds events, and this metric \
                                          has values"
            .to_string()),
    }
}

/// The fewest events that could show a rate within `limit` at level `alpha` had none of them
/// been bad: the Clopper-Pearson upper bound of 0 of n, 1 - alpha^(1/n), is at most `limit`
/// from n = ln(alpha) / ln(1 - limit) on. Fewer, and even a perfect canary proves nothing.
pub fn events_to_show_rate(limit: f64, alpha: f64) -> u64 {
    if !(limit > 0.0 && limit < 1.0 && alpha > 0.0 && alpha < 1.0) {
        return u64::MAX;
    }
    (alpha.ln() / (-limit).ln_1p()).ceil().max(1.0) as u64
}

fn judge_max_rate(
    metric: &CanaryMetric,
    data: &MetricData,
    limit: f64,
    alpha: f64,
) -> AbsoluteJudgement {
    let mut j = blank(Criterion::MaxRate, limit, alpha);
    let canary = match events(metric, data) {
        Ok((_, canary)) => canary,
        Err(why) => {
            j.reason = why;
            return j;
        }
    };
    let name = &metric.name;
    let (k, n) = (canary.counted, canary.total);
    let rate = k as f64 / n.max(1) as f64;
    if n > 0 {
        j.canary = Some(Side { n, value: rate });
    }
    let min = metric
        .min_samples
        .unwrap_or(DEFAULT_MIN_EVENTS)
        .max(events_to_show_rate(limit, alpha));
    if n < min {
        j.reason = format!(
            "too little traffic: canary {n} events of {name}, at least {min} needed to show a \
             rate within max_rate {} at {}",
            percent(limit),
            confidence(alpha)
        );
        return j;
    }
    let p = binomial_upper_tail(k, n, limit);
    j.p_value = Some(p);
    j.interval = clopper_pearson(k, n, alpha);
    let [lower, upper] = j.interval.unwrap_or([0.0, 1.0]);
    let level = format!("canary {name} at {} ({k} of {n})", percent(rate));
    let test = format!("binomial test p {}", p_text(p));
    if lower > limit {
        j.outcome = Outcome::Fail;
        j.classification = Classification::High;
        j.reason = format!(
            "{level} above max_rate {} (lower bound {} at {}, {test})",
            percent(limit),
            percent(lower),
            confidence(alpha)
        );
    } else if rate > limit {
        j.classification = Classification::Unclear;
        j.reason = format!(
            "{level} above max_rate {} but not significantly (lower bound {} at {}, {test})",
            percent(limit),
            percent(lower),
            confidence(alpha)
        );
    } else {
        j.outcome = Outcome::Pass;
        j.classification = Classification::Pass;
        j.reason = format!(
            "{level} within max_rate {} (upper bound {} at {})",
            percent(limit),
            percent(upper),
            confidence(alpha)
        );
    }
    j
}

fn judge_points(
    metric: &CanaryMetric,
    data: &MetricData,
    limit: f64,
    alpha: f64,
) -> AbsoluteJudgement {
    let mut j = blank(Criterion::MaxIncreasePoints, limit, alpha);
    let (baseline, canary) = match events(metric, data) {
        Ok(sides) => sides,
        Err(why) => {
            j.reason = why;
            return j;
        }
    };
    let name = &metric.name;
    let rate = |c: Counts| c.counted as f64 / c.total.max(1) as f64;
    let (pc, pb) = (rate(canary), rate(baseline));
    if canary.total > 0 {
        j.canary = Some(Side {
            n: canary.total,
            value: pc,
        });
    }
    if baseline.total > 0 {
        j.baseline = Some(Side {
            n: baseline.total,
            value: pb,
        });
    }
    let min = metric.min_samples.unwrap_or(DEFAULT_MIN_EVENTS).max(1);
    if canary.total < min || baseline.total < min {
        j.reason = format!(
            "too little traffic: baseline {} and canary {} events of {name}, at least {min} \
             per side needed",
            baseline.total, canary.total
        );
        return j;
    }
    let Some(bounds) = newcombe_difference(
        canary.counted,
        canary.total,
        baseline.counted,
        baseline.total,
        alpha,
    ) else {
        j.reason = "the rates cannot be compared".to_string();
        return j;
    };
    let points = [bounds[0] * 100.0, bounds[1] * 100.0];
    j.interval = Some(points);
    let rise = (pc - pb) * 100.0;
    let level = format!(
        "canary {name} at {} ({} of {}) vs baseline {} ({} of {}): {} points",
        percent(pc),
        canary.counted,
        canary.total,
        percent(pb),
        baseline.counted,
        baseline.total,
        signed(rise)
    );
    if points[0] > limit {
        j.outcome = Outcome::Fail;
        j.classification = Classification::High;
        j.reason = format!(
            "{level}, above max_increase_points {} (lower bound {} points at {})",
            sig(limit),
            signed(points[0]),
            confidence(alpha)
        );
    } else if rise > limit {
        j.classification = Classification::Unclear;
        j.reason = format!(
            "{level}, above max_increase_points {} but not significantly (lower bound {} \
             points at {})",
            sig(limit),
            signed(points[0]),
            confidence(alpha)
        );
    } else {
        j.outcome = Outcome::Pass;
        j.classification = Classification::Pass;
        j.reason = format!(
            "{level}, within max_increase_points {} (upper bound {} points at {})",
            sig(limit),
            signed(points[1]),
            confidence(alpha)
        );
    }
    j
}

fn percent(rate: f64) -> String {
    format!("{}%", sig(rate * 100.0))
}

fn signed(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", sig(x))
    } else {
        sig(x)
    }
}

#[cfg(test)]
#[path = "absolute_tests.rs"]
mod tests;
