//! The canary judge on one value metric at n = 1e3, 1e5 and 1e6 per side, next to scipy's
//! `mannwhitneyu` on the same data in the same run (when python3 with scipy is installed).
//!
//! Run: `cargo bench --bench judge`. Figures go in docs/benchmarks.md.

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use slogate::analysis::canary::{DEFAULT_CONFIDENCE, MetricData, judge_metric};
use slogate::spec::{CanaryMeasure, CanaryMetric, Direction, EffectMeasure, QueryTemplate};

/// The allocator the `slogate` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Deterministic log-normal latencies (SplitMix64 + Box-Muller), `scale` times 200 ms.
fn latencies(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u1, u2) = (next().max(f64::MIN_POSITIVE), next());
            let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            scale * 0.2 * (0.5 * normal).exp()
        })
        .collect()
}

fn metric() -> CanaryMetric {
    CanaryMetric {
        name: "latency".into(),
        measure: CanaryMeasure::PrometheusValues {
            query: QueryTemplate::parse("vector(0)", false).unwrap(),
        },
        direction: Direction::Increase,
        allowed_increase: 1.1,
        critical_increase: None,
        allowed_decrease: 1.0,
        critical_decrease: None,
        weight: 1.0,
        critical: false,
        must_have_data: false,
        required: true,
        min_samples: None,
        group: None,
        effect: EffectMeasure::Mean,
        absolute: Default::default(),
    }
}

/// scipy's time for mannwhitneyu (asymptotic, continuity correction) on the same data.
fn scipy_seconds(baseline: &[f64], canary: &[f64], runs: usize) -> Option<f64> {
    let dir = tempfile::tempdir().ok()?;
    let write = |name: &str, xs: &[f64]| {
        let mut f = std::fs::File::create(dir.path().join(name)).unwrap();
        for x in xs {
            writeln!(f, "{x:?}").unwrap();
        }
    };
    write("b.txt", baseline);
    write("c.txt", canary);
    let script = format!(
        "import numpy as np, time, statistics\nfrom scipy.stats import mannwhitneyu\nb=np.loadtxt('b.txt'); c=np.loadtxt('c.txt')\nts=[]\nfor _ in range({runs}):\n    t=time.perf_counter(); mannwhitneyu(c, b, alternative='greater', method='asymptotic', use_continuity=True); ts.append(time.perf_counter()-t)\nprint(statistics.median(ts))"
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn main() {
    for (n, runs) in [(1_000, 51), (100_000, 11), (1_000_000, 5)] {
        let baseline = latencies(n, 1, 1.0);
        let canary = latencies(n, 2, 1.2);
        let data = MetricData::Values {
            baseline: baseline.clone(),
            canary: canary.clone(),
        };
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(judge_metric(&metric(), &data, DEFAULT_CONFIDENCE));
                t.elapsed()
            })
            .collect();
        times.sort();
        let judge = times[runs / 2];
        let scipy = scipy_seconds(&baseline, &canary, runs)
            .map_or("n/a (python3 with scipy not found)".to_string(), |s| {
                format!("{:?}", Duration::from_secs_f64(s))
            });
        println!(
            "n = {n:>9} per side: judge (rank-sum tests + 98% interval + effect) {judge:?}; scipy mannwhitneyu alone {scipy}"
        );
    }
}
