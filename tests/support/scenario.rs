//! Declarative traffic scenarios written as OpenMetrics, for backfilling a real Prometheus.
//!
//! A scenario is a list of workloads (a service, optionally a version) each made of segments
//! with a constant request rate, error ratio and share of slow requests, so the truth of every
//! SLI, budget and burn rate is known in closed form.

use std::fmt::Write as _;

/// The label Argo Rollouts' pods carry (as Prometheus' `labelmap` names it).
pub const ARGO_VERSION_LABEL: &str = "rollouts_pod_template_hash";
/// Histogram bucket bounds (seconds) of `http_request_duration_seconds`.
pub const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Requests slower than this are the "slow" share of a segment (a bucket bound).
pub const SLOW_THRESHOLD: f64 = 0.5;

/// A stretch of constant traffic.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// How long it lasts, in seconds.
    pub seconds: u64,
    /// Requests per second.
    pub rps: f64,
    /// Share of requests answered with a 500.
    pub error_ratio: f64,
    /// Share of requests slower than [`SLOW_THRESHOLD`].
    pub slow_ratio: f64,
}

/// Traffic of one service (and version) over time.
#[derive(Debug, Clone)]
pub struct Workload {
    /// `service` label.
    pub service: String,
    /// Version label value (`rollouts_pod_template_hash`), when the workload has one.
    pub version: Option<String>,
    /// Consecutive segments from the scenario's start.
    pub segments: Vec<Segment>,
}

/// A whole scenario: workloads sampled every `step` seconds from `start` (unix seconds).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Unix time of the first sample.
    pub start: i64,
    /// Sampling interval in seconds (a scrape interval).
    pub step: u64,
    /// The workloads.
    pub workloads: Vec<Workload>,
}

impl Scenario {
    /// Unix time of the last sample.
    pub fn end(&self) -> i64 {
        let longest = self
            .workloads
            .iter()
            .map(|w| w.segments.iter().map(|s| s.seconds).sum::<u64>())
            .max()
            .unwrap_or(0);
        self.start + longest as i64
    }

    /// The scenario as OpenMetrics text (timestamps in seconds, `# EOF` last), versions in
    /// Argo Rollouts' `rollouts_pod_template_hash`.
    pub fn to_openmetrics(&self) -> String {
        self.to_openmetrics_labelled(ARGO_VERSION_LABEL)
    }

    /// The same with the versions in `version_label` (`app` for Flagger's pods).
    pub fn to_openmetrics_labelled(&self, version_label: &str) -> String {
        let mut out = String::new();
        out.push_str("# TYPE http_requests counter\n");
        for w in &self.workloads {
            for code in ["200", "500"] {
                let labels = w.labels(version_label, &format!("code=\"{code}\""));
                self.samples(
                    &mut out,
                    w,
                    &format!("http_requests_total{{{labels}}}"),
                    |s| {
                        let errors = s.rps * s.error_ratio;
                        if code == "500" {
                            errors
                        } else {
                            s.rps - errors
                        }
                    },
                );
            }
        }
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for w in &self.workloads {
            for &le in BUCKETS.iter().chain(std::iter::once(&f64::INFINITY)) {
                let le_text = if le.is_infinite() {
                    "+Inf".to_string()
                } else {
                    format!("{le}")
                };
                let labels = w.labels(version_label, &format!("le=\"{le_text}\""));
                self.samples(
                    &mut out,
                    w,
                    &format!("http_request_duration_seconds_bucket{{{labels}}}"),
                    |s| s.rps * share_at_or_below(le, s.slow_ratio),
                );
            }
            let labels = w.labels(version_label, "");
            self.samples(
                &mut out,
                w,
                &format!("http_request_duration_seconds_count{{{labels}}}"),
                |s| s.rps,
            );
            self.samples(
                &mut out,
                w,
                &format!("http_request_duration_seconds_sum{{{labels}}}"),
                |s| s.rps * 0.2,
            );
        }
        out.push_str("# EOF\n");
        out
    }

    /// One counter's samples: it grows by `per_second(segment)` each second.
    fn samples(
        &self,
        out: &mut String,
        w: &Workload,
        series: &str,
        per_second: impl Fn(&Segment) -> f64,
    ) {
        let mut value = 0.0;
        let mut t = self.start;
        writeln!(out, "{series} 0 {t}").unwrap();
        for segment in &w.segments {
            let steps = segment.seconds / self.step;
            for _ in 0..steps {
                value += per_second(segment) * self.step as f64;
                t += self.step as i64;
                writeln!(out, "{series} {value} {t}").unwrap();
            }
        }
    }
}

impl Workload {
    fn labels(&self, version_label: &str, extra: &str) -> String {
        let mut labels = format!("service=\"{}\"", self.service);
        if let Some(v) = &self.version {
            write!(labels, ",{version_label}=\"{v}\"").unwrap();
        }
        if !extra.is_empty() {
            write!(labels, ",{extra}").unwrap();
        }
        labels
    }
}

/// Cumulative share of requests at or below bucket bound `le`: slow requests sit just above
/// the threshold (in the next bucket), fast ones spread over the buckets below it.
fn share_at_or_below(le: f64, slow_ratio: f64) -> f64 {
    if le >= 1.0 {
        1.0
    } else if le >= SLOW_THRESHOLD {
        1.0 - slow_ratio
    } else {
        let fast_buckets = BUCKETS.iter().filter(|b| **b < SLOW_THRESHOLD).count() as f64;
        let index = BUCKETS.iter().position(|b| *b == le).unwrap_or(0) as f64 + 1.0;
        (1.0 - slow_ratio) * index / (fast_buckets + 1.0)
    }
}
