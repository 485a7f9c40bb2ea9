//! The canary gate's one road: in fixed mode the request's window is judged on its own; in
//! sequential mode the ask is one look of the analysis's anytime-valid test, whose state is
//! read from the store, advanced by the look and written back with a compare-and-swap on the
//! look number, so a restart neither loses evidence nor resets the test, and two replicas or
//! two concurrent asks never both advance it.

use std::sync::Arc;

use super::noise::{NoisePriors, measured_priors};
use super::{CanaryRequest, CanarySources, evaluate_canary, evaluate_canary_sequential};
use crate::analysis::canary::CanaryJudgement;
use crate::analysis::sequential::AnalysisState;
use crate::spec::{CanaryMode, CanaryProfile};
use crate::store::{Store, StoredSequential};
use crate::verdict::Outcome;

/// One analysis: the service and the two versions compared. Versions cannot hold `|` (the
/// gate refuses it), so different pairs never share a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisKey(String);

impl AnalysisKey {
    /// The key of `service`'s analysis of `canary` against `baseline`.
    pub fn new(service: &str, request: &CanaryRequest) -> AnalysisKey {
        AnalysisKey(format!("{service}|{}|{}", request.baseline, request.canary))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What went wrong with the stored state, for the log and the answer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store could not be read or written.
    #[error("the store: {0}")]
    Store(String),
    /// The stored state is not an analysis state this version reads.
    #[error("the stored state does not decode: {0}")]
    Decode(String),
}

/// Judges the canary in the profile's mode. A sequential state that cannot be read is not
/// replaced by a new test (restarting the test at every ask would inflate false fails): the
/// answer is `inconclusive`, saying why, and nothing is written over the stored state. An ask
/// that loses the compare-and-swap to a concurrent one is judged again on the state that won,
/// so every answer is one that the stored test stands behind. With `measured_noise`, a new
/// analysis's count tests start from the noise the calibration job measured on its baseline
/// (`super::noise`).
pub async fn judge_canary(
    store: &Arc<Store>,
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    request: &CanaryRequest,
    confidence: f64,
    measured_noise: bool,
) -> CanaryJudgement {
    if profile.mode == CanaryMode::Fixed {
        return evaluate_canary(sources, profile, request, confidence).await;
    }
    let key = AnalysisKey::new(&sources.service, request);
    // A second try only after losing the race, on the state that won it.
    let mut retried = false;
    loop {
        let (prior, expected) = match read(store, &key).await {
            Ok(found) => found,
            Err(e) => return unreadable(sources, profile, request, confidence, &key, e).await,
        };
        // A new analysis starts from the service's measured noise, when its stable version was
        // backtested; later looks keep the prior their test started with.
        let noise = match prior {
            None if measured_noise => {
                noise_priors(store, &sources.service, &request.baseline).await
            }
            _ => NoisePriors::new(),
        };
        let (judgement, next) =
            evaluate_canary_sequential(sources, profile, request, confidence, prior, &noise).await;
        if Some(next.looks) == expected || next.looks == 0 {
            return judgement;
        }
        match write(store, &key, &sources.service, expected, &next).await {
            Ok(true) => return judgement,
            Ok(false) if !retried => {
                retried = true;
                tracing::info!(
                    analysis = key.as_str(),
                    "a concurrent ask advanced the sequential test first; judging again on it"
                );
            }
            Ok(false) => {
                let mut judgement = judgement;
                return not_kept(
                    &mut judgement,
                    "the sequential test kept moving under this ask",
                );
            }
            Err(e) => {
                failed(&key, &e);
                let mut judgement = judgement;
                return not_kept(&mut judgement, &e.to_string());
            }
        }
    }
}

async fn read(
    store: &Arc<Store>,
    key: &AnalysisKey,
) -> Result<(Option<AnalysisState>, Option<u64>), StateError> {
    let store = store.clone();
    let read_key = key.as_str().to_string();
    let row = tokio::task::spawn_blocking(move || store.sequential_state(&read_key))
        .await
        .map_err(|e| StateError::Store(format!("the store task stopped: {e}")))?
        .map_err(|e| StateError::Store(e.to_string()))?;
    match row {
        None => Ok((None, None)),
        Some(row) => serde_json::from_value::<AnalysisState>(row.state)
            .map(|s| (Some(s), Some(row.looks)))
            .map_err(|e| StateError::Decode(e.to_string())),
    }
}

/// The measured noise priors of `service`'s backtest of `baseline`; none when there is no
/// such backtest or the store cannot say (the analysis then starts from the default prior, as
/// it would for a service never backtested).
async fn noise_priors(store: &Arc<Store>, service: &str, baseline: &str) -> NoisePriors {
    let (store, name) = (store.clone(), service.to_string());
    match tokio::task::spawn_blocking(move || store.calibration(&name)).await {
        Ok(Ok(Some(calibration))) => measured_priors(&calibration, baseline, chrono::Utc::now()),
        Ok(Ok(None)) => NoisePriors::new(),
        Ok(Err(e)) => {
            tracing::warn!(service, error = %e,
                "calibration not read; the analysis starts from the default noise prior");
            NoisePriors::new()
        }
        Err(e) => {
            tracing::warn!(service, error = %e, "calibration read stopped");
            NoisePriors::new()
        }
    }
}

async fn write(
    store: &Arc<Store>,
    key: &AnalysisKey,
    service: &str,
    expected: Option<u64>,
    next: &AnalysisState,
) -> Result<bool, StateError> {
    let row = StoredSequential {
        looks: next.looks,
        state: serde_json::to_value(next).map_err(|e| StateError::Decode(e.to_string()))?,
    };
    let (store, key, service) = (store.clone(), key.as_str().to_string(), service.to_string());
    tokio::task::spawn_blocking(move || {
        store.save_sequential(&key, &service, expected, &row, chrono::Utc::now())
    })
    .await
    .map_err(|e| StateError::Store(format!("the store task stopped: {e}")))?
    .map_err(|e| StateError::Store(e.to_string()))
}

/// The answer when the state cannot be read: the look judged as a first one, never kept, and
/// inconclusive whatever it showed.
async fn unreadable(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    request: &CanaryRequest,
    confidence: f64,
    key: &AnalysisKey,
    error: StateError,
) -> CanaryJudgement {
    failed(key, &error);
    let (mut judgement, _) = evaluate_canary_sequential(
        sources,
        profile,
        request,
        confidence,
        None,
        &NoisePriors::new(),
    )
    .await;
    judgement.outcome = Outcome::Inconclusive;
    judgement.summary = format!(
        "the sequential test's state could not be read from the store, so this ask cannot be \
         judged as part of the rollout's test: {}",
        judgement.summary
    );
    judgement
}

/// A judgement whose look could not be kept: never a pass that the stored test does not
/// stand behind.
fn not_kept(judgement: &mut CanaryJudgement, why: &str) -> CanaryJudgement {
    if judgement.outcome == Outcome::Pass {
        judgement.outcome = Outcome::Inconclusive;
    }
    judgement.summary = format!(
        "{} (this look could not be kept in the sequential test's state: {why})",
        judgement.summary
    );
    judgement.clone()
}

fn failed(key: &AnalysisKey, error: &StateError) {
    metrics::counter!(crate::telemetry::names::ERRORS, "kind" => "store").increment(1);
    tracing::error!(analysis = key.as_str(), error = %error,
        "sequential test state not read or written");
}
