//! Brent's root finder, stepping exactly as R's `uniroot` does.
//!
//! The rank statistic as a function of the shift is a step function, so its "root" is wherever
//! the search stops within the tolerance of a jump: a different (equally valid) root finder
//! would stop elsewhere. To give R's numbers, this follows the same algorithm with the same
//! arithmetic (Forsythe, Malcolm and Moler's ZEROIN, as in R's `R_zeroin2`): bisection combined
//! with linear or inverse quadratic interpolation, the same acceptance tests, the same
//! tolerance `2 ε |b| + tol / 2` and the same iteration limit.

/// R's `uniroot(tol = ...)` as wilcox.test passes it (`tol.root = 1e-4`).
pub(crate) const TOL: f64 = 1e-4;

/// R's `uniroot(maxiter = 1000)`.
const MAX_ITER: usize = 1000;

/// A root of `f` in `[a, b]`, given `fa = f(a)` and `fb = f(b)` of opposite signs (or one of
/// them zero), as R's `uniroot(f, lower = a, upper = b, f.lower = fa, f.upper = fb, tol)`
/// returns it. Like R, a run that does not converge within the iteration limit returns the last
/// approximation. Non-finite values of `f` are replaced as R replaces them (−∞ by the most
/// negative double, NaN and +∞ by the largest), so the search always ends.
pub(crate) fn zeroin(
    mut a: f64,
    mut b: f64,
    mut fa: f64,
    mut fb: f64,
    f: impl Fn(f64) -> f64,
) -> f64 {
    let f = |x: f64| {
        let v = f(x);
        match v {
            v if v.is_finite() => v,
            v if v == f64::NEG_INFINITY => -f64::MAX,
            _ => f64::MAX,
        }
    };
    if fa == 0.0 {
        return a;
    }
    if fb == 0.0 {
        return b;
    }
    // c: the point with the sign opposite to b's (the root lies between b and c).
    let (mut c, mut fc) = (a, fa);
    for _ in 0..=MAX_ITER {
        let prev_step = b - a;
        if fc.abs() < fb.abs() {
            // Keep b the best approximation.
            (a, b, c) = (b, c, b);
            (fa, fb, fc) = (fb, fc, fb);
        }
        let tol_act = 2.0 * f64::EPSILON * b.abs() + TOL / 2.0;
        let mut new_step = (c - b) / 2.0;
        if new_step.abs() <= tol_act || fb == 0.0 {
            return b;
        }
        // Interpolate only when the previous step was large enough and went the right way.
        if prev_step.abs() >= tol_act && fa.abs() > fb.abs() {
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                // Two distinct points: linear (secant) interpolation.
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                // Inverse quadratic interpolation.
                let qa = fa / fc;
                let t1 = fb / fc;
                let t2 = fb / fa;
                p = t2 * (cb * qa * (qa - t1) - (b - a) * (t1 - 1.0));
                q = (qa - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            // Accept the interpolated point only inside [b, c], away from c, and if it is
            // smaller than half the step before last (else bisect).
            if p < (0.75 * cb * q - (tol_act * q).abs() / 2.0) && p < (prev_step * q / 2.0).abs() {
                new_step = p / q;
            }
        }
        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        (a, fa) = (b, fb);
        b += new_step;
        fb = f(b);
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            (c, fc) = (a, fa);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_smooth_root_within_tolerance() {
        let root = zeroin(0.0, 2.0, -2.0, 2.0, |x| x * x - 2.0);
        assert!((root - 2f64.sqrt()).abs() < TOL);
    }

    #[test]
    fn an_endpoint_that_is_a_root_is_returned() {
        assert_eq!(zeroin(1.0, 3.0, 0.0, 5.0, |x| x - 1.0), 1.0);
        assert_eq!(zeroin(1.0, 3.0, -5.0, 0.0, |x| x - 3.0), 3.0);
    }

    #[test]
    fn stops_on_a_step_and_on_nan() {
        let step = zeroin(-1.0, 1.0, 1.0, -1.0, |x| if x < 0.3 { 1.0 } else { -1.0 });
        assert!((step - 0.3).abs() < TOL);
        let nan = zeroin(-1.0, 1.0, 1.0, -1.0, |_| f64::NAN);
        assert!(nan.is_finite());
    }
}
