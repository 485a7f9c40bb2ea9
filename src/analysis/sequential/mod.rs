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
//!   events, a mixture over a grid of ratios, each look tempered by the estimated
//!   overdispersion), [`RateRatioTest`];
//! - `shift`: the shift of values (paired per-minute log ratios, a normal mixture scaled by a
//!   drift-robust long-run variance), [`ShiftTest`];
//! - `signs`: the sign test that values used before, kept so that stored states read back;
//! - `normal`: the normal mixture and tail shared by them;
//! - `state`: a metric's running test, advanced by each look's increment ([`advance`]);
//! - `decide`: what the evidence means for the verdict in each mode ([`decide`],
//!   [`judge_fixed`]).
//!
//! Pure: the caller fetches the increments and keeps the state ([`AnalysisState`] is serde).

mod counts;
mod decide;
mod normal;
mod shift;
mod signs;
mod state;

pub use counts::{
    Component, DISPERSION_LOOKS, GRID_POINTS, GRID_REACH, MEASURED_PRIOR_FLOOR, NoisePrior,
    PRIOR_DISPERSION, PRIOR_LOOKS, RateRatioTest,
};
pub use decide::{Judging, decide, judge_fixed};
pub use normal::{ln_normal_cdf, normal_mixture_log_e};
pub use shift::{MAX_PHI, MIXTURE_N, PRIOR_PHI, PRIOR_SD, PRIOR_WEIGHT, ShiftSummary, ShiftTest};
pub use signs::{SignTest, log_e_value as sign_test_log_e_value};
pub use state::{
    AnalysisState, MIN_LOOK_SECS, MetricState, Rejection, Tally, Test, advance, advance_with_noise,
    level,
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
