//! Runs canary analyses from Prometheus: for each metric of a service's canary profile, the
//! baseline and canary data (the version matcher added through the syntax tree), all fetched at
//! once, then judged by [`crate::analysis::canary`].

use chrono::{DateTime, TimeZone, Utc};
use futures::future::join_all;

use super::describe;
use crate::analysis::canary::{self, CanaryJudgement, Counts, MetricData};
use crate::analysis::sequential::{self, AnalysisState};
use crate::source::prometheus::{PrometheusSource, Sample};
use crate::source::traces::SpanStore;
use crate::spec::query::with_label_matcher;
use crate::spec::{CanaryMeasure, CanaryMetric, CanaryProfile, PromDuration};
use crate::verdict::{Check, Verdict, VerdictKind, Window, new_id, rfc3339};

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
}

/// Where a canary analysis reads its data.
pub struct CanarySources<'a> {
    /// The service analysed (trace metrics select its spans).
    pub service: String,
    /// Prometheus, for the `prometheus` metrics.
    pub prometheus: &'a PrometheusSource,
    /// The spans received over OTLP, for the `traces` metrics; `None` outside `slogate serve`
    /// (those metrics are then `nodata`).
    pub spans: Option<&'a SpanStore>,
}

/// Step of range queries for value metrics: one sample per minute, a scrape interval.
pub const VALUES_STEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Fetches and judges every metric of `profile`.
pub async fn evaluate_canary(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    request: &CanaryRequest,
    confidence: f64,
) -> CanaryJudgement {
    let fetches = profile
        .metrics
        .iter()
        .map(|m| fetch(sources, profile, m, request, false));
    let data = join_all(fetches).await;
    let judgements = profile
        .metrics
        .iter()
        .zip(&data)
        .map(|(m, d)| canary::judge_metric(m, d, confidence))
        .collect();
    canary::judge(judgements, profile.pass_score, profile.marginal_score)
}

async fn fetch(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    metric: &CanaryMetric,
    request: &CanaryRequest,
    open_start: bool,
) -> MetricData {
    let source = sources.prometheus;
    // A look after the first starts where the previous one ended: its first value sample is
    // one second later, so the sample at the boundary is not taken twice. (Counts need
    // nothing: a range selector `[d]` at `end` covers `(end - d, end]`, and span buckets are
    // taken by start time in `[start, end)`.)
    let values_start = request.start + i64::from(open_start);
    let window = PromDuration::from_secs((request.end - request.start).max(1) as u64).to_string();
    let label = &profile.version_label;
    let for_version = |query: &str, version: &str| with_label_matcher(query, label, version);
    match &metric.measure {
        CanaryMeasure::PrometheusEvents {
            counted_query,
            total,
            ..
        } => {
            let mut queries = Vec::new();
            for version in [&request.baseline, &request.canary] {
                for q in [counted_query, total] {
                    match for_version(&q.render(&window), version) {
                        Ok(q) => queries.push(q),
                        Err(e) => return MetricData::Missing(e.to_string()),
                    }
                }
            }
            let results = source.instant_all(&queries, request.end).await;
            let mut counts = Vec::new();
            for (query, result) in queries.iter().zip(results) {
                match result {
                    Ok(samples) => match count(&samples) {
                        Some(n) => counts.push(n),
                        None => {
                            return MetricData::Missing(format!(
                                "a count is NaN or negative: {query}"
                            ));
                        }
                    },
                    Err(e) => return MetricData::Missing(describe(&e)),
                }
            }
            MetricData::Events {
                baseline: Counts {
                    counted: counts[0],
                    total: counts[1],
                },
                canary: Counts {
                    counted: counts[2],
                    total: counts[3],
                },
            }
        }
        CanaryMeasure::PrometheusValues { query } => {
            let rendered = query.render(&window);
            let (b, c) = match (
                for_version(&rendered, &request.baseline),
                for_version(&rendered, &request.canary),
            ) {
                (Ok(b), Ok(c)) => (b, c),
                (Err(e), _) | (_, Err(e)) => return MetricData::Missing(e.to_string()),
            };
            let (rb, rc) = futures::join!(
                source.range(&b, values_start, request.end, VALUES_STEP),
                source.range(&c, values_start, request.end, VALUES_STEP)
            );
            let values = |r: Vec<crate::source::prometheus::Series>| -> Vec<f64> {
                r.into_iter()
                    .flat_map(|s| s.points.into_iter().map(|(_, v)| v))
                    .filter(|v| v.is_finite())
                    .collect()
            };
            match (rb, rc) {
                (Ok(b), Ok(c)) => MetricData::Values {
                    baseline: values(b),
                    canary: values(c),
                },
                (Err(e), _) | (_, Err(e)) => MetricData::Missing(describe(&e)),
            }
        }
        CanaryMeasure::TraceLatency { operation } | CanaryMeasure::TraceErrors { operation } => {
            let Some(spans) = sources.spans else {
                return MetricData::Missing(
                    "trace metrics are read from the spans `slogate serve` receives on \
                     POST /v1/traces; there are none here"
                        .to_string(),
                );
            };
            let op = operation.as_deref();
            let side = |version: &str| {
                spans.sample(&sources.service, version, op, request.start, request.end)
            };
            let (b, c) = (side(&request.baseline), side(&request.canary));
            if matches!(metric.measure, CanaryMeasure::TraceLatency { .. }) {
                MetricData::Values {
                    baseline: b.durations,
                    canary: c.durations,
                }
            } else {
                MetricData::Events {
                    baseline: Counts {
                        counted: b.errors,
                        total: b.total,
                    },
                    canary: Counts {
                        counted: c.errors,
                        total: c.total,
                    },
                }
            }
        }
    }
}

/// Fetches and judges every metric of `profile` as one look of the sequential test whose state
/// so far is `prior` (`None`: the first look); returns the judgement and the state after the
/// look, which the caller keeps.
///
/// The fixed-horizon judge runs on the request's window, as in fixed mode; the sequential test
/// gets the increment since the previous look's end (see `analysis::sequential`). A request
/// bringing less than a minute of new time takes no look: the answer is the evidence so far
/// with the fixed judge on the request's window, and the state is returned unchanged.
pub async fn evaluate_canary_sequential(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    request: &CanaryRequest,
    confidence: f64,
    prior: Option<AnalysisState>,
) -> (CanaryJudgement, AnalysisState) {
    let alpha = sequential::level(confidence);
    let mut state = prior.unwrap_or_default();
    let window = state.next_window(request.start, request.end);
    let increment_request = window.map(|(start, end)| CanaryRequest {
        start,
        end,
        ..request.clone()
    });
    let open_start = state.looks > 0;
    // The first look's increment is the request's window: fetched once.
    let same_window = window == Some((request.start, request.end)) && !open_start;
    let fixed_fetches = join_all(
        profile
            .metrics
            .iter()
            .map(|m| fetch(sources, profile, m, request, false)),
    );
    let increment_fetches = join_all(profile.metrics.iter().map(|m| {
        let increment = increment_request.as_ref();
        async move {
            match increment {
                Some(r) if !same_window => Some(fetch(sources, profile, m, r, open_start).await),
                _ => None,
            }
        }
    }));
    let (fixed_data, mut increments) = futures::join!(fixed_fetches, increment_fetches);
    if same_window {
        increments = fixed_data.iter().cloned().map(Some).collect();
    }
    let look = state.looks + u64::from(window.is_some());
    let mut metrics = Vec::new();
    let mut judgements = Vec::new();
    for ((m, data), increment) in profile.metrics.iter().zip(&fixed_data).zip(&increments) {
        let prior = state.metrics.iter().find(|s| s.name == m.name).cloned();
        let metric_state = match increment {
            Some(inc) => sequential::advance(prior, m, inc, look, alpha),
            None => prior.unwrap_or_else(|| {
                sequential::advance(None, m, &MetricData::Missing(String::new()), look, alpha)
            }),
        };
        let fixed = canary::judge_metric(m, data, confidence);
        judgements.push(sequential::decide(m, &metric_state, fixed, look, alpha));
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

/// The events a query counted (the sum of its series): none for NaN or negative values; an
/// empty result counts zero events (no series: nothing happened).
fn count(samples: &[Sample]) -> Option<u64> {
    let total: f64 = samples.iter().map(|s| s.value).sum();
    (total.is_finite() && total >= 0.0).then(|| total.round() as u64)
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
