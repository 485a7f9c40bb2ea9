//! One sequential look: the evidence update of the rate-ratio test (24-point mixture, the
//! dispersion re-estimated over the stored looks, at most 240) and of the shift test (one
//! look of ten paired minutes), and the state's JSON round trip as the gate stores it.
//!
//! Run: `cargo bench --bench sequential`. Figures go in docs/benchmarks.md.

use criterion::{Criterion, criterion_group, criterion_main};
use slogate::analysis::sequential::{RateRatioTest, ShiftTest, Worse};

fn look(c: &mut Criterion) {
    c.bench_function(
        "rate-ratio look, 240 looks stored (update + e-value)",
        |b| {
            let mut t = RateRatioTest::new(1.2, Worse::Higher);
            for _ in 0..240 {
                t.update(12, 1000, 10, 1000, 1.0);
            }
            b.iter(|| {
                t.update(12, 1000, 10, 1000, 1.0);
                std::hint::black_box(t.e_value())
            })
        },
    );
    let baseline: Vec<f64> = (0..10).map(|i| 0.2 + 0.001 * i as f64).collect();
    let canary: Vec<f64> = (0..10)
        .map(|i| 0.2 + 0.0011 * ((i * 37) % 10) as f64)
        .collect();
    c.bench_function(
        "shift-test look, 10 paired minutes (update + e-value)",
        |b| {
            let mut t = ShiftTest::new(1.05, Worse::Higher);
            b.iter(|| {
                t.update(&baseline, &canary);
                std::hint::black_box(t.log_e_value())
            })
        },
    );
    c.bench_function("rate-ratio state JSON round trip, 30 looks", |b| {
        let mut t = RateRatioTest::new(1.2, Worse::Higher);
        for _ in 0..30 {
            t.update(12, 1000, 10, 1000, 1.0);
        }
        b.iter(|| {
            let text = serde_json::to_string(&t).unwrap();
            std::hint::black_box(serde_json::from_str::<RateRatioTest>(&text).unwrap())
        })
    });
}

criterion_group!(benches, look);
criterion_main!(benches);
