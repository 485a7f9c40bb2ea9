//! The bounds behind the absolute criteria of canary metrics (`analysis::stats::binomial`)
//! checked against scipy and statsmodels on fixed cases, and the criteria's decisions checked
//! to follow those bounds.
//!
//! Reference values: `tests/data/stats/absolute_reference.json`, written by
//! `tests/data/stats/absolute.py` (scipy 1.17.1, statsmodels 0.15.0; how to run it is in its
//! doc). Tolerances: binomial tails 1e-9 relative (statrs' incomplete beta against scipy's
//! `bdtr`); Clopper-Pearson bounds 1e-9 relative (found by bisection to the spacing of doubles
//! on that incomplete beta); order statistics equal; Newcombe bounds 1e-9 relative (closed
//! form through the normal quantile).

use serde_json::Value;
use slogate::analysis::canary::absolute::{Criterion, judge_criteria};
use slogate::analysis::canary::{Counts, MetricData};
use slogate::analysis::stats::{
    binomial_upper_tail, clopper_pearson, median_bounds, newcombe_difference,
};
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
            binomial_upper_tail(k, n, p),
            expected,
        );
    }
}

#[test]
fn clopper_pearson_bounds_match_scipy_exact_intervals() {
    for c in reference()["clopper_pearson"].as_array().unwrap() {
        let (k, n, alpha) = (int(&c["k"]), int(&c["n"]), num(&c["alpha"]).unwrap());
        let [lower, upper] = clopper_pearson(k, n, alpha).unwrap();
        close(&format!("lower {k}/{n}"), lower, num(&c["lower"]).unwrap());
        close(&format!("upper {k}/{n}"), upper, num(&c["upper"]).unwrap());
    }
}

#[test]
fn median_bounds_and_the_sign_test_match_scipy_quantile_test() {
    for c in reference()["median"].as_array().unwrap() {
        let mut x: Vec<f64> = c["x"].as_array().unwrap().iter().filter_map(num).collect();
        let (q, alpha) = (num(&c["q"]).unwrap(), num(&c["alpha"]).unwrap());
        x.sort_by(f64::total_cmp);
        let [lower, upper] = median_bounds(&x, alpha);
        assert_eq!(lower, num(&c["lower"]), "{c}");
        assert_eq!(upper, num(&c["upper"]), "{c}");
        let above = x.iter().filter(|v| **v > q).count() as u64;
        close(
            "sign test",
            binomial_upper_tail(above, x.len() as u64, 0.5),
            num(&c["p_value"]).unwrap(),
        );
    }
}

#[test]
fn newcombe_bounds_match_statsmodels() {
    for c in reference()["newcombe"].as_array().unwrap() {
        let (k1, n1, k2, n2) = (int(&c["k1"]), int(&c["n1"]), int(&c["k2"]), int(&c["n2"]));
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

/// The reference cases whose bounds decide: `max_rate` fails exactly when scipy's lower
/// bound is above the limit, `max_increase_points` when statsmodels' is, `max` when scipy's
/// quantile test rejects, and the reasons quote the reference numbers.
#[test]
fn the_criteria_decide_by_the_reference_bounds() {
    let r = reference();
    // 30 of 2000 against max_rate 0.5% at 1%: lower bound 0.9395% > 0.5%.
    let c = &r["clopper_pearson"][0];
    let m = metric(
        true,
        AbsoluteCriteria {
            max_rate: Some(0.005),
            ..Default::default()
        },
    );
    let data = MetricData::Events {
        baseline: Counts {
            counted: 0,
            total: 0,
        },
        canary: Counts {
            counted: 30,
            total: 2000,
        },
    };
    let j = &judge_criteria(&m, &data, 0.01, false)[0];
    assert_eq!(
        (j.criterion, j.outcome),
        (Criterion::MaxRate, Outcome::Fail)
    );
    close("lower", j.interval.unwrap()[0], num(&c["lower"]).unwrap());
    assert!(j.reason.contains("lower bound 0.9395%"), "{}", j.reason);

    // 260 vs 12 of 12000 against +0.1 points: lower bound 1.76 points.
    let c = &r["newcombe"][5];
    let m = metric(
        true,
        AbsoluteCriteria {
            max_increase_points: Some(0.1),
            ..Default::default()
        },
    );
    let data = MetricData::Events {
        baseline: Counts {
            counted: 12,
            total: 12000,
        },
        canary: Counts {
            counted: 260,
            total: 12000,
        },
    };
    let j = &judge_criteria(&m, &data, 0.01, true)[0];
    assert_eq!(j.outcome, Outcome::Fail, "{}", j.reason);
    close(
        "lower points",
        j.interval.unwrap()[0],
        num(&c["lower"]).unwrap() * 100.0,
    );
    // Equal rates: within, with the reference's upper bound.
    let c = &r["newcombe"][1];
    let data = MetricData::Events {
        baseline: Counts {
            counted: 12,
            total: 12000,
        },
        canary: Counts {
            counted: 12,
            total: 12000,
        },
    };
    let j = &judge_criteria(&m, &data, 0.01, true)[0];
    assert_eq!(j.outcome, Outcome::Pass, "{}", j.reason);
    close(
        "upper points",
        j.interval.unwrap()[1],
        num(&c["upper"]).unwrap() * 100.0,
    );

    // max 0.5 on ten values: 9 above (p 0.0107) is not evidence at 1%, 10 above is.
    let m = metric(
        false,
        AbsoluteCriteria {
            max: Some(0.5),
            ..Default::default()
        },
    );
    for (case, expected) in [
        (0, Outcome::Inconclusive),
        (1, Outcome::Fail),
        (2, Outcome::Pass),
    ] {
        let c = &r["median"][case];
        let canary: Vec<f64> = c["x"].as_array().unwrap().iter().filter_map(num).collect();
        let data = MetricData::Values {
            baseline: vec![],
            canary,
        };
        let j = &judge_criteria(&m, &data, 0.01, false)[0];
        assert_eq!(j.outcome, expected, "case {case}: {}", j.reason);
        close("sign test", j.p_value.unwrap(), num(&c["p_value"]).unwrap());
    }
}
