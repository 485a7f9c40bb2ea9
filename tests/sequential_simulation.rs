//! Simulated rollouts asked at every look, as Argo asks, on textbook data (Poisson counts,
//! independent latencies): the anytime-valid gate keeps the share of A/A rollouts that ever
//! fail under its level, where the fixed-horizon judge asked at every look does not, and it
//! stops 2x error rates and 20% latency shifts early. Production-shaped noise and Argo's
//! analysis rules: `tests/canary_noise.rs`.
//!
//! `cargo test --test sequential_simulation -- --nocapture` prints the figures that
//! `docs/statistics.md` quotes.

mod support;

use slogate::analysis::canary::{Counts, DEFAULT_CONFIDENCE, MetricData, judge_metric};
use slogate::analysis::sequential::{Judging, MetricState, advance, decide, level};
use slogate::spec::{CanaryMeasure, CanaryMetric, Direction, EffectMeasure, QueryTemplate};
use slogate::verdict::Outcome;
use support::rng::Rng;

const ROLLOUTS: usize = 1000;
const LOOKS: u64 = 30;
/// Requests per side per look (a minute or two of a modest service's traffic).
const REQUESTS: u64 = 1000;
/// Span durations per side per look.
const VALUES: usize = 100;

fn metric(events: bool, allowed_increase: f64) -> CanaryMetric {
    CanaryMetric {
        name: if events { "error-rate" } else { "latency" }.into(),
        measure: if events {
            CanaryMeasure::TraceErrors { operation: None }
        } else {
            CanaryMeasure::PrometheusValues {
                query: QueryTemplate::parse("vector(0)", false).unwrap(),
            }
        },
        direction: Direction::Increase,
        allowed_increase,
        critical_increase: None,
        allowed_decrease: 1.0,
        critical_decrease: None,
        weight: 1.0,
        critical: true,
        must_have_data: false,
        required: true,
        min_samples: None,
        group: None,
        effect: EffectMeasure::Mean,
        absolute: Default::default(),
    }
}

fn counts(counted: u64, total: u64) -> Counts {
    Counts { counted, total }
}

/// What one simulated rollout of error counts showed.
struct CountsRun {
    /// The look at which the sequential gate first answered `fail`.
    sequential_fail: Option<u64>,
    /// The look at which the fixed-horizon judge on everything so far first failed.
    fixed_fail: Option<u64>,
    /// The fixed-horizon judge on all 30 looks failed.
    fixed_at_end: bool,
}

/// A rollout of `LOOKS` looks; at each, the gate's decision (sequential test plus the fixed
/// judge on the counts so far) and the fixed judge alone.
fn counts_rollout(
    rng: &mut Rng,
    m: &CanaryMetric,
    baseline_rate: f64,
    canary_rate: f64,
) -> CountsRun {
    let alpha = level(DEFAULT_CONFIDENCE);
    let mut state: Option<MetricState> = None;
    let (mut b_total, mut c_total) = (counts(0, 0), counts(0, 0));
    let mut run = CountsRun {
        sequential_fail: None,
        fixed_fail: None,
        fixed_at_end: false,
    };
    for look in 1..=LOOKS {
        let b = counts(rng.binomial(REQUESTS, baseline_rate), REQUESTS);
        let c = counts(rng.binomial(REQUESTS, canary_rate), REQUESTS);
        b_total = counts(b_total.counted + b.counted, b_total.total + REQUESTS);
        c_total = counts(c_total.counted + c.counted, c_total.total + REQUESTS);
        let increment = MetricData::Events {
            baseline: b,
            canary: c,
        };
        let s = advance(state.take(), m, &increment, 1.0, look, alpha);
        let cumulative = MetricData::Events {
            baseline: b_total,
            canary: c_total,
        };
        let fixed = judge_metric(m, &cumulative, DEFAULT_CONFIDENCE);
        if fixed.outcome == Outcome::Fail {
            run.fixed_fail.get_or_insert(look);
            run.fixed_at_end = look == LOOKS;
        }
        let gate = decide(
            m,
            &s,
            fixed,
            look,
            alpha,
            Judging::Sequential { last: false },
        );
        if gate.outcome == Outcome::Fail {
            run.sequential_fail.get_or_insert(look);
        }
        state = Some(s);
    }
    run
}

fn median(mut looks: Vec<u64>) -> f64 {
    looks.sort_unstable();
    let n = looks.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        looks[n / 2] as f64
    } else {
        (looks[n / 2 - 1] + looks[n / 2]) as f64 / 2.0
    }
}

/// The largest count of A/A failures a false-fail rate of `alpha` allows among `ROLLOUTS`: its
/// mean plus three binomial standard deviations.
fn allowed_failures(alpha: f64) -> usize {
    let n = ROLLOUTS as f64;
    (n * alpha + 3.0 * (n * alpha * (1.0 - alpha)).sqrt()).floor() as usize
}

#[test]
fn aa_rollouts_asked_thirty_times_fail_at_most_at_the_level_where_the_fixed_judge_inflates() {
    let alpha = level(DEFAULT_CONFIDENCE);
    // A tolerance of 1.0 puts equal rates on the null's boundary: the hardest case.
    let m = metric(true, 1.0);
    let mut rng = Rng(0x5e9_2026);
    let (mut sequential, mut fixed) = (0, 0);
    for _ in 0..ROLLOUTS {
        let run = counts_rollout(&mut rng, &m, 0.01, 0.01);
        sequential += usize::from(run.sequential_fail.is_some());
        fixed += usize::from(run.fixed_fail.is_some());
    }
    eprintln!(
        "A/A, {ROLLOUTS} rollouts x {LOOKS} looks, {REQUESTS} requests per side per look at 1%: \
         ever failed: sequential {sequential}/{ROLLOUTS} ({}%), fixed-horizon asked at every \
         look {fixed}/{ROLLOUTS} ({}%); level {:.1}%",
        sequential as f64 / 10.0,
        fixed as f64 / 10.0,
        alpha * 100.0
    );
    assert!(
        sequential <= allowed_failures(alpha),
        "{sequential} of {ROLLOUTS} A/A rollouts failed"
    );
    // The fixed judge's 1% per ask, asked 30 times: several times its level.
    assert!(
        fixed > 2 * allowed_failures(alpha),
        "the fixed-horizon judge failed only {fixed} of {ROLLOUTS}: no inflation shown"
    );
}

#[test]
fn a_doubled_error_rate_is_stopped_early_in_at_least_95_percent_of_rollouts() {
    // The example service's tolerance: 20% more errors are accepted.
    let m = metric(true, 1.2);
    let mut rng = Rng(0x2_2026);
    let mut stopped = Vec::new();
    let mut before_last = 0;
    let mut fixed_at_end = 0;
    for _ in 0..ROLLOUTS {
        let run = counts_rollout(&mut rng, &m, 0.01, 0.02);
        if let Some(look) = run.sequential_fail {
            stopped.push(look);
            before_last += usize::from(look < LOOKS);
        }
        fixed_at_end += usize::from(run.fixed_at_end);
    }
    eprintln!(
        "2x error rate (1% -> 2%, tolerance 1.2x), {REQUESTS} requests per side per look: \
         sequential failed {}/{ROLLOUTS}, before look {LOOKS} in {before_last}, median look {}; \
         fixed-horizon judge once after {LOOKS} looks failed {fixed_at_end}/{ROLLOUTS}",
        stopped.len(),
        median(stopped.clone())
    );
    assert!(
        before_last >= ROLLOUTS * 95 / 100,
        "only {before_last} stopped before the last look"
    );
    // One-minute looks of clean Poisson counts: the dispersion allowance (each look may vary
    // by a rate CV of 0.5 until the data show otherwise) costs looks here; median 7 without it.
    assert!(median(stopped) <= 20.0);
}

/// The look at which the sign test on paired latencies first rejects, if it does.
fn latency_rollout(rng: &mut Rng, m: &CanaryMetric, shift: f64) -> Option<u64> {
    let alpha = level(DEFAULT_CONFIDENCE);
    let mut state: Option<MetricState> = None;
    for look in 1..=LOOKS {
        let baseline: Vec<f64> = (0..VALUES).map(|_| rng.latency()).collect();
        let canary: Vec<f64> = (0..VALUES).map(|_| rng.latency() * shift).collect();
        let s = advance(
            state.take(),
            m,
            &MetricData::Values { baseline, canary },
            1.0,
            look,
            alpha,
        );
        if let Some(r) = &s.rejected {
            return Some(r.look);
        }
        state = Some(s);
    }
    None
}

#[test]
fn a_twenty_percent_latency_shift_is_stopped_early_and_aa_latencies_rarely_fail() {
    let alpha = level(DEFAULT_CONFIDENCE);
    let m = metric(false, 1.0);
    let mut rng = Rng(20_261_122);
    let aa = (0..ROLLOUTS)
        .filter(|_| latency_rollout(&mut rng, &m, 1.0).is_some())
        .count();
    let stopped: Vec<u64> = (0..ROLLOUTS)
        .filter_map(|_| latency_rollout(&mut rng, &m, 1.2))
        .collect();
    let before_last = stopped.iter().filter(|l| **l < LOOKS).count();
    // The fixed-horizon judge once, on all 30 looks' values (3,000 a side), for comparison.
    let fixed_runs = 200;
    let fixed_at_end = (0..fixed_runs)
        .filter(|_| {
            let n = VALUES * LOOKS as usize;
            let baseline: Vec<f64> = (0..n).map(|_| rng.latency()).collect();
            let canary: Vec<f64> = (0..n).map(|_| rng.latency() * 1.2).collect();
            let data = MetricData::Values { baseline, canary };
            judge_metric(&m, &data, DEFAULT_CONFIDENCE).outcome == Outcome::Fail
        })
        .count();
    eprintln!(
        "latency, {VALUES} span durations per side per look, log-normal: A/A ever failed \
         {aa}/{ROLLOUTS}; 20% shift: sequential failed {}/{ROLLOUTS}, before look {LOOKS} in \
         {before_last}, median look {}; fixed-horizon judge once after {LOOKS} looks failed \
         {fixed_at_end}/{fixed_runs}",
        stopped.len(),
        median(stopped.clone())
    );
    assert!(
        aa <= allowed_failures(alpha),
        "{aa} A/A latency rollouts failed"
    );
    assert!(
        before_last >= ROLLOUTS * 95 / 100,
        "only {before_last} stopped before the last look"
    );
    assert!(median(stopped) <= 15.0);
}
