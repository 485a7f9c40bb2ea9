//! One proportion, and the difference of two, for the absolute criteria of canary metrics.
//!
//! - [`binomial_upper_tail`]: P(X >= k) for X ~ Binomial(n, p), the exact one-sided binomial
//!   test (scipy's `binomtest(k, n, p, alternative="greater")`) and, at p = 1/2, the sign test;
//! - [`clopper_pearson`]: exact one-sided bounds of a proportion (scipy's
//!   `binomtest(...).proportion_ci(method="exact")`, each end at its own one-sided level);
//! - [`median_bounds`]: distribution-free bounds of a median from order statistics (the
//!   interval the sign test inverts);
//! - [`newcombe_difference`]: Newcombe's hybrid score interval of p1 - p2 (statsmodels'
//!   `confint_proportions_2indep(method="newcomb")`), built from Wilson score bounds.
//!
//! Checked against scipy and statsmodels in `tests/stats_reference.rs` (values and the script
//! that produced them in `tests/data/stats/`). Nothing here panics; degenerate inputs give
//! `None` or the trivial bound.

use statrs::function::beta::beta_reg;

use super::qnorm_upper;

/// P(X >= k) for X ~ Binomial(n, p): the regularized incomplete beta I_p(k, n - k + 1).
pub fn binomial_upper_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p.is_nan() || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    beta_reg(k as f64, (n - k + 1) as f64, p).clamp(0.0, 1.0)
}

/// The x in [0, 1] with I_x(a, b) = target, by bisection (I_x is increasing in x): 200 halvings
/// leave the bracket at the spacing of doubles, also near 0 where small rates live.
fn beta_inverse(a: f64, b: f64, target: f64) -> f64 {
    let (mut low, mut high) = (0.0_f64, 1.0_f64);
    for _ in 0..200 {
        let mid = low + (high - low) / 2.0;
        if mid <= low || mid >= high {
            break;
        }
        if beta_reg(a, b, mid) < target {
            low = mid;
        } else {
            high = mid;
        }
    }
    low + (high - low) / 2.0
}

/// Clopper-Pearson bounds of a proportion from `k` of `n`, each at one-sided level `alpha`:
/// `[lower, upper]` with P(p < lower) <= alpha and P(p > upper) <= alpha. `None` without
/// events or for a level outside (0, 1/2].
pub fn clopper_pearson(k: u64, n: u64, alpha: f64) -> Option<[f64; 2]> {
    if n == 0 || k > n || !(alpha > 0.0 && alpha <= 0.5) {
        return None;
    }
    let (kf, nf) = (k as f64, n as f64);
    let lower = if k == 0 {
        0.0
    } else {
        beta_inverse(kf, nf - kf + 1.0, alpha)
    };
    let upper = if k == n {
        1.0
    } else {
        beta_inverse(kf + 1.0, nf - kf, 1.0 - alpha)
    };
    Some([lower, upper])
}

/// Distribution-free bounds of the median of `sorted` (ascending), each at one-sided level
/// `alpha`: the lower bound is the `r`-th smallest value, `r` the largest with
/// P(Binomial(n, 1/2) <= r - 1) <= alpha, the upper bound the `r`-th largest. `None` for an end
/// that so few values cannot bound at this level (fewer than log2(1/alpha) values).
///
/// The lower bound lies above a limit exactly when the one-sided sign test of "more than half
/// the values above the limit" rejects at `alpha`.
pub fn median_bounds(sorted: &[f64], alpha: f64) -> [Option<f64>; 2] {
    let n = sorted.len() as u64;
    let mut r = 0u64;
    // P(X <= r - 1) = P(X >= n - r + 1) by symmetry at p = 1/2.
    while r < n && binomial_upper_tail(n - r, n, 0.5) <= alpha {
        r += 1;
    }
    if r == 0 {
        return [None, None];
    }
    let r = r as usize;
    [Some(sorted[r - 1]), Some(sorted[sorted.len() - r])]
}

/// Wilson score bounds of `k` of `n` at critical value `z`: `[lower, upper]`.
fn wilson(k: u64, n: u64, z: f64) -> [f64; 2] {
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let z2 = z * z;
    let centre = (kf + z2 / 2.0) / (nf + z2);
    let half = z * nf.sqrt() / (nf + z2) * (p * (1.0 - p) + z2 / (4.0 * nf)).sqrt();
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

/// Newcombe's hybrid score bounds of p1 - p2 (k1 of n1 against k2 of n2), each end at
/// one-sided level `alpha` (Newcombe 1998, method 10: no continuity correction).
pub fn newcombe_difference(k1: u64, n1: u64, k2: u64, n2: u64, alpha: f64) -> Option<[f64; 2]> {
    if n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2 || !(alpha > 0.0 && alpha < 0.5) {
        return None;
    }
    let z = qnorm_upper(alpha)?;
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let [l1, u1] = wilson(k1, n1, z);
    let [l2, u2] = wilson(k2, n2, z);
    let d = p1 - p2;
    Some([
        d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_test_of_ten_values_all_above_is_one_in_1024() {
        assert!((binomial_upper_tail(10, 10, 0.5) - 1.0 / 1024.0).abs() < 1e-15);
        assert!((binomial_upper_tail(9, 10, 0.5) - 11.0 / 1024.0).abs() < 1e-15);
        assert_eq!(binomial_upper_tail(0, 10, 0.5), 1.0);
        assert_eq!(binomial_upper_tail(11, 10, 0.5), 0.0);
    }

    #[test]
    fn median_bounds_need_enough_values_for_the_level() {
        let five: Vec<f64> = (1..=5).map(f64::from).collect();
        // 5 values: the best one-sided level is 1/32 > 1%.
        assert_eq!(median_bounds(&five, 0.01), [None, None]);
        assert_eq!(median_bounds(&five, 0.05), [Some(1.0), Some(5.0)]);
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        // P(X <= 0) = 1/1024 <= 1%, P(X <= 1) = 11/1024 > 1%: r = 1.
        assert_eq!(median_bounds(&ten, 0.01), [Some(1.0), Some(10.0)]);
    }

    #[test]
    fn clopper_pearson_of_no_events_in_n_is_one_minus_alpha_to_the_one_over_n() {
        let [lower, upper] = clopper_pearson(0, 100, 0.01).unwrap();
        assert_eq!(lower, 0.0);
        assert!(
            (upper - (1.0 - 0.01f64.powf(0.01))).abs() < 1e-12,
            "{upper}"
        );
        assert_eq!(clopper_pearson(1, 0, 0.01), None);
    }
}
