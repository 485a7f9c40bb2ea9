//! Pure statistical functions for the canary judge, reproducing R's results.
//!
//! Kayenta judges a canary with R's `wilcox.test(conf.int = TRUE, exact = FALSE, correct =
//! TRUE)`; slogate computes the same numbers without R, and is checked against R and scipy on
//! fixed data (`tests/stats_reference.rs`, values and the scripts that produced them in
//! `tests/data/stats/`).
//!
//! - [`rank_sum_test`]: Mann-Whitney U / Wilcoxon rank-sum test (R's `wilcox.test(x, y)`),
//!   exact for small samples without ties, else the normal approximation.
//! - [`location_shift`]: Hodges-Lehmann shift and its interval, found as R finds them (Brent's
//!   root finding on the standardised statistic as a function of the shift).
//! - [`SortedPair`]: both samples sorted once, for several of the answers above on the same
//!   pair (the canary judge asks for both one-sided tests and the interval).
//! - [`two_proportions`]: two event rates compared on counts (R's `prop.test`) and their risk
//!   ratio with a Katz interval (scipy's `relative_risk`).
//! - [`binomial_upper_tail`], [`clopper_pearson`], [`newcombe_difference`]: one proportion
//!   and a difference of two proportions bounded one-sidedly, for the absolute criteria (scipy's `binomtest`, statsmodels'
//!   `confint_proportions_2indep(method="newcomb")`).
//!
//! The rank functions sort each sample once and rank the two samples together by a linear
//! merge, so nothing ever forms the n·m pairwise differences: a million values against a
//! million take a fraction of a second (`benches/stats.rs`). Nothing here is random: the same
//! inputs give the same result, bit for bit, whatever the order of the values. No input makes
//! these functions panic; where R stops with an error they return `None`.

mod binomial;
mod differences;
mod exact;
mod mann_whitney;
mod pair;
mod proportions;
mod ranks;
mod shift;
mod zeroin;

pub use binomial::{binomial_upper_tail, clopper_pearson, newcombe_difference};
pub use mann_whitney::{RankSumTest, rank_sum_test};
pub use pair::SortedPair;
pub use proportions::{ProportionTest, two_proportions};
pub use shift::{LocationShift, location_shift};

use statrs::distribution::{ContinuousCDF, Normal};

/// Which alternative hypothesis: x (canary) relative to y (baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// x and y differ in location, either way.
    TwoSided,
    /// x is shifted below y (the canary is lower).
    Less,
    /// x is shifted above y (the canary is higher).
    Greater,
}

/// P(Z <= z) for a standard normal Z (R's `pnorm(z)`).
///
/// statrs computes it through its `erfc`, which is good to about 1e-10 relative (measured
/// against arbitrary precision over |z| <= 38); R's `pnorm` is good to about 1e-16. So
/// normal-approximation p-values agree with R's to about 1e-10, not to the last bit; nothing
/// this module decides is anywhere near that sensitive.
fn pnorm_lower(z: f64) -> f64 {
    Normal::standard().cdf(z)
}

/// P(Z > z) for a standard normal Z (R's `pnorm(z, lower.tail = FALSE)`), computed directly
/// rather than as `1 - pnorm(z)` so that small tail probabilities keep their precision.
fn pnorm_upper(z: f64) -> f64 {
    Normal::standard().sf(z)
}

/// The z with P(Z <= z) = p (R's `qnorm(p)`), for p in (0, 1); statrs panics outside [0, 1],
/// so the range is checked here.
fn qnorm(p: f64) -> Option<f64> {
    (p > 0.0 && p < 1.0).then(|| Normal::standard().inverse_cdf(p))
}

/// The z with P(Z > z) = p (R's `qnorm(p, lower.tail = FALSE)`), for p in (0, 1).
///
/// Taken as `-qnorm(p)`: R's quantile is symmetric in the tails, and the lower-tail quantile of
/// a small p keeps more precision than that of `1 - p`.
fn qnorm_upper(p: f64) -> Option<f64> {
    qnorm(p).map(|z| -z)
}

/// The one-sided critical z at level `alpha` (P(Z > z) = alpha); `alpha` is clamped into
/// (1e-300, 0.5], so the answer is finite and at least 0.
pub fn upper_quantile(alpha: f64) -> f64 {
    qnorm_upper(alpha.clamp(1e-300, 0.5)).unwrap_or(0.0)
}

/// R's check of `conf.level`: a single number strictly between 0 and 1 (NaN fails).
fn valid_confidence(confidence: f64) -> bool {
    confidence > 0.0 && confidence < 1.0
}
