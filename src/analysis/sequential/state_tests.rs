//! Tests of the running state and the decision of each look.

use super::*;
use crate::analysis::canary::{Counts, judge_metric};
use crate::analysis::sequential::{Judging, decide};
use crate::spec::{EffectMeasure, QueryTemplate};
use crate::verdict::Outcome;

const SEQUENTIAL: Judging = Judging::Sequential { last: false };
const LAST: Judging = Judging::Sequential { last: true };

fn errors_metric(allowed_increase: f64) -> CanaryMetric {
    CanaryMetric {
        name: "error-rate".into(),
        measure: CanaryMeasure::TraceErrors { operation: None },
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

fn events(b: (u64, u64), c: (u64, u64)) -> MetricData {
    MetricData::Events {
        baseline: Counts {
            counted: b.0,
            total: b.1,
        },
        canary: Counts {
            counted: c.0,
            total: c.1,
        },
    }
}

#[test]
fn a_clear_regression_fails_with_the_look_the_e_value_and_the_tolerance_in_words() {
    let m = errors_metric(1.2);
    let mut state = None;
    for look in 1..=8 {
        state = Some(advance(
            state,
            &m,
            &events((10, 1000), (40, 1000)),
            1.0,
            look,
            0.01,
        ));
    }
    let state = state.unwrap();
    let first = state.rejected.clone().expect("rejected");
    let fixed = judge_metric(&m, &events((10, 1000), (40, 1000)), 0.98);
    let j = decide(&m, &state, fixed, 8, 0.01, SEQUENTIAL);
    assert_eq!(j.outcome, Outcome::Fail, "{}", j.reason);
    assert!(j.critical_failure);
    assert!(
        j.reason.starts_with(
            "canary error rate (error-rate) exceeds baseline by more than 20% with \
             anytime-valid confidence 99% (e-value "
        ),
        "{}",
        j.reason
    );
    let evidence = j.sequential.unwrap();
    assert_eq!(evidence.look, 8);
    assert_eq!(evidence.rejected_at, Some(first.look));
    assert!(evidence.e_value >= 100.0);
}

#[test]
fn a_canary_that_only_looks_worse_passes_and_says_so() {
    // 19 errors against 10: worse than the 1.2x tolerance by its point estimate, without
    // evidence at this traffic. Not a reason to stop the rollout and call a person.
    let m = errors_metric(1.2);
    let data = events((10, 1000), (19, 1000));
    let state = advance(None, &m, &data, 1.0, 1, 0.01);
    assert!(state.rejected.is_none());
    let j = decide(
        &m,
        &state,
        judge_metric(&m, &data, 0.98),
        1,
        0.01,
        SEQUENTIAL,
    );
    assert_eq!(j.outcome, Outcome::Pass, "{}", j.reason);
    assert!(
        j.reason
            .starts_with("no evidence of a regression beyond tolerance (e-value "),
        "{}",
        j.reason
    );
    assert!(
        j.reason.contains("canary rate 1.9% (19 of 1000)"),
        "{}",
        j.reason
    );
}

#[test]
fn contradictory_evidence_at_the_last_look_is_inconclusive() {
    // Ten-minute looks of 1.5x the errors at a tolerance of 1.2: the test of all the data at
    // once rejects a few looks before the anytime-valid test does. Between the two, the last
    // look of an analysis is inconclusive (a person must look); any other look passes.
    let m = errors_metric(1.2);
    let data = events((100, 10_000), (150, 10_000));
    let mut s = None;
    let mut between = None;
    for look in 1..=30 {
        let next = advance(s, &m, &data, 10.0, look, 0.01);
        if next.rejected.is_none() && next.tests[0].fixed_z() >= 2.33 {
            between = Some((next.clone(), look));
            break;
        }
        s = Some(next);
    }
    let (s, look) = between.expect("a look where only the fixed-horizon test rejects");
    let j = decide(&m, &s, judge_metric(&m, &data, 0.98), look, 0.01, LAST);
    assert_eq!(j.outcome, Outcome::Inconclusive, "{}", j.reason);
    assert!(
        j.reason.starts_with("contradictory evidence"),
        "{}",
        j.reason
    );
    let j = decide(
        &m,
        &s,
        judge_metric(&m, &data, 0.98),
        look,
        0.01,
        SEQUENTIAL,
    );
    assert_eq!(j.outcome, Outcome::Pass, "{}", j.reason);
}

#[test]
fn too_little_data_is_inconclusive_and_says_how_much_is_needed() {
    let m = errors_metric(1.2);
    let state = advance(None, &m, &events((1, 50), (1, 50)), 1.0, 1, 0.01);
    let j = decide(
        &m,
        &state,
        judge_metric(&m, &events((1, 50), (1, 50)), 0.98),
        1,
        0.01,
        SEQUENTIAL,
    );
    assert_eq!(j.outcome, Outcome::Inconclusive, "{}", j.reason);
    assert!(j.reason.contains("too little traffic"), "{}", j.reason);
}

#[test]
fn a_rejection_is_final_even_when_later_looks_look_fine() {
    let m = errors_metric(1.0);
    // A ten-minute first look with sixteen times the errors.
    let mut s = advance(
        None,
        &m,
        &events((50, 10_000), (800, 10_000)),
        10.0,
        1,
        0.01,
    );
    for look in 2..=10 {
        s = advance(
            Some(s),
            &m,
            &events((10, 1000), (10, 1000)),
            1.0,
            look,
            0.01,
        );
    }
    assert_eq!(s.rejected.as_ref().map(|r| r.look), Some(1));
    let j = decide(
        &m,
        &s,
        judge_metric(&m, &events((10, 1000), (10, 1000)), 0.98),
        10,
        0.01,
        SEQUENTIAL,
    );
    assert_eq!(j.outcome, Outcome::Fail, "{}", j.reason);
    assert!(j.reason.contains("rejected at look 1"), "{}", j.reason);
}

#[test]
fn a_changed_tolerance_starts_the_test_again() {
    let m = errors_metric(1.0);
    let s = advance(None, &m, &events((10, 1000), (30, 1000)), 1.0, 1, 0.01);
    let looser = errors_metric(1.5);
    let s = advance(
        Some(s),
        &looser,
        &events((10, 1000), (10, 1000)),
        1.0,
        2,
        0.01,
    );
    assert_eq!(s.looks, 1);
    assert_eq!(s.canary.counted, 10);
}

#[test]
fn values_use_the_shift_test_and_the_state_round_trips_through_json() {
    let mut m = errors_metric(1.0);
    m.measure = CanaryMeasure::PrometheusValues {
        query: QueryTemplate::parse("vector(0)", false).unwrap(),
    };
    m.direction = Direction::Either;
    let baseline: Vec<f64> = (0..20).map(|i| 1.0 + 0.01 * (i % 4) as f64).collect();
    let data = MetricData::Values {
        canary: baseline.iter().map(|b| 2.0 * b).collect(),
        baseline,
    };
    let s = advance(None, &m, &data, 1.0, 1, 0.01);
    assert_eq!(s.tests.len(), 2);
    assert_eq!(s.rejected.as_ref().map(|r| r.worse), Some(Worse::Higher));
    assert!(matches!(s.tests[0], Test::Shift(_)));
    let state = AnalysisState {
        looks: 1,
        first_start: 0,
        last_end: 600,
        metrics: vec![s],
    };
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<AnalysisState>(&json).unwrap(), state);
}

#[test]
fn the_next_window_starts_at_the_last_end_and_needs_a_minute() {
    let mut s = AnalysisState::new();
    assert_eq!(s.next_window(0, 600), Some((0, 600)));
    s.looks = 1;
    s.last_end = 600;
    assert_eq!(s.next_window(60, 630), None);
    assert_eq!(s.next_window(60, 660), Some((600, 660)));
    assert_eq!(s.next_window(1200, 1800), Some((1200, 1800)));
    assert_eq!(s.next_window(0, 500), None);
}

#[test]
fn a_stored_sign_test_reads_back_and_its_metric_starts_again() {
    let mut m = errors_metric(1.0);
    m.measure = CanaryMeasure::PrometheusValues {
        query: QueryTemplate::parse("vector(0)", false).unwrap(),
    };
    let old: MetricState = serde_json::from_value(serde_json::json!({
        "name": "error-rate", "looks": 3,
        "tests": [{"test": "signs", "tolerance": 1.0, "worse": "higher", "wins": 9, "losses": 1}],
        "baseline": {"counted": 0, "total": 30}, "canary": {"counted": 0, "total": 30},
        "rejected": null
    }))
    .unwrap();
    let data = MetricData::Values {
        baseline: vec![1.0; 5],
        canary: vec![1.0; 5],
    };
    let s = advance(Some(old), &m, &data, 1.0, 4, 0.01);
    assert_eq!(s.looks, 1);
    assert!(matches!(s.tests[0], Test::Shift(_)));
}
