//! `analysis::stats` checked against independent references on fixed data.
//!
//! The reference values are committed in `tests/data/stats/` with the scripts that produced
//! them (CI runs neither R nor Python):
//! - `r_reference.json` from `reference.R` (base R 4.2.2: `wilcox.test`, `prop.test`): R's W,
//!   p-values two-sided / less / greater with R's default choice of exact or normal
//!   approximation, the location shift and its interval at 95% and 98%
//!   (`conf.int = TRUE, exact = FALSE, correct = TRUE`), and prop.test's p-value and interval;
//! - `scipy_reference.json` from `reference.py` (scipy 1.17.1): `mannwhitneyu(method =
//!   "asymptotic", use_continuity = True)` and the Katz interval of `relative_risk`.
//!
//! Tolerances:
//! - W and U: equal (they are half-integers, exact in a double).
//! - p-values, difference intervals, risk ratios and their intervals (closed forms): 1e-9
//!   relative. The remaining differences come from the normal distribution function (statrs'
//!   `erfc` is good to about 1e-10 relative; R's `pnorm` and scipy's `ndtr` to about 1e-16).
//! - Exact interval ends (`LocationShift::interval`): equal to the pairwise differences R's
//!   script finds by listing every difference and evaluating `wilcox.test`'s statistic between
//!   neighbours, and within 1e-4 (plus rounding) of the bounds R prints.
//! - Location shift and R's printed bounds (`LocationShift::root_interval`): 1e-6 relative to the larger of |value| and 1. R finds them
//!   with `uniroot(tol = 1e-4)` on a step function, so R's answer is only within 1e-4 of the
//!   jump it brackets; but slogate steps through the very same Brent iterations on the very
//!   same statistic, so it lands on R's point, not merely near it. 1e-6 leaves room only for
//!   rounding in the normal quantile, and would catch any departure from R's path (which moves
//!   the answer by up to 1e-4 or, on a flat stretch of the statistic, much more).

use serde_json::Value;
use slogate::analysis::stats::{Alternative, location_shift, rank_sum_test, two_proportions};

const R_REFERENCE: &str = include_str!("data/stats/r_reference.json");
const SCIPY_REFERENCE: &str = include_str!("data/stats/scipy_reference.json");

const CLOSED_FORM: f64 = 1e-9;
const ROOT_FINDING: f64 = 1e-6;

const ALTERNATIVES: [(&str, Alternative); 3] = [
    ("two_sided", Alternative::TwoSided),
    ("less", Alternative::Less),
    ("greater", Alternative::Greater),
];

fn reference(text: &str) -> Value {
    serde_json::from_str(text).expect("reference JSON parses")
}

/// A sample: written out, or the generator spec that reference.R and reference.py expand the
/// same way (only IEEE products, sums and floor, so every language gets the same doubles).
fn sample(spec: &Value) -> Vec<f64> {
    if let Some(values) = spec.as_array() {
        return values.iter().map(|v| number(v, "sample value")).collect();
    }
    let g = &spec["gen"];
    let field = |k: &str| number(&g[k], "generator field");
    let (alpha, offset, scale, power) = (
        field("alpha"),
        field("offset"),
        field("scale"),
        field("power"),
    );
    (1..=field("n") as u32)
        .map(|i| {
            let t = f64::from(i) * alpha;
            let u = t - t.floor();
            let v = match power as u32 {
                1 => u,
                2 => u * u,
                _ => (u * u) * u,
            };
            let v = offset + scale * v;
            if g["floor"].as_bool() == Some(true) {
                v.floor()
            } else {
                v
            }
        })
        .collect()
}

/// Relative difference, 0 when both are equal (including both 0).
fn relative(actual: f64, expected: f64) -> f64 {
    if actual == expected {
        0.0
    } else {
        (actual - expected).abs() / expected.abs().max(actual.abs())
    }
}

fn assert_relative(what: &str, actual: f64, expected: f64, tolerance: f64) {
    let diff = relative(actual, expected);
    assert!(
        diff <= tolerance,
        "{what}: {actual:e} vs reference {expected:e} ({diff:e})"
    );
}

/// A number written as a string by the reference scripts (17 significant digits, or Python's
/// shortest round-trip form): Rust's string conversion is correctly rounded, where
/// serde_json's default number parsing may land one ulp away. `None` for null (NaN in R).
fn optional(v: &Value) -> Option<f64> {
    v.as_str()
        .map(|s| s.parse().unwrap_or_else(|_| panic!("not a number: {s}")))
}

fn number(v: &Value, what: &str) -> f64 {
    optional(v).unwrap_or_else(|| panic!("{what}: expected a number, found {v}"))
}

#[test]
fn there_are_at_least_30_reference_cases() {
    let r = reference(R_REFERENCE);
    let cases = r["wilcox"].as_array().unwrap().len() + r["proportions"].as_array().unwrap().len();
    assert!(cases >= 30, "{cases} cases");
    assert!(r["r_version"].as_str().unwrap().starts_with("R version"));
}

#[test]
fn design_golden_case_is_reproduced_exactly() {
    let shift = location_shift(&[10.0, 20.0, 30.0, 40.0], &[1.0, 2.0, 3.0, 4.0], 0.95).unwrap();
    assert_eq!(shift.interval, [6.0, 39.0]);
    assert_eq!(shift.estimate, 22.5);
    assert_eq!(shift.confidence, 0.95);
}

#[test]
fn rank_sum_test_matches_r() {
    let r = reference(R_REFERENCE);
    for case in r["wilcox"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (sample(&case["x"]), sample(&case["y"]));
        for (key, alternative) in ALTERNATIVES {
            let expected = &case["test"][key];
            let got = rank_sum_test(&x, &y, alternative).unwrap_or_else(|| panic!("{name}"));
            let what = format!("{name} ({key})");
            assert_eq!(got.w, number(&expected["w"], &what), "{what}: W");
            assert_eq!(
                Some(got.exact),
                expected["exact"].as_bool(),
                "{what}: exact"
            );
            if got.exact || expected["p"].is_null() {
                assert_eq!(got.z, None, "{what}: no z for an exact or all-tied test");
            }
            match optional(&expected["p"]) {
                Some(p) => assert_relative(&what, got.p_value, p, CLOSED_FORM),
                // R: NaN two-sided when every value is tied; slogate: 1 (documented).
                None => assert_eq!(got.p_value, 1.0, "{what}: all tied"),
            }
        }
    }
}

#[test]
fn normal_approximation_matches_scipy() {
    let (r, scipy) = (reference(R_REFERENCE), reference(SCIPY_REFERENCE));
    let mut compared = 0;
    for (case, expected) in r["wilcox"]
        .as_array()
        .unwrap()
        .iter()
        .zip(scipy["rank_sum"].as_array().unwrap())
    {
        let name = case["name"].as_str().unwrap();
        assert_eq!(Some(name), expected["name"].as_str());
        let (x, y) = (sample(&case["x"]), sample(&case["y"]));
        for (key, alternative) in ALTERNATIVES {
            let got = rank_sum_test(&x, &y, alternative).unwrap();
            let what = format!("{name} ({key}, scipy)");
            assert_eq!(got.w, number(&expected[key]["u"], &what), "{what}: U");
            // scipy's asymptotic p-value is the one to compare only where slogate (like R)
            // does not use the exact distribution; scipy gives NaN when everything is tied.
            if let (false, Some(p)) = (got.exact, optional(&expected[key]["p"])) {
                assert_relative(&what, got.p_value, p, CLOSED_FORM);
                compared += 1;
            }
        }
    }
    assert!(
        compared >= 30,
        "only {compared} p-values compared with scipy"
    );
}

#[test]
fn location_shift_matches_r() {
    let r = reference(R_REFERENCE);
    let (mut worst, mut exact_cases) = (0.0f64, 0);
    for case in r["wilcox"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (sample(&case["x"]), sample(&case["y"]));
        for level in ["0.95", "0.98"] {
            let expected = &case["shift"][level];
            let got = location_shift(&x, &y, level.parse().unwrap());
            let what = format!("{name} at {level}");
            if expected.get("error").is_some() {
                assert_eq!(got, None, "{what}: R stops with an error");
                continue;
            }
            let got = got.unwrap_or_else(|| panic!("{what}: None where R answers"));
            // R's own path: the estimate and uniroot's stopping points.
            let pairs = [
                ("estimate", got.estimate),
                ("lower", got.root_interval[0]),
                ("upper", got.root_interval[1]),
            ];
            for (field, value) in pairs {
                let want = number(&expected[field], &what);
                let diff = (value - want).abs() / want.abs().max(1.0);
                worst = worst.max(diff);
                assert!(
                    diff <= ROOT_FINDING,
                    "{what}: {field} {value:e} vs R {want:e}"
                );
            }
            // The exact ends: the very pairwise differences R's script finds by listing them
            // all, and within uniroot's tolerance of what R prints.
            for (i, field) in ["lower", "upper"].into_iter().enumerate() {
                let exact = number(&expected[format!("exact_{field}").as_str()], &what);
                assert_eq!(got.interval[i], exact, "{what}: exact {field}");
                let printed = number(&expected[field], &what);
                // uniroot's tolerance, plus the rounding of x - d against y in R's statistic
                // (a unit in the last place of the values: 1.2e-4 near 1e12).
                let magnitude = x.iter().chain(&y).fold(0.0f64, |m, v| m.max(v.abs()));
                let reach = 1e-4 + 8.0 * f64::EPSILON * (printed.abs() + magnitude);
                assert!(
                    (got.interval[i] - printed).abs() <= reach,
                    "{what}: exact {field} {exact:e} is not within 1e-4 of R's {printed:e}"
                );
                if got.interval[i] != got.root_interval[i] {
                    exact_cases += 1;
                }
            }
        }
    }
    eprintln!(
        "location shift: largest difference from R {worst:e} (scaled); \
         {exact_cases} interval ends moved from R's stopping point to the exact difference"
    );
    assert!(exact_cases > 0, "no case exercises the exact ends");
}

#[test]
fn two_proportions_match_r() {
    let r = reference(R_REFERENCE);
    for case in r["proportions"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let count = |k: &str| number(&case[k], name) as u64;
        let (x1, n1, x2, n2) = (count("x1"), count("n1"), count("x2"), count("n2"));
        for (key, alternative) in ALTERNATIVES {
            for level in ["0.95", "0.98"] {
                let expected = &case["test"][key][level];
                let what = format!("{name} ({key} at {level})");
                let got = two_proportions(x1, n1, x2, n2, alternative, level.parse().unwrap())
                    .unwrap_or_else(|| panic!("{what}"));
                assert_eq!(got.p1, x1 as f64 / n1 as f64);
                assert_eq!(got.p2, x2 as f64 / n2 as f64);
                match optional(&expected["p"]) {
                    Some(p) => assert_relative(&what, got.p_value, p, CLOSED_FORM),
                    // R: NaN (0/0) when no side has an event; slogate: the limit (documented).
                    None => {
                        let limit = if alternative == Alternative::TwoSided {
                            1.0
                        } else {
                            0.5
                        };
                        assert_eq!(got.p_value, limit, "{what}");
                    }
                }
                for (i, bound) in ["lower", "upper"].into_iter().enumerate() {
                    let want = number(&expected[bound], &what);
                    let interval = got.difference_interval[i];
                    assert_relative(&format!("{what} {bound}"), interval, want, CLOSED_FORM);
                }
            }
        }
    }
}

#[test]
fn risk_ratio_matches_scipy() {
    let (r, scipy) = (reference(R_REFERENCE), reference(SCIPY_REFERENCE));
    let cases = r["proportions"].as_array().unwrap();
    for (case, expected) in cases.iter().zip(scipy["relative_risk"].as_array().unwrap()) {
        let name = case["name"].as_str().unwrap();
        assert_eq!(Some(name), expected["name"].as_str());
        let count = |k: &str| number(&case[k], name) as u64;
        let (x1, n1, x2, n2) = (count("x1"), count("n1"), count("x2"), count("n2"));
        for level in ["0.95", "0.98"] {
            let got = two_proportions(x1, n1, x2, n2, Alternative::Greater, level.parse().unwrap())
                .unwrap();
            match (got.ratio, optional(&expected["ratio"])) {
                (Some(a), Some(b)) => assert_relative(name, a, b, CLOSED_FORM),
                // scipy: infinite (x2 = 0) or NaN (no events at all); slogate: None.
                (None, None) => assert_eq!(x2, 0, "{name}"),
                (a, b) => panic!("{name}: ratio {a:?} vs scipy {b:?}"),
            }
            match (got.ratio_interval, expected[level].as_array()) {
                (Some(got), Some(want)) => {
                    for (g, w) in got.iter().zip(want) {
                        assert_relative(
                            &format!("{name} Katz {level}"),
                            *g,
                            number(w, name),
                            CLOSED_FORM,
                        );
                    }
                }
                (None, None) => assert!(x1 == 0 || x2 == 0, "{name}"),
                (a, b) => panic!("{name}: Katz interval {a:?} vs scipy {b:?}"),
            }
        }
    }
}

#[test]
fn kayenta_faults_are_visible() {
    // Kayenta passes both canaries; the rank test and the interval see them.
    let spikes = [
        100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 1.0, 1.0, 1.0,
    ];
    let test = rank_sum_test(&spikes, &[1.0; 10], Alternative::Greater).unwrap();
    assert!(test.p_value < 0.001, "{test:?}");
    // The exact interval is (0, 99]: it ends at the jump at shift 0, which it leaves out
    // (R's uniroot stops at 6.8e-5, just inside).
    let shift = location_shift(&spikes, &[1.0; 10], 0.98).unwrap();
    assert_eq!(shift.interval, [0.0, 99.0], "{shift:?}");
    assert_eq!(shift.closed, [false, true], "{shift:?}");
    assert!(shift.root_interval[0] > 0.0, "{shift:?}");
    let small = [0.0, 1.0, 2.0, 1.0, 0.0, 0.0];
    let test = rank_sum_test(&small, &[0.0; 6], Alternative::Greater).unwrap();
    assert!(test.p_value < 0.05, "{test:?}");
}

#[test]
fn refuses_what_r_refuses() {
    assert_eq!(rank_sum_test(&[], &[1.0], Alternative::TwoSided), None);
    assert_eq!(
        rank_sum_test(&[1.0, f64::NAN], &[1.0], Alternative::TwoSided),
        None
    );
    assert_eq!(
        rank_sum_test(&[1.0], &[f64::INFINITY], Alternative::Less),
        None
    );
    assert_eq!(location_shift(&[1.0, 2.0], &[], 0.95), None);
    for confidence in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        assert_eq!(location_shift(&[1.0, 2.0], &[3.0, 5.0], confidence), None);
        assert_eq!(
            two_proportions(1, 10, 2, 10, Alternative::TwoSided, confidence),
            None
        );
    }
    assert_eq!(
        two_proportions(1, 0, 2, 10, Alternative::TwoSided, 0.95),
        None
    );
    assert_eq!(
        two_proportions(11, 10, 2, 10, Alternative::TwoSided, 0.95),
        None
    );
    // Differences that overflow a double.
    assert_eq!(
        location_shift(&[f64::MAX, 1.0], &[-f64::MAX, 0.0], 0.95),
        None
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Values with deliberate ties: small integers, halves, and a few wide ones.
    fn values() -> impl Strategy<Value = Vec<f64>> {
        let value = prop_oneof![
            (-5i32..5).prop_map(f64::from),
            (-20i32..20).prop_map(|v| f64::from(v) / 2.0),
            -1e6f64..1e6,
        ];
        proptest::collection::vec(value, 1..40)
    }

    /// Any double, NaN and infinities included.
    fn anything() -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::vec(any::<f64>(), 0..12)
    }

    proptest! {
        /// Sorting is the first thing done, so the order of the input cannot leak into the
        /// result: the same values in any order give bit-identical answers.
        #[test]
        fn order_does_not_matter(
            (x, x2) in values().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
            (y, y2) in values().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        ) {
            for (_, alternative) in ALTERNATIVES {
                let (a, b) = (rank_sum_test(&x, &y, alternative), rank_sum_test(&x2, &y2, alternative));
                prop_assert_eq!(a, b);
            }
            prop_assert_eq!(location_shift(&x, &y, 0.98), location_shift(&x2, &y2, 0.98));
        }

        /// Whatever comes in, nothing panics and every number that comes out is usable.
        #[test]
        fn never_panics(x in anything(), y in anything(), confidence in any::<f64>(),
                        counts in proptest::array::uniform4(any::<u64>())) {
            for (_, alternative) in ALTERNATIVES {
                if let Some(t) = rank_sum_test(&x, &y, alternative) {
                    prop_assert!((0.0..=1.0).contains(&t.p_value));
                }
                let [x1, n1, x2, n2] = counts;
                // Mostly valid counts (x1 <= n1), plus whatever x2 and n2 happen to be.
                let x1 = n1.checked_add(1).map_or(x1, |m| x1 % m);
                if let Some(p) = two_proportions(x1, n1, x2, n2, alternative, confidence) {
                    prop_assert!((0.0..=1.0).contains(&p.p_value));
                }
            }
            if let Some(s) = location_shift(&x, &y, confidence) {
                prop_assert!(s.estimate.is_finite());
                prop_assert!(s.interval.iter().all(|v| v.is_finite()));
            }
        }
    }
}
