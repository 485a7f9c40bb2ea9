//! The normal pieces the sequential tests share: the one-sided normal mixture's e-value and the
//! logarithm of the normal CDF far into its lower tail.

use statrs::distribution::{ContinuousCDF, Normal};

/// ln Φ(x), accurate in the far lower tail (where Φ itself underflows).
pub fn ln_normal_cdf(x: f64) -> f64 {
    if x > -30.0 {
        return Normal::standard().cdf(x).ln();
    }
    // Mills' ratio: Φ(x) ≈ φ(x)/|x| · (1 − 1/x² + 3/x⁴) for large negative x.
    let x2 = x * x;
    -x2 / 2.0 - (-x).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
        + (1.0 - 1.0 / x2 + 3.0 / (x2 * x2)).ln()
}

/// ln of the one-sided normal mixture e-value for a standardized sum `z` = S/√V at
/// `r` = c²V (c² the prior's variance of the drift per unit of V):
///
/// ```text
/// ∫₀^∞ exp(θS − θ²V/2) · 2 N(θ; 0, c²) dθ = 2/√(1 + r) · exp(z² r / (2(1 + r))) · Φ(z √(r/(1 + r)))
/// ```
///
/// Every θ > 0 gives exp(θS − θ²V/2), a nonnegative (super)martingale under any drift ≤ 0 of a
/// Brownian motion with variance V; so does their mixture. 0 (e-value 1) at r = 0.
pub fn normal_mixture_log_e(z: f64, r: f64) -> f64 {
    if r <= 0.0 || !z.is_finite() {
        return if z == f64::INFINITY && r > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
    }
    let shrink = r / (1.0 + r);
    std::f64::consts::LN_2 - 0.5 * r.ln_1p()
        + z * z * shrink / 2.0
        + ln_normal_cdf(z * shrink.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_far_tail_joins_the_direct_computation() {
        let direct = Normal::standard().cdf(-30.0).ln();
        let asymptotic = ln_normal_cdf(-30.0 - 1e-12);
        assert!(
            (asymptotic - direct).abs() < 1e-6 * direct.abs(),
            "{asymptotic} {direct}"
        );
        assert!(ln_normal_cdf(-100.0).is_finite());
        assert!(ln_normal_cdf(3.0) < 0.0 && ln_normal_cdf(3.0) > -0.01);
    }

    #[test]
    fn the_mixture_is_one_at_no_information_and_grows_with_z() {
        assert_eq!(normal_mixture_log_e(2.0, 0.0), 0.0);
        // At z = 0: 2/√(1+r) · Φ(0) = 1/√(1+r).
        assert!((normal_mixture_log_e(0.0, 3.0) - (-0.5 * 4f64.ln())).abs() < 1e-12);
        assert!(normal_mixture_log_e(4.0, 1.0) > normal_mixture_log_e(3.0, 1.0));
    }
}
