//! `max`: the canary's level, the geometric mean of its per-minute values, held against the
//! limit by the drift-robust one-sided z of the values test (the module doc of `absolute`).

use crate::numfmt::sig;
use crate::spec::CanaryMetric;
use crate::verdict::{Outcome, Side};

use super::super::super::sequential::{PRIOR_SD, ShiftTest, Worse};
use super::super::super::stats::upper_quantile;
use super::super::{Classification, DEFAULT_MIN_VALUES, MetricData};
use super::{AbsoluteJudgement, Criterion, blank, confidence};

/// The lag-one correlation assumed at least: the drift of the project's noise model (AR(1)
/// with φ 0.8 per minute, `docs/statistics.md`).
pub const MIN_PHI: f64 = 0.8;

pub(super) fn judge_max(
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
    let name = &metric.name;
    // The limit is the values test's constant baseline: d = ln(value / max), and the test's
    // tolerance 1 puts the null at "the level is at most the limit". Negative or non-finite
    // values tell nothing and are skipped; a zero counts as a thousandth of the limit.
    let mut test = ShiftTest::new(1.0, Worse::Higher);
    test.update(&vec![limit; values.len()], values);
    let Some(summary) = test.summary() else {
        j.reason = format!(
            "no canary value of {name} to hold against max {}",
            sig(limit)
        );
        return j;
    };
    let n = test.n;
    let level = limit * summary.mean.exp();
    j.canary = Some(Side { n, value: level });
    let min = metric.min_samples.unwrap_or(DEFAULT_MIN_VALUES).max(1);
    if n < min {
        j.reason = format!(
            "too little data: canary {n} values of {name}, at least {min} needed to hold its \
             level against max {}",
            sig(limit)
        );
        return j;
    }
    // The bounds of the level lie z_α standard errors of the mean log ratio either side.
    let z_alpha = upper_quantile(alpha);
    // One window of a few minutes cannot tell drift from a level: a sample of ten AR(1)
    // values shows a lag-one correlation and a spread well below the process's. So the
    // spread is at least the prior's (a minute's value wanders by 10%) and the correlation at
    // least the noise model's strongest drift ([`MIN_PHI`]); measured in
    // `tests/absolute_noise.rs`.
    let sd = summary.sd.max(PRIOR_SD);
    let phi = summary.phi.max(MIN_PHI);
    let se = sd * ((1.0 + phi) / (1.0 - phi) / n as f64).sqrt();
    let z = summary.mean / se;
    let bounds = [
        limit * (summary.mean - z_alpha * se).exp(),
        limit * (summary.mean + z_alpha * se).exp(),
    ];
    j.interval = Some(bounds);
    let shown = format!(
        "canary {name} at {} (geometric mean of {n} per-minute values)",
        sig(level)
    );
    let test_text = format!(
        "z {} vs {}, lag-one correlation {}",
        sig(z),
        sig(z_alpha),
        sig(phi)
    );
    if z >= z_alpha {
        j.outcome = Outcome::Fail;
        j.classification = Classification::High;
        j.reason = format!(
            "{shown} above max {} (lower bound {} at {}; {test_text})",
            sig(limit),
            sig(bounds[0]),
            confidence(alpha)
        );
    } else if level > limit {
        j.classification = Classification::Unclear;
        j.reason = format!(
            "{shown} above max {} but not significantly (lower bound {} at {}; {test_text})",
            sig(limit),
            sig(bounds[0]),
            confidence(alpha)
        );
    } else {
        j.outcome = Outcome::Pass;
        j.classification = Classification::Pass;
        j.reason = format!(
            "{shown} within max {} (upper bound {} at {}; {test_text})",
            sig(limit),
            sig(bounds[1]),
            confidence(alpha)
        );
    }
    j
}
