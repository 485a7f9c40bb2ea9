//! A bounded picture of what a canary metric compared, kept with the verdict so a person can
//! see the two distributions later: quantiles of each side's values, or each side's counts.
//!
//! Bounded whatever the sample size: [`QUANTILES`] numbers per side for value metrics, two
//! counts per side for event metrics.

use serde::{Deserialize, Serialize};

use super::canary::{Counts, MetricData};

/// Quantiles kept per side: 0%, 5%, ..., 100% (21 numbers).
pub const QUANTILES: usize = 21;

/// Sides of at least this many values are summarised on two threads, one side each.
const PARALLEL_FROM: usize = 1 << 15;

/// One side's values, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Finite values summarised.
    pub n: u64,
    /// Their mean.
    pub mean: f64,
    /// The 0%, 5%, ..., 100% quantiles (linear interpolation, R's type 7); empty when `n` is 0.
    pub q: Vec<f64>,
}

impl Quantiles {
    /// Summarises `values` (non-finite values are left out, as the judge leaves them out).
    pub fn of(values: &[f64]) -> Quantiles {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        // Ascending in `f64::total_cmp`'s order, by a radix sort (as the rank tests sort):
        // several times faster than a comparison sort on large samples, the same result.
        radsort::sort(&mut sorted);
        Quantiles::of_sorted(&sorted)
    }

    /// Summarises finite values already sorted ascending (as [`Quantiles::of`] sorts them:
    /// the same summary, bit for bit, the mean summed in that order).
    pub fn of_sorted(sorted: &[f64]) -> Quantiles {
        let n = sorted.len();
        if n == 0 {
            return Quantiles {
                n: 0,
                mean: 0.0,
                q: Vec::new(),
            };
        }
        let q = (0..QUANTILES)
            .map(|i| {
                let p = i as f64 / (QUANTILES - 1) as f64;
                let h = p * (n - 1) as f64;
                let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
                sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
            })
            .collect();
        Quantiles {
            n: n as u64,
            mean: sorted.iter().sum::<f64>() / n as f64,
            q,
        }
    }

    /// The quantile at `percent` (a multiple of 5), when there is data.
    pub fn at(&self, percent: usize) -> Option<f64> {
        self.q.get(percent / 5).copied()
    }
}

/// What a metric compared, per side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Distribution {
    /// Value metrics: quantiles of each side.
    Values {
        /// Baseline.
        baseline: Quantiles,
        /// Canary.
        canary: Quantiles,
    },
    /// Event metrics: counted out of all events, per side.
    Events {
        /// Baseline.
        baseline: Counts,
        /// Canary.
        canary: Counts,
    },
}

impl Distribution {
    /// The summary of fetched data; `None` when nothing was fetched.
    pub fn of(data: &MetricData) -> Option<Distribution> {
        match data {
            MetricData::Values { baseline, canary } => {
                let (baseline, canary) = if baseline.len().min(canary.len()) >= PARALLEL_FROM {
                    // One side on another thread: large samples spend their time sorting.
                    std::thread::scope(|s| {
                        let b = s.spawn(|| Quantiles::of(baseline));
                        let c = Quantiles::of(canary);
                        (b.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), c)
                    })
                } else {
                    (Quantiles::of(baseline), Quantiles::of(canary))
                };
                Some(Distribution::Values { baseline, canary })
            }
            MetricData::Events { baseline, canary } => Some(Distribution::Events {
                baseline: *baseline,
                canary: *canary,
            }),
            MetricData::Missing(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_r_type_7() {
        let q = Quantiles::of(&[4.0, 1.0, 3.0, 2.0, f64::NAN]);
        assert_eq!(q.n, 4);
        assert_eq!(q.mean, 2.5);
        assert_eq!(q.q.len(), QUANTILES);
        assert_eq!(q.at(0), Some(1.0));
        assert_eq!(q.at(50), Some(2.5));
        assert_eq!(q.at(25), Some(1.75));
        assert_eq!(q.at(100), Some(4.0));
    }

    #[test]
    fn the_samples_the_tests_sorted_summarise_as_each_side_alone() {
        // The judge summarises a pair it tested from the pair's sorted values (canary.rs).
        use crate::analysis::stats::SortedPair;
        let spread = |n: u32, k: f64| (0..n).map(|i| (f64::from(i) * k).sin() * 3.0).collect();
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (spread(1000, 0.7), spread(900, 1.3)),
            (vec![-0.0, 0.0, 2.0, -1.5, 0.0], vec![0.0, -0.0, 1.0]),
            (vec![2.0; 5], vec![2.0, 1e-310, -1e300]),
        ];
        for (x, y) in cases {
            let pair = SortedPair::new(&x, &y).unwrap();
            for (sorted, side) in [(pair.x(), &x), (pair.y(), &y)] {
                // Bit for bit: serde_json writes every double exactly (-0.0 as -0.0).
                assert_eq!(
                    serde_json::to_string(&Quantiles::of_sorted(sorted)).unwrap(),
                    serde_json::to_string(&Quantiles::of(side)).unwrap()
                );
            }
        }
    }

    #[test]
    fn a_side_without_values_has_no_quantiles() {
        let q = Quantiles::of(&[]);
        assert_eq!((q.n, q.q.len(), q.at(50)), (0, 0, None));
    }

    #[test]
    fn the_summary_is_bounded_whatever_the_sample_size() {
        let many: Vec<f64> = (0..100_000).map(f64::from).collect();
        let d = Distribution::of(&MetricData::Values {
            baseline: many.clone(),
            canary: many,
        })
        .unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.len() < 2048, "{} bytes", json.len());
        let back: Distribution = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }
}
