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
/// Prior variance of the canary's share in log-odds from look to look: each side's per-minute
/// rate varying by a factor with a coefficient of variation of 0.5 (2 · ln(1 + 0.5²)).
pub const PRIOR_DISPERSION: f64 = 0.446;
/// How many looks the prior is worth.
pub const PRIOR_LOOKS: f64 = 3.0;
/// The smallest measured prior taken: a per-side rate CV of 0.1 (2 · ln(1 + 0.1²)). A
/// backtest of a quiet or synthetic history can measure σ² ≈ 0; a day of history does not
/// prove the next rollout's minutes as quiet as that.
pub const MEASURED_PRIOR_FLOOR: f64 = 0.0199;
/// Looks kept for the dispersion estimate (the oldest are dropped past it).
pub const DISPERSION_LOOKS: usize = 240;

/// One component of the mixture: an alternative ratio and its log-likelihood ratio so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// The alternative rate ratio ρ (canary / baseline).
    pub ratio: f64,
    /// ln LR(ρ) against the boundary over all looks so far.
    pub log_lr: f64,
}

/// One look's counts, as the dispersion estimate needs them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LookCounts {
    /// `[canary errors, canary total, baseline errors, baseline total]`.
    pub counts: [u64; 4],
    /// The look's length in minutes: the rate noise of independent minutes averages out over
    /// it.
    pub minutes: f64,
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
    /// Each look's counts and length, newest last (at most [`DISPERSION_LOOKS`]): the
    /// dispersion estimate's data.
    #[serde(default)]
    pub looks: Vec<LookCounts>,
    /// Σ (xc − m·p0), signed so that positive is worse: the fixed-horizon score.
    #[serde(default)]
    pub score: f64,
    /// Σ φ·m·p0(1 − p0): the score's variance under the null, dispersion included.
    #[serde(default)]
    pub information: f64,
    /// The dispersion σ² the latest look was tempered with.
    #[serde(default)]
    pub dispersion: f64,
    /// The σ² the estimate is shrunk towards: [`PRIOR_DISPERSION`], or the service's own
    /// noise as its calibration measured it ([`NoisePrior`]).
    #[serde(default)]
    pub prior: NoisePrior,
}

/// Where the dispersion estimate starts: a σ² and what it came from, for the verdict's reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoisePrior {
    /// The prior σ² of the share's per-minute log-odds.
    pub dispersion: f64,
    /// Where it was measured (`None`: the default, CV 0.5 per side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
}

/// The default: each side's per-minute rate varying with a CV of 0.5.
impl Default for NoisePrior {
    fn default() -> NoisePrior {
        NoisePrior {
            dispersion: PRIOR_DISPERSION,
            measured: None,
        }
    }
}

impl NoisePrior {
    /// A prior measured on the service's own history (`basis` says where, for the verdict),
    /// at least [`MEASURED_PRIOR_FLOOR`]. `None` when `dispersion` is not a finite number.
    pub fn measured(dispersion: f64, basis: String) -> Option<NoisePrior> {
        dispersion.is_finite().then(|| NoisePrior {
            dispersion: dispersion.max(MEASURED_PRIOR_FLOOR),
            measured: Some(basis),
        })
    }
}

impl RateRatioTest {
    /// A test with no evidence yet (e-value 1), with the default noise prior. `tolerance`
    /// must be finite and positive.
    pub fn new(tolerance: f64, worse: Worse) -> RateRatioTest {
        RateRatioTest::with_prior(tolerance, worse, NoisePrior::default())
    }

    /// [`RateRatioTest::new`] with the dispersion estimate shrunk towards `prior`.
    pub fn with_prior(tolerance: f64, worse: Worse, prior: NoisePrior) -> RateRatioTest {
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
            looks: Vec::new(),
            score: 0.0,
            information: 0.0,
            dispersion: prior.dispersion,
            prior,
        }
    }

    /// Adds one look's increment: `canary` errors of `canary_total` requests, `baseline` errors
    /// of `baseline_total`, over `minutes` (at least one is assumed). A look without requests
    /// on a side, or without errors, carries no information about ρ and changes nothing.
    pub fn update(
        &mut self,
        canary: u64,
        canary_total: u64,
        baseline: u64,
        baseline_total: u64,
        minutes: f64,
    ) {
        let m = canary.saturating_add(baseline);
        if canary_total == 0 || baseline_total == 0 || m == 0 {
            return;
        }
        self.dispersion = self.estimated_dispersion();
        let (x, m) = (canary as f64, m as f64);
        let w = canary_total as f64 / baseline_total as f64;
        let p0 = self.tolerance * w / (1.0 + self.tolerance * w);
        let minutes = if minutes.is_finite() {
            minutes.max(1.0)
        } else {
            1.0
        };
        let inflation = 1.0 + (m - 1.0) * p0 * (1.0 - p0) * self.dispersion / minutes;
        let null = (self.tolerance * w).ln_1p();
        for c in &mut self.components {
            let log_lr = x * (c.ratio / self.tolerance).ln() - m * ((c.ratio * w).ln_1p() - null);
            c.log_lr += log_lr / inflation;
        }
        let excess = x - m * p0;
        self.score += match self.worse {
            Worse::Higher => excess,
            Worse::Lower => -excess,
        };
        self.information += inflation * m * p0 * (1.0 - p0);
        if self.looks.len() >= DISPERSION_LOOKS {
            self.looks.remove(0);
        }
        self.looks.push(LookCounts {
            counts: [canary, canary_total, baseline, baseline_total],
            minutes,
        });
    }

    /// σ² from the looks so far: the method-of-moments estimate of the share's extra
    /// log-odds variance (Pearson residuals around the pooled ratio, less their binomial
    /// part), shrunk towards the prior ([`PRIOR_DISPERSION`] unless measured) by its weight
    /// of [`PRIOR_LOOKS`] looks.
    pub fn estimated_dispersion(&self) -> f64 {
        let (estimate, dof) = self.moments();
        (PRIOR_LOOKS * self.prior.dispersion + dof * estimate) / (PRIOR_LOOKS + dof)
    }

    /// The method-of-moments σ² alone, without the prior (`None` before two looks with
    /// events): what `slogate calibrate` reports of a service's own data.
    pub fn raw_dispersion(&self) -> Option<f64> {
        let (estimate, dof) = self.moments();
        (dof > 0.0).then_some(estimate)
    }

    /// The unshrunk estimate and its degrees of freedom.
    fn moments(&self) -> (f64, f64) {
        let sum = |i: usize| self.looks.iter().map(|l| l.counts[i] as f64).sum::<f64>();
        let (xc, nc, xb, nb) = (sum(0), sum(1), sum(2), sum(3));
        let (mut excess, mut scale, mut used) = (0.0, 0.0, 0.0);
        if nc > 0.0 && nb > 0.0 {
            // The pooled ratio, with half an event on each side so that zero counts stay finite.
            let ratio = ((xc + 0.5) / nc) / ((xb + 0.5) / nb);
            for look in &self.looks {
                let l = look.counts;
                let m = (l[0] + l[2]) as f64;
                if m < 2.0 || l[1] == 0 || l[3] == 0 {
                    continue;
                }
                let w = l[1] as f64 / l[3] as f64;
                let p = ratio * w / (1.0 + ratio * w);
                let pq = p * (1.0 - p);
                let residual = l[0] as f64 - m * p;
                excess += residual * residual - m * pq;
                scale += m * (m - 1.0) * pq * pq / look.minutes;
                used += 1.0;
            }
        }
        // One degree of freedom went to the pooled ratio.
        let dof = (used - 1.0f64).max(0.0);
        let estimate = if scale > 0.0 && dof > 0.0 {
            (excess / scale).max(0.0) * used / dof
        } else {
            0.0
        };
        (estimate, dof)
    }

    /// The fixed-horizon one-sided z of all looks so far: the score over its standard error,
    /// dispersion included (0 before any look).
    pub fn fixed_z(&self) -> f64 {
        if self.information > 0.0 {
            self.score / self.information.sqrt()
        } else {
            0.0
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
        t.update(0, 1000, 0, 1000, 1.0);
        t.update(5, 1000, 3, 0, 1.0);
        t.update(5, 0, 3, 1000, 1.0);
        assert_eq!(t.e_value(), 1.0);
    }

    #[test]
    fn many_more_canary_errors_give_a_large_e_value_and_fewer_a_small_one() {
        // Ten one-minute looks: one look's evidence is capped by the rate noise it allows.
        let mut worse = RateRatioTest::new(1.0, Worse::Higher);
        (0..10).for_each(|_| worse.update(60, 1000, 20, 1000, 1.0));
        assert!(worse.e_value() > 1000.0, "{}", worse.e_value());
        let mut better = RateRatioTest::new(1.0, Worse::Higher);
        (0..10).for_each(|_| better.update(10, 1000, 30, 1000, 1.0));
        assert!(better.e_value() < 0.1, "{}", better.e_value());
    }

    #[test]
    fn the_lower_test_mirrors_the_higher_one() {
        let mut up = RateRatioTest::new(1.0, Worse::Higher);
        up.update(40, 1000, 10, 1000, 1.0);
        let mut down = RateRatioTest::new(1.0, Worse::Lower);
        down.update(10, 1000, 40, 1000, 1.0);
        assert!((up.log_e_value() - down.log_e_value()).abs() < 1e-9);
    }

    #[test]
    fn overdispersed_looks_raise_the_dispersion_and_weaken_the_same_evidence() {
        // Poisson-like looks (the canary's share steady at its traffic share) against looks
        // whose share swings from 5% to 45%: the second estimate is far larger.
        let steady = [
            (10, 1000, 90, 9000),
            (11, 1000, 92, 9000),
            (9, 1000, 88, 9000),
        ];
        let swinging = [
            (3, 1000, 97, 9000),
            (30, 1000, 70, 9000),
            (5, 1000, 95, 9000),
        ];
        let run = |looks: &[(u64, u64, u64, u64)]| {
            let mut t = RateRatioTest::new(1.0, Worse::Higher);
            for &(a, b, c, d) in looks.iter().cycle().take(12) {
                t.update(a, b, c, d, 1.0);
            }
            t
        };
        let (calm, wild) = (run(&steady), run(&swinging));
        assert!(calm.estimated_dispersion() < PRIOR_DISPERSION / 2.0);
        assert!(wild.estimated_dispersion() > PRIOR_DISPERSION);
        // The same regression look after each history: less evidence after the wild one.
        let (mut calm, mut wild) = (calm, wild);
        let before = (calm.log_e_value(), wild.log_e_value());
        calm.update(30, 1000, 90, 9000, 1.0);
        wild.update(30, 1000, 90, 9000, 1.0);
        assert!(calm.log_e_value() - before.0 > wild.log_e_value() - before.1);
    }

    #[test]
    fn the_tolerance_makes_the_same_counts_weaker_evidence() {
        let mut strict = RateRatioTest::new(1.0, Worse::Higher);
        let mut tolerant = RateRatioTest::new(1.5, Worse::Higher);
        for t in [&mut strict, &mut tolerant] {
            t.update(30, 1000, 15, 1000, 1.0);
        }
        assert!(strict.e_value() > tolerant.e_value());
    }
}
