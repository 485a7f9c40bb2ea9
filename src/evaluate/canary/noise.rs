//! The noise priors a new sequential analysis starts from: each count metric's per-minute
//! dispersion as the service's calibration measured it (`server::calibration`, the A/A backtest
//! of the stable version), in place of the default CV-0.5 allowance.
//!
//! Used only when the backtest replayed the analysis's own baseline (the stable version whose
//! traffic the canary is compared with) and is at most [`MAX_AGE`] old; otherwise, and for every
//! metric the backtest did not measure, the default prior holds. The verdict's reason names the
//! prior and where it came from.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::analysis::sequential::NoisePrior;
use crate::store::StoredCalibration;

/// The oldest backtest whose measurement is used: a week (the job redoes it every
/// `calibration.every`, 24 h by default, and when the stable version changes).
pub const MAX_AGE: chrono::Duration = chrono::Duration::days(7);

/// Per metric name, the measured prior.
pub type NoisePriors = HashMap<String, NoisePrior>;

/// The priors `calibration` measured, if it replayed `baseline` no longer than [`MAX_AGE`]
/// before `now`.
pub fn measured_priors(
    calibration: &StoredCalibration,
    baseline: &str,
    now: DateTime<Utc>,
) -> NoisePriors {
    if calibration.version != baseline || now - calibration.computed_at > MAX_AGE {
        return NoisePriors::new();
    }
    let Some(metrics) = calibration.results.as_array() else {
        return NoisePriors::new();
    };
    metrics
        .iter()
        .filter_map(|m| {
            let name = m["metric"].as_str()?;
            let noise = &m["noise"];
            if noise["kind"] != "counts" {
                return None;
            }
            let dispersion = noise["dispersion"].as_f64()?;
            let minutes = noise["minutes"].as_u64().unwrap_or(0);
            let basis = format!(
                "by the backtest of version {baseline} over {minutes} minutes at {}",
                calibration.computed_at.format("%Y-%m-%d %H:%MZ")
            );
            Some((name.to_string(), NoisePrior::measured(dispersion, basis)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::sequential::{MEASURED_PRIOR_FLOOR, PRIOR_DISPERSION};
    use chrono::TimeZone;
    use serde_json::{Value, json};

    fn calibration(version: &str, dispersion: Value) -> StoredCalibration {
        StoredCalibration {
            service: "shop".into(),
            version: version.into(),
            computed_at: Utc.with_ymd_and_hms(2026, 12, 7, 6, 0, 0).unwrap(),
            results: json!([
                {"metric": "error-rate", "noise": {"kind": "counts", "dispersion": dispersion,
                    "rate_cv": 0.1, "minutes": 1440}},
                {"metric": "latency", "noise": {"kind": "values", "sd": 0.1, "phi": 0.2,
                    "minutes": 1440}},
                {"metric": "spans", "noise": null},
            ]),
        }
    }

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 6, 0, 0).unwrap() + chrono::Duration::hours(hours)
    }

    #[test]
    fn a_backtest_of_the_baseline_gives_its_count_metrics_their_measured_prior() {
        let priors = measured_priors(&calibration("abc", json!(0.05)), "abc", at(3));
        assert_eq!(priors.len(), 1, "{priors:?}");
        let prior = &priors["error-rate"];
        assert_eq!(prior.dispersion, 0.05);
        let basis = prior.measured.as_deref().unwrap();
        assert!(
            basis.contains("version abc over 1440 minutes at 2026-12-07 06:00Z"),
            "{basis}"
        );
    }

    #[test]
    fn a_measured_prior_is_never_below_the_floor_and_may_be_above_the_default() {
        let quiet = measured_priors(&calibration("abc", json!(0.0)), "abc", at(0));
        assert_eq!(quiet["error-rate"].dispersion, MEASURED_PRIOR_FLOOR);
        let loud = measured_priors(&calibration("abc", json!(1.2)), "abc", at(0));
        assert_eq!(loud["error-rate"].dispersion, 1.2);
        assert!(loud["error-rate"].dispersion > PRIOR_DISPERSION);
    }

    #[test]
    fn another_version_or_an_old_backtest_gives_no_measured_prior() {
        assert!(measured_priors(&calibration("abc", json!(0.05)), "def", at(0)).is_empty());
        assert!(
            measured_priors(&calibration("abc", json!(0.05)), "abc", at(7 * 24 + 1)).is_empty()
        );
        assert!(!measured_priors(&calibration("abc", json!(0.05)), "abc", at(7 * 24)).is_empty());
        assert!(measured_priors(&calibration("abc", json!(null)), "abc", at(0)).is_empty());
    }
}
