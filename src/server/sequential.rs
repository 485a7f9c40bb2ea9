//! The canary gate in the profile's mode: `fixed` judges the request's window alone;
//! `sequential` makes the ask one look of the analysis's anytime-valid test, its state read
//! from and written back to the store, so a restart neither loses evidence nor resets the test.

use chrono::Utc;

use super::requests::CanaryGate;
use super::state::AppState;
use crate::analysis::canary::CanaryJudgement;
use crate::analysis::sequential::AnalysisState;
use crate::evaluate::canary::{CanarySources, evaluate_canary, evaluate_canary_sequential};
use crate::spec::CanaryMode;
use crate::store::StoredSequential;
use crate::telemetry::names;

/// One analysis: the service and the two versions compared.
fn key(gate: &CanaryGate) -> String {
    format!(
        "{}/{}..{}",
        gate.service.service, gate.request.baseline, gate.request.canary
    )
}

/// Judges the canary in the profile's mode. A state that cannot be read (or decoded) is not
/// replaced by a new test (restarting the test at every ask would inflate false fails): the
/// answer is `inconclusive`, saying why, and nothing is written over the stored state.
pub async fn judge(
    state: &AppState,
    gate: &CanaryGate,
    sources: &CanarySources<'_>,
    confidence: f64,
) -> CanaryJudgement {
    if gate.profile.mode == CanaryMode::Fixed {
        return evaluate_canary(sources, &gate.profile, &gate.request, confidence).await;
    }
    let key = key(gate);
    let store = state.store.clone();
    let read_key = key.clone();
    let stored = tokio::task::spawn_blocking(move || store.sequential_state(&read_key)).await;
    let (prior, expected, readable) = match stored {
        Ok(Ok(Some(row))) => match serde_json::from_value::<AnalysisState>(row.state) {
            Ok(s) => (Some(s), Some(row.looks), true),
            Err(e) => {
                failed(&key, &format!("the stored state does not decode: {e}"));
                (None, None, false)
            }
        },
        Ok(Ok(None)) => (None, None, true),
        Ok(Err(e)) => {
            failed(&key, &e.to_string());
            (None, None, false)
        }
        Err(e) => {
            failed(&key, &format!("the store task stopped: {e}"));
            (None, None, false)
        }
    };
    let (mut judgement, next) =
        evaluate_canary_sequential(sources, &gate.profile, &gate.request, confidence, prior).await;
    if !readable {
        judgement.outcome = crate::verdict::Outcome::Inconclusive;
        judgement.summary = format!(
            "the sequential test's state could not be read from the store, so this ask cannot              be judged as part of the rollout's test: {}",
            judgement.summary
        );
    }
    if readable && Some(next.looks) != expected && next.looks > 0 {
        let store = state.store.clone();
        let service = gate.service.service.clone();
        let row = StoredSequential {
            looks: next.looks,
            state: serde_json::to_value(&next).unwrap_or_default(),
        };
        let write_key = key.clone();
        let saved = tokio::task::spawn_blocking(move || {
            store.save_sequential(&write_key, &service, expected, &row, Utc::now())
        })
        .await;
        match saved {
            Ok(Ok(true)) => {}
            // Another ask took this look first; its state stands, and this look's window
            // is taken again by the next ask, so nothing is lost or counted twice.
            Ok(Ok(false)) => tracing::warn!(analysis = %key,
                "a concurrent ask advanced the sequential test first; this look is not kept"),
            Ok(Err(e)) => failed(&key, &e.to_string()),
            Err(e) => failed(&key, &format!("the store task stopped: {e}")),
        }
    }
    judgement
}

fn failed(key: &str, why: &str) {
    metrics::counter!(names::ERRORS, "kind" => "store").increment(1);
    tracing::error!(analysis = %key, error = %why, "sequential test state not read or written");
}
