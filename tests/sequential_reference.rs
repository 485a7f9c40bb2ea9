//! The sequential tests' e-values against scipy, computed another way: the sign test's mixture
//! by numerical integration (slogate: the incomplete-beta closed form), the rate-ratio test's
//! by tempered products of binomial probabilities look by look with the dispersion estimated
//! in numpy (slogate: its sufficient statistic), the shift test's normal mixture by numerical
//! integration (slogate: the closed form).
//! Values and the script that produced them: `tests/data/stats/sequential*.{py,json}`.

use serde_json::Value;
use slogate::analysis::sequential::{RateRatioTest, ShiftTest, Worse, sign_test_log_e_value};

const REFERENCE: &str = include_str!("data/stats/sequential_reference.json");

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

#[test]
fn the_sign_tests_e_values_match_scipys_numerical_integration() {
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    let cases = reference["signs"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let (s, f) = (
            case["wins"].as_u64().unwrap(),
            case["losses"].as_u64().unwrap(),
        );
        let want = case["log_e"].as_f64().unwrap();
        let got = sign_test_log_e_value(s, f);
        assert!(
            close(got, want),
            "{s} wins, {f} losses: ln E {got} vs scipy {want}"
        );
    }
}

#[test]
fn the_rate_ratio_tests_e_values_match_scipys_binomial_products() {
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    let cases = reference["rates"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let tolerance = case["tolerance"].as_f64().unwrap();
        let worse = match case["worse"].as_str().unwrap() {
            "higher" => Worse::Higher,
            _ => Worse::Lower,
        };
        let mut test = RateRatioTest::new(tolerance, worse);
        for look in case["looks"].as_array().unwrap() {
            let n: Vec<u64> = look
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            test.update(n[0], n[1], n[2], n[3], n.get(4).map_or(1.0, |m| *m as f64));
        }
        let want = case["log_e"].as_f64().unwrap();
        let got = test.log_e_value();
        assert!(close(got, want), "{case}: ln E {got} vs scipy {want}");
    }
}

#[test]
fn the_shift_tests_e_values_match_scipys_numerical_integration() {
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    let cases = reference["shift"].as_array().unwrap();
    assert!(cases.len() >= 5);
    let numbers = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    for case in cases {
        let worse = match case["worse"].as_str().unwrap() {
            "higher" => Worse::Higher,
            _ => Worse::Lower,
        };
        let mut test = ShiftTest::new(case["tolerance"].as_f64().unwrap(), worse);
        test.update(&numbers(&case["baseline"]), &numbers(&case["canary"]));
        let want = case["log_e"].as_f64().unwrap();
        let got = test.log_e_value();
        assert!(
            (got - want).abs() <= 1e-7 * want.abs().max(1.0),
            "{case}: ln E {got} vs scipy {want}"
        );
    }
}
