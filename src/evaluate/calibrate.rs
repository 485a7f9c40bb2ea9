//! `slogate calibrate`: the service's canary profile backtested A/A on its own recent data.
//!
//! Each Prometheus metric of the profile is fetched minute by minute for one version over the
//! last hours (counts: the profile's queries at a one-minute window; values: the query at a
//! one-minute step). The version against itself an offset earlier is an A/A comparison: two
//! stretches of the same code, differing only by the noise of production. Rollouts are
//! replayed on it every 15 minutes through the gate and Argo's rules
//! (`analysis::calibration`), at the profile's tolerance and at a grid of others; the answer
//! is the false-fail and pause rates the profile would have had, the noise the data show, and
//! the smallest tolerance that keeps false fails at 1% and pauses at 5%.

use std::collections::BTreeMap;

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::analysis::calibration::{
    LOOKBACK_MINUTES, Minute, Noise, ROLLOUT_MINUTES, ReplayTally, measure_noise, replay,
};
use crate::analysis::canary::Counts;
use crate::config::ConfigError;
use crate::source::prometheus::{QuerySource, Series};
use crate::spec::PromDuration;
use crate::spec::query::with_label_matcher;
use crate::spec::{CanaryMeasure, CanaryMetric, CanaryProfile, Pacing};

use super::canary::VALUES_STEP;
use super::describe;

/// Minutes between the starts of two replayed rollouts.
pub const REPLAY_EVERY_MINUTES: usize = 15;
/// The goals a tolerance is suggested for: false fails and pauses of A/A rollouts.
pub const GOAL_EVER_FAILED: f64 = 0.01;
/// See [`GOAL_EVER_FAILED`].
pub const GOAL_PAUSED: f64 = 0.05;

/// The furthest back history plus offset may reach: a one-minute range query over it (and a
/// rollout's length) stays under Prometheus' 11,000 points a series.
pub const MAX_REACH: Duration = Duration::from_secs(7 * 24 * 3600);

/// `calibration:` in `slogate.yaml`: how `slogate serve` backtests each service's canary
/// profile for the status page (`GET /calibration`, `GET /api/v1/calibrations`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalibrationConfig {
    /// How often a service's backtest is redone; `0s` turns the backtests off. A new stable
    /// version (the baseline of the service's latest canary analysis) is backtested at once.
    pub every: String,
    /// History replayed (at least `1h`).
    pub history: String,
    /// How much earlier the A/A baseline is (at least `1m`).
    pub offset: String,
    /// Whether a new canary analysis starts its error-count test from the per-minute noise
    /// the backtest of its baseline measured (`evaluate::canary::noise`), instead of the
    /// default CV-0.5 allowance.
    pub measured_prior: bool,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig {
            every: "24h".to_string(),
            history: "24h".to_string(),
            offset: "1h".to_string(),
            measured_prior: true,
        }
    }
}

/// [`CalibrationConfig`], checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationSettings {
    /// `None`: no backtests.
    pub every: Option<Duration>,
    /// As [`CalibrationConfig::history`].
    pub history: Duration,
    /// As [`CalibrationConfig::offset`].
    pub offset: Duration,
    /// As [`CalibrationConfig::measured_prior`] (never with the job off: nothing is measured).
    pub measured_prior: bool,
}

impl CalibrationConfig {
    /// Checks the durations, naming the setting that is wrong.
    pub fn settings(&self) -> Result<CalibrationSettings, ConfigError> {
        let parse = |setting: &str, text: &str, min: Duration| {
            let d = PromDuration::parse(text)
                .map_err(|e| ConfigError::Invalid {
                    setting: setting.to_string(),
                    message: format!("{text:?}: {e}"),
                })?
                .as_std();
            if d < min {
                return Err(ConfigError::Invalid {
                    setting: setting.to_string(),
                    message: format!("{text:?} is shorter than {}s", min.as_secs()),
                });
            }
            Ok(d)
        };
        // A Prometheus duration is never zero; `0s` (or `0`) is the documented off switch.
        let every = match self.every.trim() {
            "0" | "0s" => Duration::ZERO,
            text => parse("calibration.every", text, Duration::ZERO)?,
        };
        let history = parse(
            "calibration.history",
            &self.history,
            Duration::from_secs(3600),
        )?;
        let offset = parse("calibration.offset", &self.offset, Duration::from_secs(60))?;
        if history + offset > MAX_REACH {
            return Err(ConfigError::Invalid {
                setting: "calibration.history".to_string(),
                message: format!(
                    "{} plus offset {} reaches back more than 7d: the one-minute range query \
                     would pass Prometheus' 11,000 points",
                    self.history, self.offset
                ),
            });
        }
        Ok(CalibrationSettings {
            every: (!every.is_zero()).then_some(every),
            history,
            offset,
            measured_prior: self.measured_prior && !every.is_zero(),
        })
    }
}

/// What to backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationRequest {
    /// The version label value whose history is replayed against itself.
    pub version: String,
    /// End of the history (unix seconds).
    pub end: i64,
    /// Minutes of history replayed.
    pub minutes: usize,
    /// How much earlier the A/A baseline is (seconds).
    pub offset_secs: i64,
}

/// One metric's backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCalibration {
    /// The metric.
    pub name: String,
    /// The tolerance the profile sets.
    pub tolerance: f64,
    /// Replays at the profile's tolerance.
    pub current: ReplayTally,
    /// Replays at each tolerance of the grid.
    pub grid: Vec<(f64, ReplayTally)>,
    /// The smallest tolerance of the grid within the goals, if any.
    pub suggested: Option<f64>,
    /// The noise measured.
    pub noise: Option<Noise>,
    /// Why the metric could not be backtested.
    pub skipped: Option<String>,
}

impl MetricCalibration {
    /// Whether the profile's tolerance meets the goals.
    pub fn within_goals(&self) -> bool {
        within(&self.current)
    }
}

fn within(t: &ReplayTally) -> bool {
    t.rollouts > 0
        && (t.ever_failed as f64) <= GOAL_EVER_FAILED * t.rollouts as f64
        && (t.paused as f64) <= GOAL_PAUSED * t.rollouts as f64
}

/// Backtests every metric of `profile`.
pub async fn calibrate(
    source: &dyn QuerySource,
    profile: &CanaryProfile,
    request: &CalibrationRequest,
) -> Vec<MetricCalibration> {
    let mut out = Vec::new();
    for metric in &profile.metrics {
        let skipped = |why: String| MetricCalibration {
            name: metric.name.clone(),
            tolerance: metric.allowed_increase,
            current: ReplayTally::default(),
            grid: Vec::new(),
            suggested: None,
            noise: None,
            skipped: Some(why),
        };
        let span = request.minutes + ROLLOUT_MINUTES + LOOKBACK_MINUTES;
        let start = request.end - request.offset_secs - 60 * span as i64;
        let fetched = fetch_minutes(
            source,
            profile,
            metric,
            &request.version,
            start,
            request.end,
        );
        let by_minute = match fetched.await {
            Ok(m) => m,
            Err(why) => {
                out.push(skipped(why));
                continue;
            }
        };
        let offset = (request.offset_secs / 60) as usize;
        let first = request.end / 60 - span as i64;
        let side = |shift: usize| -> Vec<Minute> {
            (0..span)
                .map(|i| {
                    let minute = first + i as i64 - shift as i64;
                    by_minute.get(&minute).copied().unwrap_or(Minute::Missing)
                })
                .collect()
        };
        let (now, earlier) = (side(0), side(offset));
        out.push(backtest(metric, &profile.pacing, &now, &earlier));
    }
    out
}

/// Replays rollouts on two aligned per-minute series (the canary side `now`, the baseline
/// `earlier`) at the metric's tolerance and a grid of others.
pub fn backtest(
    metric: &CanaryMetric,
    pacing: &Pacing,
    now: &[Minute],
    earlier: &[Minute],
) -> MetricCalibration {
    let events = metric.measure.counts_events();
    let grid: &[f64] = if events {
        &[1.0, 1.1, 1.2, 1.3, 1.5, 2.0]
    } else {
        &[1.0, 1.02, 1.05, 1.1, 1.2, 1.5]
    };
    let length = ROLLOUT_MINUTES + LOOKBACK_MINUTES - 1;
    let at = |tolerance: f64| {
        let mut m = metric.clone();
        m.allowed_increase = tolerance;
        m.allowed_decrease = 1.0 / tolerance;
        m.critical_increase = None;
        m.critical_decrease = None;
        let mut tally = ReplayTally::default();
        let mut start = 0;
        while start + length <= now.len() {
            let baseline = &earlier[start..start + length];
            // The canary has no data before its deployment.
            let canary: Vec<Minute> = now[start..start + length]
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    if i < LOOKBACK_MINUTES {
                        Minute::Missing
                    } else {
                        *m
                    }
                })
                .collect();
            tally.add(replay(&m, pacing, baseline, &canary));
            start += REPLAY_EVERY_MINUTES;
        }
        tally
    };
    let grid: Vec<(f64, ReplayTally)> = grid.iter().map(|t| (*t, at(*t))).collect();
    MetricCalibration {
        name: metric.name.clone(),
        tolerance: metric.allowed_increase,
        current: at(metric.allowed_increase),
        suggested: grid.iter().find(|(_, t)| within(t)).map(|(t, _)| *t),
        grid,
        noise: measure_noise(now, earlier),
        skipped: None,
    }
}

/// The version's per-minute data, keyed by unix minute.
async fn fetch_minutes(
    source: &dyn QuerySource,
    profile: &CanaryProfile,
    metric: &CanaryMetric,
    version: &str,
    start: i64,
    end: i64,
) -> Result<BTreeMap<i64, Minute>, String> {
    let query = |template: &crate::spec::QueryTemplate| {
        with_label_matcher(&template.render("1m"), &profile.version_label, version)
            .map_err(|e| e.to_string())
    };
    let range = |q: String| async move {
        source
            .range(&q, start, end, VALUES_STEP)
            .await
            .map_err(|e| describe(&e))
    };
    match &metric.measure {
        CanaryMeasure::PrometheusEvents {
            counted_query,
            total,
            ..
        } => {
            let (counted, totals) =
                futures::join!(range(query(counted_query)?), range(query(total)?));
            let (counted, totals) = (per_minute(&counted?), per_minute(&totals?));
            Ok(totals
                .into_iter()
                .filter_map(|(minute, total)| {
                    let c = counted.get(&minute).copied().unwrap_or(0.0);
                    (total.is_finite() && c.is_finite() && total >= 0.0 && c >= 0.0).then(|| {
                        let counts = Counts {
                            counted: c.round() as u64,
                            total: total.round() as u64,
                        };
                        (minute, Minute::Counts(counts))
                    })
                })
                .collect())
        }
        CanaryMeasure::PrometheusValues { query: q } => Ok(per_minute(&range(query(q)?).await?)
            .into_iter()
            .map(|(minute, v)| (minute, Minute::Value(v)))
            .collect()),
        CanaryMeasure::TraceLatency { .. } | CanaryMeasure::TraceErrors { .. } => Err(
            "trace metrics are judged from the spans `slogate serve` receives; their history is \
             not kept, so there is nothing to replay"
                .to_string(),
        ),
    }
}

/// The sum over series of each step's value, keyed by unix minute.
fn per_minute(series: &[Series]) -> BTreeMap<i64, f64> {
    let mut out = BTreeMap::new();
    for (t, v) in series.iter().flat_map(|s| s.points.iter()) {
        *out.entry(t.div_euclid(60)).or_insert(0.0) += v;
    }
    out
}

/// The backtests as `slogate calibrate --output json` prints them, the status page shows them
/// and the store keeps them: per metric, the tolerance, the replays at it, the noise, the
/// suggested tolerance and the whole grid.
pub fn calibrations_json(results: &[MetricCalibration]) -> Value {
    Value::Array(results.iter().map(metric_json).collect())
}

fn tally_json(t: &ReplayTally) -> Value {
    json!({
        "rollouts": t.rollouts, "ever_failed": t.ever_failed, "successful": t.successful,
        "failed": t.failed, "paused": t.paused,
    })
}

fn noise_json(n: &Option<Noise>) -> Value {
    match n {
        Some(Noise::Counts {
            dispersion,
            rate_cv,
            minutes,
        }) => {
            json!({"kind": "counts", "dispersion": dispersion, "rate_cv": rate_cv, "minutes": minutes})
        }
        Some(Noise::Values { sd, phi, minutes }) => {
            json!({"kind": "values", "sd": sd, "phi": phi, "minutes": minutes})
        }
        None => Value::Null,
    }
}

fn metric_json(m: &MetricCalibration) -> Value {
    json!({
        "metric": m.name,
        "tolerance": m.tolerance,
        "skipped": m.skipped,
        "within_goals": m.skipped.is_none() && m.within_goals(),
        "current": tally_json(&m.current),
        "noise": noise_json(&m.noise),
        "suggested_tolerance": m.suggested,
        "grid": m.grid.iter().map(|(t, r)| json!({"tolerance": t, "replays": tally_json(r)}))
            .collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(every: &str, history: &str, offset: &str) -> CalibrationConfig {
        CalibrationConfig {
            every: every.into(),
            history: history.into(),
            offset: offset.into(),
            measured_prior: true,
        }
    }

    #[test]
    fn settings_default_on_turn_off_at_zero_and_name_the_setting_that_is_wrong() {
        let defaults = CalibrationConfig::default().settings().unwrap();
        assert_eq!(defaults.every, Some(Duration::from_secs(86_400)));
        assert!(defaults.measured_prior);
        let off = config("0s", "24h", "1h").settings().unwrap();
        assert_eq!(off.every, None);
        assert!(!off.measured_prior, "nothing is measured with the job off");
        let not_used = CalibrationConfig {
            measured_prior: false,
            ..CalibrationConfig::default()
        };
        assert!(!not_used.settings().unwrap().measured_prior);
        let setting = |c: CalibrationConfig| match c.settings() {
            Err(ConfigError::Invalid { setting, .. }) => setting,
            other => panic!("{other:?}"),
        };
        assert_eq!(setting(config("1d", "30m", "1h")), "calibration.history");
        assert_eq!(setting(config("1d", "6d", "2d")), "calibration.history");
        assert_eq!(setting(config("1d", "24h", "0s")), "calibration.offset");
        assert_eq!(setting(config("soon", "24h", "1h")), "calibration.every");
    }
}
