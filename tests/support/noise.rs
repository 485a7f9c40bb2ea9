//! A rollout simulator with production-shaped noise: per-minute data of both sides, replayed
//! through the gate and Argo Rollouts' analysis rules by `analysis::calibration::replay` (the
//! generated template's schedule under the default pacing: 45 looks at minutes 1-15, 17-31
//! and 33-47 after the canary's deployment at minute 0).
//!
//! Noise, per minute:
//! - traffic with common load swings (a slow wave and noise, hitting both sides);
//! - each side's error rate multiplied by its own gamma factor (mean 1, CV `rate_cv`):
//!   overdispersion from bursts and request mix;
//! - latency: log-normal per request around a median that drifts on the canary (AR(1),
//!   `drift_phi`, stationary sd `drift_sd`) and follows the common load on both sides;
//!   summarized as Prometheus would (histogram_quantile(0.95) of bucket counts summed over a
//!   `rate` window of `quantile_window` minutes, overlapping from step to step) or as span
//!   durations (each minute's spans, judged on per-minute medians by the gate).

use slogate::analysis::calibration::{LOOKBACK_MINUTES, Minute, ReplayTally, replay_with_noise};
use slogate::analysis::canary::Counts;
use slogate::analysis::sequential::NoisePrior;
use slogate::spec::{CanaryMetric, Direction, EffectMeasure, Pacing};

pub use super::rng::Rng;

/// How latency reaches the gate.
#[derive(Debug, Clone, Copy)]
pub enum Latency {
    /// histogram_quantile(0.95) over bucket counts summed over this many minutes.
    Histogram { quantile_window: usize },
    /// Span durations: this many canary spans a minute (the baseline gets 9x as many).
    Spans { canary_per_minute: usize },
}

/// One noise model.
#[derive(Debug, Clone, Copy)]
pub struct Noise {
    pub name: &'static str,
    /// All requests a minute.
    pub requests_per_minute: f64,
    /// The canary's share of the traffic.
    pub canary_share: f64,
    /// The baseline's error rate.
    pub error_rate: f64,
    /// Per-side, per-minute variation of the error rate (coefficient of variation).
    pub rate_cv: f64,
    /// Common load swing: sd of the log load factor (both sides).
    pub load_swing: f64,
    /// AR(1) coefficient of the canary's latency drift, per minute.
    pub drift_phi: f64,
    /// Stationary sd of that drift (log scale).
    pub drift_sd: f64,
    /// How latency is measured.
    pub latency: Latency,
    /// The σ² the service's calibration measured, which the gate's rate-ratio test starts
    /// from (`None`: the default prior, as for a service never backtested).
    pub measured_prior: Option<f64>,
}

impl Noise {
    /// A modest service: 100 requests/s, canary at 10%, 1% errors, no extra noise.
    pub const fn base(name: &'static str) -> Noise {
        Noise {
            name,
            requests_per_minute: 6000.0,
            canary_share: 0.1,
            error_rate: 0.01,
            rate_cv: 0.0,
            load_swing: 0.0,
            drift_phi: 0.0,
            drift_sd: 0.0,
            latency: Latency::Histogram { quantile_window: 2 },
            measured_prior: None,
        }
    }
}

/// A side's minute.
#[derive(Debug, Clone, Copy, Default)]
struct SideMinute {
    requests: u64,
    errors: u64,
    /// The latency summary: the window's p95 from buckets, or the minute's median span.
    value: f64,
    /// Every span duration of the minute is not kept; `value` holds its median.
    spans: usize,
}

/// Minutes −10..=45 of one rollout (baseline data exists before the canary).
struct Minutes {
    baseline: Vec<SideMinute>,
    canary: Vec<SideMinute>,
}

const FIRST_MINUTE: i64 = -10;
const LAST_MINUTE: i64 = 47;
/// Histogram bucket bounds (Prometheus' client defaults).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Per-request latency: log-normal with this median (s) and log sd.
const MEDIAN_LATENCY: f64 = 0.1;
const LATENCY_SIGMA: f64 = 0.5;

fn normal_cdf(x: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-x / std::f64::consts::SQRT_2)
}

/// Prometheus' histogram_quantile on cumulative-by-bucket counts (linear within a bucket, the
/// first bucket starting at 0; the +Inf bucket answers the highest finite bound).
fn histogram_quantile(q: f64, counts: &[f64; 12]) -> f64 {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let mut below = 0.0;
    for (i, &c) in counts.iter().enumerate() {
        if below + c >= rank && c > 0.0 {
            if i == BUCKETS.len() {
                return BUCKETS[BUCKETS.len() - 1];
            }
            let lower = if i == 0 { 0.0 } else { BUCKETS[i - 1] };
            return lower + (BUCKETS[i] - lower) * (rank - below) / c;
        }
        below += c;
    }
    BUCKETS[BUCKETS.len() - 1]
}

fn simulate(rng: &mut Rng, noise: &Noise, error_factor: f64, latency_factor: f64) -> Minutes {
    let n = (LAST_MINUTE - FIRST_MINUTE + 1) as usize;
    let mut baseline = Vec::with_capacity(n);
    let mut canary = Vec::with_capacity(n);
    let (mut drift, mut common) = (0.0, 0.0);
    let phase = rng.next_f64() * std::f64::consts::TAU;
    // Bucket counts of the last minutes, per side, for the quantile's rate window.
    let mut history: [Vec<[f64; 12]>; 2] = [Vec::new(), Vec::new()];
    for minute in FIRST_MINUTE..=LAST_MINUTE {
        // The common load: a slow wave plus AR(1) noise, both in log scale.
        common = 0.7 * common + (1.0f64 - 0.49).sqrt() * noise.load_swing * 0.5 * rng.normal();
        let wave = noise.load_swing * (phase + minute as f64 * std::f64::consts::TAU / 30.0).sin();
        let load = (wave + common).exp();
        drift = noise.drift_phi * drift
            + (1.0 - noise.drift_phi * noise.drift_phi).sqrt() * noise.drift_sd * rng.normal();
        for (side, out) in [(0usize, &mut baseline), (1, &mut canary)] {
            let is_canary = side == 1;
            let live = !is_canary || minute >= 1;
            if !live {
                out.push(SideMinute::default());
                history[side].push([0.0; 12]);
                continue;
            }
            let share = if is_canary {
                noise.canary_share
            } else {
                1.0 - noise.canary_share
            };
            let requests = rng.poisson(noise.requests_per_minute * share * load);
            let factor = rng.gamma_unit(noise.rate_cv) * if is_canary { error_factor } else { 1.0 };
            let errors = rng.poisson(requests as f64 * noise.error_rate * factor);
            // Latency rises a little with load on both sides; the canary drifts on its own.
            let mut mu = MEDIAN_LATENCY.ln() + 0.1 * (wave + common);
            if is_canary {
                mu += drift + latency_factor.ln();
            }
            let (value, spans) = match noise.latency {
                Latency::Histogram { quantile_window } => {
                    let mut counts = [0.0; 12];
                    let mut previous = 0.0;
                    for (i, le) in BUCKETS.iter().enumerate() {
                        let cdf = normal_cdf((le.ln() - mu) / LATENCY_SIGMA);
                        counts[i] = rng.poisson(requests as f64 * (cdf - previous)) as f64;
                        previous = cdf;
                    }
                    counts[11] = rng.poisson(requests as f64 * (1.0 - previous)) as f64;
                    history[side].push(counts);
                    let mut window = [0.0; 12];
                    for past in history[side].iter().rev().take(quantile_window) {
                        for (w, c) in window.iter_mut().zip(past) {
                            *w += c;
                        }
                    }
                    (histogram_quantile(0.95, &window), 0)
                }
                Latency::Spans { canary_per_minute } => {
                    let count = if is_canary {
                        canary_per_minute
                    } else {
                        9 * canary_per_minute
                    };
                    let mut durations: Vec<f64> = (0..count)
                        .map(|_| (mu + LATENCY_SIGMA * rng.normal()).exp())
                        .collect();
                    durations.sort_by(f64::total_cmp);
                    let median = if count == 0 {
                        f64::NAN
                    } else if count % 2 == 1 {
                        durations[count / 2]
                    } else {
                        (durations[count / 2 - 1] + durations[count / 2]) / 2.0
                    };
                    (median, count)
                }
            };
            out.push(SideMinute {
                requests,
                errors,
                value,
                spans,
            });
        }
    }
    Minutes { baseline, canary }
}

/// What the gate is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The error rate, as counts.
    Errors,
    /// The latency, as values.
    Latency,
}

/// The metric a profile gets with the defaults: only the name, kind and criticality given.
pub fn default_metric(kind: Kind) -> CanaryMetric {
    let measure = match kind {
        Kind::Errors => slogate::spec::CanaryMeasure::TraceErrors { operation: None },
        Kind::Latency => slogate::spec::CanaryMeasure::TraceLatency { operation: None },
    };
    let (allowed_increase, allowed_decrease) = measure.default_tolerances();
    CanaryMetric {
        name: match kind {
            Kind::Errors => "error-rate",
            Kind::Latency => "latency",
        }
        .into(),
        measure,
        direction: Direction::Increase,
        allowed_increase,
        critical_increase: None,
        allowed_decrease,
        critical_decrease: None,
        weight: 1.0,
        critical: true,
        must_have_data: false,
        required: true,
        min_samples: None,
        group: None,
        effect: EffectMeasure::Mean,
        absolute: Default::default(),
    }
}

/// One rollout's minutes as the replay takes them: from the minute `LOOKBACK_MINUTES − 1`
/// before the deployment (the first look reaches back that far) to the last look.
fn minutes_of(minutes: &Minutes, kind: Kind) -> (Vec<Minute>, Vec<Minute>) {
    let skip = (-(LOOKBACK_MINUTES as i64) + 1 - FIRST_MINUTE) as usize;
    let convert = |side: &[SideMinute]| -> Vec<Minute> {
        side.iter()
            .skip(skip)
            .map(|m| match kind {
                Kind::Errors => Minute::Counts(Counts {
                    counted: m.errors,
                    total: m.requests,
                }),
                Kind::Latency if m.requests > 0 && m.value.is_finite() => Minute::Value(m.value),
                Kind::Latency => Minute::Missing,
            })
            .collect()
    };
    (convert(&minutes.baseline), convert(&minutes.canary))
}

/// Runs `rollouts` rollouts of one scenario through the gate and Argo's rules at the default
/// pacing.
pub fn run(
    seed: u64,
    rollouts: usize,
    noise: &Noise,
    kind: Kind,
    error_factor: f64,
    latency_factor: f64,
) -> ReplayTally {
    let pacing = Pacing::default();
    run_paced(
        seed,
        rollouts,
        noise,
        kind,
        error_factor,
        latency_factor,
        &pacing,
    )
}

/// [`run`] at a given pacing.
pub fn run_paced(
    seed: u64,
    rollouts: usize,
    noise: &Noise,
    kind: Kind,
    error_factor: f64,
    latency_factor: f64,
    pacing: &Pacing,
) -> ReplayTally {
    let metric = default_metric(kind);
    let prior = noise
        .measured_prior
        .and_then(|d| NoisePrior::measured(d, "by a simulated backtest".into()));
    let mut rng = Rng(seed);
    let mut tally = ReplayTally::default();
    for _ in 0..rollouts {
        let minutes = simulate(&mut rng, noise, error_factor, latency_factor);
        let (baseline, canary) = minutes_of(&minutes, kind);
        tally.add(replay_with_noise(
            &metric,
            pacing,
            &baseline,
            &canary,
            prior.as_ref(),
        ));
    }
    tally
}
