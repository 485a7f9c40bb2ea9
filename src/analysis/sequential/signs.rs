//! An anytime-valid test of stochastic order on values (latencies, span durations): is the
//! canary worse than `tolerance` times the baseline more often than not?
//!
//! Each look's values are paired in the order they come (Prometheus values by time, spans by
//! bucket), never by value: the i-th canary value with the i-th baseline value; the values of
//! the longer side beyond the shorter are not used. A pair is a win when the canary is worse
//! than τ times the baseline (`c > τ b` for `Higher`), a loss when better, and a tie tells
//! nothing and is dropped. Under the null that the canary is stochastically no worse than τ
//! times the baseline (with independent pairs and continuous values), a win has probability
//! p <= 1/2, so the wins are Bernoulli(p) trials: a sequential sign test.
//!
//! The e-value is the likelihood ratio against p = 1/2 mixed over a uniform prior truncated to
//! the alternative p in (1/2, 1), which has a closed form in S wins and F losses:
//!
//! ```text
//! E = 2^(S+F) · ∫_{1/2}^1 p^S (1−p)^F dp / (1/2) = 2^(S+F+1) · B(S+1, F+1) · I_{1/2}(F+1, S+1)
//! ```
//!
//! (I the regularized incomplete beta function). Each p > 1/2 gives a supermartingale under
//! every p' <= 1/2, hence so does the mixture, and Ville's inequality bounds the chance that
//! it ever reaches 1/α by α.

use serde::{Deserialize, Serialize};
use statrs::function::beta::{beta_reg, ln_beta};

use super::Worse;

/// The running sign test: wins and losses so far (sufficient statistics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignTest {
    /// τ: the ratio tolerated.
    pub tolerance: f64,
    /// Which way is worse.
    pub worse: Worse,
    /// Pairs where the canary was worse than τ times the baseline.
    pub wins: u64,
    /// Pairs where it was better.
    pub losses: u64,
}

impl SignTest {
    /// A test with no evidence yet (e-value 1).
    pub fn new(tolerance: f64, worse: Worse) -> SignTest {
        SignTest {
            tolerance,
            worse,
            wins: 0,
            losses: 0,
        }
    }

    /// Adds one look's values, paired in order. Non-finite values are skipped with their pair.
    pub fn update(&mut self, baseline: &[f64], canary: &[f64]) {
        for (&b, &c) in baseline.iter().zip(canary) {
            if !(b.is_finite() && c.is_finite()) {
                continue;
            }
            let bound = self.tolerance * b;
            let (worse, better) = match self.worse {
                Worse::Higher => (c > bound, c < bound),
                Worse::Lower => (c < bound, c > bound),
            };
            if worse {
                self.wins += 1;
            } else if better {
                self.losses += 1;
            }
        }
    }

    /// ln of the e-value (closed form above).
    pub fn log_e_value(&self) -> f64 {
        log_e_value(self.wins, self.losses)
    }

    /// The e-value.
    pub fn e_value(&self) -> f64 {
        self.log_e_value().exp()
    }
}

/// ln E for `wins` and `losses` under the truncated uniform mixture.
pub fn log_e_value(wins: u64, losses: u64) -> f64 {
    if wins == 0 && losses == 0 {
        return 0.0;
    }
    let (s, f) = (wins as f64, losses as f64);
    // I_{1/2}(F+1, S+1) = P(p > 1/2) under Beta(S+1, F+1); statrs's continued fraction is
    // accurate where this matters (the tail is near 1 when the evidence is large).
    let tail = beta_reg(f + 1.0, s + 1.0, 0.5);
    if tail <= 0.0 {
        return f64::NEG_INFINITY;
    }
    (s + f + 1.0) * std::f64::consts::LN_2 + ln_beta(s + 1.0, f + 1.0) + tail.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_pairs_is_e_value_one() {
        assert_eq!(SignTest::new(1.0, Worse::Higher).e_value(), 1.0);
    }

    #[test]
    fn one_win_is_e_value_three_halves() {
        // 2^2 · B(2, 1) · I_{1/2}(1, 2) = 4 · 1/2 · 3/4.
        assert!((log_e_value(1, 0).exp() - 1.5).abs() < 1e-12);
        // A loss: 4 · 1/2 · 1/4.
        assert!((log_e_value(0, 1).exp() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ties_are_dropped_and_the_tolerance_scales_the_baseline() {
        let mut t = SignTest::new(1.1, Worse::Higher);
        t.update(&[1.0, 1.0, 1.0, 2.0], &[1.1, 1.2, 1.0, f64::NAN]);
        assert_eq!((t.wins, t.losses), (1, 1));
        let mut d = SignTest::new(1.0, Worse::Lower);
        d.update(&[1.0, 1.0], &[0.5, 2.0]);
        assert_eq!((d.wins, d.losses), (1, 1));
    }

    #[test]
    fn the_longer_side_is_cut_to_the_shorter() {
        let mut t = SignTest::new(1.0, Worse::Higher);
        t.update(&[1.0; 5], &[2.0; 3]);
        assert_eq!((t.wins, t.losses), (3, 0));
    }
}
