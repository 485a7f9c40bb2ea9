//! The `canary` section of the native format: how a canary is compared with its baseline.

use serde::Deserialize;

use crate::spec::check;
use crate::spec::diagnostic::Issues;
use crate::spec::duration::PromDuration;
use crate::spec::model::{
    CanaryMeasure, CanaryMetric, CanaryMode, CanaryProfile, Counted, Direction, EffectMeasure,
};
use crate::spec::yaml::{join_index, join_key};

/// The label Argo Rollouts puts on the pods of each ReplicaSet.
pub const DEFAULT_VERSION_LABEL: &str = "rollouts_pod_template_hash";
/// The same label as the OpenTelemetry Kubernetes attributes processor names it.
pub const DEFAULT_TRACE_VERSION_ATTRIBUTE: &str = "k8s.pod.label.rollouts-pod-template-hash";
/// The version preset for Flagger: its primary pods carry `app: <name>-primary` and its
/// canary pods `app: <name>`, so the version is the `app` label (as Prometheus' usual
/// `labelmap` of pod labels names it) and the Kubernetes attributes processor's
/// `k8s.pod.label.app` on spans.
pub const FLAGGER_VERSION_LABEL: &str = "app";
/// The span attribute of the Flagger preset.
pub const FLAGGER_TRACE_VERSION_ATTRIBUTE: &str = "k8s.pod.label.app";
/// Analysis window when a request names none.
pub const DEFAULT_LOOKBACK: PromDuration = PromDuration::from_secs(600);
/// Kayenta's customary pass score.
pub const DEFAULT_PASS_SCORE: f64 = 95.0;
/// Kayenta's customary marginal score.
pub const DEFAULT_MARGINAL_SCORE: f64 = 75.0;

/// The `canary` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryDoc {
    /// `argo` (default: the pod-template hash) or `flagger` (the `app` label); sets
    /// `version_label` and `trace_version_attribute` unless they are given.
    #[serde(default)]
    version_preset: Option<String>,
    #[serde(default)]
    version_label: Option<String>,
    #[serde(default)]
    trace_version_attribute: Option<String>,
    #[serde(default)]
    lookback: Option<String>,
    #[serde(default)]
    thresholds: Option<ThresholdsDoc>,
    #[serde(default)]
    metrics: Vec<MetricDoc>,
    /// `sequential` (default) or `fixed`.
    #[serde(default)]
    mode: Option<String>,
    /// The generated AnalysisTemplate's schedule and limits.
    #[serde(default)]
    pacing: Option<super::pacing::PacingDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsDoc {
    pass: f64,
    marginal: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricDoc {
    name: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    errors: Option<String>,
    #[serde(default)]
    good: Option<String>,
    #[serde(default)]
    total: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    allowed_increase: Option<f64>,
    #[serde(default)]
    critical_increase: Option<f64>,
    #[serde(default)]
    allowed_decrease: Option<f64>,
    #[serde(default)]
    critical_decrease: Option<f64>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    critical: bool,
    #[serde(default)]
    must_have_data: bool,
    /// Absent: true. False: left out of the score when neither side has any data.
    #[serde(default)]
    required: Option<bool>,
    #[serde(default)]
    min_samples: Option<u64>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    effect: Option<String>,
    /// `query` metrics: the highest level (geometric mean of the per-minute values) tolerated.
    #[serde(default)]
    max: Option<f64>,
    /// Bad-event metrics: the highest rate tolerated (a fraction).
    #[serde(default)]
    max_rate: Option<f64>,
    /// Bad-event metrics: the largest rise over the baseline's rate, in percentage points.
    #[serde(default)]
    max_increase_points: Option<f64>,
}

/// Maps the section into the model.
pub fn load(doc: CanaryDoc, path: &str, issues: &mut Issues) -> Option<CanaryProfile> {
    let at = |field: &str| join_key(path, field);
    let lookback = match &doc.lookback {
        None => Some(DEFAULT_LOOKBACK),
        Some(text) => check::duration(issues, &at("lookback"), "lookback", text),
    };
    let (pass_score, marginal_score) = match &doc.thresholds {
        None => (DEFAULT_PASS_SCORE, DEFAULT_MARGINAL_SCORE),
        Some(t) => {
            let valid = |v: f64| (0.0..=100.0).contains(&v);
            if !valid(t.pass) || !valid(t.marginal) || t.marginal > t.pass {
                issues.error(
                    at("thresholds"),
                    format!(
                        "scores are 0-100 with marginal <= pass; got pass {} and marginal {}",
                        t.pass, t.marginal
                    ),
                );
            }
            (t.pass, t.marginal)
        }
    };
    let (preset_label, preset_attribute) = match doc.version_preset.as_deref() {
        None | Some("argo") => (DEFAULT_VERSION_LABEL, DEFAULT_TRACE_VERSION_ATTRIBUTE),
        Some("flagger") => (FLAGGER_VERSION_LABEL, FLAGGER_TRACE_VERSION_ATTRIBUTE),
        Some(other) => {
            issues.error(
                at("version_preset"),
                format!("unknown version preset `{other}`; expected `argo` or `flagger`"),
            );
            (DEFAULT_VERSION_LABEL, DEFAULT_TRACE_VERSION_ATTRIBUTE)
        }
    };
    let mode = match doc.mode.as_deref() {
        None | Some("sequential") => Some(CanaryMode::Sequential),
        Some("fixed") => Some(CanaryMode::Fixed),
        Some(other) => {
            issues.error(
                at("mode"),
                format!("unknown mode `{other}`; expected `sequential` or `fixed`"),
            );
            None
        }
    };
    if doc.metrics.is_empty() {
        issues.error(
            at("metrics"),
            "the canary profile lists no metric to compare",
        );
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, metric) in doc.metrics.iter().enumerate() {
        if names.contains(&metric.name.as_str()) {
            issues.error(
                join_key(&join_index(&at("metrics"), i), "name"),
                format!("duplicate canary metric name `{}`", metric.name),
            );
        }
        names.push(&metric.name);
    }
    let pacing = super::pacing::load(doc.pacing.unwrap_or_default(), &at("pacing"), issues);
    let version_label = doc
        .version_label
        .clone()
        .unwrap_or_else(|| preset_label.to_string());
    let metrics: Vec<CanaryMetric> = doc
        .metrics
        .into_iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let path = join_index(&at("metrics"), i);
            let metric = load_metric(m, &path, issues)?;
            check_no_version_matcher(&metric, &version_label, &path, issues);
            Some(metric)
        })
        .collect();
    Some(CanaryProfile {
        version_label,
        trace_version_attribute: doc
            .trace_version_attribute
            .unwrap_or_else(|| preset_attribute.to_string()),
        lookback: lookback?,
        pass_score,
        marginal_score,
        metrics,
        mode: mode?,
        pacing: pacing?,
    })
}

/// A query that selects on the version label itself would hold both its own value and the
/// one slogate adds, so one side (or both) would select nothing and every verdict would be
/// inconclusive. The Flagger preset makes this easy to write (`app="checkout"` is the usual
/// selector), so it is refused here, naming the metric.
fn check_no_version_matcher(metric: &CanaryMetric, label: &str, path: &str, issues: &mut Issues) {
    let queries = match &metric.measure {
        CanaryMeasure::PrometheusEvents {
            counted_query,
            total,
            ..
        } => vec![counted_query, total],
        CanaryMeasure::PrometheusValues { query } => vec![query],
        CanaryMeasure::TraceLatency { .. } | CanaryMeasure::TraceErrors { .. } => vec![],
    };
    if queries.iter().any(|q| q.selects_label(label)) {
        issues.error(
            path.to_string(),
            format!(
                "metric `{}` selects on `{label}`, the version label: slogate adds \
                 `{label}=\"<version>\"` to every selector itself, so select the service by \
                 another label (namespace, job, service)",
                metric.name
            ),
        );
    }
}

fn load_metric(doc: MetricDoc, path: &str, issues: &mut Issues) -> Option<CanaryMetric> {
    let at = |field: &str| join_key(path, field);
    check::name(issues, &at("name"), "metric name", &doc.name);
    let measure = load_measure(&doc, path, issues);
    let direction = match doc.direction.as_deref() {
        None | Some("increase") => Some(Direction::Increase),
        Some("decrease") => Some(Direction::Decrease),
        Some("either") => Some(Direction::Either),
        Some(other) => {
            issues.error(
                at("direction"),
                format!("unknown direction `{other}`; expected `increase`, `decrease` or `either`"),
            );
            None
        }
    };
    let bound = |issues: &mut Issues, field: &str, value: Option<f64>, increase: bool| {
        value.and_then(|v| check::ratio_bound(issues, &at(field), v, increase))
    };
    // Defaults by kind (counts or values), never beyond a critical bound the metric names.
    let (default_up, default_down) = measure
        .as_ref()
        .map_or((1.0, 1.0), CanaryMeasure::default_tolerances);
    let critical_increase = bound(issues, "critical_increase", doc.critical_increase, true);
    let critical_decrease = bound(issues, "critical_decrease", doc.critical_decrease, false);
    let allowed_increase = bound(issues, "allowed_increase", doc.allowed_increase, true)
        .unwrap_or_else(|| critical_increase.map_or(default_up, |c| c.min(default_up)));
    let allowed_decrease = bound(issues, "allowed_decrease", doc.allowed_decrease, false)
        .unwrap_or_else(|| critical_decrease.map_or(default_down, |c| c.max(default_down)));
    if critical_increase.is_some_and(|c| c < allowed_increase) {
        issues.error(
            at("critical_increase"),
            "critical_increase must be at least allowed_increase",
        );
    }
    if critical_decrease.is_some_and(|c| c > allowed_decrease) {
        issues.error(
            at("critical_decrease"),
            "critical_decrease must be at most allowed_decrease",
        );
    }
    if direction == Some(Direction::Decrease) && doc.allowed_increase.is_some() {
        issues.warn(
            at("allowed_increase"),
            "has no effect: the metric's direction is `decrease`",
        );
    }
    if direction == Some(Direction::Increase) && doc.allowed_decrease.is_some() {
        issues.warn(
            at("allowed_decrease"),
            "has no effect: the metric's direction is `increase`",
        );
    }
    let weight = doc.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight > 0.0) {
        issues.error(
            at("weight"),
            format!("weight {weight} must be a positive number"),
        );
    }
    let effect = match doc.effect.as_deref() {
        None | Some("mean") => Some(EffectMeasure::Mean),
        Some("median") => Some(EffectMeasure::Median),
        Some(other) => {
            issues.error(
                at("effect"),
                format!("unknown effect `{other}`; expected `mean` or `median`"),
            );
            None
        }
    };
    let required = doc.required.unwrap_or(true);
    if !required && doc.must_have_data {
        issues.error(
            at("required"),
            "`required: false` contradicts `must_have_data: true`: one leaves a metric without \
             data out, the other fails the verdict on it",
        );
    }
    if let Some(group) = &doc.group {
        check::name(issues, &at("group"), "group", group);
    }
    let absolute = measure
        .as_ref()
        .map(|m| {
            let limits = super::absolute::Limits {
                max: doc.max,
                max_rate: doc.max_rate,
                max_increase_points: doc.max_increase_points,
            };
            super::absolute::load(&limits, m, path, issues)
        })
        .unwrap_or_default();
    Some(CanaryMetric {
        name: doc.name,
        measure: measure?,
        direction: direction?,
        allowed_increase,
        critical_increase,
        allowed_decrease,
        critical_decrease,
        weight,
        critical: doc.critical,
        must_have_data: doc.must_have_data,
        required,
        min_samples: doc.min_samples,
        group: doc.group,
        effect: effect?,
        absolute,
    })
}

fn load_measure(doc: &MetricDoc, path: &str, issues: &mut Issues) -> Option<CanaryMeasure> {
    let at = |field: &str| join_key(path, field);
    match doc.source.as_deref() {
        None | Some("prometheus") => {
            if let Some(kind) = &doc.kind {
                issues.error(at("kind"), format!("`kind: {kind}` is for traces metrics; a Prometheus metric is events (errors or good, and total) or values (query)"));
                return None;
            }
            if doc.operation.is_some() {
                issues.error(at("operation"), "`operation` is for traces metrics");
                return None;
            }
            load_prometheus_measure(doc, path, issues)
        }
        Some("traces") => {
            for (field, given) in [
                ("errors", &doc.errors),
                ("good", &doc.good),
                ("total", &doc.total),
                ("query", &doc.query),
            ] {
                if given.is_some() {
                    issues.error(at(field), format!("`{field}` is a Prometheus query; a traces metric has `kind` (latency or errors) and an optional `operation`"));
                    return None;
                }
            }
            let operation = doc.operation.clone();
            match doc.kind.as_deref() {
                None | Some("latency") => Some(CanaryMeasure::TraceLatency { operation }),
                Some("errors") => Some(CanaryMeasure::TraceErrors { operation }),
                Some(other) => {
                    issues.error(
                        at("kind"),
                        format!("unknown traces kind `{other}`; expected `latency` or `errors`"),
                    );
                    None
                }
            }
        }
        Some(other) => {
            issues.error(
                at("source"),
                format!("unknown source `{other}`; expected `prometheus` or `traces`"),
            );
            None
        }
    }
}

fn load_prometheus_measure(
    doc: &MetricDoc,
    path: &str,
    issues: &mut Issues,
) -> Option<CanaryMeasure> {
    let at = |field: &str| join_key(path, field);
    match (&doc.query, &doc.errors, &doc.good, &doc.total) {
        (Some(query), None, None, None) => {
            let query = check::query(issues, &at("query"), query, false)?;
            Some(CanaryMeasure::PrometheusValues { query })
        }
        (None, errors, good, Some(total)) if errors.is_some() != good.is_some() => {
            let (field, counted, text) = match (errors, good) {
                (Some(e), _) => ("errors", Counted::Bad, e),
                (_, Some(g)) => ("good", Counted::Good, g),
                _ => return None,
            };
            let total = check::query(issues, &at("total"), total, true);
            let counted_query = check::query(issues, &at(field), text, true);
            let (counted_query, total) = (counted_query?, total?);
            check::distinct_from_total(issues, &at(field), field, &counted_query, &total);
            Some(CanaryMeasure::PrometheusEvents {
                counted,
                counted_query,
                total,
            })
        }
        _ => {
            issues.error(path, "a Prometheus canary metric needs either `query` (values) or `errors` or `good` with `total` (event counts)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::spec::load_texts;

    fn load(canary: &str) -> crate::spec::load::LoadReport {
        let text = format!(
            "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: shop\ncanary:\n{canary}"
        );
        load_texts(&[(PathBuf::from("shop.yaml"), text)])
    }

    const METRIC: &str = "  metrics:\n    - name: errors\n      errors: sum(increase(http_requests_total{namespace=\"shop\",code=\"500\"}[{{window}}]))\n      total: sum(increase(http_requests_total{namespace=\"shop\"}[{{window}}]))\n";

    #[test]
    fn the_flagger_preset_reads_the_app_label_and_an_explicit_label_still_wins() {
        let report = load(&format!("  version_preset: flagger\n{METRIC}"));
        assert!(!report.has_errors(), "{:#?}", report.diagnostics);
        let profile = report.catalog.services[0].canary.clone().unwrap();
        assert_eq!(profile.version_label, "app");
        assert_eq!(profile.trace_version_attribute, "k8s.pod.label.app");

        let report = load(&format!(
            "  version_preset: flagger\n  version_label: app_kubernetes_io_name\n{METRIC}"
        ));
        let profile = report.catalog.services[0].canary.clone().unwrap();
        assert_eq!(profile.version_label, "app_kubernetes_io_name");
        assert_eq!(profile.trace_version_attribute, "k8s.pod.label.app");

        let report = load(METRIC);
        let profile = report.catalog.services[0].canary.clone().unwrap();
        assert_eq!(profile.version_label, "rollouts_pod_template_hash");
    }

    #[test]
    fn an_unknown_preset_and_a_query_on_the_version_label_are_refused_by_name() {
        let report = load(&format!("  version_preset: spinnaker\n{METRIC}"));
        let text: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            text.iter()
                .any(|d| d.contains("canary.version_preset") && d.contains("`spinnaker`")),
            "{text:#?}"
        );
        let selects_app = METRIC.replace("namespace=", "app=");
        let report = load(&format!("  version_preset: flagger\n{selects_app}"));
        let text: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            text.iter().any(|d| d.contains("canary.metrics[0]")
                && d.contains("metric `errors` selects on `app`, the version label")),
            "{text:#?}"
        );
    }

    #[test]
    fn absolute_criteria_load_and_misplaced_or_out_of_range_ones_are_refused_by_line_and_field() {
        let good = "  metrics:\n    - name: errors\n      errors: sum(increase(http_requests_total{namespace=\"shop\",code=\"500\"}[{{window}}]))\n      total: sum(increase(http_requests_total{namespace=\"shop\"}[{{window}}]))\n      max_rate: 0.005\n      max_increase_points: 0.1\n    - name: p95\n      query: histogram_quantile(0.95, sum by (le) (rate(latency_bucket{namespace=\"shop\"}[1m])))\n      max: 0.5\n";
        let report = load(good);
        assert!(!report.has_errors(), "{:#?}", report.diagnostics);
        let profile = report.catalog.services[0].canary.clone().unwrap();
        assert_eq!(profile.metrics[0].absolute.max_rate, Some(0.005));
        assert_eq!(profile.metrics[0].absolute.max_increase_points, Some(0.1));
        assert_eq!(profile.metrics[1].absolute.max, Some(0.5));

        // `max` on events (line 9), `max_rate` out of range (line 10), `max_rate` on values
        // (line 14): each error names the file, the line and column of the key, and the field.
        let bad = good
            .replace(
                "      max_rate: 0.005\n",
                "      max: 3\n      max_rate: 1.5\n",
            )
            .replace("      max: 0.5\n", "      max_rate: 0.01\n");
        let report = load(&bad);
        let text: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        for expected in [
            "shop.yaml:9:7: canary.metrics[0].max: `max` bounds the values",
            "shop.yaml:10:7: canary.metrics[0].max_rate: 1.5 is out of range",
            "shop.yaml:14:7: canary.metrics[1].max_rate: `max_rate` bounds an event rate",
        ] {
            assert!(
                text.iter().any(|d| d.starts_with(expected)),
                "{expected}\n{text:#?}"
            );
        }
    }
}
