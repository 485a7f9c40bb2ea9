//! What one metric's data shows, before and against its ratio tolerances: the rank-sum test
//! and location shift of values, the proportions test of counts, and the classification.

use crate::numfmt::sig;
use crate::spec::{CanaryMetric, Direction, EffectMeasure};
use crate::verdict::{Outcome, Side};

use super::super::distribution::{Distribution, Quantiles};
use super::super::stats::{self, Alternative};
use super::{
    Classification, Counts, DEFAULT_MIN_EVENTS, DEFAULT_MIN_VALUES, MetricJudgement, median,
    p_text, percent, ratio,
};

/// What the data says, before tolerances.
pub(super) struct Evidence {
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

pub(super) fn values_evidence(
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

pub(super) fn events_evidence(
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
pub(super) fn classify(
    metric: &CanaryMetric,
    ev: &Evidence,
    confidence: f64,
    j: &mut MetricJudgement,
) {
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
