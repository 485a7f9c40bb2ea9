//! Health, readiness, slogate's own metrics, the reload endpoint, and the request metrics
//! middleware.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

use super::definitions;
use super::state::AppState;
use crate::store::Store;
use crate::telemetry::names;

/// `GET /healthz` (liveness): the process serves requests. It asks nothing else, the database
/// least of all: a restart cures none of their outages, and a database outage must not restart
/// every replica at once.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// How long readiness waits for the store. Under the probes' timeouts (Kubernetes' 1 s
/// default, the 2 s of `deploy/`): a database that does not answer by then is reported as such
/// rather than making the probe itself time out.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_millis(800);

/// `GET /readyz`: 200 once the definitions are loaded and Prometheus has answered, while the
/// history database is still the file that was opened (SQLite) or answers a query within
/// [`STORE_CHECK_TIMEOUT`] (PostgreSQL), and until shutdown begins; else 503 saying which is
/// missing.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let slos: usize = state.catalog().services.iter().map(|s| s.slos.len()).sum();
    let prometheus = state.prometheus_answered();
    let draining = state.draining();
    let store = state.store.clone();
    let backend = store.backend_name();
    let history = check_store(store).await;
    if let Err(e) = &history {
        tracing::error!(error = %e, "not ready: the verdict history cannot be written or reached");
    }
    let ready = prometheus && history.is_ok() && !draining;
    let body = json!({
        "ready": ready,
        "definitions": {"services": state.catalog().services.len(), "slos": slos},
        "prometheus": if prometheus { "answered" } else { "has not answered yet" },
        // The path and cause are in the log; this endpoint is open to anyone.
        "history": match (&history, backend) {
            (Ok(()), _) => "ok",
            (Err(StoreCheck::Slow), _) => "the database did not answer in time",
            (Err(_), "postgres") => "the database does not answer",
            (Err(_), _) => "the database file was deleted or replaced",
        },
        "shutdown": if draining { "draining: finishing requests, taking no new ones soon" } else { "no" },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Why the store check failed.
#[derive(Debug, thiserror::Error)]
enum StoreCheck {
    /// No answer within [`STORE_CHECK_TIMEOUT`].
    #[error("the store did not answer within {STORE_CHECK_TIMEOUT:?}")]
    Slow,
    /// An answer that says the store cannot be used.
    #[error("{0}")]
    Failed(String),
}

/// The store's own check, bounded by [`STORE_CHECK_TIMEOUT`]. Blocking (on PostgreSQL a round
/// trip), so on the blocking pool; a check still running past the timeout ends by itself
/// within the pool's connect timeout.
async fn check_store(store: Arc<Store>) -> Result<(), StoreCheck> {
    let checked = tokio::task::spawn_blocking(move || store.check_file_within(STORE_CHECK_TIMEOUT));
    match tokio::time::timeout(STORE_CHECK_TIMEOUT, checked).await {
        Err(_) => Err(StoreCheck::Slow),
        Ok(Err(e)) => Err(StoreCheck::Failed(format!(
            "the readiness check stopped: {e}"
        ))),
        Ok(Ok(result)) => result.map_err(|e| StoreCheck::Failed(e.to_string())),
    }
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.telemetry.render(),
    )
        .into_response()
}

/// `POST /api/v1/reload`: reloads the definitions now; 200 with what is in force, or 422 with
/// every diagnostic (the previous set stays in force).
pub async fn reload(State(state): State<AppState>) -> Response {
    let outcome = definitions::reload(&state).await;
    let status = if outcome.applied {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(outcome)).into_response()
}

/// The `method` label of a request: one of the standard methods, or `other` for any other.
/// Any token is a valid method in HTTP, and a label value per made-up method would let anyone
/// who reaches the port add series to `/metrics` without bound.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

/// Counts and times every request by route (the matched pattern, so ids do not explode the
/// label set).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method());
    let started = Instant::now();
    // One span per request: exported over OTLP when configured, with the gate's logs in it.
    let span = tracing::info_span!("http request", http.method = %method, http.route = %route);
    let response = next.run(request).instrument(span).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(names::HTTP_DURATION, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(names::HTTP_REQUESTS, "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}
