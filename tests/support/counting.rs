//! A counting HTTP proxy in front of a real Prometheus: it forwards every request, counts the
//! queries (`/api/v1/query`, `/api/v1/query_range`) and records how many requests were in
//! flight at once, as Prometheus would see them. Optionally it plays a slow Prometheus: each
//! request holds one of `max_concurrency` slots (Prometheus' `--query.max-concurrency`, FIFO)
//! for `delay` before it is forwarded, so a flood of queries queues as it would on a busy
//! server. Or a Thanos that lost a store: [`CountingProxy::partial`] adds a warning to every
//! query answer, as a partial response does. It binds 127.0.0.1 on a free port, forwards only to the loopback upstream it was
//! given, and stops when dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::serve::Served;

/// A slow Prometheus: at most `max_concurrency` requests evaluated at once, each for `delay`.
#[derive(Debug, Clone, Copy)]
pub struct Slowness {
    /// How long each request is held (while holding a slot) before it is forwarded.
    pub delay: Duration,
    /// Slots: requests beyond them wait in line, first come first served.
    pub max_concurrency: usize,
}

/// What the proxy counted.
#[derive(Debug, Default)]
struct Counts {
    /// Requests received and not yet answered (waiting for a slot included).
    in_flight: AtomicUsize,
    /// The most `in_flight` has been.
    peak: AtomicUsize,
    /// Query requests received (instant and range).
    queries: AtomicUsize,
}

/// Decrements `in_flight` however the request ends (answered, or dropped by the client).
struct InFlight(Arc<Counts>);

impl InFlight {
    fn enter(counts: &Arc<Counts>) -> InFlight {
        let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counts.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(counts.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    slots: Option<(Semaphore, Duration)>,
    counts: Arc<Counts>,
    /// Added to every query answer's `warnings`.
    warning: Option<String>,
}

/// A running proxy; dropping it stops it.
pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    counts: Arc<Counts>,
    _served: Served,
}

impl CountingProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`), slowed when `slowness` is set.
    pub fn start(upstream: &str, slowness: Option<Slowness>) -> CountingProxy {
        Self::start_with(upstream, slowness, None)
    }

    /// A proxy whose every query answer carries `warning`, as Thanos' partial responses do.
    pub fn partial(upstream: &str, warning: &str) -> CountingProxy {
        Self::start_with(upstream, None, Some(warning.to_string()))
    }

    fn start_with(
        upstream: &str,
        slowness: Option<Slowness>,
        warning: Option<String>,
    ) -> CountingProxy {
        let upstream = upstream.trim_end_matches('/').to_string();
        assert!(
            upstream.starts_with("http://127.0.0.1:"),
            "the proxy only forwards to loopback, not to {upstream}"
        );
        let counts = Arc::new(Counts::default());
        let proxy = Arc::new(Proxy {
            upstream,
            client: reqwest::Client::new(),
            slots: slowness.map(|s| (Semaphore::new(s.max_concurrency), s.delay)),
            counts: counts.clone(),
            warning,
        });
        let app = Router::new().fallback(forward).with_state(proxy);
        let served = Served::start(app);
        CountingProxy {
            url: served.url.clone(),
            counts,
            _served: served,
        }
    }

    /// The most requests that were in flight at once so far.
    pub fn peak(&self) -> usize {
        self.counts.peak.load(Ordering::SeqCst)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.counts.in_flight.load(Ordering::SeqCst)
    }

    /// Query requests received so far.
    pub fn queries(&self) -> usize {
        self.counts.queries.load(Ordering::SeqCst)
    }
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let _in_flight = InFlight::enter(&proxy.counts);
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    if path.starts_with("/api/v1/query") {
        proxy.counts.queries.fetch_add(1, Ordering::SeqCst);
    }
    let _slot = match &proxy.slots {
        Some((slots, delay)) => {
            let slot = slots.acquire().await.expect("never closed");
            tokio::time::sleep(*delay).await;
            Some(slot)
        }
        None => None,
    };
    let method = request.method().clone();
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    let Ok(body) = axum::body::to_bytes(request.into_body(), 16 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut outgoing = proxy
        .client
        .request(method, format!("{}{path}", proxy.upstream))
        .body(body);
    if let Some(ct) = content_type {
        outgoing = outgoing.header(header::CONTENT_TYPE, ct);
    }
    let Ok(answer) = outgoing.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let mut bytes = answer.bytes().await.unwrap_or_default();
    if let Some(warning) = &proxy.warning
        && path.starts_with("/api/v1/query")
        && let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&bytes)
    {
        json["warnings"] = serde_json::json!([warning]);
        bytes = serde_json::to_vec(&json).unwrap().into();
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    } else {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}
