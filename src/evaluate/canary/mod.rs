//! Runs canary analyses: for each metric of a service's canary profile, the baseline and
//! canary data (from Prometheus, the version matcher added through the syntax tree, or from the
//! spans received over OTLP), all fetched at once, then judged by `analysis::sequential` in the
//! profile's mode. [`gate::judge_canary`] is the one road of the canary gate: state read,
//! fetch, judgement, state written.

mod fetch;
pub mod gate;
pub mod noise;

use chrono::{DateTime, TimeZone, Utc};
use futures::future::join_all;

use crate::analysis::canary::absolute::{self, Level};
use crate::analysis::canary::{self, CanaryJudgement, MetricData};
use crate::analysis::sequential::{self, AnalysisState, Judging};
use crate::source::prometheus::QuerySource;
use crate::source::traces::SharedSpans;
use crate::spec::CanaryProfile;
use crate::verdict::{Check, Verdict, VerdictKind, Window, new_id, rfc3339};
use fetch::{Purpose, fetch};
use noise::NoisePriors;

pub use gate::{AnalysisKey, judge_canary};

/// What to compare: two versions over a time range.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRequest {
    /// The baseline's version label value (e.g. the stable pod-template hash).
    pub baseline: String,
    /// The canary's version label value.
    pub canary: String,
    /// Start of the analysis window (unix seconds).
    pub start: i64,
    /// End of the analysis window (unix seconds).
    pub end: i64,
    /// The caller's last ask of this analysis (no look follows): evidence that contradicts
    /// itself is then inconclusive rather than a pass.
    pub last: bool,
    /// Where the baseline is read: the canary's window, or one of its own.
    pub baseline_span: BaselineSpan,
}

/// Where a request reads its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineSpan {
    /// Over the canary's window: both versions side by side (canary steps).
    Same,
    /// Over a window of its own, unix seconds `[start, end]`: the blue-green post-promotion
    /// gate reads the old version before the switch and the new one after it.
    Window {
        /// Start of the baseline's window.
        start: i64,
        /// End of the baseline's window.
        end: i64,
    },
    /// Not at all: a blue-green preview is judged alone, on its absolute criteria.
    Absent,
}

impl CanaryRequest {
    /// The baseline's window, `None` when no baseline is read.
    pub fn baseline_window(&self) -> Option<(i64, i64)> {
        match self.baseline_span {
            BaselineSpan::Same => Some((self.start, self.end)),
            BaselineSpan::Window { start, end } => Some((start, end)),
            BaselineSpan::Absent => None,
        }
    }
}

/// Where a canary analysis reads its data.
pub struct CanarySources<'a> {
    /// The service analysed (trace metrics select its spans).
    pub service: String,
    /// Prometheus, for the `prometheus` metrics.
    pub prometheus: &'a dyn QuerySource,
    /// The spans received over OTLP (this replica's, and every replica's closed buckets in
    /// the store), for the `traces` metrics; `None` outside `slogate serve` (those metrics
    /// are then `nodata`).
    pub spans: Option<&'a SharedSpans>,
}

/// Step of range queries for value metrics: one sample per minute, a scrape interval.
pub const VALUES_STEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Fetches and judges every metric of `profile` on the request's window alone (fixed mode):
/// each metric's noise-robust test at the fixed-horizon level, with the descriptive judge's
/// sides and minimum data.
pub async fn evaluate_canary(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    request: &CanaryRequest,
    confidence: f64,
) -> CanaryJudgement {
    let (described, tested) = fetch_both(sources, profile, request, None).await;
    let alpha = sequential::level(confidence);
    let minutes = (request.end - request.start) as f64 / 60.0;
    let judgements = profile
        .metrics
        .iter()
        .zip(described)
        .zip(tested)
        .map(|((m, data), test_data)| {
            let state = sequential::advance(None, m, &test_data, minutes, 1, alpha);
            let described = canary::judge_metric(m, &data, confidence);
            let mut judged = sequential::decide(m, &state, described, 1, alpha, Judging::Fixed);
            let level = Level::of_analysis(alpha, minutes, &state);
            judged.absolute = absolute::judge_criteria(m, &data, level, true);
            judged
        })
        .collect();
    canary::judge(judgements, profile.pass_score, profile.marginal_score)
}

/// Judges a blue-green preview alone: each metric with a criterion that needs no baseline
/// (`max`, `max_rate`) fetched for the canary (the preview) only, over the request's window,
/// and held against its limits at level α (a fixed-horizon bound: the pre-promotion template
/// asks once). The metrics' ratio comparisons are not made: there is no baseline.
pub async fn evaluate_preview(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    request: &CanaryRequest,
    confidence: f64,
) -> CanaryJudgement {
    let alpha = sequential::level(confidence);
    let alone = CanaryRequest {
        baseline_span: BaselineSpan::Absent,
        ..request.clone()
    };
    let metrics: Vec<_> = profile
        .metrics
        .iter()
        .filter(|m| m.absolute.judges_alone())
        .collect();
    let data = join_all(
        metrics
            .iter()
            .map(|m| fetch(sources, profile, m, &alone, false, Purpose::Describe)),
    )
    .await;
    let judged: Vec<_> = metrics
        .iter()
        .zip(&data)
        .map(|(m, d)| {
            let mut j = canary::judge_metric(m, d, confidence);
            let minutes = (request.end - request.start) as f64 / 60.0;
            j.absolute = absolute::judge_criteria(m, d, Level::new(alpha, minutes), false);
            j
        })
        .collect();
    canary::judge_alone(&judged)
}

/// Fetches the descriptive data of the request's window and the test's data of `increment`
/// (default: the request's window), each once per metric.
async fn fetch_both(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    request: &CanaryRequest,
    increment: Option<(&CanaryRequest, bool)>,
) -> (Vec<MetricData>, Vec<MetricData>) {
    let (window, open_start) = increment.unwrap_or((request, false));
    let same = increment.is_none() || (window.start == request.start && !open_start);
    let described = join_all(
        profile
            .metrics
            .iter()
            .map(|m| fetch(sources, profile, m, request, false, Purpose::Describe)),
    );
    let tested = join_all(profile.metrics.iter().map(|m| async move {
        // Counts and Prometheus values are the same data for both purposes: fetched once
        // when the windows agree.
        if same && !fetch::per_minute(m) {
            None
        } else {
            Some(fetch(sources, profile, m, window, open_start, Purpose::Test).await)
        }
    }));
    let (described, tested) = futures::join!(described, tested);
    let tested = tested
        .into_iter()
        .zip(&described)
        .map(|(t, d)| t.unwrap_or_else(|| d.clone()))
        .collect();
    (described, tested)
}

/// Fetches and judges every metric of `profile` as one look of the sequential test whose state
/// so far is `prior` (`None`: the first look); returns the judgement and the state after the
/// look, which the caller keeps. A metric's test that starts at this look starts from its
/// measured noise prior in `noise`, if it has one.
///
/// The descriptive judge runs on the request's window; the test gets the increment since the
/// previous look's end (see `analysis::sequential`). A request bringing less than a minute of
/// new time takes no look: the answer is the evidence so far, and the state is returned
/// unchanged.
pub async fn evaluate_canary_sequential(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    request: &CanaryRequest,
    confidence: f64,
    prior: Option<AnalysisState>,
    noise: &NoisePriors,
) -> (CanaryJudgement, AnalysisState) {
    let alpha = sequential::level(confidence);
    let mut state = prior.unwrap_or_default();
    let window = state.next_window(request.start, request.end);
    let increment = window.map(|(start, end)| CanaryRequest {
        start,
        end,
        ..request.clone()
    });
    let open_start = state.looks > 0;
    let (described, tested) = match &increment {
        Some(inc) => fetch_both(sources, profile, request, Some((inc, open_start))).await,
        None => {
            let (d, _) = fetch_both(sources, profile, request, None).await;
            let none = d
                .iter()
                .map(|_| MetricData::Missing(String::new()))
                .collect();
            (d, none)
        }
    };
    let look = state.looks + u64::from(window.is_some());
    let judging = Judging::Sequential { last: request.last };
    let mut metrics = Vec::new();
    let mut judgements = Vec::new();
    for ((m, data), test_data) in profile.metrics.iter().zip(&described).zip(&tested) {
        let prior = state.metrics.iter().find(|s| s.name == m.name).cloned();
        let mut metric_state = match (&increment, prior) {
            (Some(inc), prior) => {
                let minutes = (inc.end - inc.start) as f64 / 60.0;
                let noise = noise.get(&m.name);
                sequential::advance_with_noise(prior, m, test_data, minutes, look, alpha, noise)
            }
            (None, Some(prior)) => prior,
            (None, None) => {
                let noise = noise.get(&m.name);
                sequential::advance_with_noise(None, m, test_data, 1.0, look, alpha, noise)
            }
        };
        let described = canary::judge_metric(m, data, confidence);
        let mut judged = sequential::decide(m, &metric_state, described, look, alpha, judging);
        // The absolute criteria are bounds on the request's window, at α spent over the
        // analysis's looks (`absolute::look_level`).
        let spent = absolute::look_level(alpha, look.max(1));
        let minutes = (request.end - request.start) as f64 / 60.0;
        let level = Level::of_analysis(spent, minutes, &metric_state);
        judged.absolute = absolute::judge_criteria(m, data, level, true);
        absolute::remember_breaches(&mut judged.absolute, &mut metric_state.breaches, look);
        judgements.push(judged);
        metrics.push(metric_state);
    }
    if let Some((start, end)) = window {
        if state.looks == 0 {
            state.first_start = start;
        }
        state.looks = look;
        state.last_end = end;
        // Metrics no longer in the profile keep their state, in case they come back.
        for old in std::mem::take(&mut state.metrics) {
            if !metrics.iter().any(|m| m.name == old.name) {
                metrics.push(old);
            }
        }
        state.metrics = metrics;
    }
    let judgement = canary::judge(judgements, profile.pass_score, profile.marginal_score);
    (judgement, state)
}

/// The canary gate's verdict from a judgement over `[start, end]`.
pub fn canary_verdict(service: &str, judgement: &CanaryJudgement, start: i64, end: i64) -> Verdict {
    let time =
        |t: i64| -> DateTime<Utc> { Utc.timestamp_opt(t, 0).single().unwrap_or_else(Utc::now) };
    let checks = judgement
        .metrics
        .iter()
        .map(|m| Check {
            name: m.name.clone(),
            source: m.source.to_string(),
            verdict: m.outcome,
            classification: m.classification.as_str().to_string(),
            baseline: m.baseline.clone(),
            canary: m.canary.clone(),
            effect: m.effect,
            interval: m.interval,
            p_value: m.p_value,
            threshold: m.threshold.clone(),
            reason: m.reason.clone(),
            sequential: m.sequential.clone(),
        })
        .collect();
    Verdict {
        id: new_id(),
        kind: VerdictKind::Canary,
        verdict: judgement.outcome,
        score: judgement.score,
        summary: format!("{service}: {}", judgement.summary),
        service: service.to_string(),
        window: Window {
            start: rfc3339(time(start)),
            end: rfc3339(time(end)),
        },
        checks,
        evaluated_at: rfc3339(Utc::now()),
    }
}

/// What each metric's two sides looked like, keyed by metric name, for the verdict's stored
/// inputs (`inputs.distributions`): bounded quantiles or counts, never the raw samples. Kept
/// out of the verdict JSON, whose contract Argo and Flagger read.
pub fn distributions_json(judgement: &CanaryJudgement) -> serde_json::Value {
    let by_metric: serde_json::Map<String, serde_json::Value> = judgement
        .metrics
        .iter()
        .filter_map(|m| {
            let d = m.distribution.as_ref()?;
            Some((m.name.clone(), serde_json::to_value(d).ok()?))
        })
        .collect();
    serde_json::Value::Object(by_metric)
}
