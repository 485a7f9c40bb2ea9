//! The exact null distribution of Mann-Whitney's U for small samples without ties (the counts
//! behind R's `pwilcox`).
//!
//! The number of orderings of m x values and n y values with U = u is the coefficient of q^u in
//! the Gaussian binomial coefficient `[m + n choose m]_q = Π_{i=1..m} (1 - q^(n+i)) / (1 - q^i)`:
//! the same numbers as R's counting recursion, computed in O(m · m·n) exact integer steps. The
//! counts stay below C(98, 49) ≈ 2.5e28, well inside i128, so they are exact; only the final
//! division to a probability rounds.

/// R computes exact p-values only when both samples have fewer than this many values.
pub(crate) const EXACT_BELOW: usize = 50;

/// Counts of U over all C(m + n, m) equally likely orderings of two tie-free samples.
#[derive(Debug, Clone)]
pub(crate) struct UDistribution {
    /// `counts[u]`: orderings with U = u, for u in 0..=m·n.
    counts: Vec<i128>,
    /// All orderings: C(m + n, m).
    total: i128,
}

impl UDistribution {
    /// The distribution for samples of m and n values; `None` outside R's exact range
    /// (either size zero or at least [`EXACT_BELOW`]), where the counts are not needed.
    pub(crate) fn new(m: usize, n: usize) -> Option<Self> {
        if m == 0 || n == 0 || m >= EXACT_BELOW || n >= EXACT_BELOW {
            return None;
        }
        // Room for the intermediate product before each exact division.
        let mut c = vec![0i128; m * n + m + n + 1];
        c[0] = 1;
        let mut degree = 0;
        for i in 1..=m {
            let up = n + i;
            // Multiply by (1 - q^up), from the top down so each term uses the old value.
            for k in (up..=degree + up).rev() {
                c[k] -= c[k - up];
            }
            // Divide by (1 - q^i): multiply by 1 + q^i + q^2i + ..., exact since the quotient
            // is a polynomial (so the terms above its degree come out zero).
            for k in i..=degree + up {
                c[k] += c[k - i];
            }
            degree += n;
        }
        c.truncate(m * n + 1);
        let total = c.iter().sum();
        Some(Self { counts: c, total })
    }

    /// P(U <= q) (R's `pwilcox(q, m, n)`).
    pub(crate) fn lower(&self, q: i128) -> f64 {
        let Ok(q) = usize::try_from(q) else {
            return 0.0;
        };
        let cum: i128 = self.counts.iter().take(q.saturating_add(1)).sum();
        cum as f64 / self.total as f64
    }

    /// P(U > q) (R's `pwilcox(q, m, n, lower.tail = FALSE)`), summed over the upper tail itself
    /// so that a small probability is not the difference of two numbers near 1.
    pub(crate) fn upper(&self, q: i128) -> f64 {
        let Ok(q) = usize::try_from(q) else {
            return 1.0;
        };
        let cum: i128 = self.counts.iter().skip(q.saturating_add(1)).sum();
        cum as f64 / self.total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts by enumerating every ordering (bit i set: position i holds an x).
    fn brute(m: usize, n: usize) -> Vec<i128> {
        let mut counts = vec![0i128; m * n + 1];
        for mask in 0u32..(1 << (m + n)) {
            if mask.count_ones() as usize != m {
                continue;
            }
            // U: for each x, the number of y below it.
            let (mut ys_below, mut u) = (0, 0);
            for pos in 0..m + n {
                if mask & (1 << pos) != 0 {
                    u += ys_below;
                } else {
                    ys_below += 1;
                }
            }
            counts[u] += 1;
        }
        counts
    }

    #[test]
    fn counts_match_enumeration() {
        for m in 1..=6 {
            for n in 1..=6 {
                let d = UDistribution::new(m, n).unwrap();
                assert_eq!(d.counts, brute(m, n), "m = {m}, n = {n}");
            }
        }
    }

    #[test]
    fn tails_add_up_and_stay_in_range() {
        let d = UDistribution::new(49, 49).unwrap();
        assert_eq!(d.counts.len(), 49 * 49 + 1);
        // C(98, 49)
        assert_eq!(d.total, 25_477_612_258_980_856_902_730_428_600);
        assert_eq!(d.lower(-1), 0.0);
        assert_eq!(d.upper(-1), 1.0);
        assert_eq!(d.lower(49 * 49), 1.0);
        assert_eq!(d.upper(49 * 49), 0.0);
        assert!((d.lower(1200) + d.upper(1200) - 1.0).abs() < 1e-15);
        assert!(UDistribution::new(50, 3).is_none());
        assert!(UDistribution::new(0, 3).is_none());
    }
}
