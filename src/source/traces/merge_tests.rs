use super::*;
use crate::source::traces::SplitMix64;

const MINUTE_NS: u64 = 60_000_000_000;

/// A uniform draw in (0, 1].
fn unit(rng: &mut SplitMix64) -> f64 {
    1.0 - (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// One bucket of `replica` at `minute` that saw `n` exponential durations of mean `scale`,
/// kept in a reservoir of `cap`; also appends every duration to `union`.
fn bucket(
    replica: &str,
    minute: u64,
    n: u64,
    scale: f64,
    cap: usize,
    rng: &mut SplitMix64,
    union: &mut Vec<f64>,
) -> BucketData {
    let mut reservoir = Reservoir::new(rng.next_u64());
    for seen in 0..n {
        let duration = -scale * unit(rng).ln();
        union.push(duration);
        reservoir.offer(duration, seen, cap);
    }
    BucketData {
        operation: "GET /cart".to_string(),
        start_ns: minute * MINUTE_NS,
        replica: Arc::from(replica),
        incarnation: minute,
        series_seed: 7,
        total: n,
        errors: n / 100,
        sampled_from: n,
        durations: reservoir.values().to_vec(),
    }
}

/// The share of `sorted` at or below `x`: the union's exact distribution function.
fn cdf(sorted: &[f64], x: f64) -> f64 {
    sorted.partition_point(|v| *v <= x) as f64 / sorted.len() as f64
}

/// The `q` quantile of `values` (the lower one: a value of the sample).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

#[test]
fn a_merged_sample_has_the_quantiles_of_the_union_of_every_replicas_spans() {
    // Three replicas, six minutes each; one replica takes most of the traffic and its spans are
    // three times slower, so a merge that weighed every reservoir alike would be far off.
    let mut rng = SplitMix64::new(2024);
    let mut union = Vec::new();
    let mut buckets = Vec::new();
    for minute in 0..6 {
        buckets.push(bucket(
            "a",
            minute,
            20_000 + 3_000 * minute,
            3.0,
            256,
            &mut rng,
            &mut union,
        ));
        buckets.push(bucket(
            "b",
            minute,
            150 + 40 * minute,
            1.0,
            256,
            &mut rng,
            &mut union,
        ));
        buckets.push(bucket("c", minute, 900, 1.0, 256, &mut rng, &mut union));
    }
    let merged = sample(&buckets, (0, 6 * MINUTE_NS));
    assert_eq!(merged.total, union.len() as u64, "counts are exact");
    assert_eq!(merged.errors, buckets.iter().map(|b| b.errors).sum::<u64>());
    assert!(merged.sampled);
    let m = merged.durations.len() as f64;
    assert!(
        m > 1_000.0,
        "the sample keeps the busiest bucket's whole reservoir: {m}"
    );
    union.sort_by(f64::total_cmp);
    for q in [0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
        // A uniform sample's q-quantile falls where the union's distribution function is q,
        // give or take the binomial error of m draws: four standard errors, and one draw.
        let tolerance = 4.0 * (q * (1.0 - q) / m).sqrt() + 1.0 / m;
        let found = cdf(&union, quantile(&merged.durations, q));
        assert!(
            (found - q).abs() <= tolerance,
            "q {q}: the merged quantile sits at {found} of the union (tolerance {tolerance})"
        );
    }
    // The same reservoirs pooled as they are (each kept duration weighing one) miss the median
    // by far more: the test can tell a weighted merge from an unweighted one.
    let pooled: Vec<f64> = buckets.iter().flat_map(|b| b.durations.clone()).collect();
    let naive = cdf(&union, quantile(&pooled, 0.5));
    let tolerance = 4.0 * (0.25 / pooled.len() as f64).sqrt();
    assert!(
        (naive - 0.5).abs() > 3.0 * tolerance,
        "pooled median at {naive}"
    );
}

#[test]
fn buckets_under_their_cap_keep_every_duration_and_add_their_counts() {
    let mut rng = SplitMix64::new(1);
    let mut union = Vec::new();
    let buckets = vec![
        bucket("a", 0, 40, 1.0, 256, &mut rng, &mut union),
        bucket("b", 0, 200, 2.0, 256, &mut rng, &mut union),
        bucket("a", 1, 3, 1.0, 256, &mut rng, &mut union),
    ];
    let merged = sample(&buckets, (0, 2 * MINUTE_NS));
    assert!(!merged.sampled);
    assert_eq!((merged.total, merged.errors), (243, 2));
    let mut got = merged.durations.clone();
    got.sort_by(f64::total_cmp);
    union.sort_by(f64::total_cmp);
    assert_eq!(got, union, "every duration, once");
}

#[test]
fn the_merge_takes_the_buckets_of_the_range_in_a_fixed_order_whatever_order_they_come_in() {
    let mut rng = SplitMix64::new(5);
    let mut union = Vec::new();
    let buckets: Vec<BucketData> = (0..4)
        .flat_map(|minute| {
            ["b", "a"].map(|replica| bucket(replica, minute, 5_000, 1.0, 64, &mut rng, &mut union))
        })
        .collect();
    let forward = sample(&buckets, (MINUTE_NS, 3 * MINUTE_NS));
    let mut reversed = buckets.clone();
    reversed.reverse();
    assert_eq!(sample(&reversed, (MINUTE_NS, 3 * MINUTE_NS)), forward);
    assert_eq!(forward.total, 4 * 5_000, "minutes 1 and 2 of both replicas");
    assert_eq!(forward.durations.len(), 4 * 64);
}
