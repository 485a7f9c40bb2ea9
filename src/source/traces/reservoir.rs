//! Uniform reservoir sampling of span durations (Algorithm R) with a deterministic generator,
//! and the proportional subsampling that merges several reservoirs into one uniform sample.
//!
//! No `rand`: the generator is splitmix64 seeded from the series key and the bucket start, so
//! the same spans in the same order always keep the same durations, and a verdict computed on
//! them can be reproduced bit for bit.

/// splitmix64 (Steele, Lea, Flood 2014): one `u64` of state, passes BigCrush, and every seed
/// (zero included) is a good one, which matters when seeds come from hashes.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    /// The Weyl sequence position; advanced by the golden-ratio increment on every draw.
    state: u64,
}

impl SplitMix64 {
    /// A generator whose sequence depends only on `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift: no modulo bias worth
    /// measuring (at most n / 2^64) and no division on the hot path.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// splitmix64's output function: a bijective avalanche of 64 bits, also used to combine hashes.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a hash that is the same in every process and on every machine (std's
/// `RandomState` is not), so reservoir seeds, and therefore samples, are reproducible.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// At most `cap` values, a uniform sample of every value offered (Vitter's Algorithm R).
#[derive(Debug, Clone)]
pub(crate) struct Reservoir {
    /// The kept values. Grown by hand to exactly `cap` at most, so a reservoir never holds
    /// more memory than the bound promises (doubling could overshoot a cap that is not a power
    /// of two).
    values: Vec<f64>,
    /// Decides which kept value a late arrival replaces; seeded per series and bucket.
    rng: SplitMix64,
}

impl Reservoir {
    /// An empty reservoir; nothing is allocated until the first value.
    pub(crate) fn new(seed: u64) -> Self {
        Reservoir {
            values: Vec::new(),
            rng: SplitMix64::new(seed),
        }
    }

    /// Offers `value`, the `seen + 1`-th value of this reservoir (`seen` offered before it).
    /// Every value offered so far stays in with probability `cap / (seen + 1)`.
    pub(crate) fn offer(&mut self, value: f64, seen: u64, cap: usize) {
        if self.values.len() < cap {
            if self.values.len() == self.values.capacity() {
                let grown = (self.values.capacity() * 2).max(4).min(cap);
                self.values.reserve_exact(grown - self.values.len());
            }
            self.values.push(value);
            return;
        }
        let slot = self.rng.below(seen.saturating_add(1));
        if let Some(kept) = usize::try_from(slot)
            .ok()
            .and_then(|slot| self.values.get_mut(slot))
        {
            *kept = value;
        }
    }

    /// The kept values, in no meaningful order.
    pub(crate) fn values(&self) -> &[f64] {
        &self.values
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.values.capacity() * size_of::<f64>()
    }

    /// Appends `k` of the kept values (all of them when `k` is at least their number), chosen
    /// uniformly without replacement by a partial Fisher-Yates shuffle. `seed` fixes the
    /// choice, so the same store answers the same query with the same values.
    #[cfg(test)]
    pub(crate) fn subsample_into(&self, k: usize, seed: u64, out: &mut Vec<f64>) {
        Self::subsample_slice_into(&self.values, k, seed, out);
    }

    /// [`Reservoir::subsample_into`] of kept values read back from elsewhere (the store): the
    /// same values and seed draw the same subsample.
    pub(crate) fn subsample_slice_into(values: &[f64], k: usize, seed: u64, out: &mut Vec<f64>) {
        if k >= values.len() {
            out.extend_from_slice(values);
            return;
        }
        let mut pool = values.to_vec();
        let mut rng = SplitMix64::new(seed);
        for i in 0..k {
            let remaining = (pool.len() - i) as u64;
            let j = i + rng.below(remaining) as usize;
            pool.swap(i, j);
        }
        out.extend_from_slice(&pool[..k]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: u64, cap: usize, seed: u64) -> Reservoir {
        let mut reservoir = Reservoir::new(seed);
        for seen in 0..n {
            reservoir.offer(seen as f64 / n as f64, seen, cap);
        }
        reservoir
    }

    #[test]
    fn a_reservoir_keeps_everything_until_it_is_full_then_never_grows() {
        let reservoir = filled(10, 16, 1);
        assert_eq!(reservoir.values().len(), 10);
        for cap in [1, 7, 1000, 1024] {
            let reservoir = filled(50_000, cap, 2);
            assert_eq!(reservoir.values().len(), cap);
            assert_eq!(
                reservoir.heap_bytes(),
                cap * 8,
                "capacity is exactly the cap"
            );
        }
    }

    #[test]
    fn the_kept_values_are_a_uniform_sample_of_all_offered() {
        // 100k values spread evenly over [0, 1): a uniform sample has mean 1/2 and a quarter
        // of its values in each quarter of the range.
        let reservoir = filled(100_000, 1024, 3);
        let values = reservoir.values();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((mean - 0.5).abs() < 0.05, "mean {mean}");
        for quarter in 0..4 {
            let low = quarter as f64 / 4.0;
            let share = values
                .iter()
                .filter(|v| (low..low + 0.25).contains(*v))
                .count() as f64
                / values.len() as f64;
            assert!((share - 0.25).abs() < 0.05, "quarter {quarter}: {share}");
        }
    }

    #[test]
    fn the_same_seed_and_input_keep_the_same_values_and_another_seed_does_not() {
        let a = filled(20_000, 64, 42);
        let b = filled(20_000, 64, 42);
        let c = filled(20_000, 64, 43);
        assert_eq!(a.values(), b.values());
        assert_ne!(a.values(), c.values());
    }

    #[test]
    fn subsampling_picks_distinct_kept_values_reproducibly() {
        let reservoir = filled(5_000, 100, 9);
        let mut first = Vec::new();
        reservoir.subsample_into(30, 5, &mut first);
        let mut again = Vec::new();
        reservoir.subsample_into(30, 5, &mut again);
        assert_eq!(first, again);
        assert_eq!(first.len(), 30);
        let mut sorted = first.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        assert_eq!(sorted.len(), 30, "no value drawn twice");
        assert!(first.iter().all(|v| reservoir.values().contains(v)));
        let mut all = Vec::new();
        reservoir.subsample_into(500, 5, &mut all);
        assert_eq!(all, reservoir.values());
    }

    #[test]
    fn below_stays_in_range_and_fnv_is_the_published_function() {
        let mut rng = SplitMix64::new(0);
        assert!((0..10_000).all(|_| rng.below(7) < 7));
        // FNV-1a 64 test vectors from the reference implementation.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        // splitmix64 seeded with 0: the first output of the reference implementation.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }
}
