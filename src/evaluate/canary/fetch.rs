//! Fetching one canary metric's two sides: Prometheus (the version matcher added through the
//! syntax tree) or the spans received over OTLP.

use super::{CanaryRequest, CanarySources, VALUES_STEP};
use crate::analysis::canary::{Counts, MetricData};
use crate::evaluate::describe;
use std::collections::BTreeMap;

use crate::source::prometheus::{Sample, Series};
use crate::source::traces::SpanBuckets;
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
    let open = i64::from(open_start);
    // Each side's window: the baseline's may be its own (before a blue-green switch) or
    // absent (a preview judged alone).
    let canary_side = Some((request.canary.clone(), request.start, request.end));
    let baseline_side = request
        .baseline_window()
        .map(|(start, end)| (request.baseline.clone(), start, end));
    let label = &profile.version_label;
    let for_version = |query: &str, version: &str| with_label_matcher(query, label, version);
    let range_text =
        |start: i64, end: i64| PromDuration::from_secs((end - start).max(1) as u64).to_string();
    match &metric.measure {
        CanaryMeasure::PrometheusEvents {
            counted_query,
            total,
            ..
        } => {
            let side = |side: Option<(String, i64, i64)>| async move {
                let Some((version, start, end)) = side else {
                    return Ok(Counts {
                        counted: 0,
                        total: 0,
                    });
                };
                let window = range_text(start, end);
                let mut queries = Vec::new();
                for q in [counted_query, total] {
                    queries.push(
                        for_version(&q.render(&window), &version).map_err(|e| e.to_string())?,
                    );
                }
                let results = source.instant_all(&queries, end).await;
                let mut counts = Vec::new();
                for (query, result) in queries.iter().zip(results) {
                    match result {
                        Ok(samples) => match count(&samples) {
                            Some(n) => counts.push(n),
                            None => return Err(format!("a count is NaN or negative: {query}")),
                        },
                        Err(e) => return Err(describe(&e)),
                    }
                }
                Ok(Counts {
                    counted: counts[0],
                    total: counts[1],
                })
            };
            match futures::join!(side(baseline_side), side(canary_side)) {
                (Ok(baseline), Ok(canary)) => MetricData::Events { baseline, canary },
                (Err(e), _) | (_, Err(e)) => MetricData::Missing(e),
            }
        }
        CanaryMeasure::PrometheusValues { query } => {
            let side = |side: Option<(String, i64, i64)>| async move {
                let Some((version, start, end)) = side else {
                    return Ok((Vec::new(), request.start));
                };
                let rendered = query.render(&range_text(start, end));
                let q = for_version(&rendered, &version).map_err(|e| e.to_string())?;
                source
                    .range(&q, start + open, end, VALUES_STEP)
                    .await
                    .map(|series| (series, start))
                    .map_err(|e| describe(&e))
            };
            let values = |r: Vec<crate::source::prometheus::Series>| -> Vec<f64> {
                r.into_iter()
                    .flat_map(|s| s.points.into_iter().map(|(_, v)| v))
                    .filter(|v| v.is_finite())
                    .collect()
            };
            match futures::join!(side(baseline_side), side(canary_side)) {
                (Ok((b, b_start)), Ok((c, c_start))) if purpose == Purpose::Test => {
                    paired_by_time(&b, b_start, &c, c_start)
                }
                (Ok((b, _)), Ok((c, _))) => MetricData::Values {
                    baseline: values(b),
                    canary: values(c),
                },
                (Err(e), _) | (_, Err(e)) => MetricData::Missing(e),
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
            let latency = matches!(metric.measure, CanaryMeasure::TraceLatency { .. });
            // Each side read once (memory and the other replicas' buckets in the store), then
            // cut into minutes in memory for the test.
            let read = |side: Option<(String, i64, i64)>| async move {
                let Some((version, start, end)) = side else {
                    return Ok(None);
                };
                spans
                    .read(&sources.service, &version, op, (start, end), latency)
                    .await
                    .map(|buckets| Some((buckets, start, end)))
            };
            let (baseline, canary) = match futures::join!(read(baseline_side), read(canary_side)) {
                (Ok(b), Ok(c)) => (b, c),
                (Err(e), _) | (_, Err(e)) => {
                    return MetricData::Missing(format!(
                        "the spans of every replica could not be read: {e}"
                    ));
                }
            };
            if latency && purpose == Purpose::Test {
                return minute_medians(
                    baseline.as_ref().map(|(buckets, _, _)| buckets),
                    canary.as_ref().map(|(buckets, _, _)| buckets),
                    request,
                );
            }
            let whole = |side: Option<(SpanBuckets, i64, i64)>| {
                side.map(|(buckets, start, end)| buckets.sample(start, end))
                    .unwrap_or_default()
            };
            let (b, c) = (whole(baseline), whole(canary));
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
/// the canary is not paired with a later minute. Steps are keyed by their offset from each
/// side's window start: the same time when the windows agree; the same minute after the start
/// of each window when the baseline has its own (before and after a blue-green switch).
fn paired_by_time(
    baseline: &[Series],
    baseline_start: i64,
    canary: &[Series],
    canary_start: i64,
) -> MetricData {
    let by_step = |series: &[Series], start: i64| {
        let mut steps: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
        for (t, v) in series.iter().flat_map(|s| s.points.iter()) {
            if v.is_finite() {
                let e = steps.entry(*t - start).or_default();
                e.0 += v;
                e.1 += 1;
            }
        }
        steps
    };
    let (b, c) = (
        by_step(baseline, baseline_start),
        by_step(canary, canary_start),
    );
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
    baseline: Option<&SpanBuckets>,
    canary: Option<&SpanBuckets>,
    request: &CanaryRequest,
) -> MetricData {
    let mut minutes = Vec::new();
    let mut start = request.start;
    // The baseline's minute at the same offset from its own window's start.
    let baseline_window = request.baseline_window();
    while start < request.end {
        let end = (start + MINUTE).min(request.end);
        let side = |buckets: Option<&SpanBuckets>, start: i64, end: i64| {
            buckets
                .map(|b| b.sample(start, end).durations)
                .unwrap_or_default()
        };
        let baseline_minute = baseline_window
            .map(|(b_start, b_end)| {
                let from = b_start + (start - request.start);
                side(baseline, from, (from + (end - start)).min(b_end))
            })
            .unwrap_or_default();
        minutes.push((baseline_minute, side(canary, start, end)));
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
