//! Tests of the running state and the decision of each look.

use super::*;
use crate::analysis::canary::{Counts, judge_metric};
use crate::spec::{EffectMeasure, QueryTemplate};

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
        min_samples: None,
        group: None,
        effect: EffectMeasure::Mean,
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
    for look in 1..=3 {
        state = Some(advance(
            state,
            &m,
            &events((10, 1000), (40, 1000)),
            look,
            0.01,
        ));
    }
    let state = state.unwrap();
    let first = state.rejected.clone().expect("rejected");
    let fixed = judge_metric(&m, &events((30, 3000), (120, 3000)), 0.98);
    let j = decide(&m, &state, fixed, 3, 0.01);
    assert_eq!(j.outcome, Outcome::Fail, "{}", j.reason);
    assert!(j.critical_failure);
    assert!(
        j.reason.starts_with(
            "canary error rate (error-rate) exceeds baseline by more than 20% with \
             anytime-valid confidence 99% after "
        ),
        "{}",
        j.reason
    );
    let evidence = j.sequential.unwrap();
    assert_eq!(evidence.look, 3);
    assert_eq!(evidence.rejected_at, Some(first.look));
    assert!(evidence.e_value >= 100.0);
}

#[test]
fn a_fixed_horizon_fail_without_sequential_evidence_is_inconclusive() {
    let m = errors_metric(1.0);
    let state = advance(None, &m, &events((10, 1000), (19, 1000)), 1, 0.01);
    assert!(state.rejected.is_none());
    let mut fixed = judge_metric(&m, &events((10, 1000), (19, 1000)), 0.98);
    fixed.outcome = Outcome::Fail;
    let j = decide(&m, &state, fixed, 1, 0.01);
    assert_eq!(j.outcome, Outcome::Inconclusive, "{}", j.reason);
    assert!(!j.critical_failure);
    assert!(j.reason.contains("not conclusive yet"), "{}", j.reason);
}

#[test]
fn a_pass_needs_the_fixed_judge_to_pass_with_enough_data() {
    let m = errors_metric(1.0);
    let state = advance(None, &m, &events((1, 50), (1, 50)), 1, 0.01);
    let fixed = judge_metric(&m, &events((1, 50), (1, 50)), 0.98);
    let j = decide(&m, &state, fixed, 1, 0.01);
    assert_eq!(j.outcome, Outcome::Inconclusive, "{}", j.reason);
    assert!(j.reason.contains("too little traffic"), "{}", j.reason);
    let state = advance(None, &m, &events((10, 1000), (10, 1000)), 1, 0.01);
    let fixed = judge_metric(&m, &events((10, 1000), (10, 1000)), 0.98);
    let j = decide(&m, &state, fixed, 1, 0.01);
    assert_eq!(j.outcome, Outcome::Pass, "{}", j.reason);
    assert!(
        j.reason.starts_with("no anytime-valid evidence"),
        "{}",
        j.reason
    );
}

#[test]
fn a_rejection_is_final_even_when_later_looks_look_fine() {
    let m = errors_metric(1.0);
    let mut s = advance(None, &m, &events((5, 1000), (80, 1000)), 1, 0.01);
    for look in 2..=10 {
        s = advance(Some(s), &m, &events((10, 1000), (10, 1000)), look, 0.01);
    }
    assert_eq!(s.rejected.as_ref().map(|r| r.look), Some(1));
    let j = decide(
        &m,
        &s,
        judge_metric(&m, &events((10, 1000), (10, 1000)), 0.98),
        10,
        0.01,
    );
    assert_eq!(j.outcome, Outcome::Fail, "{}", j.reason);
    assert!(
        j.reason.contains("rejected at look 1 of 10"),
        "{}",
        j.reason
    );
}

#[test]
fn a_changed_tolerance_starts_the_test_again() {
    let m = errors_metric(1.0);
    let s = advance(None, &m, &events((10, 1000), (30, 1000)), 1, 0.01);
    let looser = errors_metric(1.5);
    let s = advance(Some(s), &looser, &events((10, 1000), (10, 1000)), 2, 0.01);
    assert_eq!(s.looks, 1);
    assert_eq!(s.canary.counted, 10);
}

#[test]
fn values_use_the_sign_test_and_the_state_round_trips_through_json() {
    let mut m = errors_metric(1.0);
    m.measure = CanaryMeasure::PrometheusValues {
        query: QueryTemplate::parse("vector(0)", false).unwrap(),
    };
    m.direction = Direction::Either;
    let data = MetricData::Values {
        baseline: vec![1.0; 20],
        canary: vec![2.0; 20],
    };
    let s = advance(None, &m, &data, 1, 0.01);
    assert_eq!(s.tests.len(), 2);
    assert_eq!(s.rejected.as_ref().map(|r| r.worse), Some(Worse::Higher));
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
