//! The bounds behind the absolute criteria of canary metrics (`analysis::stats::binomial`)
//! checked against scipy and statsmodels on fixed cases, and the criteria's decisions checked
//! to follow those bounds.
//!
//! Reference values: `tests/data/stats/absolute_reference.json`, written by
//! `tests/data/stats/absolute.py` (scipy 1.17.1, statsmodels 0.15.0; how to run it is in its
//! doc). Tolerances, all relative: 1e-9 for binomial tails (statrs' incomplete beta against
//! scipy's), Clopper-Pearson bounds on whole and tempered counts (bisection to the spacing of
//! doubles on that incomplete beta), Newcombe bounds (closed form through the normal
//! quantile), and the level test of `max` (closed form; scipy's `norm.isf` against statrs).

use serde_json::Value;
use slogate::analysis::canary::absolute::{Criterion, Level, judge_criteria};
use slogate::analysis::canary::{Counts, MetricData};
use slogate::analysis::stats::{binomial_upper_tail, clopper_pearson, newcombe_difference};
use slogate::spec::{
    AbsoluteCriteria, CanaryMeasure, CanaryMetric, Counted, Direction, EffectMeasure, QueryTemplate,
};
use slogate::verdict::Outcome;

const REFERENCE: &str = include_str!("data/stats/absolute_reference.json");
const TOLERANCE: f64 = 1e-9;

fn reference() -> Value {
    serde_json::from_str(REFERENCE).unwrap()
}

fn num(v: &Value) -> Option<f64> {
    v.as_str().map(|s| s.parse().unwrap())
}

fn close(what: &str, actual: f64, expected: f64) {
    let scale = expected.abs().max(1e-300);
    assert!(
        (actual - expected).abs() / scale <= TOLERANCE || (actual - expected).abs() < 1e-15,
        "{what}: {actual} vs reference {expected}"
    );
}

fn int(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[test]
fn binomial_tails_match_scipy_binomtest() {
    let cases = reference()["binomial"].as_array().unwrap().clone();
    assert!(cases.len() >= 10);
    for c in cases {
        let (k, n, p) = (int(&c["k"]), int(&c["n"]), num(&c["p"]).unwrap());
        let expected = num(&c["p_value"]).unwrap();
        close(
            &format!("P(X >= {k}), n {n}, p {p}"),
            binomial_upper_tail(k as f64, n as f64, p),
            expected,
        );
    }
}

#[test]
fn clopper_pearson_bounds_match_scipy_exact_intervals() {
    for c in reference()["clopper_pearson"].as_array().unwrap() {
        let (k, n, alpha) = (int(&c["k"]), int(&c["n"]), num(&c["alpha"]).unwrap());
        let [lower, upper] = clopper_pearson(k as f64, n as f64, alpha).unwrap();
        close(&format!("lower {k}/{n}"), lower, num(&c["lower"]).unwrap());
        close(&format!("upper {k}/{n}"), upper, num(&c["upper"]).unwrap());
    }
}

#[test]
fn newcombe_bounds_match_statsmodels() {
    for c in reference()["newcombe"].as_array().unwrap() {
        let count = |key: &str| c[key].as_f64().unwrap();
        let (k1, n1, k2, n2) = (count("k1"), count("n1"), count("k2"), count("n2"));
        let alpha = num(&c["alpha"]).unwrap();
        let [lower, upper] = newcombe_difference(k1, n1, k2, n2, alpha).unwrap();
        close(&format!("lower {c}"), lower, num(&c["lower"]).unwrap());
        close(&format!("upper {c}"), upper, num(&c["upper"]).unwrap());
    }
}

fn metric(events: bool, absolute: AbsoluteCriteria) -> CanaryMetric {
    let q = |text: &str| QueryTemplate::parse(text, false).unwrap();
    CanaryMetric {
        name: "m".into(),
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

fn events(baseline: (u64, u64), canary: (u64, u64)) -> MetricData {
    MetricData::Events {
        baseline: Counts {
            counted: baseline.0,
            total: baseline.1,
        },
        canary: Counts {
            counted: canary.0,
            total: canary.1,
        },
    }
}

/// `max_rate` on tempered counts: the bounds, the tail and the decision of each case follow
/// scipy's incomplete beta.
#[test]
fn max_rate_on_tempered_counts_matches_scipy() {
    for c in reference()["tempered"].as_array().unwrap() {
        let (k, n) = (int(&c["k"]), int(&c["n"]));
        let p0 = num(&c["p0"]).unwrap();
        let level = Level {
            alpha: num(&c["alpha"]).unwrap(),
            minutes: num(&c["minutes"]).unwrap(),
            dispersion: num(&c["dispersion"]).unwrap(),
        };
        let m = metric(
            true,
            AbsoluteCriteria {
                max_rate: Some(p0),
                ..Default::default()
            },
        );
        let j = &judge_criteria(&m, &events((0, 0), (k, n)), level, false)[0];
        let what = format!("{k} of {n} at {p0}: {}", j.reason);
        let [lower, upper] = j.interval.expect(&what);
        close(&format!("lower, {what}"), lower, num(&c["lower"]).unwrap());
        close(&format!("upper, {what}"), upper, num(&c["upper"]).unwrap());
        close(&what, j.p_value.unwrap(), num(&c["p_value"]).unwrap());
        let phi = num(&c["phi"]).unwrap();
        assert!(
            j.reason.contains(&format!("tempered by {}", short(phi))),
            "{what}"
        );
        let expected = if lower > p0 {
            Outcome::Fail
        } else if (k as f64) / (n as f64) > p0 {
            Outcome::Inconclusive
        } else {
            Outcome::Pass
        };
        assert_eq!(j.outcome, expected, "{what}");
    }
}

/// `max` on per-minute values: z and the bounds of the level as the formula gives them in
/// numpy; fails exactly when the lower bound is above the limit.
#[test]
fn max_on_per_minute_values_matches_the_level_test_written_out_in_numpy() {
    for c in reference()["level"].as_array().unwrap() {
        let x: Vec<f64> = c["x"].as_array().unwrap().iter().filter_map(num).collect();
        let limit = num(&c["max"]).unwrap();
        let alpha = num(&c["alpha"]).unwrap();
        let m = metric(
            false,
            AbsoluteCriteria {
                max: Some(limit),
                ..Default::default()
            },
        );
        let data = MetricData::Values {
            baseline: vec![],
            canary: x.clone(),
        };
        let j = &judge_criteria(&m, &data, Level::new(alpha, x.len() as f64), false)[0];
        assert_eq!(j.criterion, Criterion::Max);
        let [lower, upper] = j.interval.unwrap();
        close(&format!("lower {x:?}"), lower, num(&c["lower"]).unwrap());
        close(&format!("upper {x:?}"), upper, num(&c["upper"]).unwrap());
        let geometric = (x.iter().map(|v| v.ln()).sum::<f64>() / x.len() as f64).exp();
        let expected = if lower > limit {
            Outcome::Fail
        } else if geometric > limit {
            Outcome::Inconclusive
        } else {
            Outcome::Pass
        };
        assert_eq!(j.outcome, expected, "{x:?}: {}", j.reason);
        assert!(
            j.reason
                .contains(&format!("z {}", short(num(&c["z"]).unwrap()))),
            "{}",
            j.reason
        );
    }
}

/// `max_increase_points` on tempered counts: statsmodels' Newcombe bounds of the tempered
/// (fractional) counts, in points.
#[test]
fn max_increase_points_bounds_the_tempered_difference_as_statsmodels_does() {
    let r = reference();
    let c = r["newcombe"].as_array().unwrap().last().unwrap();
    // 480 vs 48 errors of 48205 requests a side over ten minutes tempers to the case's
    // fractional counts exactly when phi is 10: check the tempering in between by hand.
    let m = metric(
        true,
        AbsoluteCriteria {
            max_increase_points: Some(0.1),
            ..Default::default()
        },
    );
    let pooled: f64 = (482.0 + 48.0) / (2.0 * 48205.0);
    let c2 = (0.446f64 / 2.0).exp_m1();
    let dispersion_for_ten = {
        // phi = 1 + n p c2' / (L (1 - p)) = 10  =>  c2' = 9 L (1 - p) / (n p).
        let wanted = 9.0 * 10.0 * (1.0 - pooled) / (48205.0 * pooled);
        2.0 * (wanted).ln_1p()
    };
    assert!(dispersion_for_ten > 0.0 && c2 > 0.0);
    let level = Level {
        alpha: num(&c["alpha"]).unwrap(),
        minutes: 10.0,
        dispersion: dispersion_for_ten,
    };
    let j = &judge_criteria(&m, &events((48, 48205), (482, 48205)), level, true)[0];
    let [lower, upper] = j.interval.unwrap();
    close("lower", lower, num(&c["lower"]).unwrap() * 100.0);
    close("upper", upper, num(&c["upper"]).unwrap() * 100.0);
    assert_eq!(j.outcome, Outcome::Fail, "{}", j.reason);
}

/// The number as `numfmt::sig` writes it in a reason (4 significant digits).
fn short(x: f64) -> String {
    let text = format!(
        "{:.*}",
        (3 - x.abs().log10().floor() as i32).max(0) as usize,
        x
    );
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}
