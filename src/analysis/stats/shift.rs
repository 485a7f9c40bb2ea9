//! The location shift of x relative to y (Hodges-Lehmann) and its confidence interval, as R's
//! `wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE)` computes them.
//!
//! R does not take the median of the n·m pairwise differences here: it finds where the
//! continuity-corrected standardised rank statistic of `x - d` against `y`, a decreasing step
//! function of the shift d, crosses 0 (the estimate) and ±z_(α/2) (the bounds), with `uniroot`
//! (tolerance 1e-4) between `min(x) - max(y)` and `max(x) - min(y)`. slogate does the same
//! search with the same steps ([`super::zeroin`]), evaluating the statistic at each d by one
//! merge of the sorted samples (O(n + m)), so it lands where R lands, at any sample size.
//! A search takes some 20 to 50 evaluations in all; data spread over hundreds of orders of
//! magnitude can take R's limit of 1,000 per root, as in R.
//!
//! R's bounds are where its search stopped, up to 1e-4 away from the jump of the statistic
//! they stand for. slogate reports the jump itself, a pairwise difference `x_i - y_j`
//! ([`super::differences`]), and keeps R's numbers alongside for comparison.

use super::differences::Differences;
use super::mann_whitney::standardised;
use super::ranks::{self, Ranking, Sorted};
use super::zeroin::{TOL, zeroin};
use super::{Alternative, SortedPair, qnorm_upper, valid_confidence};

/// Samples of this many values in all (both sides) search the interval's ends and the
/// estimate on three threads; below it a thread costs more than the merges it runs.
const PARALLEL_FROM: usize = 1 << 16;

/// Location shift of x relative to y and its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocationShift {
    /// The shift d at which x − d and y look alike: R's "difference in location".
    pub estimate: f64,
    /// Two-sided confidence interval for the shift, `[lower, upper]`: the pairwise differences
    /// `x_i - y_j` at which the statistic crosses the normal quantiles, found exactly.
    pub interval: [f64; 2],
    /// The interval as R prints it: `uniroot`'s stopping points, within 1e-4 of `interval`'s
    /// ends (equal to them where the search starts on a jump).
    pub root_interval: [f64; 2],
    /// Whether each end of `interval` belongs to it. An end is a jump of the statistic: the
    /// shifts just inside are in the interval, the jump itself only when the statistic there
    /// (with the tied pair counted half) is still within the quantiles. Kayenta's spiky canary
    /// gets `(0, 99]` at 98%: every shift above 0, but not 0 itself.
    pub closed: [bool; 2],
    /// The confidence level of `interval`, as asked.
    pub confidence: f64,
}

/// Location shift of x relative to y (Hodges-Lehmann) and its two-sided confidence interval at
/// `confidence`, exactly as R's `wilcox.test(x, y, conf.int = TRUE, conf.level = confidence,
/// exact = FALSE, correct = TRUE)` computes them. This is R's asymptotic root finding, not the
/// median of the pairwise differences: near a jump of the statistic it stops within R's
/// tolerance (1e-4) of it, and where the statistic is exactly zero over a stretch of shifts
/// (an even number of pairs split evenly) the estimate is whichever point of that stretch the
/// search reaches first. Kayenta's canary `[0, 1, 2, 1, 0, 0]` against six zeros gets 0.824
/// from R and from slogate, where the median of the differences is 0.5.
///
/// `None` where R stops with an error: either sample empty or holding a non-finite value,
/// `confidence` not strictly between 0 and 1, or every pairwise difference the same (both
/// samples constant, including one value against one value), where R's statistic is 0/0 at
/// the only candidate shift ("cannot compute confidence interval when all observations are
/// tied"). Also `None` when the differences overflow a double.
pub fn location_shift(x: &[f64], y: &[f64], confidence: f64) -> Option<LocationShift> {
    if !valid_confidence(confidence) {
        return None;
    }
    SortedPair::new(x, y)?.location_shift(confidence)
}

/// [`location_shift`] on samples already sorted.
pub(crate) fn of_sorted(xs: &Sorted, ys: &Sorted, confidence: f64) -> Option<LocationShift> {
    if !valid_confidence(confidence) {
        return None;
    }
    let (lo, hi) = (xs.min() - ys.max(), xs.max() - ys.min());
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return None;
    }
    // R's W(d): the standardised statistic of x - d against y, with the two-sided continuity
    // correction for the bounds and, as R sets `correct <- FALSE` before its last uniroot,
    // without it for the estimate. NaN only when every value ties (zero variance), which R
    // cannot handle either. Each evaluation is one O(n + m) merge.
    let stat = |ranking: &Ranking, correct: Option<Alternative>| {
        standardised(ranking, xs.len(), ys.len(), correct).unwrap_or(f64::NAN)
    };
    let corrected = |d: f64| stat(&ranks::rank(xs, ys, d), Some(Alternative::TwoSided));
    let plain = |d: f64| stat(&ranks::rank(xs, ys, d), None);
    // Both ends are needed with and without the correction: rank each end once.
    let (at_lo, at_hi) = (ranks::rank(xs, ys, lo), ranks::rank(xs, ys, hi));
    let (w_lo, w_hi) = (
        stat(&at_lo, Some(Alternative::TwoSided)),
        stat(&at_hi, Some(Alternative::TwoSided)),
    );
    if w_lo.is_nan() || w_hi.is_nan() {
        return None;
    }
    let differences = Differences::new(xs, ys);
    let magnitude = [xs.min(), xs.max(), ys.min(), ys.max()]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    // R's root(zq): the shift where W(d) = zq, or an end of the range when W never gets there;
    // and the exact jump of W that R's answer brackets (the ends of the range are jumps).
    let root = |zq: f64| {
        let (f_lo, f_hi) = (w_lo - zq, w_hi - zq);
        if f_lo <= 0.0 {
            (lo, lo)
        } else if f_hi >= 0.0 {
            (hi, hi)
        } else {
            let r = zeroin(lo, hi, f_lo, f_hi, |d| corrected(d) - zq);
            // zeroin stops with the jump of the computed statistic inside its last bracket, of
            // width 2·(2ε|r| + TOL/2); that jump is where the rounded x_i - d meets y_j, which
            // can be a few units in the last place of the values away from x_i - y_j.
            let reach = TOL + 8.0 * f64::EPSILON * (r.abs() + magnitude);
            let above = |r: Ranking| stat(&r, Some(Alternative::TwoSided)) - zq;
            let exact = differences.crossing(r - reach, r + reach, above);
            (r, exact.unwrap_or(r))
        }
    };
    let z = qnorm_upper((1.0 - confidence) / 2.0)?;
    let (v_lo, v_hi) = (stat(&at_lo, None), stat(&at_hi, None));
    // R's uniroot refuses ends whose values have the same sign; W(lo) >= 0 >= W(hi) always
    // holds (all of x - lo sits at or above y), so this only guards against the impossible.
    if v_lo.is_nan() || v_hi.is_nan() || (v_lo > 0.0 && v_hi > 0.0) || (v_lo < 0.0 && v_hi < 0.0) {
        return None;
    }
    // Each end (R's root, the exact jump, and whether the jump belongs to the interval) and
    // the estimate: three independent searches of some 10 to 30 merges each.
    let lower_end = || {
        let (r, end) = root(z);
        (r, end, corrected(end) - z <= 0.0)
    };
    let upper_end = || {
        let (r, end) = root(-z);
        (r, end, corrected(end) + z >= 0.0)
    };
    let estimate = || zeroin(lo, hi, v_lo, v_hi, plain);
    let ((r_lower, lower, lower_closed), (r_upper, upper, upper_closed), estimate) =
        if xs.len() + ys.len() >= PARALLEL_FROM {
            // On large samples the merges are most of the time left: one thread per search
            // (each is a pure function of the sorted samples, so the answer is the same).
            std::thread::scope(|s| {
                let lower = s.spawn(lower_end);
                let upper = s.spawn(upper_end);
                let estimate = estimate();
                let join = |h: std::thread::ScopedJoinHandle<'_, (f64, f64, bool)>| {
                    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
                };
                (join(lower), join(upper), estimate)
            })
        } else {
            (lower_end(), upper_end(), estimate())
        };
    let (interval, root_interval) = ([lower, upper], [r_lower, r_upper]);
    let closed = [lower_closed, upper_closed];
    let all = [estimate, lower, upper, r_lower, r_upper];
    all.iter().all(|v| v.is_finite()).then_some(LocationShift {
        estimate,
        interval,
        root_interval,
        closed,
        confidence,
    })
}
