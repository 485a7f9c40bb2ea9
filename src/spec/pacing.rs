//! How often Argo Rollouts asks the canary gate in a generated AnalysisTemplate, and what it
//! tolerates: the profile's `pacing` block (docs/generated.md, "Pacing").
//!
//! The defaults are chosen against the sequential tests (docs/statistics.md, "Pacing"): at a
//! canary of 10% of 200 requests/s with 1% errors, a 10x error regression fails at the first
//! or second look (within 2 minutes of the canary taking traffic) and a 2x regression within
//! 5 minutes, while an equal canary is still promoted (A/A) in at least 95% of rollouts.

use super::duration::PromDuration;

/// Wait before the first look: one minute, so the first verdict has a minute of canary
/// traffic (a scrape or two) and a gross regression is failed by minute 2 at the latest.
pub const DEFAULT_INITIAL_DELAY: PromDuration = PromDuration::from_secs(60);
/// Time between looks: one minute, the resolution of `increase`/`rate` over 15-30 s scrapes.
pub const DEFAULT_INTERVAL: PromDuration = PromDuration::from_secs(60);
/// Looks per AnalysisRun: 15, so one step's run lasts 15 minutes. The rate-ratio test tempers
/// each minute by its overdispersion prior, so a 2x error regression at 10% canary traffic needs
/// about ten minutes of evidence (docs/statistics.md, "Pacing"); with 10 looks a step, 2x errors
/// failed before the rollout's end in 93.9% of simulated rollouts, short of the 95% goal of
/// `tests/canary_noise.rs`.
pub const DEFAULT_COUNT: u32 = 15;
/// Fails tolerated: none. slogate answers `inconclusive`, not `fail`, on too little data, and
/// its sequential test bounds the false-fail rate over all looks, so one `fail` is trusted.
pub const DEFAULT_FAILURE_LIMIT: u32 = 0;
/// Inconclusive looks tolerated: 4. The first looks of a step judge a minute or two of canary
/// traffic; a value metric (a p95 per minute) needs 5 values a side, so the first four looks
/// of a step may be inconclusive for want of data, and that must not pause the rollout.
pub const DEFAULT_INCONCLUSIVE_LIMIT: u32 = 4;
/// Consecutive measurement errors tolerated: 15. Argo retries an errored measurement every
/// 10 s (`DefaultErrorRetryInterval`, analysis/analysis.go) and moves the run to Error, which
/// aborts the rollout, once errors exceed this limit (Argo's default is 4: 50 s). 15 errors
/// at 10 s cover a slogate restart of 2 minutes and a half.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: u32 = 15;
/// Argo's retry interval after an errored measurement, in seconds (analysis/analysis.go,
/// `DefaultErrorRetryInterval`).
pub const ARGO_ERROR_RETRY_SECONDS: u64 = 10;

/// The measurement schedule and limits of the generated canary template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Wait from the step's start (the canary taking its share of traffic) to the first look.
    pub initial_delay: PromDuration,
    /// Time between looks.
    pub interval: PromDuration,
    /// Looks per AnalysisRun.
    pub count: u32,
    /// `fail` verdicts tolerated before the run fails and the rollout aborts.
    pub failure_limit: u32,
    /// `inconclusive` verdicts tolerated before the run is Inconclusive and the rollout pauses.
    pub inconclusive_limit: u32,
    /// Consecutive errored asks (slogate away) tolerated before the run errs and the rollout
    /// aborts.
    pub consecutive_error_limit: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            initial_delay: DEFAULT_INITIAL_DELAY,
            interval: DEFAULT_INTERVAL,
            count: DEFAULT_COUNT,
            failure_limit: DEFAULT_FAILURE_LIMIT,
            inconclusive_limit: DEFAULT_INCONCLUSIVE_LIMIT,
            consecutive_error_limit: DEFAULT_CONSECUTIVE_ERROR_LIMIT,
        }
    }
}

impl Pacing {
    /// How long slogate may be away without aborting a rollout: Argo's errored asks, one every
    /// 10 s, up to the limit.
    pub fn tolerated_outage_secs(&self) -> u64 {
        u64::from(self.consecutive_error_limit) * ARGO_ERROR_RETRY_SECONDS
    }

    /// Seconds from the step's start to each look.
    pub fn look_offsets_secs(&self) -> Vec<u64> {
        (0..u64::from(self.count))
            .map(|i| self.initial_delay.as_secs() + i * self.interval.as_secs())
            .collect()
    }
}
