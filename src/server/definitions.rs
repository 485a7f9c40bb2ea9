//! Keeping the SLO definitions current: reloaded on SIGHUP, on a change on disk (checked every
//! `reload_interval`), or on `POST /api/v1/reload`. A set with any error is refused as a whole
//! and the last good set stays in force: a bad edit never takes gates away.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};

use super::state::AppState;
use crate::spec::diagnostic::Severity;
use crate::spec::{self, Catalog};
use crate::telemetry::names;

/// What a reload did.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadOutcome {
    /// Whether the new set is in force.
    pub applied: bool,
    /// Services in force after the reload.
    pub services: usize,
    /// SLOs in force after the reload.
    pub slos: usize,
    /// Every error found (`FILE:LINE:COL: FIELD: MESSAGE`), when refused.
    pub errors: Vec<String>,
}

/// Loads the definitions at `path`, or every error found.
pub fn load(path: &Path) -> Result<Catalog, Vec<String>> {
    let report = spec::load_paths(&[path.to_path_buf()]);
    if report.has_errors() {
        return Err(report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect());
    }
    if report.catalog.services.is_empty() {
        return Err(vec![format!(
            "{}: no SLO definitions found",
            path.display()
        )]);
    }
    Ok(report.catalog)
}

/// Number of SLOs in a catalog.
pub fn slo_count(catalog: &Catalog) -> usize {
    catalog.services.iter().map(|s| s.slos.len()).sum()
}

/// Reloads now; keeps the current set when the new one has errors.
pub async fn reload(state: &AppState) -> ReloadOutcome {
    let path = state.settings.slos.clone();
    let loaded = tokio::task::spawn_blocking(move || load(&path))
        .await
        .unwrap_or_else(|e| Err(vec![format!("the loader stopped: {e}")]));
    match loaded {
        Ok(catalog) => {
            let (services, slos) = (catalog.services.len(), slo_count(&catalog));
            state.replace_catalog(catalog);
            metrics::counter!(names::DEFINITION_RELOADS, "result" => "ok").increment(1);
            metrics::gauge!(names::DEFINITIONS_LOADED).set(slos as f64);
            tracing::info!(services, slos, "SLO definitions reloaded");
            ReloadOutcome {
                applied: true,
                services,
                slos,
                errors: Vec::new(),
            }
        }
        Err(errors) => {
            metrics::counter!(names::DEFINITION_RELOADS, "result" => "error").increment(1);
            metrics::counter!(names::ERRORS, "kind" => "definitions").increment(1);
            for e in &errors {
                tracing::error!(error = %e, "SLO definitions refused; the previous set stays in force");
            }
            let current = state.catalog();
            ReloadOutcome {
                applied: false,
                services: current.services.len(),
                slos: slo_count(&current),
                errors,
            }
        }
    }
}

/// Runs until the process ends: reloads on SIGHUP and when the files change.
pub async fn watch(state: AppState) {
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reloading on file changes only");
            None
        }
    };
    let mut ticks = tokio::time::interval(state.settings.reload_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = fingerprint(&state.settings.slos);
    loop {
        let hup = async {
            match hangup.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = hup => {
                tracing::info!("SIGHUP: reloading the SLO definitions");
                seen = fingerprint(&state.settings.slos);
                reload(&state).await;
            }
            _ = ticks.tick() => {
                let now = fingerprint(&state.settings.slos);
                if now != seen {
                    seen = now;
                    tracing::info!("SLO definition files changed: reloading");
                    reload(&state).await;
                }
            }
        }
    }
}

/// Names, sizes and modification times of the definition files: a cheap test for a change
/// that does not read the files.
fn fingerprint(path: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    let mut visit = vec![path.to_path_buf()];
    while let Some(p) = visit.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                // Hidden entries are skipped as the loader skips them, except that a
                // ConfigMap's update swaps `..data`, which changes the visible symlinks'
                // targets: metadata() follows them, so sizes and times still change.
                let visible = entries
                    .flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'));
                visit.extend(visible.map(|e| e.path()));
            }
        } else {
            files.push((p, meta.len(), meta.modified().ok()));
        }
    }
    files.sort();
    files
}
