//! `slogate serve`: the HTTP service Argo Rollouts and Flagger wait on.
//!
//! Handlers only parse, call into `evaluate` (the same code as the CLI), write the history and
//! answer; routes, middleware and the background tasks (definition reloads, readiness probe,
//! history retention, the span buckets' flush to the store, the notification dispatcher, the
//! weekly report schedule, the canary profiles' backtests) are put together here.

mod auth;
mod bluegreen;
mod calibration;
mod definitions;
pub mod error;
mod flagger;
mod gates;
mod history;
mod listen;
mod loopback;
mod ops;
mod otlp;
pub mod pages;
pub mod rate;
/// Public for the fuzz targets of the gate bodies (`fuzz/`); the server is its only user.
pub mod requests;
mod state;
mod status;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use chrono::Utc;
use tokio::signal::unix::{SignalKind, signal};

pub use state::AppState;

use crate::analysis::slo::GatePolicy;
use crate::config::Settings;
use crate::notify::webhook::http_transports;
use crate::notify::{Dispatcher, GateNotifier, Transport};
use crate::report::{self, Reporter, smtp::SmtpTransport};
use crate::source::PrometheusSource;
use crate::source::traces::FlushScope;
use crate::store::jobs::{Job, run_alone};

use crate::telemetry::{Telemetry, names};

/// How often readiness asks Prometheus until it first answers.
const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// A sequential analysis not asked about for this long is over (its rollout finished or was
/// abandoned); its running state is deleted. A week covers a rollout paused over a weekend.
const SEQUENTIAL_IDLE: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// How often old verdicts are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// How often the stored span buckets past the retention are deleted: each replica does it, so
/// a minute keeps the table within a minute of the retention at little cost.
const SPAN_PRUNE_INTERVAL: Duration = Duration::from_secs(60);
/// The most time shutdown gives the last span flush (every bucket with unwritten spans): a
/// healthy one takes milliseconds, and Kubernetes kills the pod 30 s after SIGTERM.
const SHUTDOWN_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The routes: the API behind bearer tokens (Flagger's webhook behind the token in its
/// payload), operations endpoints open.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/gates/canary", post(gates::canary))
        .route("/api/v1/gates/bluegreen/pre", post(bluegreen::pre))
        .route("/api/v1/gates/bluegreen/post", post(bluegreen::post))
        .route(
            "/api/v1/gates/slo",
            get(gates::slo_get).post(gates::slo_post),
        )
        .route("/api/v1/verdicts", get(history::list))
        .route("/api/v1/verdicts/{id}", get(history::detail))
        .route("/api/v1/slos", get(status::all))
        .route("/api/v1/slos/{service}/{slo}", get(status::one))
        .route("/api/v1/calibrations", get(calibration::list))
        .route("/api/v1/reload", post(ops::reload))
        // Every error of the JSON API in its documented shape; OTLP answers in its own.
        .layer(middleware::from_fn(error::json_errors))
        .route(
            "/v1/traces",
            post(otlp::traces)
                .layer(DefaultBodyLimit::max(state.settings.traces.max_body_bytes))
                .layer(middleware::from_fn_with_state(state.clone(), otlp::admit)),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    // Flagger's webhooks send no headers: this route checks the token its payload carries
    // (`flagger.rs`), so it stays outside the bearer-token layer.
    let webhooks = Router::new()
        .route("/api/v1/gates/flagger", post(flagger::webhook))
        .layer(middleware::from_fn(error::json_errors));
    Router::new()
        .merge(api)
        .merge(webhooks)
        .merge(pages::routes(state.clone()))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            loopback::guard,
        ))
        .layer(middleware::from_fn(ops::track))
        .with_state(state)
}

/// Loads everything, serves until SIGTERM or SIGINT, then finishes the requests in flight.
pub async fn run(settings: Settings, telemetry: Arc<Telemetry>) -> anyhow::Result<()> {
    let catalog = definitions::load(&settings.slos).map_err(|errors| {
        anyhow::anyhow!(
            "the SLO definitions in {} have errors:\n{}",
            settings.slos.display(),
            errors.join("\n")
        )
    })?;
    metrics::gauge!(names::DEFINITIONS_LOADED).set(definitions::slo_count(&catalog) as f64);
    // Blocking: the PostgreSQL client must not run on a runtime thread.
    let location = settings.db.clone();
    let store = tokio::task::spawn_blocking(move || location.open())
        .await
        .context("opening the verdict history")?
        .with_context(|| format!("opening the verdict history {}", settings.db))?;
    if !store.writable() {
        tracing::error!(db = %settings.db,
            "the verdict history is read-only: verdicts are answered but not stored, and no pass is given");
    }
    let source = PrometheusSource::new(settings.prometheus.clone())
        .map_err(|e| anyhow::anyhow!("prometheus.url: {e}"))?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listen: cannot bind {}", settings.listen))?;
    tracing::info!(listen = %settings.listen, prometheus = %source.url(),
        services = catalog.services.len(), settings = ?settings, "slogate serving");
    let store = Arc::new(store);
    let (dispatcher, wake) = Dispatcher::new(
        store.clone(),
        transports(&settings)?,
        settings.notify.backoff,
        settings.notify.timeout,
    );
    let notify_timeout = settings.notify.timeout;
    let notifier = Arc::new(GateNotifier::new(
        store.clone(),
        Arc::new(settings.notify.clone()),
        wake.clone(),
    ));
    let state = AppState::new(settings, catalog, source, store, telemetry, notifier);
    tokio::spawn(definitions::watch(state.clone()));
    tokio::spawn(probe_prometheus(state.clone()));
    tokio::spawn(prune_history(state.clone()));
    tokio::spawn(span_upkeep(state.clone()));
    tokio::spawn(calibration::run(state.clone()));

    // One shutdown signal for the server, the dispatcher and the report schedule, given once
    // the drain is over.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(drain(
        state.clone(),
        state.settings.connections.shutdown_drain,
        stop,
    ));
    let on_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let dispatching = tokio::spawn(dispatcher.run(on_stop(stopped.clone())));
    if state.settings.report.smtp.is_some() {
        let reporter = Reporter {
            settings: state.settings.report.clone(),
            sources: report::Sources {
                prometheus: state.source.clone(),
                store: Some(state.store.clone()),
                policy: GatePolicy {
                    budget_floor: state.settings.gate.budget_floor,
                },
                status_cache: state.status_cache.clone(),
                basis: Default::default(),
            },
            store: state.store.clone(),
        };
        let catalog_state = state.clone();
        tokio::spawn(report::schedule::run(
            reporter,
            move || catalog_state.catalog(),
            Some(wake),
            on_stop(stopped.clone()),
        ));
    }
    let limits = state.settings.connections;
    let spans_state = state.clone();
    let answered = listen::serve(listener, router(state), limits, on_stop(stopped)).await;
    if !answered {
        tracing::warn!(grace = ?limits.shutdown_grace,
            "requests still in flight after the shutdown grace period are cut off");
    }
    // The open span buckets too: a graceful restart loses no span.
    let last_flush = flush_spans(&spans_state, FlushScope::All);
    if tokio::time::timeout(SHUTDOWN_FLUSH_TIMEOUT, last_flush)
        .await
        .is_err()
    {
        tracing::warn!("the last span flush did not finish in time; spans not written are lost");
    }
    // The attempt in flight is finished and recorded; one cut off past its timeout stays
    // pending and is sent after the next start.
    if tokio::time::timeout(notify_timeout + Duration::from_secs(1), dispatching)
        .await
        .is_err()
    {
        tracing::warn!(
            "the notification dispatcher did not stop in time; pending messages stay queued"
        );
    }
    if answered {
        tracing::info!("stopped: every request in flight was answered");
    }
    Ok(())
}

/// Every transport the dispatcher sends with, one per channel: Slack and PagerDuty always,
/// email when `report.smtp` is set (without it `serve` sends no reports).
fn transports(settings: &Settings) -> anyhow::Result<Vec<Arc<dyn Transport>>> {
    let (slack, pagerduty) = http_transports(&settings.notify)
        .context("notify: cannot build the HTTP client of the Slack and PagerDuty transports")?;
    let mut transports: Vec<Arc<dyn Transport>> = vec![Arc::new(slack), Arc::new(pagerduty)];
    if let Some(smtp) = &settings.report.smtp {
        // Built here, inside the runtime: lettre's connection pool needs it.
        transports.push(Arc::new(SmtpTransport::new(smtp).context("report.smtp")?));
    }
    Ok(transports)
}

/// Asks Prometheus a trivial query until it answers once (readiness).
async fn probe_prometheus(state: AppState) {
    let mut ticks = tokio::time::interval(PROBE_INTERVAL);
    loop {
        ticks.tick().await;
        match state
            .source
            .instant("vector(1)", Utc::now().timestamp())
            .await
        {
            Ok(_) => {
                state.mark_prometheus_answered();
                tracing::info!("Prometheus answered: ready");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "Prometheus has not answered yet: not ready"),
        }
    }
}

/// Hourly: deletes verdicts and finished notifications older than the retention, the state of
/// sequential analyses idle for [`SEQUENTIAL_IDLE`], and what was last told to subjects idle
/// for the retention (unless that was a fail still to be resolved), and expired sign-in sessions.
/// One replica at a time prunes (`store::jobs`); the others skip that hour.
async fn prune_history(state: AppState) {
    let mut ticks = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        ticks.tick().await;
        let Ok(retention) = chrono::Duration::from_std(state.settings.history_retention) else {
            return;
        };
        let store = state.store.clone();
        let ran = run_alone(&state.store, Job::Prune, || async move {
            let cutoff = Utc::now() - retention;
            let idle_cutoff = Utc::now() - SEQUENTIAL_IDLE;
            tokio::task::spawn_blocking(move || {
                Ok::<_, crate::store::StoreError>((
                    store.prune(cutoff)?,
                    store.prune_outbox(cutoff)?,
                    store.prune_sequential(idle_cutoff)?,
                    store.prune_notified(cutoff)?,
                    store.prune_sessions(Utc::now())?,
                ))
            })
            .await
        })
        .await;
        match ran {
            Ok(None) => tracing::debug!("another replica is pruning the history"),
            Ok(Some(Ok(Ok((0, 0, 0, 0, _))))) => {}
            Ok(Some(Ok(Ok((verdicts, messages, analyses, subjects, _))))) => tracing::info!(
                verdicts,
                messages,
                analyses,
                subjects,
                "old verdicts, sent notifications, idle sequential analyses and idle \
                 notification subjects pruned"
            ),
            Ok(Some(Ok(Err(e)))) | Err(e) => {
                tracing::warn!(error = %e, "pruning the history failed")
            }
            Ok(Some(Err(e))) => tracing::warn!(error = %e, "the pruning task stopped"),
        }
    }
}

/// Every flush interval (`traces.flush_interval`): drops the span windows past their
/// retention, so memory is returned even when no export arrives to expire them on the way;
/// writes the closed buckets to the store for the other replicas and restarts; and every
/// [`SPAN_PRUNE_INTERVAL`] deletes the stored buckets past the retention.
async fn span_upkeep(state: AppState) {
    let mut ticks = tokio::time::interval(state.spans.flush_settings().interval);
    // A slow store delays the next flush rather than firing a burst of them after it.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned_at: Option<tokio::time::Instant> = None;
    loop {
        ticks.tick().await;
        state.spans.memory().expire(Utc::now());
        flush_spans(&state, FlushScope::Closed).await;
        if pruned_at.is_some_and(|t| t.elapsed() < SPAN_PRUNE_INTERVAL) {
            continue;
        }
        pruned_at = Some(tokio::time::Instant::now());
        match state.spans.prune(Utc::now()).await {
            Ok(0) => {}
            Ok(buckets) => {
                tracing::debug!(buckets, "stored span buckets past the retention pruned")
            }
            Err(e) => {
                metrics::counter!(names::ERRORS, "kind" => "store").increment(1);
                tracing::warn!(error = %e, "pruning the stored span buckets failed");
            }
        }
    }
}

/// Writes the span buckets `scope` names; a failure is logged and counted, and the buckets stay
/// due for the next flush.
async fn flush_spans(state: &AppState, scope: FlushScope) {
    match state.spans.flush(Utc::now(), scope).await {
        Ok(report) => {
            metrics::counter!(names::SPAN_BUCKETS_FLUSHED).increment(report.buckets as u64);
            if scope == FlushScope::All {
                tracing::info!(buckets = report.buckets, "span buckets written at shutdown");
            }
        }
        Err(e) => {
            metrics::counter!(names::ERRORS, "kind" => "store").increment(1);
            tracing::warn!(error = %e, ?scope,
                "writing span buckets to the store failed; they stay in memory and are written \
                 at the next flush");
        }
    }
}

/// On SIGTERM or SIGINT: readiness turns 503 at once, so that load balancers and Kubernetes'
/// endpoints stop sending here, while the listener still answers whatever arrives meanwhile;
/// after `delay` (or at a second signal) `stop` tells the listener to close and the background
/// tasks to end.
async fn drain(state: AppState, delay: Duration, stop: tokio::sync::watch::Sender<bool>) {
    shutdown_signal().await;
    state.start_draining();
    if !delay.is_zero() {
        tracing::info!(
            ?delay,
            "draining: not ready, still serving until the load balancer \
            stops sending (connections.shutdown_drain)"
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown_signal() => tracing::info!("a second signal: draining cut short"),
        }
    }
    tracing::info!("no longer accepting connections: finishing requests in flight");
    let _ = stop.send(true);
}

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}
