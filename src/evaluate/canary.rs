//! Runs canary analyses from Prometheus: for each metric of a service's canary profile, the
//! baseline and canary data (the version matcher added through the syntax tree), all fetched at
//! once, then judged by [`crate::analysis::canary`].

use chrono::{DateTime, TimeZone, Utc};
use futures::future::join_all;

use super::describe;
use crate::analysis::canary::{self, CanaryJudgement, Counts, MetricData};
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
        .map(|m| fetch(sources, profile, m, request));
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
) -> MetricData {
    let source = sources.prometheus;
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
                source.range(&b, request.start, request.end, VALUES_STEP),
                source.range(&c, request.start, request.end, VALUES_STEP)
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
