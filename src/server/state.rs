//! What every handler shares: the definitions in force, the Prometheus source, the history,
//! the notifier and the settings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{Notify, Semaphore};

use crate::config::Settings;
use crate::evaluate::catalog::StatusCache;
use crate::notify::GateNotifier;
use crate::source::traces::{DecodeBudget, ReplicaId, SharedSpans, SpanStore};
use crate::source::{Priority, PrometheusSource, QuerySource};
use crate::spec::Catalog;
use crate::store::Store;
use crate::telemetry::Telemetry;

/// Shared state, cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The fields behind [`AppState`].
pub struct Inner {
    /// The settings the server started with.
    pub settings: Settings,
    /// The last good set of definitions; a bad edit on disk never replaces it.
    catalog: RwLock<Arc<Catalog>>,
    /// Prometheus for pages, the status API, the report and readiness: these queries take
    /// only the budget's shared permits.
    pub source: Arc<dyn QuerySource>,
    /// The same Prometheus (one connection pool, one budget) at gate priority: the gates' own
    /// door, so a burst of page views never holds up a rollout.
    pub gate_source: Arc<dyn QuerySource>,
    /// Catalog evaluations shared by the overview, `GET /api/v1/slos` and the report.
    pub status_cache: Arc<StatusCache>,
    /// Verdict history.
    pub store: Arc<Store>,
    /// slogate's own metrics, for `/metrics`.
    pub telemetry: Arc<Telemetry>,
    /// Spans received over OTLP, in bounded windows, and the closed windows every replica
    /// wrote to the store.
    pub spans: SharedSpans,
    /// Exports decoded at once; past it, `/v1/traces` answers 429.
    pub otlp_permits: Semaphore,
    /// Memory shared by the exports being decoded; past it, `/v1/traces` answers 503.
    pub decode_budget: DecodeBudget,
    /// Turns recorded verdicts into queued Slack and PagerDuty messages.
    pub notifier: Arc<GateNotifier>,
    /// Set once Prometheus has answered a query (readiness).
    prometheus_answered: AtomicBool,
    /// Set on SIGTERM: `/readyz` answers 503 so the load balancer stops sending, while the
    /// listener still serves for `connections.shutdown_drain`.
    draining: AtomicBool,
    /// Wakes the calibration job: a canary verdict may have named a new stable version.
    pub calibration_wake: Notify,
    /// Requests per token (`rate_limit`).
    pub rate_limits: super::rate::RateLimits,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// State from its parts.
    pub fn new(
        settings: Settings,
        catalog: Catalog,
        source: PrometheusSource,
        store: Arc<Store>,
        telemetry: Arc<Telemetry>,
        notifier: Arc<GateNotifier>,
    ) -> Self {
        let settings_spans = settings.traces.spans.clone();
        let spans = SharedSpans::new(
            SpanStore::new(settings_spans),
            Some(store.clone()),
            ReplicaId::generate(),
            settings.traces.flush,
        );
        let max_exports = settings.traces.max_concurrent_exports;
        let decode_budget = DecodeBudget::new(settings.traces.decode_budget_bytes);
        // Checked by `Config::settings`; an unusable one can only mean no limit.
        let rate_limits = settings
            .rate_limit
            .limits()
            .unwrap_or_else(|_| super::rate::RateLimits::off());
        let status_cache = Arc::new(StatusCache::new(
            settings.status_cache_ttl,
            settings.evaluation,
        ));
        AppState(Arc::new(Inner {
            settings,
            catalog: RwLock::new(Arc::new(catalog)),
            gate_source: Arc::new(source.with_priority(Priority::Gate)),
            source: Arc::new(source.with_priority(Priority::Status)),
            status_cache,
            store,
            telemetry,
            spans,
            otlp_permits: Semaphore::new(max_exports),
            decode_budget,
            notifier,
            prometheus_answered: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            calibration_wake: Notify::new(),
            rate_limits,
        }))
    }

    /// The definitions in force (a snapshot: a reload during a request does not change it).
    pub fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(guard) => guard.clone(),
            // A panic while swapping cannot leave a half-written Arc: the old one is still whole.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts a new, valid set of definitions in force.
    pub fn replace_catalog(&self, catalog: Catalog) {
        let new = Arc::new(catalog);
        match self.catalog.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Notes that Prometheus answered.
    pub fn mark_prometheus_answered(&self) {
        self.prometheus_answered.store(true, Ordering::Relaxed);
    }

    /// Notes that shutdown has begun: from now on the process is not ready.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether shutdown has begun.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Whether Prometheus has answered at least once.
    pub fn prometheus_answered(&self) -> bool {
        self.prometheus_answered.load(Ordering::Relaxed)
    }
}
