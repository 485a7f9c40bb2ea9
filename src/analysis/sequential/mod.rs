//! Anytime-valid canary tests: Argo asks the gate at every interval of every step, each time on
//! more data, and a verdict must stay valid however often it is asked.
//!
//! Each metric's evidence is an e-process, a nonnegative supermartingale under the null (the
//! canary no worse than its tolerance) that starts at 1. By Ville's inequality the chance that
//! it *ever* reaches 1/α is at most α, so failing the check when it does keeps the false-fail
//! rate over the whole rollout at α, whatever the number of looks and whenever Argo stops.
//! Derivations, assumptions and figures: `docs/statistics.md`.
//!
//! - `counts`: the rate ratio of event counts (Poisson processes conditioned on each look's
//!   events, a mixture over a grid of ratios), [`RateRatioTest`];
//! - `signs`: stochastic order of values (a sequential sign test on paired values, a closed
//!   form truncated-beta mixture), [`SignTest`];
//! - `state`: a metric's running test, advanced by each look's increment, and the decision
//!   that combines it with the fixed-horizon judge ([`advance`], [`decide`]).
//!
//! Pure: the caller fetches the increments and keeps the state ([`AnalysisState`] is serde).

mod counts;
mod signs;
mod state;

pub use counts::{Component, GRID_POINTS, GRID_REACH, RateRatioTest};
pub use signs::{SignTest, log_e_value as sign_test_log_e_value};
pub use state::{
    AnalysisState, MIN_LOOK_SECS, MetricState, Rejection, Tally, Test, advance, decide, level,
};

use serde::{Deserialize, Serialize};

/// Which way a canary is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Worse {
    /// Higher than the baseline (errors, latency).
    Higher,
    /// Lower than the baseline (throughput, success).
    Lower,
}
