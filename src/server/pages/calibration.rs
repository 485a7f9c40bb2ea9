//! `GET /calibration`: each canary profile backtested A/A on its service's own data (the
//! calibration job, `slogate calibrate`'s code): the false-fail and pause rates the profile
//! would have had, the noise the data show, and the smallest tolerance within the goals.

use axum::extract::State;
use axum::response::Html;
use serde::Serialize;
use serde_json::Value;

use super::render::{PageError, render};
use super::view::{Badge, percent};
use crate::numfmt::sig;
use crate::server::calibration::{services, waiting_reason};
use crate::server::state::AppState;
use crate::store::StoredCalibration;

/// One metric's backtest, as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    /// The metric.
    pub name: String,
    /// The profile's tolerance, `1.2×`.
    pub tolerance: String,
    /// Within the goals, beyond them, or skipped.
    pub state: Badge,
    /// A/A rollouts replayed.
    pub rollouts: String,
    /// Share of them the gate ever failed.
    pub ever_failed: String,
    /// Share Argo would have promoted.
    pub promoted: String,
    /// Share Argo would have paused.
    pub paused: String,
    /// The noise measured, in words.
    pub noise: String,
    /// The smallest tolerance of the grid within the goals, in words.
    pub suggested: String,
    /// Why the metric was not backtested.
    pub skipped: Option<String>,
}

/// One service's profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceCalibration {
    /// The service.
    pub service: String,
    /// The version replayed, when backtested.
    pub version: Option<String>,
    /// When (RFC 3339).
    pub computed_at: Option<String>,
    /// Why there is no backtest.
    pub waiting: Option<String>,
    /// Per metric.
    pub metrics: Vec<MetricRow>,
}

/// The page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationView {
    /// Services with a canary profile, by name.
    pub services: Vec<ServiceCalibration>,
    /// History replayed and offset, in words.
    pub method: String,
}

/// The view of the stored backtests (`services`: each profile's service and backtest).
pub fn view(
    services: Vec<(String, Option<StoredCalibration>)>,
    waiting: &str,
    history_secs: u64,
    offset_secs: u64,
) -> CalibrationView {
    let services = services
        .into_iter()
        .map(|(service, stored)| match stored {
            Some(c) => ServiceCalibration {
                service,
                version: Some(c.version),
                computed_at: Some(crate::verdict::rfc3339(c.computed_at)),
                waiting: None,
                metrics: c
                    .results
                    .as_array()
                    .map(|ms| ms.iter().map(metric_row).collect())
                    .unwrap_or_default(),
            },
            None => ServiceCalibration {
                service,
                version: None,
                computed_at: None,
                waiting: Some(waiting.to_string()),
                metrics: Vec::new(),
            },
        })
        .collect();
    CalibrationView {
        services,
        method: format!(
            "Each version replayed against itself {} earlier over {} of history: a rollout \
             every 15 minutes through the gate and Argo's analysis rules. Goals: at most 1% of \
             these equal rollouts ever failed and 5% paused.",
            hours(offset_secs),
            hours(history_secs)
        ),
    }
}

fn hours(secs: u64) -> String {
    if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else {
        format!("{}m", secs / 60)
    }
}

/// One metric of `calibrations_json`, as text.
fn metric_row(m: &Value) -> MetricRow {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let current = &m["current"];
    let rollouts = f(&current["rollouts"]);
    let share = |key: &str| {
        if rollouts > 0.0 {
            percent(f(&current[key]) / rollouts, 1)
        } else {
            "n/a".to_string()
        }
    };
    let skipped = m["skipped"].as_str().map(str::to_string);
    let state = if skipped.is_some() {
        Badge {
            icon: "–",
            word: "skipped".to_string(),
            tone: "none",
        }
    } else if m["within_goals"] == true {
        Badge {
            icon: "✓",
            word: "within goals".to_string(),
            tone: "ok",
        }
    } else {
        Badge {
            icon: "!",
            word: "beyond goals".to_string(),
            tone: "bad",
        }
    };
    let noise = &m["noise"];
    let noise = match noise["kind"].as_str() {
        Some("counts") => format!(
            "per-minute rate CV {} ({} minutes)",
            sig(f(&noise["rate_cv"])),
            noise["minutes"]
        ),
        Some("values") => format!(
            "per-minute log ratio sd {}, lag-one correlation {} ({} minutes)",
            sig(f(&noise["sd"])),
            sig(f(&noise["phi"])),
            noise["minutes"]
        ),
        _ => "too few minutes with data".to_string(),
    };
    let largest = m["grid"]
        .as_array()
        .and_then(|g| g.last())
        .map_or(f64::NAN, |g| f(&g["tolerance"]));
    let suggested = match m["suggested_tolerance"].as_f64() {
        Some(t) => format!("{}×", sig(t)),
        None => format!("none up to {}×", sig(largest)),
    };
    MetricRow {
        name: m["metric"].as_str().unwrap_or_default().to_string(),
        tolerance: format!("{}×", sig(f(&m["tolerance"]))),
        state,
        rollouts: format!("{rollouts}"),
        ever_failed: share("ever_failed"),
        promoted: share("successful"),
        paused: share("paused"),
        noise,
        suggested,
        skipped,
    }
}

/// `GET /calibration`.
pub async fn page(State(state): State<AppState>) -> Result<Html<String>, PageError> {
    let services = services(&state).await?;
    let settings = &state.settings.calibration;
    let view = view(
        services,
        &waiting_reason(&state),
        settings.history.as_secs(),
        settings.offset.as_secs(),
    );
    render("calibration.html", "Canary calibration", &view)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_backtest_reads_as_rates_noise_and_a_suggestion_and_a_missing_one_says_why() {
        let results = json!([{
            "metric": "errors", "tolerance": 1.2, "skipped": null, "within_goals": false,
            "current": {"rollouts": 17, "ever_failed": 2, "successful": 14, "failed": 2, "paused": 1},
            "noise": {"kind": "counts", "dispersion": 0.22, "rate_cv": 0.4712, "minutes": 240},
            "suggested_tolerance": 1.5,
            "grid": [{"tolerance": 1.0}, {"tolerance": 2.0}],
        }, {
            "metric": "latency", "tolerance": 1.05, "skipped": "trace metrics ...",
            "within_goals": false, "current": {"rollouts": 0}, "noise": null,
            "suggested_tolerance": null, "grid": [],
        }]);
        let stored = StoredCalibration {
            service: "checkout".into(),
            version: "abc123".into(),
            computed_at: chrono::Utc.timestamp_opt(1_767_225_600, 0).unwrap(),
            results,
        };
        let v = view(
            vec![("billing".into(), None), ("checkout".into(), Some(stored))],
            "no backtest yet",
            86_400,
            3_600,
        );
        assert_eq!(v.services[0].waiting.as_deref(), Some("no backtest yet"));
        let checkout = &v.services[1];
        assert_eq!(checkout.version.as_deref(), Some("abc123"));
        let errors = &checkout.metrics[0];
        assert_eq!(
            (
                errors.tolerance.as_str(),
                errors.ever_failed.as_str(),
                errors.paused.as_str(),
                errors.suggested.as_str(),
                errors.state.word.as_str()
            ),
            ("1.2×", "11.8%", "5.9%", "1.5×", "beyond goals")
        );
        assert_eq!(errors.noise, "per-minute rate CV 0.4712 (240 minutes)");
        let latency = &checkout.metrics[1];
        assert_eq!(latency.state.word, "skipped");
        assert_eq!(latency.rollouts, "0");
        assert_eq!(latency.ever_failed, "n/a");
        assert!(v.method.contains("1h earlier over 24h"), "{}", v.method);
    }
}
