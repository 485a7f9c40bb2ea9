//! SLO status over HTTP: what `slogate evaluate --output json` prints, for every service or
//! one SLO.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::ApiError;
use super::requests::known_service;
use super::state::AppState;
use crate::analysis::slo::{GatePolicy, SloStatus};
use crate::evaluate::{evaluate_service, status_json};

/// `GET /api/v1/slos`: every SLO of every service, now.
pub async fn all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let catalog = state.catalog();
    let names: Vec<String> = catalog.services.iter().map(|s| s.service.clone()).collect();
    status(&state, &names, None).await
}

/// `GET /api/v1/slos/{service}/{slo}`.
pub async fn one(
    State(state): State<AppState>,
    Path((service, slo)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let catalog = state.catalog();
    let found = known_service(&catalog, &service)?;
    if !found.slos.iter().any(|s| s.name == slo) {
        return Err(ApiError::not_found(
            "unknown_slo",
            format!("service {service} has no SLO {slo:?}"),
        ));
    }
    status(&state, &[service], Some(&slo)).await
}

async fn status(
    state: &AppState,
    services: &[String],
    slo: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let at = Utc::now();
    let flat = statuses(state, services, slo, at).await?;
    Ok(Json(status_json(&flat, at)))
}

/// The statuses of the named services' SLOs (all, or the one named) at `at`, within the
/// request deadline: what the JSON API answers and the status pages show.
pub(super) async fn statuses(
    state: &AppState,
    services: &[String],
    slo: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Vec<SloStatus>, ApiError> {
    let catalog = state.catalog();
    let policy = GatePolicy {
        budget_floor: state.settings.gate.budget_floor,
    };
    let evaluations = catalog
        .services
        .iter()
        .filter(|s| services.contains(&s.service))
        .map(|s| evaluate_service(&state.source, &catalog, s, slo, at.timestamp(), &policy));
    let all = futures::future::join_all(evaluations);
    let statuses = tokio::time::timeout(state.settings.request_deadline, all)
        .await
        .map_err(|_| {
            ApiError::unavailable(format!(
                "Prometheus at {} did not answer within {}s",
                state.source.url(),
                state.settings.request_deadline.as_secs_f64()
            ))
        })?;
    Ok(statuses.into_iter().flatten().collect())
}
