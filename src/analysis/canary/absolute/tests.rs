//! Each absolute criterion: fails on evidence, passes when clearly within, and is
//! inconclusive (never pass, never fail) on too little data or on a breach without evidence.
//! The bounds themselves are checked against scipy and statsmodels in
//! `tests/absolute_reference.rs`.

use super::*;
use crate::analysis::canary::{Counts, judge, judge_alone, judge_metric};
use crate::spec::{
    AbsoluteCriteria, CanaryMeasure, CanaryMetric, Counted, Direction, EffectMeasure, QueryTemplate,
};

const ALPHA: f64 = 0.01;
/// A ten-minute window at 1% with the prior dispersion (per-minute rates swinging by a
/// coefficient of variation of 0.5 on each side).
fn level() -> Level {
    Level::new(ALPHA, 10.0)
}

fn metric(events: bool, absolute: AbsoluteCriteria) -> CanaryMetric {
    let q = |text: &str| QueryTemplate::parse(text, false).unwrap();
    CanaryMetric {
        name: if events { "errors" } else { "p95" }.into(),
        measure: if events {
            CanaryMeasure::PrometheusEvents {
                counted: Counted::Bad,
                counted_query: q("sum(errors)"),
                total: q("sum(requests)"),
            }
        } else {
            CanaryMeasure::PrometheusValues {
                query: q("vector(0)"),
            }
        },
        direction: Direction::Increase,
        allowed_increase: 1.2,
        critical_increase: None,
        allowed_decrease: 1.0 / 1.2,
        critical_decrease: None,
        weight: 1.0,
        critical: false,
        must_have_data: false,
        required: true,
        min_samples: None,
        group: None,
        effect: EffectMeasure::Mean,
        absolute,
    }
}

fn max(limit: f64) -> CanaryMetric {
    metric(
        false,
        AbsoluteCriteria {
            max: Some(limit),
            ..Default::default()
        },
    )
}

fn rates(max_rate: Option<f64>, points: Option<f64>) -> CanaryMetric {
    metric(
        true,
        AbsoluteCriteria {
            max_rate,
            max_increase_points: points,
            ..Default::default()
        },
    )
}

fn values(canary: Vec<f64>) -> MetricData {
    MetricData::Values {
        baseline: vec![],
        canary,
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

fn one(metric: &CanaryMetric, data: &MetricData) -> AbsoluteJudgement {
    let mut all = judge_criteria(metric, data, level(), true);
    assert_eq!(all.len(), 1);
    all.remove(0)
}

#[test]
fn max_fails_a_canary_whose_level_is_above_and_says_the_numbers() {
    let j = one(&max(0.5), &values(vec![0.7; 10]));
    assert_eq!(j.outcome, Outcome::Fail, "{}", j.reason);
    assert!(
        j.reason.starts_with(
            "canary p95 at 0.7 (geometric mean of 10 per-minute values) above max 0.5 \
             (lower bound 0.5614 at 99%; z 3.547 vs 2.326, lag-one correlation 0.8)"
        ),
        "{}",
        j.reason
    );
}

#[test]
fn max_passes_a_canary_clearly_within_and_waits_on_a_breach_without_evidence() {
    let within = one(&max(0.5), &values(vec![0.2, 0.25, 0.3, 0.22, 0.28, 0.6]));
    assert_eq!(within.outcome, Outcome::Pass, "{}", within.reason);
    // A level a little above the limit in noisy minutes: no evidence yet.
    let noisy = vec![0.45, 0.6, 0.5, 0.58, 0.44, 0.62, 0.49, 0.55, 0.47, 0.52];
    let unclear = one(&max(0.5), &values(noisy));
    assert_eq!(unclear.outcome, Outcome::Inconclusive, "{}", unclear.reason);
    assert!(
        unclear.reason.contains("not significantly"),
        "{}",
        unclear.reason
    );
}

#[test]
fn max_on_too_few_values_is_inconclusive_however_high_they_are() {
    let j = one(&max(0.5), &values(vec![9.0; 4]));
    assert_eq!(j.outcome, Outcome::Inconclusive);
    assert!(
        j.reason.starts_with("too little data: canary 4 values"),
        "{}",
        j.reason
    );
    let j = one(&max(0.5), &values(vec![]));
    assert_eq!(j.outcome, Outcome::Inconclusive);
    let j = one(&max(0.5), &MetricData::Missing("Prometheus down".into()));
    assert_eq!(j.outcome, Outcome::Inconclusive);
    assert!(j.reason.contains("Prometheus down"));
}

#[test]
fn max_rate_fails_on_evidence_passes_within_and_needs_the_traffic_to_show_it() {
    let m = rates(Some(0.005), None);
    let bad = one(&m, &events((0, 0), (30, 2000)));
    assert_eq!(bad.outcome, Outcome::Fail, "{}", bad.reason);
    assert!(
        bad.reason
            .contains("canary errors at 1.5% (30 of 2000) above max_rate 0.5%")
    );
    let good = one(&m, &events((0, 0), (12, 12000)));
    assert_eq!(good.outcome, Outcome::Pass, "{}", good.reason);
    // 6 of 1000 (0.6%) looks above 0.5% without evidence.
    let unclear = one(&m, &events((0, 0), (6, 1000)));
    assert_eq!(unclear.outcome, Outcome::Inconclusive, "{}", unclear.reason);
    // 0 of 1000: even a perfect canary cannot show a rate under 0.5% at 99% on fewer than
    // ln(0.01)/ln(0.995) = 918.7 tempered events, 1039 events over ten minutes.
    assert_eq!(events_to_show_rate(0.005, level()), 1039);
    let few = one(&m, &events((0, 0), (0, 1000)));
    assert_eq!(few.outcome, Outcome::Inconclusive, "{}", few.reason);
    assert!(
        few.reason.contains("at least 1039 needed"),
        "{}",
        few.reason
    );
    let enough = one(&m, &events((0, 0), (0, 1039)));
    assert_eq!(enough.outcome, Outcome::Pass, "{}", enough.reason);
    // A minute of traffic cannot show 0.05% whatever the rate of requests.
    let short = Level::new(ALPHA, 1.0);
    assert_eq!(events_to_show_rate(0.0005, short), u64::MAX);
}

#[test]
fn max_increase_points_fails_on_evidence_and_not_on_a_small_sample() {
    let m = rates(None, Some(0.1));
    let bad = one(&m, &events((12, 12000), (260, 12000)));
    assert_eq!(bad.outcome, Outcome::Fail, "{}", bad.reason);
    assert!(bad.reason.contains("+2.067 points"), "{}", bad.reason);
    // More overdispersion (as the rate-ratio test may estimate it) widens the bound.
    let calm = judge_criteria(&m, &events((12, 12000), (60, 12000)), level(), true);
    let wild = Level {
        dispersion: 4.0,
        ..level()
    };
    let wild = judge_criteria(&m, &events((12, 12000), (60, 12000)), wild, true);
    assert!(wild[0].interval.unwrap()[0] < calm[0].interval.unwrap()[0]);
    let same = one(&m, &events((12, 12000), (13, 12000)));
    assert_eq!(same.outcome, Outcome::Pass, "{}", same.reason);
    // +4 points on 50 events a side: too little traffic, whatever it looks like.
    let few = one(&m, &events((0, 50), (2, 50)));
    assert_eq!(few.outcome, Outcome::Inconclusive, "{}", few.reason);
    // +0.5 points on 1000 a side: looks above, not evidence.
    let unclear = one(&m, &events((5, 1000), (10, 1000)));
    assert_eq!(unclear.outcome, Outcome::Inconclusive, "{}", unclear.reason);
    // A preview has no baseline: the criterion is not judged.
    assert!(judge_criteria(&m, &events((0, 0), (1, 1000)), level(), false).is_empty());
}

#[test]
fn alpha_spent_over_looks_sums_to_alpha() {
    let spent: f64 = (1..=100_000).map(|k| look_level(ALPHA, k)).sum();
    assert!(spent < ALPHA && spent > 0.999 * ALPHA, "{spent}");
    assert_eq!(look_level(ALPHA, 1), ALPHA / 2.0);
}

#[test]
fn a_breached_limit_fails_the_verdict_whatever_the_score_and_a_preview_is_judged_on_limits() {
    let m = rates(Some(0.005), Some(0.1));
    let data = events((30, 2000), (30, 2000));
    let mut judged = judge_metric(&m, &data, 0.98);
    judged.absolute = judge_criteria(&m, &data, level(), true);
    let verdict = judge(vec![judged.clone()], 95.0, 75.0);
    assert_eq!(verdict.outcome, Outcome::Fail, "{}", verdict.summary);
    let names: Vec<&str> = verdict.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["errors", "errors:max_rate", "errors:max_increase_points"]
    );
    assert!(
        verdict.summary.contains("errors:max_rate"),
        "{}",
        verdict.summary
    );

    let alone = judge_alone(&[judged]);
    assert_eq!(alone.outcome, Outcome::Fail, "{}", alone.summary);
    assert!(
        alone
            .summary
            .starts_with("preview beyond its limits: errors:max_rate")
    );
    // Only the criteria are checks of a preview (max_increase_points was not judged there).
    let mut within = judge_metric(&m, &events((0, 0), (2, 2000)), 0.98);
    within.absolute = judge_criteria(&m, &events((0, 0), (2, 2000)), level(), false);
    let alone = judge_alone(&[within]);
    assert_eq!(alone.outcome, Outcome::Pass, "{}", alone.summary);
    assert_eq!(alone.metrics.len(), 1);
}

#[test]
fn a_breach_found_at_a_look_stays_at_later_looks_and_says_since_when() {
    let metric = max(0.5);
    let mut breaches = Vec::new();
    let mut clean = vec![one(&metric, &values(vec![0.2; 10]))];
    remember_breaches(&mut clean, &mut breaches, 1);
    assert_eq!(clean[0].outcome, Outcome::Pass);
    assert!(breaches.is_empty());

    let mut burst = vec![one(&metric, &values(vec![2.0; 10]))];
    assert_eq!(burst[0].outcome, Outcome::Fail, "{}", burst[0].reason);
    remember_breaches(&mut burst, &mut breaches, 2);
    assert_eq!(breaches.len(), 1);
    assert_eq!(
        (breaches[0].criterion.as_str(), breaches[0].look),
        ("max", 2)
    );

    // The burst is over: this look alone passes, the analysis stays failed.
    let mut after = vec![one(&metric, &values(vec![0.2; 10]))];
    assert_eq!(after[0].outcome, Outcome::Pass);
    remember_breaches(&mut after, &mut breaches, 3);
    assert_eq!(after[0].outcome, Outcome::Fail);
    assert_eq!(after[0].classification, Classification::High);
    assert!(
        after[0]
            .reason
            .starts_with("beyond its limit since look 2: "),
        "{}",
        after[0].reason
    );
    assert_eq!(breaches.len(), 1, "a breach is kept once");
}
