//! The canary profile's `pacing` block: the generated AnalysisTemplate's schedule and limits
//! (`spec::pacing` holds the model and the defaults, with why).

use serde::Deserialize;

use crate::spec::check;
use crate::spec::diagnostic::Issues;
use crate::spec::pacing::Pacing;
use crate::spec::yaml::join_key;

/// Most looks in one AnalysisRun: a run of a day at one a minute. Argo stores every
/// measurement in the AnalysisRun's status, and an object has a size limit.
pub const MAX_COUNT: u32 = 1440;
/// Most consecutive errors tolerated: an hour of slogate away at Argo's 10 s retries. Beyond
/// that a rollout would wait on a gate nobody runs.
pub const MAX_CONSECUTIVE_ERROR_LIMIT: u32 = 360;

/// `pacing:` (every field optional; absent ones take `spec::pacing`'s defaults).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacingDoc {
    #[serde(default)]
    initial_delay: Option<String>,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    failure_limit: Option<u32>,
    #[serde(default)]
    inconclusive_limit: Option<u32>,
    #[serde(default)]
    consecutive_error_limit: Option<u32>,
}

/// Maps the block into the model, recording every problem under `path`.
pub fn load(doc: PacingDoc, path: &str, issues: &mut Issues) -> Option<Pacing> {
    let at = |field: &str| join_key(path, field);
    let defaults = Pacing::default();
    let duration = |issues: &mut Issues, field: &str, text: &Option<String>| {
        let Some(text) = text else {
            return Some(None);
        };
        let d = check::duration(issues, &at(field), field, text)?;
        // Argo reads Go durations; whole seconds keep the generated text exact.
        if d.as_secs() == 0 || d.as_std().subsec_nanos() != 0 {
            issues.error(
                at(field),
                format!("{field} `{text}` must be a whole number of seconds above zero"),
            );
            return None;
        }
        Some(Some(d))
    };
    let initial_delay = duration(issues, "initial_delay", &doc.initial_delay);
    let interval = duration(issues, "interval", &doc.interval);
    let count = doc.count.unwrap_or(defaults.count);
    if count == 0 || count > MAX_COUNT {
        issues.error(
            at("count"),
            format!("count {count} must be 1 to {MAX_COUNT}"),
        );
    }
    let consecutive_error_limit = doc
        .consecutive_error_limit
        .unwrap_or(defaults.consecutive_error_limit);
    if consecutive_error_limit > MAX_CONSECUTIVE_ERROR_LIMIT {
        issues.error(
            at("consecutive_error_limit"),
            format!(
                "consecutive_error_limit {consecutive_error_limit} is above \
                 {MAX_CONSECUTIVE_ERROR_LIMIT} (an hour of errors at Argo's 10 s retries)"
            ),
        );
    }
    Some(Pacing {
        initial_delay: initial_delay?.unwrap_or(defaults.initial_delay),
        interval: interval?.unwrap_or(defaults.interval),
        count,
        failure_limit: doc.failure_limit.unwrap_or(defaults.failure_limit),
        inconclusive_limit: doc
            .inconclusive_limit
            .unwrap_or(defaults.inconclusive_limit),
        consecutive_error_limit,
    })
}
