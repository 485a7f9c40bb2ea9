//! Replaying rollouts through the canary gate and Argo Rollouts' analysis rules, on per-minute
//! data: what `slogate calibrate` runs on a service's own history (A/A: a version against
//! itself an offset earlier), and what the noise simulator in the tests runs on simulated
//! minutes.
//!
//! A rollout has three canary steps, each one AnalysisRun as the generated template writes it
//! from the profile's pacing (`spec::pacing`; lookback 10m), the next step starting the minute
//! after the previous run's last look. With the default pacing (initialDelay 1m, interval 1m,
//! count 15) that is 45 looks, at minutes 1-15, 17-31 and 33-47 after the canary's deployment;
//! times are rounded up to whole minutes, the data's resolution, and looks past
//! [`ROLLOUT_MINUTES`] are not replayed. Argo's rules (`analysis/analysis.go`,
//! `assessMetricFailureInconclusiveOrError`): a run is Failed when failed measurements exceed
//! failureLimit, Inconclusive (the rollout pauses for a person) when inconclusive ones exceed
//! inconclusiveLimit, Successful once `count` measurements are taken without either.

use super::canary::{self, Counts, DEFAULT_CONFIDENCE, MetricData, judge_metric};
use super::sequential::{Judging, MetricState, NoisePrior, advance_with_noise, decide, level};
use crate::spec::{CanaryMetric, Pacing};
use crate::verdict::Outcome;

/// Most minutes of one rollout's analysis replayed, from the canary's deployment to its last
/// look (the data a replay is given covers them).
pub const ROLLOUT_MINUTES: usize = 47;
/// The template's lookback, in minutes (the first look of a step reaches back this far).
pub const LOOKBACK_MINUTES: usize = 10;
/// Canary steps of a replayed rollout, each one AnalysisRun.
pub const STEPS: usize = 3;

/// One look of a replayed rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// The AnalysisRun (step) it belongs to, from 0.
    pub run: usize,
    /// Minutes after the canary's deployment.
    pub minute: usize,
}

/// The generated template's measurement times under `pacing`, in minutes after the canary's
/// deployment, up to [`ROLLOUT_MINUTES`].
pub fn looks(pacing: &Pacing) -> Vec<Look> {
    let minutes = |secs: u64| secs.div_ceil(60).max(1) as usize;
    let (delay, interval) = (
        minutes(pacing.initial_delay.as_secs()),
        minutes(pacing.interval.as_secs()),
    );
    let mut out = Vec::new();
    let mut start = 0;
    for run in 0..STEPS {
        let mut last = start;
        for i in 0..pacing.count as usize {
            last = start + delay + i * interval;
            if last <= ROLLOUT_MINUTES {
                out.push(Look { run, minute: last });
            }
        }
        start = last + 1;
    }
    out
}

/// One minute of one side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Minute {
    /// Events counted and all events.
    Counts(Counts),
    /// One value (a latency quantile, a span median).
    Value(f64),
    /// Nothing that minute.
    Missing,
}

/// What Argo did with a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgoOutcome {
    /// Every run Successful: the rollout is promoted.
    Successful,
    /// A run Failed: the rollout is aborted.
    Failed,
    /// A run Inconclusive: the rollout pauses for a person.
    Paused,
}

/// One replayed rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// The first look the gate answered `fail` (asked at every look, whatever Argo did).
    pub first_fail: Option<usize>,
    /// Its time, in minutes after the canary's deployment.
    pub first_fail_minute: Option<usize>,
    /// What Argo's runs ended as.
    pub argo: ArgoOutcome,
    /// Looks answered `inconclusive`.
    pub inconclusive: usize,
}

/// Replays one rollout: `baseline` and `canary` hold minutes `-LOOKBACK_MINUTES + 1 ..=
/// ROLLOUT_MINUTES` (index 0 is the minute `LOOKBACK_MINUTES − 1` before the deployment), the
/// canary's `Missing` before it; the looks and Argo's limits are `pacing`'s.
pub fn replay(
    metric: &CanaryMetric,
    pacing: &Pacing,
    baseline: &[Minute],
    canary: &[Minute],
) -> Replay {
    replay_with_noise(metric, pacing, baseline, canary, None)
}

/// [`replay`], the rate-ratio test starting from the noise prior `noise` (`None`: the default).
pub fn replay_with_noise(
    metric: &CanaryMetric,
    pacing: &Pacing,
    baseline: &[Minute],
    canary: &[Minute],
    noise: Option<&NoisePrior>,
) -> Replay {
    let alpha = level(DEFAULT_CONFIDENCE);
    let mut state: Option<MetricState> = None;
    let mut last_end: Option<usize> = None;
    let mut first_fail = None;
    let mut first_fail_minute = None;
    let mut argo = None;
    let mut run = usize::MAX;
    let (mut failed, mut inconclusive, mut all_inconclusive) = (0, 0, 0);
    // Minute m (1-based after the deployment) is index m + LOOKBACK − 1.
    let index = |minute: usize| minute + LOOKBACK_MINUTES - 1;
    for (i, l) in looks(pacing).into_iter().enumerate() {
        let t = l.minute;
        let look = i as u64 + 1;
        let from = last_end.unwrap_or(t.saturating_sub(LOOKBACK_MINUTES));
        let window = |from: usize, paired: bool| {
            let range = index(from + 1).min(baseline.len())..index(t + 1).min(baseline.len());
            minutes_data(&baseline[range.clone()], &canary[range], paired)
        };
        let s = advance_with_noise(
            state.take(),
            metric,
            &window(from, true),
            (t - from) as f64,
            look,
            alpha,
            noise,
        );
        let described = judge_metric(
            metric,
            &window(t.saturating_sub(LOOKBACK_MINUTES), false),
            DEFAULT_CONFIDENCE,
        );
        let judged = decide(
            metric,
            &s,
            described,
            look,
            alpha,
            Judging::Sequential { last: false },
        );
        let outcome = canary::judge(vec![judged], 95.0, 75.0).outcome;
        state = Some(s);
        last_end = Some(t);
        if l.run != run {
            (failed, inconclusive, run) = (0, 0, l.run);
        }
        match outcome {
            Outcome::Fail => {
                failed += 1;
                first_fail.get_or_insert(i + 1);
                first_fail_minute.get_or_insert(t);
            }
            Outcome::Inconclusive => {
                inconclusive += 1;
                all_inconclusive += 1;
            }
            Outcome::Pass => {}
        }
        if argo.is_none() && failed > pacing.failure_limit as usize {
            argo = Some(ArgoOutcome::Failed);
        } else if argo.is_none() && inconclusive > pacing.inconclusive_limit as usize {
            argo = Some(ArgoOutcome::Paused);
        }
    }
    Replay {
        first_fail,
        first_fail_minute,
        argo: argo.unwrap_or(ArgoOutcome::Successful),
        inconclusive: all_inconclusive,
    }
}

/// The data of a run of minutes: summed counts, or the values (paired by minute for the test,
/// every value of each side for the descriptive judge).
fn minutes_data(baseline: &[Minute], canary: &[Minute], paired: bool) -> MetricData {
    let counts = |side: &[Minute]| {
        side.iter().fold(
            Counts {
                counted: 0,
                total: 0,
            },
            |acc, m| match m {
                Minute::Counts(c) => Counts {
                    counted: acc.counted + c.counted,
                    total: acc.total + c.total,
                },
                _ => acc,
            },
        )
    };
    let is_counts = baseline
        .iter()
        .chain(canary)
        .any(|m| matches!(m, Minute::Counts(_)));
    if is_counts {
        return MetricData::Events {
            baseline: counts(baseline),
            canary: counts(canary),
        };
    }
    let value = |m: &Minute| match m {
        Minute::Value(v) if v.is_finite() => Some(*v),
        _ => None,
    };
    if paired {
        let (b, c): (Vec<f64>, Vec<f64>) = baseline
            .iter()
            .zip(canary)
            .filter_map(|(b, c)| Some((value(b)?, value(c)?)))
            .unzip();
        MetricData::Values {
            baseline: b,
            canary: c,
        }
    } else {
        MetricData::Values {
            baseline: baseline.iter().filter_map(value).collect(),
            canary: canary.iter().filter_map(value).collect(),
        }
    }
}

/// What many replays came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayTally {
    /// Rollouts replayed.
    pub rollouts: usize,
    /// Rollouts the gate failed at some look.
    pub ever_failed: usize,
    /// Promoted.
    pub successful: usize,
    /// Aborted.
    pub failed: usize,
    /// Paused for a person.
    pub paused: usize,
    /// The first failing look of each failed rollout.
    pub fail_looks: Vec<usize>,
    /// Its minute after the canary's deployment.
    pub fail_minutes: Vec<usize>,
}

impl ReplayTally {
    /// Adds one replay.
    pub fn add(&mut self, r: Replay) {
        self.rollouts += 1;
        if let Some(look) = r.first_fail {
            self.ever_failed += 1;
            self.fail_looks.push(look);
        }
        if let Some(minute) = r.first_fail_minute {
            self.fail_minutes.push(minute);
        }
        match r.argo {
            ArgoOutcome::Successful => self.successful += 1,
            ArgoOutcome::Failed => self.failed += 1,
            ArgoOutcome::Paused => self.paused += 1,
        }
    }

    /// The median first failing look (NaN without any).
    pub fn median_fail_look(&self) -> f64 {
        median(&self.fail_looks)
    }

    /// The median minute of the first failing look (NaN without any).
    pub fn median_fail_minute(&self) -> f64 {
        median(&self.fail_minutes)
    }

    /// The share (0-1) of rollouts failed by minute `m`.
    pub fn failed_by_minute(&self, m: usize) -> f64 {
        self.fail_minutes.iter().filter(|&&f| f <= m).count() as f64 / self.rollouts.max(1) as f64
    }

    /// `n` as a percentage of the rollouts.
    pub fn pct(&self, n: usize) -> f64 {
        100.0 * n as f64 / self.rollouts.max(1) as f64
    }
}

fn median(values: &[usize]) -> f64 {
    {
        let mut looks = values.to_vec();
        looks.sort_unstable();
        match looks.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => looks[n / 2] as f64,
            n => (looks[n / 2 - 1] + looks[n / 2]) as f64 / 2.0,
        }
    }
}

/// The noise two aligned per-minute series show, A/A: for counts, the per-minute log-odds
/// variance of the first side's share (σ², what the rate-ratio test tempers by) and the
/// per-side rate CV it corresponds to; for values, the sd and lag-one correlation of the
/// per-minute log ratios (what the shift test's variance is made of).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// Event counts.
    Counts {
        /// σ² per minute (method of moments over the minutes, no prior).
        dispersion: f64,
        /// The per-side CV of the per-minute rate that gives it: √(exp(σ²/2) − 1).
        rate_cv: f64,
        /// Minutes used.
        minutes: usize,
    },
    /// Values.
    Values {
        /// Standard deviation of a minute's log ratio.
        sd: f64,
        /// Lag-one correlation of the log ratios.
        phi: f64,
        /// Minutes used.
        minutes: usize,
    },
}

/// Measures the noise of two aligned per-minute series (`None` with fewer than 3 usable
/// minutes).
pub fn measure_noise(a: &[Minute], b: &[Minute]) -> Option<Noise> {
    let pairs: Vec<(Minute, Minute)> = a.iter().copied().zip(b.iter().copied()).collect();
    let counts: Vec<(Counts, Counts)> = pairs
        .iter()
        .filter_map(|p| match p {
            (Minute::Counts(x), Minute::Counts(y)) if x.total > 0 && y.total > 0 => Some((*x, *y)),
            _ => None,
        })
        .collect();
    if counts.len() >= 3 {
        let mut test = super::sequential::RateRatioTest::new(1.0, super::sequential::Worse::Higher);
        for (x, y) in &counts {
            test.update(x.counted, x.total, y.counted, y.total, 1.0);
        }
        let dispersion = test.raw_dispersion()?;
        return Some(Noise::Counts {
            dispersion,
            rate_cv: ((dispersion / 2.0).exp() - 1.0).max(0.0).sqrt(),
            minutes: counts.len(),
        });
    }
    let logs: Vec<f64> = pairs
        .iter()
        .filter_map(|p| match p {
            (Minute::Value(x), Minute::Value(y)) if *x > 0.0 && *y > 0.0 => Some((x / y).ln()),
            _ => None,
        })
        .collect();
    if logs.len() < 3 {
        return None;
    }
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let c0 = logs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n;
    let c1 = logs
        .windows(2)
        .map(|w| (w[0] - mean) * (w[1] - mean))
        .sum::<f64>()
        / n;
    Some(Noise::Values {
        sd: (c0 * n / (n - 1.0)).sqrt(),
        phi: if c0 > 0.0 { c1 / c0 } else { 0.0 },
        minutes: logs.len(),
    })
}
