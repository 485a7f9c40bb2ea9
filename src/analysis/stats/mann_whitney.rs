//! Mann-Whitney U / Wilcoxon rank-sum test, as R's `wilcox.test(x, y)` computes it.

use super::exact::UDistribution;
use super::ranks::{self, Ranking, Sorted};
use super::{Alternative, SortedPair, pnorm_lower, pnorm_upper};

/// Mann-Whitney U / Wilcoxon rank-sum test of x against y.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankSumTest {
    /// R's W: the rank sum of x minus n_x(n_x + 1)/2, i.e. the number of pairs with x above y,
    /// ties counting one half (Mann-Whitney's U of x).
    pub w: f64,
    /// The continuity-corrected normal approximation z, `None` when the p-value is exact (or
    /// when every value is tied, where the approximation is undefined).
    pub z: Option<f64>,
    /// The p-value under `alternative`.
    pub p_value: f64,
    /// Whether the p-value comes from the exact distribution of U.
    pub exact: bool,
}

/// As R's `wilcox.test(x, y, alternative, exact = NULL, correct = TRUE)`: the exact p-value
/// when both samples have fewer than 50 values and there are no ties, otherwise the normal
/// approximation with average ranks for ties, tie-corrected variance and continuity
/// correction. `None` when either sample is empty or holds a non-finite value.
///
/// One deviation from R: when every value of both samples is the same, the variance is zero
/// and R's two-sided p-value is NaN (its one-sided ones are 1). slogate answers 1 for every
/// alternative (no evidence of a difference) with `z` `None`, so that callers never see NaN.
pub fn rank_sum_test(x: &[f64], y: &[f64], alternative: Alternative) -> Option<RankSumTest> {
    Some(SortedPair::new(x, y)?.rank_sum_test(alternative))
}

/// [`rank_sum_test`] on samples already sorted.
pub(crate) fn test(xs: &Sorted, ys: &Sorted, alternative: Alternative) -> RankSumTest {
    let ranking = ranks::rank(xs, ys, 0.0);
    let w = ranking.twice_u as f64 / 2.0;
    let exact = if ranking.ties == 0 {
        UDistribution::new(xs.len(), ys.len())
    } else {
        None
    };
    if let Some(dist) = exact {
        // No ties: U is an integer.
        let u = (ranking.twice_u / 2) as i128;
        let half = (xs.len() * ys.len()) as f64 / 2.0;
        let p_value = match alternative {
            Alternative::Greater => dist.upper(u - 1),
            Alternative::Less => dist.lower(u),
            Alternative::TwoSided => {
                let p = if w > half {
                    dist.upper(u - 1)
                } else {
                    dist.lower(u)
                };
                (2.0 * p).min(1.0)
            }
        };
        return RankSumTest {
            w,
            z: None,
            p_value,
            exact: true,
        };
    }
    let Some(z) = standardised(&ranking, xs.len(), ys.len(), Some(alternative)) else {
        return RankSumTest {
            w,
            z: None,
            p_value: 1.0,
            exact: false,
        };
    };
    let p_value = match alternative {
        Alternative::Less => pnorm_lower(z),
        Alternative::Greater => pnorm_upper(z),
        Alternative::TwoSided => 2.0 * pnorm_lower(z).min(pnorm_upper(z)),
    };
    RankSumTest {
        w,
        z: Some(z),
        p_value,
        exact: false,
    }
}

/// The standardised statistic, with R's arithmetic in R's order:
/// `(W - n_x n_y / 2 - correction) / sigma`, where sigma carries the tie correction and the
/// continuity correction for `Some(alternative)` is `0.5 * sign` two-sided and ±0.5
/// one-sided (none for `None`). `None` when sigma is zero (every value tied), where R divides
/// by zero.
///
/// The location shift finds its roots on this same function, so both agree bit for bit with
/// what R evaluates.
pub(crate) fn standardised(
    ranking: &Ranking,
    nx: usize,
    ny: usize,
    correct: Option<Alternative>,
) -> Option<f64> {
    let (nxf, nyf) = (nx as f64, ny as f64);
    // W - n_x n_y / 2 from exact integers: the same value R gets from its exact half-integer
    // arithmetic (and one rounding instead of several if the sizes are astronomically large).
    let pairs = (nx as u128).saturating_mul(ny as u128);
    let dz = if ranking.twice_u >= pairs {
        (ranking.twice_u - pairs) as f64 / 2.0
    } else {
        -((pairs - ranking.twice_u) as f64) / 2.0
    };
    let correction = match correct {
        Some(Alternative::TwoSided) if dz > 0.0 => 0.5,
        Some(Alternative::TwoSided) if dz < 0.0 => -0.5,
        Some(Alternative::TwoSided) | None => 0.0,
        Some(Alternative::Greater) => 0.5,
        Some(Alternative::Less) => -0.5,
    };
    let n = nxf + nyf;
    let sigma = ((nxf * nyf / 12.0) * ((n + 1.0) - ranking.ties as f64 / (n * (n - 1.0)))).sqrt();
    (sigma > 0.0).then(|| (dz - correction) / sigma)
}
