//! The verdict history: newest first, filtered, one verdict with what it was made from.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::state::AppState;
use crate::store::{HistoryFilter, StoreError, StoredVerdict};
use crate::verdict::{Outcome, VerdictKind, rfc3339};

/// Query string of `GET /api/v1/verdicts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this service.
    service: Option<String>,
    /// Only this outcome.
    outcome: Option<Outcome>,
    /// Only this kind.
    kind: Option<VerdictKind>,
    /// Page size (default 50, at most 1000).
    limit: Option<usize>,
    /// The `next` cursor of the previous page.
    before: Option<String>,
}

/// `GET /api/v1/verdicts`: `{"verdicts": [...], "next": cursor or null}`.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let filter = HistoryFilter {
        service: query.service,
        outcome: query.outcome,
        kind: query.kind,
        limit,
        before: query.before,
    };
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.list(&filter))
        .await
        .map_err(|e| ApiError::unavailable(format!("the history reader stopped: {e}")))?
        .map_err(|e| match e {
            StoreError::BadCursor { .. } => ApiError::field("before", e.to_string()),
            e => ApiError::store("the history cannot be read", &e),
        })?;
    let next = (page.verdicts.len() == limit)
        .then_some(page.next)
        .flatten();
    let verdicts: Vec<Value> = page.verdicts.iter().map(summary).collect();
    Ok(Json(json!({ "verdicts": verdicts, "next": next })))
}

/// `GET /api/v1/verdicts/{id}`: the verdict and its inputs.
pub async fn detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let stored = lookup(&state, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_verdict", format!("no verdict {id:?}")))?;
    Ok(Json(json!({
        "verdict": stored.verdict,
        "inputs": stored.inputs,
        "recorded_at": rfc3339(stored.recorded_at),
    })))
}

/// The verdict with this id, read off the async threads; `None` when it is not in the history.
pub(super) async fn lookup(state: &AppState, id: &str) -> Result<Option<StoredVerdict>, ApiError> {
    let store = state.store.clone();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || store.get(&id))
        .await
        .map_err(|e| ApiError::unavailable(format!("the history reader stopped: {e}")))?
        .map_err(|e| ApiError::store("the history cannot be read", &e))
}

/// A list entry: the whole verdict (reasons included) without the inputs.
fn summary(stored: &StoredVerdict) -> Value {
    let mut v = serde_json::to_value(&stored.verdict).unwrap_or(Value::Null);
    v["recorded_at"] = json!(rfc3339(stored.recorded_at));
    v
}
