//! How long do the canary statistics take on large samples? Each function is run on 1,000,000
//! canary values against 1,000,000 baseline values, continuous and heavily tied, and the
//! median wall time of several runs is printed. The target: well under a second each.
//!
//! Run: `cargo bench --bench stats`. Figures go in docs/benchmarks.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use slogate::analysis::stats::{Alternative, location_shift, rank_sum_test, two_proportions};

/// Runs per measurement; the median is reported.
const RUNS: usize = 7;
/// Values per side.
const N: usize = 1_000_000;

/// Deterministic, well-spread values (a golden-ratio sequence, squared for a skew), the same
/// formula as the reference data's generator: no random number generator.
fn sample(n: usize, alpha: f64, offset: f64, scale: f64, floor: bool) -> Vec<f64> {
    (1..=n)
        .map(|i| {
            let t = i as f64 * alpha;
            let u = t - t.floor();
            let v = offset + scale * u * u;
            if floor { v.floor() } else { v }
        })
        .collect()
}

fn median(mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn report(what: &str, time: Duration) {
    println!("{what:<70} {:>10.3} ms", time.as_secs_f64() * 1e3);
}

fn main() {
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    let cases = [
        ("continuous", false, 100.0),
        // Latency-like integers (milliseconds): a few hundred distinct values, ties everywhere.
        ("integer-valued (heavy ties)", true, 300.0),
    ];
    println!("{N} vs {N} values, median of {RUNS} runs");
    for (name, floor, scale) in cases {
        let canary = sample(N, golden, 101.0, scale, floor);
        let baseline = sample(N, 2f64.sqrt() - 1.0, 100.0, scale, floor);
        let t = median(|| {
            black_box(rank_sum_test(
                black_box(&canary),
                black_box(&baseline),
                Alternative::Greater,
            ));
        });
        report(&format!("rank_sum_test, {name}"), t);
        let t = median(|| {
            black_box(location_shift(
                black_box(&canary),
                black_box(&baseline),
                0.98,
            ));
        });
        report(
            &format!("location_shift (estimate + 98% interval), {name}"),
            t,
        );
    }
    let t = median(|| {
        black_box(two_proportions(
            1_100,
            1_000_000,
            1_000,
            1_000_000,
            Alternative::Greater,
            0.98,
        ));
    });
    report("two_proportions", t);
    // The exact test's distribution at its largest size (49 vs 49, no ties).
    let canary = sample(49, golden, 0.0, 1.0, false);
    let baseline = sample(49, 2f64.sqrt() - 1.0, 0.01, 1.0, false);
    let t = median(|| {
        black_box(rank_sum_test(
            black_box(&canary),
            black_box(&baseline),
            Alternative::TwoSided,
        ));
    });
    report("rank_sum_test, exact at 49 vs 49", t);
}
