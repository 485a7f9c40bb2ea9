//! The exact pairwise difference x_i − y_j at which the rank statistic crosses a level.
//!
//! The standardised rank statistic of `x - d` against `y` is a step function of the shift d
//! that only moves where `x_i - d` passes some `y_j`, that is at pairwise differences. R's
//! `uniroot` stops within 1e-4 of such a jump; the jump itself is the honest interval end
//! (the order statistic of the differences that the exact Hodges-Lehmann interval reports),
//! and with ties it is far from any value R prints. Finding it never forms the n·m
//! differences. Between jumps the statistic depends only on how many pairs lie above the
//! shift, so it is read from counts, free of the rounding of `x_i - d` that makes large
//! values tie. The bracket around R's answer is narrowed, by interpolating those counts, until
//! it holds a few thousand distinct differences; they are listed with their multiplicities by
//! one merge, and the crossing is the first of them after which the statistic is not above the
//! level. Each step is one O(n + m) merge over runs of equal values; a million continuous
//! values a side take one or two narrowing steps.

use super::ranks::{Ranking, Sorted, between_jumps};

/// Distinct differences listed at most, once the bracket is narrow enough.
const MAX_LISTED: usize = 4096;

/// Narrowing steps at most, before giving up on a bracket that will not thin out (values so
/// dense that thousands of differences share one double).
const MAX_STEPS: usize = 100;

/// The pairs around a window of shifts `[low, high]`.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    /// Pairs (with multiplicity) whose difference is above `high`.
    pairs_above_high: u128,
    /// Pairs whose difference is above `low`.
    pairs_above_low: u128,
    /// Pairs of an x run and a y run with a difference in `[low, high]`: at least as many as
    /// the distinct differences there.
    runs_within: usize,
}

/// A sorted sample as runs of equal values.
struct Runs {
    values: Vec<f64>,
    counts: Vec<u64>,
}

impl Runs {
    fn of(sorted: &[f64]) -> Self {
        let mut values = Vec::with_capacity(sorted.len());
        let mut counts = Vec::with_capacity(sorted.len());
        let mut start = 0;
        for i in 1..=sorted.len() {
            if i == sorted.len() || sorted[i] != sorted[start] {
                values.push(sorted[start]);
                counts.push((i - start) as u64);
                start = i;
            }
        }
        Self { values, counts }
    }
}

/// The pairwise differences of two samples, never formed: counted and listed by merging runs.
pub(crate) struct Differences<'a> {
    xs: &'a Sorted,
    ys: &'a Sorted,
    x: Runs,
    y: Runs,
    /// Pairs per y run, cumulated: `y_below[k]` values in the first k runs.
    y_below: Vec<u128>,
}

impl<'a> Differences<'a> {
    pub(crate) fn new(xs: &'a Sorted, ys: &'a Sorted) -> Self {
        let (x, y) = (Runs::of(xs.values()), Runs::of(ys.values()));
        let y_below = std::iter::once(0)
            .chain(y.counts.iter().scan(0u128, |sum, &c| {
                *sum += u128::from(c);
                Some(*sum)
            }))
            .collect();
        Self {
            xs,
            ys,
            x,
            y,
            y_below,
        }
    }

    /// For each x run (index), the y runs whose difference from it is above `high` (a prefix,
    /// by index) and at or above `low` (a longer prefix): `visit(i, above_high, from_low)`.
    /// The prefixes only grow with x (subtraction is monotone in IEEE arithmetic too), so this
    /// is one merge.
    fn merge(&self, low: f64, high: f64, mut visit: impl FnMut(usize, usize, usize)) {
        let ys = &self.y.values;
        let (mut above_high, mut from_low) = (0, 0);
        for (i, &x) in self.x.values.iter().enumerate() {
            while above_high < ys.len() && x - ys[above_high] > high {
                above_high += 1;
            }
            from_low = from_low.max(above_high);
            while from_low < ys.len() && x - ys[from_low] >= low {
                from_low += 1;
            }
            visit(i, above_high, from_low);
        }
    }

    /// What lies around the window `[low, high]`, in one merge with a third pointer for the
    /// differences equal to `low`.
    fn window(&self, low: f64, high: f64) -> Window {
        let ys = &self.y.values;
        let mut w = Window::default();
        let (mut above_high, mut above_low, mut from_low) = (0, 0, 0);
        for (i, &x) in self.x.values.iter().enumerate() {
            while above_high < ys.len() && x - ys[above_high] > high {
                above_high += 1;
            }
            above_low = above_low.max(above_high);
            while above_low < ys.len() && x - ys[above_low] > low {
                above_low += 1;
            }
            from_low = from_low.max(above_low);
            while from_low < ys.len() && x - ys[from_low] >= low {
                from_low += 1;
            }
            let n = u128::from(self.x.counts[i]);
            w.pairs_above_high += n * self.y_below[above_high];
            w.pairs_above_low += n * self.y_below[above_low];
            w.runs_within += from_low - above_high;
        }
        w
    }

    /// The distinct differences in `[low, high]`, ascending, with how many pairs have each.
    fn list(&self, low: f64, high: f64) -> Vec<(f64, u128)> {
        let mut listed = Vec::new();
        self.merge(low, high, |i, above_high, from_low| {
            let (x, n) = (self.x.values[i], u128::from(self.x.counts[i]));
            listed.extend(
                (above_high..from_low)
                    .map(|k| (x - self.y.values[k], n * u128::from(self.y.counts[k]))),
            );
        });
        listed.sort_unstable_by(|p, q| p.0.total_cmp(&q.0));
        listed.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
        listed
    }

    /// The pairwise difference at which `above` (the statistic of a ranking minus the level,
    /// non-increasing in the shift) stops being positive, looked for in `(a, b]`. `None`
    /// when that is not inside the bracket or cannot be pinned down; the caller keeps its
    /// approximate root then.
    pub(crate) fn crossing(
        &self,
        mut a: f64,
        mut b: f64,
        above: impl Fn(Ranking) -> f64,
    ) -> Option<f64> {
        let value = |pairs: u128| above(between_jumps(self.xs, self.ys, pairs));
        let mut w = self.window(a, b);
        let (mut fa, mut fb) = (value(w.pairs_above_low), value(w.pairs_above_high));
        if !(fa > 0.0 && fb <= 0.0) {
            return None;
        }
        for step in 0..MAX_STEPS {
            if w.runs_within <= MAX_LISTED {
                return self.crossing_among(a, b, w.pairs_above_high, &above);
            }
            // A window around the interpolated crossing (the statistic is linear in the pairs
            // above the shift), wide enough for the random spread of the differences within
            // it (a few standard deviations of a Poisson count); every fourth step halves
            // instead, so a lopsided spread still narrows.
            let (left, right) = if step % 4 == 3 {
                let mid = a + (b - a) / 2.0;
                (mid, mid)
            } else {
                let guess = a + (b - a) * (fa / (fa - fb));
                let within = w.runs_within as f64;
                let spread = (MAX_LISTED as f64 / 4.0).max(4.0 * within.sqrt());
                let half = (b - a) * spread / within;
                ((guess - half).max(a), (guess + half).min(b))
            };
            if !(a <= left && left <= right && right <= b) || (left == a && right == b) {
                return None;
            }
            let probe = self.window(left, right);
            let (f_left, f_right) = (value(probe.pairs_above_low), value(probe.pairs_above_high));
            if f_left <= 0.0 {
                (b, fb) = (left, f_left);
                w = self.window(a, b);
            } else if f_right > 0.0 {
                (a, fa) = (right, f_right);
                w = self.window(a, b);
            } else {
                (a, fa, b, fb, w) = (left, f_left, right, f_right, probe);
            }
        }
        None
    }

    /// The crossing among the listed differences in `(a, b]`, given that the statistic is
    /// above the level just above `a` and not just above `b`. The statistic just above each
    /// listed difference follows from the pairs above `b` plus those listed above it.
    fn crossing_among(
        &self,
        a: f64,
        b: f64,
        above_b: u128,
        above: impl Fn(Ranking) -> f64,
    ) -> Option<f64> {
        let listed: Vec<(f64, u128)> = self.list(a, b).into_iter().filter(|p| p.0 > a).collect();
        let mut pairs = above_b;
        // From the top down: the answer is the lowest difference still at or below the level.
        let mut crossing = None;
        for &(d, count) in listed.iter().rev() {
            if above(between_jumps(self.xs, self.ys, pairs)) > 0.0 {
                break;
            }
            crossing = Some(d);
            pairs += count;
        }
        crossing
    }
}
