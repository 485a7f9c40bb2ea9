//! `max_rate` and `max_increase_points`: bad-event rates bounded on counts tempered for
//! overdispersion (the module doc of `absolute` has the method).

use crate::numfmt::sig;
use crate::spec::{CanaryMeasure, CanaryMetric, Counted};
use crate::verdict::{Outcome, Side};

use super::super::super::stats::{binomial_upper_tail, clopper_pearson, newcombe_difference};
use super::super::{Classification, Counts, DEFAULT_MIN_EVENTS, MetricData, p_text};
use super::{AbsoluteJudgement, Criterion, Level, blank, confidence, percent, signed};

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

pub(super) fn events(metric: &CanaryMetric, data: &MetricData) -> Result<(Counts, Counts), String> {
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

/// The fewest events that could show a rate within `limit` at `level` had none of them been
/// bad: the Clopper-Pearson upper bound of 0 of n' = n/φ (the tempered count),
/// 1 − α^(1/n'), is at most `limit` from n' = ln α / ln(1 − limit) on; with φ growing in n
/// (`Level::inflation` at the limit), n = n'/(1 − n'·g) for g = p·c²/(L·(1 − p)). Fewer, and
/// even a perfect canary proves nothing. `u64::MAX` when no number of events in a window this
/// short can (the overdispersion caps what one window shows).
pub fn events_to_show_rate(limit: f64, level: Level) -> u64 {
    let alpha = level.alpha;
    if !(limit > 0.0 && limit < 1.0 && alpha > 0.0 && alpha < 1.0) {
        return u64::MAX;
    }
    let tempered = alpha.ln() / (-limit).ln_1p();
    let growth = level.inflation(1.0, limit) - 1.0;
    let room = 1.0 - tempered * growth;
    if room <= 0.0 {
        return u64::MAX;
    }
    (tempered / room).ceil().max(1.0) as u64
}

pub(super) fn judge_max_rate(
    metric: &CanaryMetric,
    data: &MetricData,
    limit: f64,
    level: Level,
) -> AbsoluteJudgement {
    let alpha = level.alpha;
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
    let shown = events_to_show_rate(limit, level);
    let min = metric.min_samples.unwrap_or(DEFAULT_MIN_EVENTS).max(shown);
    if n < min {
        let needed = if min == u64::MAX {
            format!(
                "no number of events in {} minutes can show a rate within max_rate {} at {} \
                 under the noise allowed for; judge a longer window",
                sig(level.minutes),
                percent(limit),
                confidence(alpha)
            )
        } else {
            format!(
                "at least {min} needed to show a rate within max_rate {} at {}",
                percent(limit),
                confidence(alpha)
            )
        };
        j.reason = format!("too little traffic: canary {n} events of {name}, {needed}");
        return j;
    }
    // Tempered at the limit: the variance a rate at the boundary would show.
    let phi = level.inflation(n as f64, limit);
    let (k_eff, n_eff) = (k as f64 / phi, n as f64 / phi);
    let p = binomial_upper_tail(k_eff, n_eff, limit);
    j.p_value = Some(p);
    j.interval = clopper_pearson(k_eff, n_eff, alpha);
    let [lower, upper] = j.interval.unwrap_or([0.0, 1.0]);
    let observed = format!("canary {name} at {} ({k} of {n})", percent(rate));
    let test = format!(
        "binomial test p {} on counts tempered by {} for overdispersion",
        p_text(p),
        sig(phi)
    );
    if lower > limit {
        j.outcome = Outcome::Fail;
        j.classification = Classification::High;
        j.reason = format!(
            "{observed} above max_rate {} (lower bound {} at {}, {test})",
            percent(limit),
            percent(lower),
            confidence(alpha)
        );
    } else if rate > limit {
        j.classification = Classification::Unclear;
        j.reason = format!(
            "{observed} above max_rate {} but not significantly (lower bound {} at {}, {test})",
            percent(limit),
            percent(lower),
            confidence(alpha)
        );
    } else {
        j.outcome = Outcome::Pass;
        j.classification = Classification::Pass;
        j.reason = format!(
            "{observed} within max_rate {} (upper bound {} at {}, {test})",
            percent(limit),
            percent(upper),
            confidence(alpha)
        );
    }
    j
}

pub(super) fn judge_points(
    metric: &CanaryMetric,
    data: &MetricData,
    limit: f64,
    level: Level,
) -> AbsoluteJudgement {
    let alpha = level.alpha;
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
    // Each side tempered at the pooled rate (the rates' common value under no difference).
    let pooled =
        (canary.counted + baseline.counted) as f64 / (canary.total + baseline.total).max(1) as f64;
    let temper = |c: Counts| {
        let phi = level.inflation(c.total as f64, pooled);
        (c.counted as f64 / phi, c.total as f64 / phi)
    };
    let ((kc, nc), (kb, nb)) = (temper(canary), temper(baseline));
    let Some(bounds) = newcombe_difference(kc, nc, kb, nb, alpha) else {
        j.reason = "the rates cannot be compared".to_string();
        return j;
    };
    let points = [bounds[0] * 100.0, bounds[1] * 100.0];
    j.interval = Some(points);
    let rise = (pc - pb) * 100.0;
    let observed = format!(
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
            "{observed}, above max_increase_points {} (lower bound {} points at {})",
            sig(limit),
            signed(points[0]),
            confidence(alpha)
        );
    } else if rise > limit {
        j.classification = Classification::Unclear;
        j.reason = format!(
            "{observed}, above max_increase_points {} but not significantly (lower bound {} \
             points at {})",
            sig(limit),
            signed(points[0]),
            confidence(alpha)
        );
    } else {
        j.outcome = Outcome::Pass;
        j.classification = Classification::Pass;
        j.reason = format!(
            "{observed}, within max_increase_points {} (upper bound {} points at {})",
            sig(limit),
            signed(points[1]),
            confidence(alpha)
        );
    }
    j
}
