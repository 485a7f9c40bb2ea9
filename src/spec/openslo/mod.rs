//! OpenSLO SLO documents: `openslo/v1` (ratio and threshold metrics, inline or referenced SLI,
//! rolling and calendar windows, Occurrences / Timeslices / RatioTimeslices budgeting) and the
//! `openslo/v1alpha` form that Sloth reads.
//!
//! OpenSLO has no service document of slogate's shape: every SLO names its `service`, and the
//! loader groups SLOs by service. Each objective becomes one SLO: named after the document when
//! there is one objective, `<name>-<index>` otherwise (always `<name>-<index>` for v1alpha, as
//! Sloth names them, so series keep their names when a team moves from Sloth to slogate).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde::de::IgnoredAny;

mod v1alpha;

pub use v1alpha::{SloV1AlphaDoc, load_v1alpha};

use crate::spec::check;
use crate::spec::diagnostic::Issues;
use crate::spec::duration::PromDuration;
use crate::spec::model::{
    AlertTier, Alerting, Budgeting, CalendarPeriod, CalendarUnit, Period, Route, Sli, Slo,
};
use crate::spec::query::{QueryTemplate, parse_promql};
use crate::spec::yaml::{join_index, join_key};

/// An SLO mapped from OpenSLO, with the service it belongs to.
#[derive(Debug)]
pub struct OpenSloSlo {
    /// `spec.service`.
    pub service: String,
    /// The objective, as an SLO of the model.
    pub slo: Slo,
    /// The field path of the objective (for duplicate-name messages).
    pub path: String,
}

/// Standard OpenSLO `metadata`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// The document's name.
    pub name: String,
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    display_name: Option<IgnoredAny>,
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    labels: Option<IgnoredAny>,
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    annotations: Option<IgnoredAny>,
}

/// An `openslo/v1` `SLI` document (also the inline `indicator`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SliDoc {
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    api_version: Option<IgnoredAny>,
    #[serde(default)]
    kind: Option<String>,
    /// The SLI's name, used by `indicatorRef`.
    pub metadata: Metadata,
    spec: SliSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SliSpec {
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    description: Option<IgnoredAny>,
    #[serde(default)]
    threshold_metric: Option<MetricSpec>,
    #[serde(default)]
    ratio_metric: Option<RatioMetric>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RatioMetric {
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    counter: Option<IgnoredAny>,
    #[serde(default)]
    good: Option<MetricSpec>,
    #[serde(default)]
    bad: Option<MetricSpec>,
    #[serde(default)]
    total: Option<MetricSpec>,
    #[serde(default)]
    raw_type: Option<String>,
    #[serde(default)]
    raw: Option<MetricSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetricSpec {
    metric_source: MetricSource,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetricSource {
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    metric_source_ref: Option<IgnoredAny>,
    #[serde(default, rename = "type")]
    source_type: Option<String>,
    #[serde(default)]
    spec: BTreeMap<String, IgnoredOrString>,
}

/// A metric source's `spec` is free-form per source type; slogate reads `query` from it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IgnoredOrString {
    Text(String),
    Other(IgnoredAny),
}

/// An `openslo/v1` `SLO` document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SloV1Doc {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: Metadata,
    spec: SloV1Spec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SloV1Spec {
    #[serde(default)]
    description: Option<String>,
    service: String,
    #[serde(default)]
    indicator: Option<SliDoc>,
    #[serde(default)]
    indicator_ref: Option<String>,
    #[serde(default)]
    time_window: Vec<TimeWindowV1>,
    #[serde(default)]
    budgeting_method: Option<String>,
    objectives: Vec<ObjectiveV1>,
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    alert_policies: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TimeWindowV1 {
    duration: String,
    #[serde(default)]
    is_rolling: Option<bool>,
    #[serde(default)]
    calendar: Option<CalendarDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CalendarDoc {
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ObjectiveV1 {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    target: Option<f64>,
    #[serde(default)]
    target_percent: Option<f64>,
    #[serde(default)]
    time_slice_target: Option<f64>,
    #[serde(default)]
    time_slice_window: Option<String>,
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    composite_weight: Option<IgnoredAny>,
}

/// Maps an `openslo/v1` SLO into one model SLO per objective. `indicators` holds the `SLI`
/// documents of every file loaded, by name, for `indicatorRef`.
pub fn load_v1(
    doc: SloV1Doc,
    indicators: &HashMap<String, SliDoc>,
    issues: &mut Issues,
) -> Vec<OpenSloSlo> {
    let spec = doc.spec;
    check::name(issues, "spec.service", "service", &spec.service);
    check::name(issues, "metadata.name", "SLO name", &doc.metadata.name);
    let indicator = match (&spec.indicator, &spec.indicator_ref) {
        (Some(inline), None) => Some((inline, "spec.indicator.spec".to_string())),
        (None, Some(name)) => match indicators.get(name) {
            Some(found) => Some((found, "spec.indicatorRef".to_string())),
            None => {
                issues.error(
                    "spec.indicatorRef",
                    format!("no `kind: SLI` document named `{name}` among the files read"),
                );
                None
            }
        },
        _ => {
            issues.error("spec", "give exactly one of `indicator` and `indicatorRef`");
            None
        }
    };
    let period = load_time_window_v1(&spec.time_window, issues);
    let method = spec.budgeting_method.as_deref().unwrap_or("Occurrences");
    if !matches!(method, "Occurrences" | "Timeslices" | "RatioTimeslices") {
        issues.error("spec.budgetingMethod", format!("unknown budgeting method `{method}`; expected Occurrences, Timeslices or RatioTimeslices"));
    }
    if spec.objectives.is_empty() {
        issues.error("spec.objectives", "the SLO has no objective");
    }
    let single = spec.objectives.len() == 1;
    let mut out = Vec::new();
    for (i, objective) in spec.objectives.iter().enumerate() {
        let path = join_index("spec.objectives", i);
        let at = |field: &str| join_key(&path, field);
        let objective_percent = match (objective.target, objective.target_percent) {
            (Some(t), None) => check::objective_ratio(issues, &at("target"), t),
            (None, Some(p)) => check::objective_percent(issues, &at("targetPercent"), p),
            _ => {
                issues.error(
                    &path,
                    "give exactly one of `target` (a ratio, 0.999) and `targetPercent` (99.9)",
                );
                None
            }
        };
        let budgeting = load_budgeting(method, objective, &path, issues);
        let sli = indicator
            .as_ref()
            .and_then(|(ind, ind_path)| load_indicator(ind, ind_path, objective, &path, issues));
        let name = if single {
            doc.metadata.name.clone()
        } else {
            format!("{}-{i}", doc.metadata.name)
        };
        if let (Some(objective_percent), Some(budgeting), Some(sli), Some(period)) =
            (objective_percent, budgeting, sli, period.clone())
        {
            out.push(OpenSloSlo {
                service: spec.service.clone(),
                slo: Slo {
                    name,
                    description: spec
                        .description
                        .clone()
                        .or_else(|| objective.display_name.clone()),
                    objective: objective_percent,
                    period,
                    budgeting,
                    sli,
                    labels: BTreeMap::new(),
                    alerting: default_alerting(),
                },
                path: path.clone(),
            });
        }
    }
    if issues.has_errors() { Vec::new() } else { out }
}

/// Alerting for formats that do not describe it: both tiers on, default routes.
pub fn default_alerting() -> Alerting {
    Alerting {
        name: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        page: AlertTier::enabled(Route::PagerDuty),
        ticket: AlertTier::enabled(Route::Slack { channel: None }),
        min_events: None,
    }
}

fn load_time_window_v1(windows: &[TimeWindowV1], issues: &mut Issues) -> Option<Period> {
    let [window] = windows else {
        issues.error("spec.timeWindow", "give exactly one time window");
        return None;
    };
    let path = "spec.timeWindow[0]";
    let duration_path = join_key(path, "duration");
    let (count, unit) = split_calendar_duration(&window.duration).or_else(|| {
        issues.error(
            &duration_path,
            format!(
                "`{}` is not an OpenSLO duration (a number and one of m h d w M Q Y)",
                window.duration
            ),
        );
        None
    })?;
    let rolling = window.is_rolling.unwrap_or(window.calendar.is_none());
    if rolling {
        if matches!(
            unit,
            CalendarUnit::Month | CalendarUnit::Quarter | CalendarUnit::Year
        ) {
            issues.error(&duration_path, format!("a rolling window needs a fixed length, and `{}` has none; write days, e.g. 30d", window.duration));
            return None;
        }
        return Some(Period::Rolling(PromDuration::from_secs(
            unit.nominal_secs() * count as u64,
        )));
    }
    if unit == CalendarUnit::Minute {
        issues.warn(
            &duration_path,
            format!(
                "`{}` is {count} minute(s) in OpenSLO; a month is written `{count}M`",
                window.duration
            ),
        );
    }
    let calendar = window.calendar.as_ref();
    Some(Period::Calendar(CalendarPeriod {
        count,
        unit,
        start: calendar.and_then(|c| c.start_time.clone()),
        time_zone: calendar.and_then(|c| c.time_zone.clone()),
    }))
}

/// `28d` -> (28, Day), `1M` -> (1, Month). OpenSLO's units are case-sensitive: `m` is a minute.
fn split_calendar_duration(text: &str) -> Option<(u32, CalendarUnit)> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let count: u32 = text[..digits].parse().ok().filter(|c| *c > 0)?;
    let unit = match &text[digits..] {
        "m" => CalendarUnit::Minute,
        "h" => CalendarUnit::Hour,
        "d" => CalendarUnit::Day,
        "w" => CalendarUnit::Week,
        "M" => CalendarUnit::Month,
        "Q" => CalendarUnit::Quarter,
        "Y" => CalendarUnit::Year,
        _ => return None,
    };
    Some((count, unit))
}

fn load_budgeting(
    method: &str,
    objective: &ObjectiveV1,
    path: &str,
    issues: &mut Issues,
) -> Option<Budgeting> {
    let at = |field: &str| join_key(path, field);
    let slice = |issues: &mut Issues| match &objective.time_slice_window {
        Some(w) => check::duration(issues, &at("timeSliceWindow"), "timeSliceWindow", w),
        None => {
            issues.error(path, format!("{method} budgeting needs `timeSliceWindow`"));
            None
        }
    };
    match method {
        "Timeslices" => {
            let slice = slice(issues);
            let target = match objective.time_slice_target {
                Some(t) if t > 0.0 && t <= 1.0 => Some(t),
                Some(t) => {
                    issues.error(at("timeSliceTarget"), format!("timeSliceTarget {t} is out of range: it is a ratio above 0 and at most 1"));
                    None
                }
                None => {
                    issues.error(path, "Timeslices budgeting needs `timeSliceTarget`");
                    None
                }
            };
            Some(Budgeting::Timeslices {
                slice: slice?,
                slice_objective: target?,
            })
        }
        "RatioTimeslices" => Some(Budgeting::RatioTimeslices {
            slice: slice(issues)?,
        }),
        _ => Some(Budgeting::Occurrences),
    }
}

fn load_indicator(
    doc: &SliDoc,
    ind_path: &str,
    objective: &ObjectiveV1,
    objective_path: &str,
    issues: &mut Issues,
) -> Option<Sli> {
    if let Some(kind) = doc.kind.as_deref().filter(|k| *k != "SLI") {
        issues.error(ind_path, format!("indicator kind `{kind}` is not `SLI`"));
    }
    let spec_path = ind_path.to_string();
    match (&doc.spec.ratio_metric, &doc.spec.threshold_metric) {
        (Some(ratio), None) => load_ratio(ratio, &join_key(&spec_path, "ratioMetric"), issues),
        (None, Some(threshold)) => {
            let query = source_query(threshold, &join_key(&spec_path, "thresholdMetric"), issues)?;
            threshold_sli(&query, objective, objective_path, issues)
        }
        _ => {
            issues.error(
                &spec_path,
                "give exactly one of `ratioMetric` and `thresholdMetric`",
            );
            None
        }
    }
}

fn load_ratio(ratio: &RatioMetric, path: &str, issues: &mut Issues) -> Option<Sli> {
    let at = |field: &str| join_key(path, field);
    if let Some(raw) = &ratio.raw {
        let query = source_query(raw, &at("raw"), issues)?;
        let query = window_query(&query, &at("raw"), issues)?;
        return match ratio.raw_type.as_deref() {
            Some("failure") => Some(Sli::ErrorRatio { query }),
            Some("success") => Some(Sli::ErrorRatio {
                query: QueryTemplate::parse(&format!("1 - ({query})"), true).ok()?,
            }),
            _ => {
                issues.error(
                    at("rawType"),
                    "a raw ratio needs `rawType: success` or `rawType: failure`",
                );
                None
            }
        };
    }
    let Some(total) = &ratio.total else {
        issues.error(
            path,
            "a ratio metric needs `total` (with `good` or `bad`) or `raw`",
        );
        return None;
    };
    let total = source_query(total, &at("total"), issues)
        .and_then(|q| window_query(&q, &at("total"), issues));
    let (field, counted) = match (&ratio.good, &ratio.bad) {
        (Some(good), None) => ("good", good),
        (None, Some(bad)) => ("bad", bad),
        _ => {
            issues.error(path, "give exactly one of `good` and `bad` next to `total`");
            return None;
        }
    };
    let placeholder =
        is_placeholder_source(counted) && is_placeholder_source(ratio.total.as_ref()?);
    let counted = source_query(counted, &at(field), issues)
        .and_then(|q| window_query(&q, &at(field), issues));
    let (counted, total) = (counted?, total?);
    if placeholder && counted.same_as(&total) {
        // OpenSLO's own examples use `type: Any` with `query: Any` as a stand-in for a real
        // source: accepted, but said.
        issues.warn(
            at(field),
            format!(
                "{} (metric source type `Any` is read as a placeholder)",
                check::same_as_total_message(field)
            ),
        );
    } else {
        check::distinct_from_total(issues, &at(field), field, &counted, &total);
    }
    Some(if field == "good" {
        Sli::GoodEvents {
            good: counted,
            total,
        }
    } else {
        Sli::ErrorEvents {
            errors: counted,
            total,
        }
    })
}

/// Whether a metric source is OpenSLO's `type: Any` stand-in.
fn is_placeholder_source(metric: &MetricSpec) -> bool {
    metric
        .metric_source
        .source_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("any"))
}

/// The PromQL of a metric source (`metricSource.spec.query`).
fn source_query(metric: &MetricSpec, path: &str, issues: &mut Issues) -> Option<String> {
    let source = &metric.metric_source;
    let path = join_key(path, "metricSource");
    if let Some(kind) = &source.source_type {
        const PROMQL: &[&str] = &[
            "prometheus",
            "thanos",
            "cortex",
            "mimir",
            "victoriametrics",
            "any",
        ];
        if !PROMQL.contains(&kind.to_ascii_lowercase().as_str()) {
            issues.error(join_key(&path, "type"), format!("metric source type `{kind}` does not speak PromQL; slogate reads Prometheus-compatible sources only"));
            return None;
        }
    }
    match source.spec.get("query") {
        Some(IgnoredOrString::Text(q)) => Some(q.clone()),
        _ => {
            issues.error(join_key(&path, "spec"), "slogate reads the PromQL from `metricSource.spec.query`, which is missing or not text");
            None
        }
    }
}

/// A ratio query over `{{window}}`. A bare series selector (`http_requests_total{code="200"}`,
/// the usual OpenSLO form) is read as a counter: `sum(rate(selector[{{window}}]))`.
fn window_query(query: &str, path: &str, issues: &mut Issues) -> Option<QueryTemplate> {
    let q = QueryTemplate::parse(query, false)
        .map_err(|e| issues.error(join_key(path, "metricSource.spec.query"), e.to_string()))
        .ok()?;
    if q.uses_window() {
        return Some(q);
    }
    let is_selector = matches!(
        parse_promql(query),
        Ok(promql_parser::parser::Expr::VectorSelector(_))
    );
    if is_selector {
        let wrapped = format!("sum(rate({}[{{{{window}}}}]))", query.trim());
        return check::query(
            issues,
            &join_key(path, "metricSource.spec.query"),
            &wrapped,
            true,
        );
    }
    issues.error(join_key(path, "metricSource.spec.query"), "the query has no {{window}} placeholder and is not a plain series selector; slogate cannot tell how to take it over a window");
    None
}

/// A threshold metric: a sample is good when `query op value` holds; the error ratio is the
/// share of bad samples over the window.
fn threshold_sli(
    query: &str,
    objective: &ObjectiveV1,
    path: &str,
    issues: &mut Issues,
) -> Option<Sli> {
    let op = match objective.op.as_deref() {
        Some("lt") => "<",
        Some("lte") => "<=",
        Some("gt") => ">",
        Some("gte") => ">=",
        other => {
            issues.error(
                join_key(path, "op"),
                format!("a threshold metric needs `op` (lt, lte, gt or gte), got {other:?}"),
            );
            return None;
        }
    };
    let Some(value) = objective.value.filter(|v| v.is_finite()) else {
        issues.error(
            join_key(path, "value"),
            "a threshold metric needs a numeric `value`",
        );
        return None;
    };
    let text = format!(
        "1 - avg(avg_over_time((({}) {op} bool {value})[{{{{window}}}}:]))",
        query.trim()
    );
    let query = check::query(issues, path, &text, true)?;
    Some(Sli::ErrorRatio { query })
}
