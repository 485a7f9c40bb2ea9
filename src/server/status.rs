//! SLO status over HTTP: what `slogate evaluate --output json` prints, for every service or
//! one SLO. The whole catalog comes from the shared status cache (`evaluate::catalog`), with
//! its age; one SLO is evaluated fresh.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::error::ApiError;
use super::requests::known_service;
use super::state::AppState;
use crate::analysis::slo::{GatePolicy, SloStatus};
use crate::evaluate::catalog::{CatalogStatus, Wanted};
use crate::evaluate::{evaluate_service, status_json};

/// `GET /api/v1/slos`: every SLO of every service, as of the newest evaluation within the
/// status cache's TTL; `age_seconds` says how old it is.
pub async fn all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = Utc::now();
    let evaluated = catalog_statuses(&state, now).await?;
    let at = Utc.timestamp_opt(evaluated.at, 0).single().unwrap_or(now);
    let mut body = status_json(&evaluated.statuses, at);
    body["age_seconds"] = json!(age_seconds(&evaluated, now));
    body["cache_ttl_seconds"] = json!(state.status_cache.ttl().as_secs_f64());
    evaluated.provenance.annotate(&mut body);
    Ok(Json(body))
}

/// How old an evaluation is at `now`, in whole seconds.
pub(super) fn age_seconds(evaluated: &CatalogStatus, now: DateTime<Utc>) -> i64 {
    (now.timestamp() - evaluated.at).max(0)
}

/// Every SLO's status, from the shared cache (or one evaluation for everyone waiting), within
/// the request deadline: what the overview and `GET /api/v1/slos` show.
pub(super) async fn catalog_statuses(
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<Arc<CatalogStatus>, ApiError> {
    let catalog = state.catalog();
    let policy = GatePolicy {
        budget_floor: state.settings.gate.budget_floor,
    };
    let wanted = Wanted::Latest {
        now: now.timestamp(),
    };
    let lookup = state
        .status_cache
        .statuses(&state.source, &catalog, policy, wanted);
    match tokio::time::timeout(state.settings.request_deadline, lookup).await {
        Ok(Ok(evaluated)) => Ok(evaluated),
        Ok(Err(e)) => Err(ApiError::unavailable(e)),
        Err(_) => Err(too_slow(state)),
    }
}

/// The answer when the statuses did not come within the request deadline.
fn too_slow(state: &AppState) -> ApiError {
    ApiError::unavailable(format!(
        "Prometheus at {} did not answer within {}s",
        state.source.url(),
        state.settings.request_deadline.as_secs_f64()
    ))
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
        .map(|s| {
            evaluate_service(
                state.source.as_ref(),
                &catalog,
                s,
                slo,
                at.timestamp(),
                &policy,
            )
        });
    let all = futures::future::join_all(evaluations);
    let statuses = tokio::time::timeout(state.settings.request_deadline, all)
        .await
        .map_err(|_| too_slow(state))?;
    Ok(statuses.into_iter().flatten().collect())
}
