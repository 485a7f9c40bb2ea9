//! Fetching one canary metric's two sides: Prometheus (the version matcher added through the
//! syntax tree) or the spans received over OTLP.

use super::{CanaryRequest, CanarySources, VALUES_STEP};
use crate::analysis::canary::{Counts, MetricData};
use crate::evaluate::describe;
use std::collections::BTreeMap;

use crate::source::prometheus::{Sample, Series};
use crate::source::traces::SpanStore;
use crate::spec::query::with_label_matcher;
use crate::spec::{CanaryMeasure, CanaryMetric, CanaryProfile, PromDuration};

/// What a fetch is for: the descriptive judge takes every value of the window; the test takes
/// one paired value per minute (for spans: each minute's median on each side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Sides, effect, interval, minimum data: every sample.
    Describe,
    /// The noise-robust test: per-minute pairs.
    Test,
}

/// Fetches one metric over `request`'s window. `open_start`: the window continues a previous
/// look's, so its first value sample is one second later.
pub(super) async fn fetch(
    sources: &CanarySources<'_>,
    profile: &CanaryProfile,
    metric: &CanaryMetric,
    request: &CanaryRequest,
    open_start: bool,
    purpose: Purpose,
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
                (Ok(b), Ok(c)) if purpose == Purpose::Test => paired_by_time(&b, &c),
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
            let latency = matches!(metric.measure, CanaryMeasure::TraceLatency { .. });
            if latency && purpose == Purpose::Test {
                return minute_medians(spans, &sources.service, op, request);
            }
            let (b, c) = (side(&request.baseline), side(&request.canary));
            if latency {
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

/// The two sides' values at the steps where both have one, in time order (several series on
/// a side are averaged per step): the test pairs the canary with the baseline at the same
/// time, so what hit both (load, a dependency) cancels, and a baseline that was there before
/// the canary is not paired with a later minute.
fn paired_by_time(baseline: &[Series], canary: &[Series]) -> MetricData {
    let by_step = |series: &[Series]| {
        let mut steps: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
        for (t, v) in series.iter().flat_map(|s| s.points.iter()) {
            if v.is_finite() {
                let e = steps.entry(*t).or_default();
                e.0 += v;
                e.1 += 1;
            }
        }
        steps
    };
    let (b, c) = (by_step(baseline), by_step(canary));
    let (mut baseline, mut canary) = (Vec::new(), Vec::new());
    for (t, (sum, n)) in &b {
        if let Some((csum, cn)) = c.get(t) {
            baseline.push(sum / f64::from(*n));
            canary.push(csum / f64::from(*cn));
        }
    }
    MetricData::Values { baseline, canary }
}

/// Whether the test's data differ from the descriptive data: span latencies are tested as
/// per-minute medians.
pub(super) fn per_minute(metric: &CanaryMetric) -> bool {
    matches!(metric.measure, CanaryMeasure::TraceLatency { .. })
}

/// Each minute's median span duration on each side, for the minutes where both sides have
/// spans, in time order: one paired value per minute, as a Prometheus series gives. A
/// minute's spans share what the minute brought (a pod's drift, a slow dependency), so they
/// are one observation, not hundreds.
///
/// A minute with fewer than [`MIN_SPANS_PER_POINT`] spans on a side joins the next (the last
/// sparse stretch joins the previous point): the median of a handful of spans is far noisier
/// than its neighbours, and the test weighs every point alike. So the window's first minute,
/// holding only the seconds the spans have reached into it, does not decide the variance, and
/// a service with few requests is judged on longer buckets.
fn minute_medians(
    spans: &SpanStore,
    service: &str,
    operation: Option<&str>,
    request: &CanaryRequest,
) -> MetricData {
    let mut minutes = Vec::new();
    let mut start = request.start;
    while start < request.end {
        let end = (start + MINUTE).min(request.end);
        let side = |version: &str| {
            spans
                .sample(service, version, operation, start, end)
                .durations
        };
        minutes.push((side(&request.baseline), side(&request.canary)));
        start = end;
    }
    let (baseline, canary) = paired_medians(minutes);
    MetricData::Values { baseline, canary }
}

/// The paired medians of consecutive minutes' durations (baseline, canary), sparse minutes
/// joined to a neighbour as [`minute_medians`] says.
fn paired_medians(minutes: Vec<(Vec<f64>, Vec<f64>)>) -> (Vec<f64>, Vec<f64>) {
    let mut points: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
    let (mut baseline, mut canary) = (Vec::new(), Vec::new());
    for (b, c) in minutes {
        baseline.extend(b.into_iter().filter(|d| d.is_finite()));
        canary.extend(c.into_iter().filter(|d| d.is_finite()));
        if baseline.len() >= MIN_SPANS_PER_POINT && canary.len() >= MIN_SPANS_PER_POINT {
            points.push((std::mem::take(&mut baseline), std::mem::take(&mut canary)));
        }
    }
    match points.last_mut() {
        Some(last) => {
            last.0.append(&mut baseline);
            last.1.append(&mut canary);
        }
        // Too few spans for even one full point: the sparse stretch is the one point, and the
        // minimum-data check says so.
        None => points.push((baseline, canary)),
    }
    points
        .into_iter()
        .filter_map(|(b, c)| Some((median(b)?, median(c)?)))
        .unzip()
}

const MINUTE: i64 = 60;

/// The fewest spans a side brings to one per-minute median: the median of 20 log-normal
/// durations wanders about 1.25/sqrt(20) = 28% of their spread, against 8% for 220.
pub(crate) const MIN_SPANS_PER_POINT: usize = 20;

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    let mid = xs.len() / 2;
    let (_, upper, _) = xs.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if xs.len() % 2 == 1 {
        return Some(upper);
    }
    let lower = xs[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((lower + upper) / 2.0)
}

/// The events a query counted (the sum of its series): none for NaN or negative values; an
/// empty result counts zero events (no series: nothing happened).
fn count(samples: &[Sample]) -> Option<u64> {
    let total: f64 = samples.iter().map(|s| s.value).sum();
    (total.is_finite() && total >= 0.0).then(|| total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(n: usize, value: f64) -> Vec<f64> {
        vec![value; n]
    }

    #[test]
    fn full_minutes_are_one_point_each() {
        let minutes = vec![
            (spans(30, 1.0), spans(25, 2.0)),
            (spans(20, 3.0), spans(40, 4.0)),
        ];
        assert_eq!(paired_medians(minutes), (vec![1.0, 3.0], vec![2.0, 4.0]));
    }

    #[test]
    fn a_sparse_minute_joins_the_next_and_a_sparse_tail_the_previous() {
        // 3 spans of a first partial minute, then a full one: one point of both; a sparse
        // last minute joins that point too; the canary's 2 NaN durations count for nothing.
        let mut first_canary = spans(3, 10.0);
        first_canary.extend([f64::NAN, f64::NAN]);
        let minutes = vec![
            (spans(3, 10.0), first_canary),
            (spans(25, 1.0), spans(24, 2.0)),
            (spans(30, 5.0), spans(30, 6.0)),
            (spans(1, 7.0), spans(19, 8.0)),
        ];
        let (baseline, canary) = paired_medians(minutes);
        assert_eq!(baseline, vec![1.0, 5.0]);
        assert_eq!(canary, vec![2.0, 6.0]);
    }

    #[test]
    fn too_few_spans_for_a_full_point_make_one_point_or_none() {
        let minutes = vec![(spans(2, 1.0), spans(3, 2.0)), (spans(1, 3.0), vec![])];
        assert_eq!(paired_medians(minutes), (vec![1.0], vec![2.0]));
        let one_sided = vec![(spans(5, 1.0), vec![])];
        assert_eq!(paired_medians(one_sided), (vec![], vec![]));
    }
}
