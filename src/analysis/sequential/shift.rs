//! An anytime-valid test of a shift in values (latencies, per-minute quantiles) that holds when
//! the series drift: is the canary more than `tolerance` times the baseline on the log scale?
//!
//! Each observation is one paired minute: d = ln(canary) − ln(baseline), the canary's value
//! against the baseline's at the same time (Prometheus: the two series at each step; spans:
//! the medians of each minute's durations). Pairing by time removes what hits both sides (load
//! swings, a slow dependency); what is left is the canary's own deviation, which drifts for
//! minutes (a pod warming up, a noisy neighbour), so consecutive observations are correlated.
//!
//! The test is a one-sided normal mixture on the running sum S = Σ (d − ln τ) (for `Lower`,
//! Σ (ln τ − d)) scaled by its long-run variance, the variance that a sum of correlated
//! observations really has: n·s²·(1 + φ)/(1 − φ) under an AR(1) model with lag-one correlation
//! φ. With Z = S / √(n·LRV) and r = n / [`MIXTURE_N`], mixing exp(θS − θ²V/2) over a half-normal
//! prior on θ gives the closed form
//!
//! ```text
//! E = 2 / √(1 + r) · exp(Z² r / (2 (1 + r))) · Φ(Z √(r / (1 + r)))
//! ```
//!
//! which is a nonnegative supermartingale under every mean shift ≤ ln τ when the partial sums
//! behave as a Brownian motion with that variance (the functional central limit theorem for
//! weakly dependent series), so Ville's inequality bounds P(sup E ≥ 1/α) by α asymptotically.
//! The variance and φ are estimated from the data, shrunk towards a conservative prior
//! ([`PRIOR_SD`], [`PRIOR_PHI`], worth [`PRIOR_WEIGHT`] observations) so that a few similar
//! early minutes cannot make a small shift look certain. Assumptions and their failure modes:
//! `docs/statistics.md`.

use serde::{Deserialize, Serialize};

use super::Worse;
use super::normal::normal_mixture_log_e;

/// Prior standard deviation of a minute's log ratio (10%: per-minute quantiles of a few hundred
/// requests wander about that much).
pub const PRIOR_SD: f64 = 0.1;
/// Prior lag-one correlation of the log ratios: strong drift, the conservative assumption.
pub const PRIOR_PHI: f64 = 0.5;
/// How many observations the prior is worth.
pub const PRIOR_WEIGHT: f64 = 4.0;
/// The largest φ used: beyond it the series is a trend, not noise, and the variance factor
/// (1 + φ)/(1 − φ) would stop every test.
pub const MAX_PHI: f64 = 0.9;
/// Observations at which the mixture is most sensitive (its prior's scale): ten minutes.
pub const MIXTURE_N: f64 = 10.0;

/// The running test: sums of the log ratios (the sufficient statistics of the AR(1) fit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftTest {
    /// τ: the ratio tolerated.
    pub tolerance: f64,
    /// Which way is worse.
    pub worse: Worse,
    /// Paired observations so far.
    pub n: u64,
    /// Σ d.
    pub sum: f64,
    /// Σ d².
    pub sum_sq: f64,
    /// Σ d_t · d_(t−1), over consecutive observations.
    pub sum_lag: f64,
    /// The first d (the lag sums leave it out at one end).
    pub first: f64,
    /// The latest d (the next observation's predecessor).
    pub last: f64,
}

/// The test's summary at one moment: what the verdict reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftSummary {
    /// Mean log ratio (ln of the geometric-mean ratio canary/baseline).
    pub mean: f64,
    /// Standard deviation of one observation (shrunk estimate).
    pub sd: f64,
    /// Lag-one correlation used (shrunk estimate).
    pub phi: f64,
    /// S / √(n·LRV): the fixed-horizon z of the shift beyond the tolerance.
    pub z: f64,
}

impl ShiftTest {
    /// A test with no evidence yet (e-value 1). `tolerance` must be finite and positive.
    pub fn new(tolerance: f64, worse: Worse) -> ShiftTest {
        ShiftTest {
            tolerance,
            worse,
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
            sum_lag: 0.0,
            first: 0.0,
            last: 0.0,
        }
    }

    /// Adds one look's values, paired in time order (the i-th canary value with the i-th
    /// baseline value; the longer side's surplus is not used). A pair with a negative or
    /// non-finite value, or two zeros, tells nothing and is skipped; a zero against a positive
    /// value counts as a thousandth of it (a canary with errors where the baseline has none
    /// is a large ratio, not an undefined one).
    pub fn update(&mut self, baseline: &[f64], canary: &[f64]) {
        for (&b, &c) in baseline.iter().zip(canary) {
            if let Some(d) = log_ratio(c, b) {
                self.push(d);
            }
        }
    }

    fn push(&mut self, d: f64) {
        if self.n == 0 {
            self.first = d;
        } else {
            self.sum_lag += d * self.last;
        }
        self.n += 1;
        self.sum += d;
        self.sum_sq += d * d;
        self.last = d;
    }

    /// Mean, spread, correlation and z so far; `None` before the first observation.
    pub fn summary(&self) -> Option<ShiftSummary> {
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        let dof = n - 1.0;
        let (variance, phi) = if self.n >= 2 {
            let c0 = ((self.sum_sq - n * mean * mean) / n).max(0.0);
            // Lag-one autocovariance around the mean, over the n − 1 consecutive pairs.
            let head = self.sum - self.last;
            let tail = self.sum - self.first;
            let c1 = (self.sum_lag - mean * (head + tail) + dof * mean * mean) / n;
            let r1 = if c0 > 0.0 {
                (c1 / c0).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            (c0 * n / dof, if self.n >= 3 { r1 } else { PRIOR_PHI })
        } else {
            (0.0, PRIOR_PHI)
        };
        let weight = PRIOR_WEIGHT + dof;
        let variance = (PRIOR_WEIGHT * PRIOR_SD * PRIOR_SD + dof * variance) / weight;
        let phi = ((PRIOR_WEIGHT * PRIOR_PHI + dof * phi) / weight).clamp(0.0, MAX_PHI);
        let long_run = variance * (1.0 + phi) / (1.0 - phi);
        let beyond = match self.worse {
            Worse::Higher => self.sum - n * self.tolerance.ln(),
            Worse::Lower => n * self.tolerance.ln() - self.sum,
        };
        Some(ShiftSummary {
            mean,
            sd: variance.sqrt(),
            phi,
            z: beyond / (n * long_run).sqrt(),
        })
    }

    /// ln of the e-value (closed form above).
    pub fn log_e_value(&self) -> f64 {
        match self.summary() {
            None => 0.0,
            Some(s) => normal_mixture_log_e(s.z, self.n as f64 / MIXTURE_N),
        }
    }

    /// The fixed-horizon one-sided z of all observations so far (0 without any).
    pub fn fixed_z(&self) -> f64 {
        self.summary().map_or(0.0, |s| s.z)
    }
}

/// ln(c / b), with a zero taken as a thousandth of the other side; `None` when it tells
/// nothing (both zero, a negative or non-finite value).
fn log_ratio(c: f64, b: f64) -> Option<f64> {
    if !(c.is_finite() && b.is_finite()) || c < 0.0 || b < 0.0 || (c == 0.0 && b == 0.0) {
        return None;
    }
    let floor = 1e-3 * c.max(b);
    Some((c.max(floor) / b.max(floor)).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_observation_is_e_value_one() {
        assert_eq!(ShiftTest::new(1.05, Worse::Higher).log_e_value(), 0.0);
    }

    #[test]
    fn equal_values_give_evidence_against_a_regression() {
        let mut t = ShiftTest::new(1.05, Worse::Higher);
        t.update(&[0.2; 20], &[0.2; 20]);
        assert!(t.fixed_z() < 0.0);
        assert!(t.log_e_value() < 0.0);
    }

    #[test]
    fn a_steady_doubling_is_rejected_and_the_lower_test_mirrors_it() {
        let baseline: Vec<f64> = (0..12).map(|i| 0.2 + 0.01 * (i % 3) as f64).collect();
        let canary: Vec<f64> = baseline.iter().map(|b| 2.0 * b).collect();
        let mut up = ShiftTest::new(1.0, Worse::Higher);
        up.update(&baseline, &canary);
        assert!(up.log_e_value() > 100f64.ln(), "{}", up.log_e_value());
        let mut down = ShiftTest::new(1.0, Worse::Lower);
        down.update(&canary, &baseline);
        assert!((up.log_e_value() - down.log_e_value()).abs() < 1e-9);
    }

    #[test]
    fn zeros_against_values_are_large_ratios_and_two_zeros_are_skipped() {
        let mut t = ShiftTest::new(1.0, Worse::Higher);
        t.update(&[0.0, 0.0, 0.0], &[0.0, 1.0, 2.0]);
        assert_eq!(t.n, 2);
        assert!((t.sum - 2.0 * 1000f64.ln()).abs() < 1e-9);
        t.update(&[1.0, -1.0, f64::NAN], &[1.0, 1.0, 1.0]);
        assert_eq!(t.n, 3);
    }

    #[test]
    fn correlated_observations_count_for_less_than_independent_ones() {
        // The same values in a drifting order (long runs) and an alternating one: the runs
        // estimate a strong lag-one correlation and so a smaller z.
        let runs = [
            0.1, 0.1, 0.1, 0.1, 0.1, 0.1, -0.02, -0.02, -0.02, -0.02, -0.02, -0.02,
        ];
        let alternating = [
            0.1, -0.02, 0.1, -0.02, 0.1, -0.02, 0.1, -0.02, 0.1, -0.02, 0.1, -0.02,
        ];
        let z = |ds: &[f64]| {
            let mut t = ShiftTest::new(1.0, Worse::Higher);
            ds.iter().for_each(|d| t.push(*d));
            t.summary().unwrap()
        };
        let (r, a) = (z(&runs), z(&alternating));
        assert!(r.phi > a.phi, "{r:?} {a:?}");
        assert!(r.z < a.z, "{r:?} {a:?}");
    }
}
