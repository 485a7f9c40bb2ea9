//! An anytime-valid test of a rate ratio on event counts: is the canary's error rate more than
//! `tolerance` times the baseline's?
//!
//! Model: errors on each side are Poisson counting processes in the number of requests served,
//! with rates λc (canary) and λb (baseline); ρ = λc / λb. Given a look's increment (xc canary
//! and xb baseline errors over nc and nb requests), conditioning on m = xc + xb removes the
//! unknown λb: xc | m ~ Binomial(m, p) with p = ρw / (1 + ρw), w = nc / nb. In the binomial's
//! natural parameter θ = logit p = ln ρ + ln w, a change of ρ shifts θ by the same amount at
//! every look whatever the traffic split, so the likelihood ratio of ρ against the boundary τ
//! over all looks is
//!
//! ```text
//! LR(ρ) = exp( X ln(ρ/τ) − Σk mk [ln(1 + ρ wk) − ln(1 + τ wk)] ),   X = Σk xc,k
//! ```
//!
//! For ρ > τ it is a nonnegative supermartingale under every ρ' ≤ τ (convexity of the
//! log-partition function; `docs/statistics.md`), so is any mixture of such ratios. The mixture
//! here is a prior on a geometric grid of ρ/τ (equal weights): a continuous beta mixture has a
//! closed form only when the split w is the same at every look, which Argo's changing canary
//! weights do not give. Ville's inequality then bounds P(sup E ≥ 1/α) ≤ α under the null.

use serde::{Deserialize, Serialize};

use super::Worse;

/// Points of the mixture's grid.
pub const GRID_POINTS: usize = 24;
/// The largest ratio ρ/τ (or τ/ρ) the grid reaches: a 16x regression.
pub const GRID_REACH: f64 = 16.0;

/// One component of the mixture: an alternative ratio and its log-likelihood ratio so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// The alternative rate ratio ρ (canary / baseline).
    pub ratio: f64,
    /// ln LR(ρ) against the boundary over all looks so far.
    pub log_lr: f64,
}

/// The running test: its boundary, direction and mixture components (the sufficient
/// statistics: nothing else of past looks is needed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateRatioTest {
    /// τ: the ratio tolerated (the null is ρ <= τ for `Higher`, ρ >= τ for `Lower`).
    pub tolerance: f64,
    /// Which way is worse.
    pub worse: Worse,
    /// The mixture's components, equally weighted.
    pub components: Vec<Component>,
}

impl RateRatioTest {
    /// A test with no evidence yet (e-value 1). `tolerance` must be finite and positive.
    pub fn new(tolerance: f64, worse: Worse) -> RateRatioTest {
        let step = GRID_REACH.powf(1.0 / GRID_POINTS as f64);
        let components = (1..=GRID_POINTS)
            .map(|j| {
                let factor = step.powi(j as i32);
                Component {
                    ratio: match worse {
                        Worse::Higher => tolerance * factor,
                        Worse::Lower => tolerance / factor,
                    },
                    log_lr: 0.0,
                }
            })
            .collect();
        RateRatioTest {
            tolerance,
            worse,
            components,
        }
    }

    /// Adds one look's increment: `canary` errors of `canary_total` requests, `baseline` errors
    /// of `baseline_total`. A look without requests on a side, or without errors, carries no
    /// information about ρ and changes nothing.
    pub fn update(&mut self, canary: u64, canary_total: u64, baseline: u64, baseline_total: u64) {
        let m = canary.saturating_add(baseline);
        if canary_total == 0 || baseline_total == 0 || m == 0 {
            return;
        }
        let (x, m) = (canary as f64, m as f64);
        let w = canary_total as f64 / baseline_total as f64;
        let null = (self.tolerance * w).ln_1p();
        for c in &mut self.components {
            c.log_lr += x * (c.ratio / self.tolerance).ln() - m * ((c.ratio * w).ln_1p() - null);
        }
    }

    /// ln of the e-value: ln of the mean of the components' likelihood ratios.
    pub fn log_e_value(&self) -> f64 {
        log_mean_exp(self.components.iter().map(|c| c.log_lr))
    }

    /// The e-value (may be infinite when the evidence is overwhelming).
    pub fn e_value(&self) -> f64 {
        self.log_e_value().exp()
    }
}

/// ln((1/n) Σ exp(v)), without overflow.
pub(super) fn log_mean_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + (v - max).exp(), n + 1));
    max + (sum / n as f64).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_without_looks_has_e_value_one() {
        assert_eq!(RateRatioTest::new(1.2, Worse::Higher).e_value(), 1.0);
    }

    #[test]
    fn looks_without_errors_or_traffic_change_nothing() {
        let mut t = RateRatioTest::new(1.0, Worse::Higher);
        t.update(0, 1000, 0, 1000);
        t.update(5, 1000, 3, 0);
        t.update(5, 0, 3, 1000);
        assert_eq!(t.e_value(), 1.0);
    }

    #[test]
    fn many_more_canary_errors_give_a_large_e_value_and_fewer_a_small_one() {
        let mut worse = RateRatioTest::new(1.0, Worse::Higher);
        worse.update(60, 1000, 20, 1000);
        assert!(worse.e_value() > 1000.0, "{}", worse.e_value());
        let mut better = RateRatioTest::new(1.0, Worse::Higher);
        better.update(10, 1000, 30, 1000);
        assert!(better.e_value() < 0.1, "{}", better.e_value());
    }

    #[test]
    fn the_lower_test_mirrors_the_higher_one() {
        let mut up = RateRatioTest::new(1.0, Worse::Higher);
        up.update(40, 1000, 10, 1000);
        let mut down = RateRatioTest::new(1.0, Worse::Lower);
        down.update(10, 1000, 40, 1000);
        assert!((up.log_e_value() - down.log_e_value()).abs() < 1e-9);
    }

    #[test]
    fn one_look_of_two_halves_is_two_looks_when_the_split_is_the_same() {
        // The statistic is sufficient: how the same events are cut into looks does not matter
        // when every look has the same traffic split.
        let mut once = RateRatioTest::new(1.2, Worse::Higher);
        once.update(30, 2000, 14, 2000);
        let mut twice = RateRatioTest::new(1.2, Worse::Higher);
        twice.update(17, 1000, 6, 1000);
        twice.update(13, 1000, 8, 1000);
        assert!((once.log_e_value() - twice.log_e_value()).abs() < 1e-9);
    }

    #[test]
    fn the_tolerance_makes_the_same_counts_weaker_evidence() {
        let mut strict = RateRatioTest::new(1.0, Worse::Higher);
        let mut tolerant = RateRatioTest::new(1.5, Worse::Higher);
        for t in [&mut strict, &mut tolerant] {
            t.update(30, 1000, 15, 1000);
        }
        assert!(strict.e_value() > tolerant.e_value());
    }
}
