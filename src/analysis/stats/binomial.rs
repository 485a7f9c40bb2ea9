//! One proportion, and the difference of two, for the absolute criteria of canary metrics.
//!
//! - [`binomial_upper_tail`]: P(X >= k) for X ~ Binomial(n, p), the exact one-sided binomial
//!   test (scipy's `binomtest(k, n, p, alternative="greater")`);
//! - [`clopper_pearson`]: exact one-sided bounds of a proportion (scipy's
//!   `binomtest(...).proportion_ci(method="exact")`, each end at its own one-sided level);
//! - [`newcombe_difference`]: Newcombe's hybrid score interval of p1 - p2 (statsmodels'
//!   `confint_proportions_2indep(method="newcomb")`), built from Wilson score bounds.
//!
//! Counts are `f64`: the absolute criteria temper them for overdispersion (quasi-binomial
//! effective counts k/φ of n/φ), and the incomplete beta takes any positive parameters. With
//! whole counts every function is the textbook one.
//!
//! Checked against scipy and statsmodels in `tests/stats_reference.rs` (values and the script
//! that produced them in `tests/data/stats/`). Nothing here panics; degenerate inputs give
//! `None` or the trivial bound.

use statrs::function::beta::beta_reg;

use super::qnorm_upper;

/// P(X >= k) for X ~ Binomial(n, p): the regularized incomplete beta I_p(k, n - k + 1)
/// (continuous in k and n for effective counts).
pub fn binomial_upper_tail(k: f64, n: f64, p: f64) -> f64 {
    // k <= 0 (and a NaN k) counts nothing: every count is at least that.
    if k.is_nan() || k <= 0.0 {
        return 1.0;
    }
    if k > n || p.is_nan() || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    beta_reg(k, n - k + 1.0, p).clamp(0.0, 1.0)
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
pub fn clopper_pearson(k: f64, n: f64, alpha: f64) -> Option<[f64; 2]> {
    if !(n > 0.0 && k >= 0.0 && k <= n && alpha > 0.0 && alpha <= 0.5) {
        return None;
    }
    let lower = if k == 0.0 {
        0.0
    } else {
        beta_inverse(k, n - k + 1.0, alpha)
    };
    let upper = if k == n {
        1.0
    } else {
        beta_inverse(k + 1.0, n - k, 1.0 - alpha)
    };
    Some([lower, upper])
}

/// Wilson score bounds of `k` of `n` at critical value `z`: `[lower, upper]`.
fn wilson(kf: f64, nf: f64, z: f64) -> [f64; 2] {
    let p = kf / nf;
    let z2 = z * z;
    let centre = (kf + z2 / 2.0) / (nf + z2);
    let half = z * nf.sqrt() / (nf + z2) * (p * (1.0 - p) + z2 / (4.0 * nf)).sqrt();
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

/// Newcombe's hybrid score bounds of p1 - p2 (k1 of n1 against k2 of n2), each end at
/// one-sided level `alpha` (Newcombe 1998, method 10: no continuity correction).
pub fn newcombe_difference(k1: f64, n1: f64, k2: f64, n2: f64, alpha: f64) -> Option<[f64; 2]> {
    let valid = |k: f64, n: f64| n > 0.0 && k >= 0.0 && k <= n;
    if !(valid(k1, n1) && valid(k2, n2) && alpha > 0.0 && alpha < 0.5) {
        return None;
    }
    let z = qnorm_upper(alpha)?;
    let (p1, p2) = (k1 / n1, k2 / n2);
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
    fn tails_of_whole_counts_are_the_binomial_ones() {
        assert!((binomial_upper_tail(10.0, 10.0, 0.5) - 1.0 / 1024.0).abs() < 1e-15);
        assert!((binomial_upper_tail(9.0, 10.0, 0.5) - 11.0 / 1024.0).abs() < 1e-15);
        assert_eq!(binomial_upper_tail(0.0, 10.0, 0.5), 1.0);
        assert_eq!(binomial_upper_tail(11.0, 10.0, 0.5), 0.0);
    }

    #[test]
    fn clopper_pearson_of_no_events_in_n_is_one_minus_alpha_to_the_one_over_n() {
        let [lower, upper] = clopper_pearson(0.0, 100.0, 0.01).unwrap();
        assert_eq!(lower, 0.0);
        assert!(
            (upper - (1.0 - 0.01f64.powf(0.01))).abs() < 1e-12,
            "{upper}"
        );
        assert_eq!(clopper_pearson(1.0, 0.0, 0.01), None);
        // Effective counts lie between their whole neighbours.
        let at = |k: f64, n: f64| clopper_pearson(k, n, 0.01).unwrap()[0];
        assert!(at(10.0, 1000.0) < at(10.4, 1000.0) && at(10.4, 1000.0) < at(11.0, 1000.0));
    }
}
