//! One sequential look: the evidence update of the rate-ratio test (24-point mixture) and of
//! the sign test (100 pairs), and the state's JSON round trip as the gate stores it.
//!
//! Run: `cargo bench --bench sequential`. Figures go in docs/benchmarks.md.

use criterion::{Criterion, criterion_group, criterion_main};
use slogate::analysis::sequential::{RateRatioTest, SignTest, Worse};

fn look(c: &mut Criterion) {
    c.bench_function("rate-ratio look (update + e-value)", |b| {
        let mut t = RateRatioTest::new(1.2, Worse::Higher);
        b.iter(|| {
            t.update(12, 1000, 10, 1000);
            std::hint::black_box(t.e_value())
        })
    });
    let baseline: Vec<f64> = (0..100).map(|i| 0.2 + 0.001 * i as f64).collect();
    let canary: Vec<f64> = (0..100)
        .map(|i| 0.2 + 0.0011 * ((i * 37) % 100) as f64)
        .collect();
    c.bench_function("sign-test look, 100 pairs (update + e-value)", |b| {
        let mut t = SignTest::new(1.0, Worse::Higher);
        b.iter(|| {
            t.update(&baseline, &canary);
            std::hint::black_box(t.e_value())
        })
    });
    c.bench_function("rate-ratio state JSON round trip", |b| {
        let t = RateRatioTest::new(1.2, Worse::Higher);
        b.iter(|| {
            let text = serde_json::to_string(&t).unwrap();
            std::hint::black_box(serde_json::from_str::<RateRatioTest>(&text).unwrap())
        })
    });
}

criterion_group!(benches, look);
criterion_main!(benches);
