//! The calibration job: each service's canary profile backtested A/A on its own recent data
//! (`evaluate::calibrate`, the code of `slogate calibrate`), kept in the store for the status
//! page (`GET /calibration`) and the API (`GET /api/v1/calibrations`).
//!
//! Which version: the stable one, read as the baseline of the service's latest canary
//! analysis in the history. A service no canary analysis has asked about yet has nothing to
//! backtest, and the page says so. A backtest is redone when the stable version changes (the
//! gate wakes the job after each canary verdict) and when the last one is older than
//! `calibration.every`. One service at a time, at the pages' priority of the query budget, so
//! the job never adds more than one service's range queries to Prometheus' load and never
//! takes a permit kept for the gates.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde_json::{Value, json};

use super::error::ApiError;
use super::state::AppState;
use crate::evaluate::calibrate::{
    CalibrationRequest, GOAL_EVER_FAILED, GOAL_PAUSED, calibrate, calibrations_json,
};
use crate::source::QuerySource;
use crate::spec::{CanaryMeasure, ServiceLevels};
use crate::store::{HistoryFilter, StoredCalibration};
use crate::verdict::{VerdictKind, rfc3339};

/// How often the job looks for backtests that are due, besides the gate's wake-ups.
const CHECK_INTERVAL: Duration = Duration::from_secs(600);
/// A backtest that failed (Prometheus did not answer any of the metric's queries) is tried
/// again after this long, not at every wake-up.
const RETRY_AFTER: Duration = Duration::from_secs(600);
/// Runs the job until the process stops; returns at once when `calibration.every` is `0s`.
pub async fn run(state: AppState) {
    let Some(every) = state.settings.calibration.every else {
        return;
    };
    // The pages' share of the query budget: a backtest never takes a gate's permit.
    let source = state.source.clone();
    let mut failed: HashMap<String, (String, Instant)> = HashMap::new();
    let mut ticks = tokio::time::interval(CHECK_INTERVAL);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = state.calibration_wake.notified() => {}
        }
        let catalog = state.catalog();
        for service in &catalog.services {
            if service.canary.is_none() {
                continue;
            }
            let Some(version) = stable_version(&state, &service.service).await else {
                continue;
            };
            if !due(&state, &service.service, &version, every).await {
                continue;
            }
            if let Some((v, at)) = failed.get(&service.service)
                && *v == version
                && at.elapsed() < RETRY_AFTER
            {
                continue;
            }
            match backtest(&state, source.as_ref(), service, &version).await {
                Ok(()) => {
                    failed.remove(&service.service);
                }
                Err(why) => {
                    tracing::warn!(service = %service.service, version = %version, error = %why,
                        "canary profile backtest failed; tried again later");
                    failed.insert(service.service.clone(), (version, Instant::now()));
                }
            }
        }
    }
}

/// The baseline version of the service's latest canary analysis, if any.
async fn stable_version(state: &AppState, service: &str) -> Option<String> {
    let store = state.store.clone();
    let filter = HistoryFilter {
        service: Some(service.to_string()),
        kind: Some(VerdictKind::Canary),
        limit: 1,
        ..HistoryFilter::default()
    };
    let page = tokio::task::spawn_blocking(move || store.list(&filter))
        .await
        .ok()?
        .ok()?;
    let latest = page.verdicts.into_iter().next()?;
    latest.inputs["baseline"].as_str().map(str::to_string)
}

/// Whether the service has no backtest of `version` younger than `every`.
async fn due(state: &AppState, service: &str, version: &str, every: Duration) -> bool {
    let store = state.store.clone();
    let name = service.to_string();
    let stored = tokio::task::spawn_blocking(move || store.calibration(&name)).await;
    match stored {
        Ok(Ok(Some(c))) => {
            let age = (Utc::now() - c.computed_at).to_std().unwrap_or_default();
            c.version != version || age >= every
        }
        Ok(Ok(None)) => true,
        // An unreadable store: nothing would be kept either.
        _ => false,
    }
}

/// Backtests `service`'s profile on `version` and keeps the result. Fails, keeping nothing,
/// when the profile has Prometheus metrics and not one of them could be fetched: an outage
/// must not replace a good backtest with a page of errors.
async fn backtest(
    state: &AppState,
    source: &dyn QuerySource,
    service: &ServiceLevels,
    version: &str,
) -> Result<(), String> {
    let Some(profile) = &service.canary else {
        return Ok(());
    };
    let settings = &state.settings.calibration;
    let request = CalibrationRequest {
        version: version.to_string(),
        end: Utc::now().timestamp(),
        minutes: (settings.history.as_secs() / 60) as usize,
        offset_secs: settings.offset.as_secs() as i64,
    };
    let results = calibrate(source, profile, &request).await;
    let prometheus_metrics = profile.metrics.iter().filter(|m| {
        matches!(
            m.measure,
            CanaryMeasure::PrometheusEvents { .. } | CanaryMeasure::PrometheusValues { .. }
        )
    });
    if prometheus_metrics.clone().count() > 0 {
        let fetched = prometheus_metrics
            .filter_map(|m| results.iter().find(|r| r.name == m.name))
            .any(|r| r.skipped.is_none());
        if !fetched {
            let why = results
                .iter()
                .find_map(|r| r.skipped.clone())
                .unwrap_or_default();
            return Err(why);
        }
    }
    let calibration = StoredCalibration {
        service: service.service.clone(),
        version: version.to_string(),
        computed_at: Utc::now(),
        results: calibrations_json(&results),
    };
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.save_calibration(&calibration))
        .await
        .map_err(|e| format!("the store writer stopped: {e}"))?
        .map_err(|e| e.to_string())?;
    tracing::info!(service = %service.service, version, "canary profile backtested");
    Ok(())
}

/// Each service with a canary profile, by name, with its latest backtest if one ran.
pub(super) async fn services(
    state: &AppState,
) -> Result<Vec<(String, Option<StoredCalibration>)>, ApiError> {
    let store = state.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.calibrations())
        .await
        .map_err(|e| ApiError::unavailable(format!("the store reader stopped: {e}")))?
        .map_err(|e| ApiError::store("the backtests cannot be read", &e))?;
    let mut by_service: HashMap<String, StoredCalibration> =
        stored.into_iter().map(|c| (c.service.clone(), c)).collect();
    let catalog = state.catalog();
    let mut services: Vec<(String, Option<StoredCalibration>)> = catalog
        .services
        .iter()
        .filter(|s| s.canary.is_some())
        .map(|s| (s.service.clone(), by_service.remove(&s.service)))
        .collect();
    services.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(services)
}

/// Why a service has no backtest yet.
pub(super) fn waiting_reason(state: &AppState) -> String {
    match state.settings.calibration.every {
        None => "backtests are off (calibration.every: 0s); run `slogate calibrate`".to_string(),
        Some(_) => "no backtest yet: the profile is backtested on the baseline version of the \
                    service's latest canary analysis, and none has been asked about (or its \
                    backtest is running)"
            .to_string(),
    }
}

/// `GET /api/v1/calibrations`: every canary profile's latest backtest.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let services = services(&state).await?;
    let waiting = waiting_reason(&state);
    let entries: Vec<Value> = services
        .into_iter()
        .map(|(service, stored)| match stored {
            Some(c) => json!({
                "service": service,
                "version": c.version,
                "computed_at": rfc3339(c.computed_at),
                "metrics": c.results,
            }),
            None => json!({"service": service, "version": null, "reason": waiting}),
        })
        .collect();
    Ok(Json(json!({
        "goals": {"ever_failed": GOAL_EVER_FAILED, "paused": GOAL_PAUSED},
        "history": state.settings.calibration.history.as_secs(),
        "offset": state.settings.calibration.offset.as_secs(),
        "services": entries,
    })))
}
