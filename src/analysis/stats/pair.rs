//! Two samples sorted once, for every rank-based answer about the pair.
//!
//! Sorting is most of a rank test's cost on large samples (a million values a side take tens
//! of milliseconds per sort, each merge a few): the canary judge asks for both one-sided tests
//! and the shift interval on the same pair, so it sorts the pair here once and asks it three
//! times. [`super::rank_sum_test`] and [`super::location_shift`] are this with one question.

use super::Alternative;
use super::mann_whitney::{self, RankSumTest};
use super::ranks::Sorted;
use super::shift::{self, LocationShift};

/// Samples from this size on are sorted on two threads, one sample each: below it the thread
/// costs more than the sort it saves.
const PARALLEL_FROM: usize = 1 << 15;

/// A sample x (the canary) and a sample y (the baseline), each sorted ascending.
#[derive(Debug, Clone)]
pub struct SortedPair {
    /// x, sorted.
    x: Sorted,
    /// y, sorted.
    y: Sorted,
}

impl SortedPair {
    /// Sorts copies of both samples; `None` when either is empty or holds a non-finite value,
    /// where every test on them is undefined.
    pub fn new(x: &[f64], y: &[f64]) -> Option<Self> {
        let (x, y) = if x.len().min(y.len()) >= PARALLEL_FROM {
            std::thread::scope(|s| {
                let y = s.spawn(|| Sorted::new(y));
                let x = Sorted::new(x);
                (x, y.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            })
        } else {
            (Sorted::new(x), Sorted::new(y))
        };
        Some(Self { x: x?, y: y? })
    }

    /// x, ascending.
    pub fn x(&self) -> &[f64] {
        self.x.values()
    }

    /// y, ascending.
    pub fn y(&self) -> &[f64] {
        self.y.values()
    }

    /// [`super::rank_sum_test`] on the pair.
    pub fn rank_sum_test(&self, alternative: Alternative) -> RankSumTest {
        mann_whitney::test(&self.x, &self.y, alternative)
    }

    /// [`super::location_shift`] on the pair.
    pub fn location_shift(&self, confidence: f64) -> Option<LocationShift> {
        shift::of_sorted(&self.x, &self.y, confidence)
    }
}
