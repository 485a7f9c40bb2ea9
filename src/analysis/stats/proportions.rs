//! Two event rates compared on their counts: R's `prop.test` for the p-value and the interval
//! of the difference, scipy's `relative_risk` (Katz) for the interval of the ratio.
//!
//! Error and success rates are proportions of events, so they are compared on counts (events
//! of all events on each side), not by a rank test on per-minute ratios.

use super::{Alternative, pnorm_lower, pnorm_upper, qnorm, valid_confidence};

/// Two proportions: x1 events of n1 (canary) vs x2 of n2 (baseline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionTest {
    /// Canary rate x1 / n1.
    pub p1: f64,
    /// Baseline rate x2 / n2.
    pub p2: f64,
    /// As R's `prop.test(c(x1, x2), c(n1, n2), alternative, correct = TRUE)`: the Yates-corrected
    /// chi-squared test of equal rates, one-sided through the signed root of the statistic.
    pub p_value: f64,
    /// The risk ratio p1 / p2; `None` when p2 is 0.
    pub ratio: Option<f64>,
    /// Katz log interval of the risk ratio at `confidence`, as
    /// `scipy.stats.contingency.relative_risk(x1, n1, x2, n2).confidence_interval(confidence)`;
    /// `None` when a count of events is zero (scipy answers NaN or infinite bounds there).
    pub ratio_interval: Option<[f64; 2]>,
    /// prop.test's interval for p1 − p2 at `confidence` (one-sided, ending at ±1, for a
    /// one-sided `alternative`, as in R).
    pub difference_interval: [f64; 2],
}

/// Compares x1 events of n1 (canary) with x2 of n2 (baseline) under `alternative`, with
/// intervals at `confidence`.
///
/// `None` where R's prop.test stops: a total of zero, more events than the total, or a
/// confidence not strictly between 0 and 1. One deviation from R: when neither side has any
/// event (or both have nothing but events) R's statistic is 0/0 and its p-value NaN; here the
/// statistic is its limit 0, so the two-sided p-value is 1 and the one-sided ones 0.5.
pub fn two_proportions(
    x1: u64,
    n1: u64,
    x2: u64,
    n2: u64,
    alternative: Alternative,
    confidence: f64,
) -> Option<ProportionTest> {
    if n1 == 0 || n2 == 0 || x1 > n1 || x2 > n2 || !valid_confidence(confidence) {
        return None;
    }
    // Counts become doubles as in R (exact below 2^53).
    let (x1f, n1f, x2f, n2f) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let (p1, p2) = (x1f / n1f, x2f / n2f);
    let delta = p1 - p2;
    let inverse_sum = 1.0 / n1f + 1.0 / n2f;
    // The continuity correction never exceeds the observed difference.
    let yates = 0.5f64.min(delta.abs() / inverse_sum);

    // The quantiles are taken of the same arguments as R and scipy take them.
    let z = match alternative {
        Alternative::TwoSided => qnorm((1.0 + confidence) / 2.0)?,
        Alternative::Less | Alternative::Greater => qnorm(confidence)?,
    };
    let width = z * (p1 * (1.0 - p1) / n1f + p2 * (1.0 - p2) / n2f).sqrt() + yates * inverse_sum;
    let difference_interval = match alternative {
        Alternative::TwoSided => [(delta - width).max(-1.0), (delta + width).min(1.0)],
        Alternative::Greater => [(delta - width).max(-1.0), 1.0],
        Alternative::Less => [-1.0, (delta + width).min(1.0)],
    };

    // Pooled rate, and the Yates-corrected chi-squared over the 2x2 table (R sums the cells
    // column by column: events, then non-events).
    let p = (x1f + x2f) / (n1f + n2f);
    let cells = [
        (x1f, n1f * p),
        (x2f, n2f * p),
        (n1f - x1f, n1f * (1.0 - p)),
        (n2f - x2f, n2f * (1.0 - p)),
    ];
    let statistic: f64 = cells
        .iter()
        // An expected count of 0 has an observed count of 0: its term's limit is 0 (R: 0/0).
        .map(|&(o, e)| {
            if e > 0.0 {
                ((o - e).abs() - yates).powi(2) / e
            } else {
                0.0
            }
        })
        .sum();
    let root = statistic.sqrt();
    let p_value = match alternative {
        // Chi-squared with one degree of freedom: P(X > s) = 2 P(Z > sqrt(s)).
        Alternative::TwoSided => 2.0 * pnorm_upper(root),
        Alternative::Greater => pnorm_upper(signum(delta) * root),
        Alternative::Less => pnorm_lower(signum(delta) * root),
    };

    let ratio = (x2 > 0).then(|| p1 / p2);
    let ratio_interval = if x1 > 0 && x2 > 0 {
        let z = qnorm(1.0 - (1.0 - confidence) / 2.0)?;
        let se = (1.0 / x1f - 1.0 / n1f + 1.0 / x2f - 1.0 / n2f).sqrt();
        let rr = p1 / p2;
        Some([rr * (-z * se).exp(), rr * (z * se).exp()])
    } else {
        None
    };
    Some(ProportionTest {
        p1,
        p2,
        p_value,
        ratio,
        ratio_interval,
        difference_interval,
    })
}

/// R's `sign()`: 0 for 0, unlike `f64::signum`.
fn signum(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}
