//! The canary judge: each metric compared between baseline and canary, classified, and the
//! weighted score turned into pass / fail / inconclusive.
//!
//! Kayenta's method with its known faults fixed: a metric is `high` (or `low`) when the canary
//! is worse beyond the tolerated effect size *and* the difference is significant, judged by the
//! rank-sum test as well as by the location-shift interval (an interval alone misses a canary
//! that is much worse on a minority of samples); a canary that looks worse but is not
//! significantly so is `inconclusive`, never `pass`; too little data is its own answer; nothing
//! is random, so the same inputs give the same verdict.

use crate::numfmt::sig;
use crate::spec::{CanaryMeasure, CanaryMetric, Direction, EffectMeasure};
use crate::verdict::{Outcome, Side};

use super::distribution::{Distribution, Quantiles};
use super::stats::{self, Alternative};

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

/// What the data says, before tolerances.
struct Evidence {
    /// canary / baseline.
    effect: f64,
    /// p-value of "canary higher" and of "canary lower".
    p_greater: f64,
    p_less: f64,
    /// The interval excludes "no difference" upwards / downwards.
    interval_above: bool,
    interval_below: bool,
    /// How the values were described, for the reason.
    describe: String,
}

fn values_evidence(
    metric: &CanaryMetric,
    baseline: &[f64],
    canary: &[f64],
    confidence: f64,
    j: &mut MetricJudgement,
) -> Result<Evidence, String> {
    if let Some(bad) = baseline.iter().chain(canary).find(|v| !v.is_finite()) {
        return Err(format!("a sample is not a finite number ({bad})"));
    }
    let min = metric.min_samples.unwrap_or(DEFAULT_MIN_VALUES).max(1);
    let (nb, nc) = (baseline.len() as u64, canary.len() as u64);
    let centre = |xs: &[f64]| match metric.effect {
        EffectMeasure::Mean => xs.iter().sum::<f64>() / xs.len().max(1) as f64,
        EffectMeasure::Median => median(xs),
    };
    if nb > 0 {
        j.baseline = Some(Side {
            n: nb,
            value: centre(baseline),
        });
    }
    if nc > 0 {
        j.canary = Some(Side {
            n: nc,
            value: centre(canary),
        });
    }
    if nb < min || nc < min {
        return Err(format!(
            "too little data: baseline {nb} and canary {nc} samples, at least {min} per side needed"
        ));
    }
    let (b, c) = (centre(baseline), centre(canary));
    let effect = ratio(c, b);
    let word = match metric.effect {
        EffectMeasure::Mean => "mean",
        EffectMeasure::Median => "median",
    };
    let sides = format!(
        "canary {word} {} vs baseline {} (n = {nc} / {nb})",
        sig(c),
        sig(b)
    );
    let first = baseline[0];
    if baseline.iter().chain(canary).all(|v| *v == first) {
        // Every value the same on both sides: no difference, and nothing random to add.
        return Ok(Evidence {
            effect: 1.0,
            p_greater: 1.0,
            p_less: 1.0,
            interval_above: false,
            interval_below: false,
            describe: format!("{sides}, every sample equal"),
        });
    }
    // Sorted once for both tests and the interval.
    let pair = stats::SortedPair::new(canary, baseline)
        .ok_or("the samples cannot be compared (rank-sum test undefined)")?;
    let greater = pair.rank_sum_test(Alternative::Greater);
    let less = pair.rank_sum_test(Alternative::Less);
    j.distribution = Some(Distribution::Values {
        baseline: Quantiles::of_sorted(pair.y()),
        canary: Quantiles::of_sorted(pair.x()),
    });
    // The interval is undefined when every pairwise difference is the same (two constant
    // samples); the rank-sum test still decides then.
    let shift = pair.location_shift(confidence);
    j.interval = shift.map(|s| s.interval);
    let describe = match shift {
        Some(s) => format!(
            "{sides}, shift {} in {}{}, {}{}",
            sig(s.estimate),
            if s.closed[0] { '[' } else { '(' },
            sig(s.interval[0]),
            sig(s.interval[1]),
            if s.closed[1] { ']' } else { ')' },
        ),
        None => sides,
    };
    Ok(Evidence {
        effect,
        p_greater: greater.p_value,
        p_less: less.p_value,
        // An open end at 0 excludes 0 as surely as an end above it.
        interval_above: shift
            .is_some_and(|s| s.interval[0] > 0.0 || (s.interval[0] == 0.0 && !s.closed[0])),
        interval_below: shift
            .is_some_and(|s| s.interval[1] < 0.0 || (s.interval[1] == 0.0 && !s.closed[1])),
        describe,
    })
}

fn events_evidence(
    metric: &CanaryMetric,
    baseline: Counts,
    canary: Counts,
    confidence: f64,
    j: &mut MetricJudgement,
) -> Result<Evidence, String> {
    for (side, c) in [("baseline", baseline), ("canary", canary)] {
        if c.counted > c.total {
            return Err(format!(
                "the {side} counts {} events of only {} in all: the queries disagree",
                c.counted, c.total
            ));
        }
    }
    let rate = |c: Counts| c.counted as f64 / c.total.max(1) as f64;
    if baseline.total > 0 {
        j.baseline = Some(Side {
            n: baseline.total,
            value: rate(baseline),
        });
    }
    if canary.total > 0 {
        j.canary = Some(Side {
            n: canary.total,
            value: rate(canary),
        });
    }
    let min = metric.min_samples.unwrap_or(DEFAULT_MIN_EVENTS).max(1);
    if baseline.total < min || canary.total < min {
        return Err(format!(
            "too little traffic: baseline {} and canary {} events, at least {min} per side needed",
            baseline.total, canary.total
        ));
    }
    let test = |alternative| {
        stats::two_proportions(
            canary.counted,
            canary.total,
            baseline.counted,
            baseline.total,
            alternative,
            confidence,
        )
    };
    let greater = test(Alternative::Greater).ok_or("the rates cannot be compared")?;
    let less = test(Alternative::Less).ok_or("the rates cannot be compared")?;
    let (pc, pb) = (rate(canary), rate(baseline));
    j.interval = greater.ratio_interval;
    Ok(Evidence {
        effect: ratio(pc, pb),
        p_greater: greater.p_value,
        p_less: less.p_value,
        interval_above: greater.difference_interval[0] > 0.0,
        interval_below: less.difference_interval[1] < 0.0,
        describe: format!(
            "canary rate {} ({} of {}) vs baseline {} ({} of {})",
            percent(pc),
            canary.counted,
            canary.total,
            percent(pb),
            baseline.counted,
            baseline.total
        ),
    })
}

/// Applies direction, tolerances and significance.
fn classify(metric: &CanaryMetric, ev: &Evidence, confidence: f64, j: &mut MetricJudgement) {
    // One-sided level matching the two-sided interval at `confidence` (1% each way at 98%).
    let alpha = (1.0 - confidence) / 2.0;
    j.effect = ev.effect.is_finite().then_some(ev.effect);
    j.observed = format!("{}, effect {}x", ev.describe, sig(ev.effect));
    let up = matches!(metric.direction, Direction::Increase | Direction::Either);
    let down = matches!(metric.direction, Direction::Decrease | Direction::Either);
    let worse_up = up && ev.effect > metric.allowed_increase;
    let worse_down = down && ev.effect < metric.allowed_decrease;
    let significant_up = ev.interval_above || ev.p_greater < alpha;
    let significant_down = ev.interval_below || ev.p_less < alpha;
    j.p_value = Some(match metric.direction {
        Direction::Increase => ev.p_greater,
        Direction::Decrease => ev.p_less,
        Direction::Either => ev.p_greater.min(ev.p_less),
    });
    let critical_up = metric.critical_increase.is_some_and(|c| ev.effect > c);
    let critical_down = metric.critical_decrease.is_some_and(|c| ev.effect < c);
    let effect_text = format!("effect {}x", sig(ev.effect));
    if (worse_up && significant_up) || (worse_down && significant_down) {
        let high = worse_up && significant_up;
        j.classification = if high {
            Classification::High
        } else {
            Classification::Low
        };
        j.outcome = Outcome::Fail;
        let beyond_critical = if high { critical_up } else { critical_down };
        j.critical_failure = metric.critical || beyond_critical;
        j.reason = format!(
            "canary significantly {} than baseline beyond tolerance: {}, {effect_text}, p {}{}",
            if high { "higher" } else { "lower" },
            ev.describe,
            p_text(j.p_value.unwrap_or(f64::NAN)),
            if beyond_critical {
                " (beyond the critical bound)"
            } else {
                ""
            }
        );
    } else if worse_up || worse_down {
        j.classification = Classification::Unclear;
        j.outcome = Outcome::Inconclusive;
        j.reason = format!(
            "canary looks worse ({effect_text}) but the difference is not significant at {}%: {}",
            sig(confidence * 100.0),
            ev.describe
        );
    } else {
        j.classification = Classification::Pass;
        j.outcome = Outcome::Pass;
        let different = (up && significant_up) || (down && significant_down);
        j.reason = format!(
            "{}: {}, {effect_text}",
            if different {
                "different but within tolerance"
            } else {
                "no significant degradation"
            },
            ev.describe
        );
    }
}

/// The whole canary's judgement.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryJudgement {
    /// pass / fail / inconclusive.
    pub outcome: Outcome,
    /// 0-100: mean over groups of the weighted share of passing metrics.
    pub score: f64,
    /// One line a person can act on.
    pub summary: String,
    /// Every metric's judgement.
    pub metrics: Vec<MetricJudgement>,
}

/// Scores the metrics and decides: a critical failure fails; no metric with data is
/// inconclusive; a score (over metrics with a verdict) under `marginal` fails; any metric
/// without a verdict makes it inconclusive; a score under `pass` is inconclusive.
pub fn judge(
    metrics: Vec<MetricJudgement>,
    pass_score: f64,
    marginal_score: f64,
) -> CanaryJudgement {
    // Metrics left out (not required, no data at all) take no part in the decision; the
    // summary names them so nobody mistakes the verdict for one on every metric.
    let left_out: Vec<String> = metrics
        .iter()
        .filter(|m| m.left_out)
        .map(|m| m.name.clone())
        .collect();
    let mut judgement = judge_included(&metrics, pass_score, marginal_score);
    if !left_out.is_empty() {
        judgement.summary = format!(
            "{}; left out (not required, no data on either side): {}",
            judgement.summary,
            left_out.join(", ")
        );
    }
    judgement.metrics = metrics;
    judgement
}

fn judge_included(
    all: &[MetricJudgement],
    pass_score: f64,
    marginal_score: f64,
) -> CanaryJudgement {
    let metrics: Vec<&MetricJudgement> = all.iter().filter(|m| !m.left_out).collect();
    // Metrics without a verdict stay out of the score (as in Kayenta): no data is not a
    // failure, and the verdict cannot be pass anyway while any metric lacks one.
    let mut groups: Vec<(Option<&str>, f64, f64)> = Vec::new();
    for m in metrics
        .iter()
        .filter(|m| m.outcome != Outcome::Inconclusive)
    {
        let passed = if m.outcome == Outcome::Pass {
            m.weight
        } else {
            0.0
        };
        match groups.iter_mut().find(|g| g.0 == m.group.as_deref()) {
            Some(g) => {
                g.1 += passed;
                g.2 += m.weight;
            }
            None => groups.push((m.group.as_deref(), passed, m.weight)),
        }
    }
    let score = if groups.is_empty() {
        0.0
    } else {
        100.0 * groups.iter().map(|g| g.1 / g.2).sum::<f64>() / groups.len() as f64
    };
    let names = |pred: &dyn Fn(&MetricJudgement) -> bool| -> Vec<String> {
        metrics
            .iter()
            .filter(|m| pred(m))
            .map(|m| format!("{} ({})", m.name, m.reason))
            .collect()
    };
    let critical = names(&|m| m.critical_failure);
    let failed = names(&|m| m.outcome == Outcome::Fail);
    let unclear = names(&|m| m.outcome == Outcome::Inconclusive);
    let (outcome, summary) = if metrics.is_empty() {
        (Outcome::Inconclusive, "no metric to judge".to_string())
    } else if !critical.is_empty() {
        (
            Outcome::Fail,
            format!("critical metric failed: {}", critical.join("; ")),
        )
    } else if groups.is_empty() {
        (
            Outcome::Inconclusive,
            format!("no metric has enough data: {}", unclear.join("; ")),
        )
    } else if score < marginal_score {
        (
            Outcome::Fail,
            format!(
                "score {} is below the marginal threshold {}: {}",
                sig(score),
                sig(marginal_score),
                failed.join("; ")
            ),
        )
    } else if !unclear.is_empty() {
        (
            Outcome::Inconclusive,
            format!("cannot judge every metric: {}", unclear.join("; ")),
        )
    } else if score < pass_score {
        (
            Outcome::Inconclusive,
            format!(
                "score {} is marginal (pass at {}): {}",
                sig(score),
                sig(pass_score),
                failed.join("; ")
            ),
        )
    } else {
        (
            Outcome::Pass,
            format!(
                "canary as good as baseline on every metric (score {})",
                sig(score)
            ),
        )
    };
    // The caller puts every judgement, left out or not, back in.
    CanaryJudgement {
        outcome,
        score,
        summary,
        metrics: Vec::new(),
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
