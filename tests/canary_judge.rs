//! The canary judge on values: Kayenta's known false passes are not passes (in the descriptive
//! judge and in the decision of fixed mode), four values a side never pass, constant samples
//! answer the same every time, and a simulation of 1,000 A/A comparisons and 1,000 comparisons
//! with a 20% latency shift bounds the false-fail rate and the power.

mod support;

use slogate::analysis::canary::{
    Classification, Counts, DEFAULT_CONFIDENCE, MetricData, judge_metric,
};
use slogate::analysis::sequential::{self, Judging, judge_fixed};
use slogate::spec::{CanaryMeasure, CanaryMetric, Direction, EffectMeasure, QueryTemplate};
use slogate::verdict::Outcome;
use support::rng::Rng;

fn metric(min_samples: Option<u64>) -> CanaryMetric {
    CanaryMetric {
        name: "latency".into(),
        measure: CanaryMeasure::PrometheusValues {
            query: QueryTemplate::parse("vector(0)", false).unwrap(),
        },
        direction: Direction::Increase,
        allowed_increase: 1.0,
        critical_increase: None,
        allowed_decrease: 1.0,
        critical_decrease: None,
        weight: 1.0,
        critical: false,
        must_have_data: false,
        required: true,
        min_samples,
        group: None,
        effect: EffectMeasure::Mean,
        absolute: Default::default(),
    }
}

fn values(baseline: &[f64], canary: &[f64]) -> MetricData {
    MetricData::Values {
        baseline: baseline.to_vec(),
        canary: canary.to_vec(),
    }
}

/// A named case: baseline, canary and the metric's minimum samples.
type Case = (&'static str, Vec<f64>, Vec<f64>, Option<u64>);

#[test]
fn kayentas_known_false_passes_are_not_passes() {
    let cases: &[Case] = &[
        (
            "seven of ten canary samples 100x worse",
            vec![1.0; 10],
            [vec![100.0; 7], vec![1.0; 3]].concat(),
            None,
        ),
        (
            "errors appear where the baseline had none",
            vec![0.0; 6],
            vec![0.0, 1.0, 2.0, 1.0, 0.0, 0.0],
            Some(6),
        ),
        (
            "the same, with the default minimum of 10 samples",
            vec![0.0; 6],
            vec![0.0, 1.0, 2.0, 1.0, 0.0, 0.0],
            None,
        ),
    ];
    for (name, baseline, canary, min) in cases {
        let j = judge_metric(&metric(*min), &values(baseline, canary), DEFAULT_CONFIDENCE);
        assert_ne!(j.outcome, Outcome::Pass, "{name}: {}", j.reason);
        assert_ne!(j.classification, Classification::Pass, "{name}");
        // The decision (fixed mode, `slogate judge`) with the default tolerance of values.
        let mut m = metric(*min);
        m.allowed_increase = slogate::spec::DEFAULT_ALLOWED_INCREASE_VALUES;
        let j = judge_fixed(&m, &values(baseline, canary), 1.0, DEFAULT_CONFIDENCE);
        assert_eq!(j.outcome, Outcome::Fail, "{name}: {}", j.reason);
    }
}

#[test]
fn four_values_a_side_never_pass_whatever_they_are() {
    let alpha = sequential::level(DEFAULT_CONFIDENCE);
    let cases: [[f64; 4]; 4] = [
        [0.2, 0.2, 0.2, 0.2],
        [0.2, 0.21, 0.19, 0.2],
        [0.1, 0.5, 0.3, 0.2],
        [0.0, 0.0, 0.0, 0.0],
    ];
    for b in &cases {
        for c in &cases {
            let data = values(b, c);
            let fixed = judge_fixed(&metric(None), &data, 1.0, DEFAULT_CONFIDENCE);
            assert_ne!(
                fixed.outcome,
                Outcome::Pass,
                "{b:?} vs {c:?}: {}",
                fixed.reason
            );
            for last in [false, true] {
                let state = sequential::advance(None, &metric(None), &data, 1.0, 1, alpha);
                let described = judge_metric(&metric(None), &data, DEFAULT_CONFIDENCE);
                let judging = Judging::Sequential { last };
                let j = sequential::decide(&metric(None), &state, described, 1, alpha, judging);
                assert_ne!(j.outcome, Outcome::Pass, "{b:?} vs {c:?}: {}", j.reason);
            }
        }
    }
}

#[test]
fn constant_samples_answer_the_same_every_time() {
    for _ in 0..5 {
        let equal = judge_metric(
            &metric(None),
            &values(&[5.0; 20], &[5.0; 20]),
            DEFAULT_CONFIDENCE,
        );
        assert_eq!(equal.outcome, Outcome::Pass, "{}", equal.reason);
        let higher = judge_metric(
            &metric(None),
            &values(&[5.0; 20], &[6.0; 20]),
            DEFAULT_CONFIDENCE,
        );
        assert_eq!(higher.outcome, Outcome::Fail, "{}", higher.reason);
        assert_eq!(higher.effect, Some(1.2));
    }
}

#[test]
fn too_little_data_is_its_own_answer() {
    let j = judge_metric(
        &metric(None),
        &values(&[1.0, 2.0], &[1.0, 2.0, 3.0]),
        DEFAULT_CONFIDENCE,
    );
    assert_eq!(
        (j.outcome, j.classification),
        (Outcome::Inconclusive, Classification::NoData)
    );
    assert!(
        j.reason
            .contains("baseline 2 and canary 3 samples, at least 5 per side needed"),
        "{}",
        j.reason
    );
    let mut must = metric(None);
    must.must_have_data = true;
    let j = judge_metric(
        &must,
        &MetricData::Missing("no series".into()),
        DEFAULT_CONFIDENCE,
    );
    assert_eq!(j.outcome, Outcome::Fail, "{}", j.reason);
}

#[test]
fn event_rates_are_compared_as_proportions() {
    let counts = |counted, total| Counts { counted, total };
    let mut errors = metric(None);
    errors.allowed_increase = 1.2;
    let worse = MetricData::Events {
        baseline: counts(10, 10_000),
        canary: counts(500, 10_000),
    };
    let j = judge_metric(&errors, &worse, DEFAULT_CONFIDENCE);
    assert_eq!(
        (j.outcome, j.classification),
        (Outcome::Fail, Classification::High),
        "{}",
        j.reason
    );
    assert_eq!(j.effect, Some(50.0));
    let same = MetricData::Events {
        baseline: counts(10, 10_000),
        canary: counts(11, 10_000),
    };
    let j = judge_metric(&errors, &same, DEFAULT_CONFIDENCE);
    assert_eq!(j.outcome, Outcome::Pass, "{}", j.reason);
}

#[test]
fn simulation_bounds_false_fails_and_catches_a_twenty_percent_shift() {
    const RUNS: usize = 1000;
    const N: usize = 500;
    let mut rng = Rng(20261122);
    let m = metric(None);
    let mut false_fails = 0;
    let mut caught = 0;
    for _ in 0..RUNS {
        let baseline: Vec<f64> = (0..N).map(|_| rng.latency()).collect();
        let same: Vec<f64> = (0..N).map(|_| rng.latency()).collect();
        let slower: Vec<f64> = (0..N).map(|_| rng.latency() * 1.2).collect();
        if judge_metric(&m, &values(&baseline, &same), DEFAULT_CONFIDENCE).outcome == Outcome::Fail
        {
            false_fails += 1;
        }
        if judge_metric(&m, &values(&baseline, &slower), DEFAULT_CONFIDENCE).outcome
            == Outcome::Fail
        {
            caught += 1;
        }
    }
    eprintln!("A/A false fails: {false_fails}/{RUNS}; 20% shift caught: {caught}/{RUNS}");
    assert!(
        false_fails < RUNS * 2 / 100,
        "{false_fails} A/A comparisons failed"
    );
    assert!(caught > RUNS * 95 / 100, "only {caught} shifts caught");
}
