//! Prometheus rules for each SLO: SLI recordings over every alert window and the period,
//! metadata recordings (objective, budget, burn rates, remaining budget), multi-window
//! multi-burn-rate alerts with a low-traffic guard, and an alert when the SLI has no data.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use serde::Serialize;

use super::windows::{AlertWindows, BurnWindow, alert_windows_with};
use crate::conventions as names;
use crate::spec::{
    AlertWindowsSpec, KubernetesMetadata, PromDuration, QueryTemplate, ServiceLevels, Slo,
};

/// A Prometheus rule file (`groups:`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleFile {
    /// The rule groups, in order.
    pub groups: Vec<RuleGroup>,
}

/// One rule group: evaluated together, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    /// Unique group name.
    pub name: String,
    /// The rules.
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rule {
    /// Records `expr` as series `record`.
    Record {
        /// The recorded metric name.
        record: String,
        /// The query.
        expr: String,
        /// Labels added to the recorded series.
        labels: Labels,
    },
    /// Fires `alert` while `expr` returns series.
    Alert {
        /// The alert name.
        alert: String,
        /// The condition.
        expr: String,
        /// How long the condition must hold before firing.
        #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
        for_: Option<String>,
        /// Labels on the alert.
        labels: Labels,
        /// Annotations on the alert.
        annotations: BTreeMap<String, String>,
    },
}

/// The labels of a rule: a map, shared by the rules that carry the same one (the recordings of
/// one window, the metadata of one SLO). An estate of 10,000 SLOs has some 240,000 rules, and
/// giving each its own map of strings was a tenth of the time spent building them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Arc<BTreeMap<String, String>>);

impl From<BTreeMap<String, String>> for Labels {
    fn from(labels: BTreeMap<String, String>) -> Self {
        Labels(Arc::new(labels))
    }
}

impl Deref for Labels {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The rules of every SLO of a service and its plain alerts (last, in their own group);
/// `custom_windows` are the catalog's custom burn-rate
/// windows (an SLO whose period has none uses the defaults).
pub fn service_rules(service: &ServiceLevels, custom_windows: &[AlertWindowsSpec]) -> RuleFile {
    let mut groups = Vec::new();
    for slo in &service.slos {
        let ctx = SloContext::new(service, slo, custom_windows);
        groups.push(RuleGroup {
            name: names::group_sli(&service.service, &slo.name),
            rules: sli_recordings(&ctx),
        });
        groups.push(RuleGroup {
            name: names::group_meta(&service.service, &slo.name),
            rules: meta_recordings(&ctx),
        });
        let alerts = alerts(&ctx);
        if !alerts.is_empty() {
            groups.push(RuleGroup {
                name: names::group_alerts(&service.service, &slo.name),
                rules: alerts,
            });
        }
    }
    groups.extend(super::service_alerts::service_alert_group(service));
    RuleFile { groups }
}

/// What every rule of one SLO needs.
struct SloContext<'a> {
    service: &'a ServiceLevels,
    slo: &'a Slo,
    windows: AlertWindows,
    /// Every distinct window as PromQL writes it, shortest first: each is used by several
    /// rules, and formatting a duration is not free.
    window_texts: Vec<String>,
    period: PromDuration,
    /// The period as PromQL writes it.
    period_text: String,
    /// The error budget as a PromQL number literal.
    budget: String,
    /// The rate of all events, for SLIs that count events (built once: it is a new string).
    total: Option<QueryTemplate>,
    /// Labels identifying the SLO (service and SLO name, team, user labels).
    labels: Labels,
    /// The matchers selecting this SLO's recorded series.
    selector: String,
}

impl<'a> SloContext<'a> {
    fn new(service: &'a ServiceLevels, slo: &'a Slo, custom: &[AlertWindowsSpec]) -> Self {
        let period = slo.period.nominal();
        let mut labels = service.labels.clone();
        labels.extend(slo.labels.clone());
        if let Some(team) = &service.team {
            labels.insert(names::LABEL_TEAM.to_string(), team.clone());
        }
        labels.insert(names::LABEL_SERVICE.to_string(), service.service.clone());
        labels.insert(names::LABEL_SLO.to_string(), slo.name.clone());
        let selector = format!(
            "{{{}=\"{}\", {}=\"{}\"}}",
            names::LABEL_SERVICE,
            escape_label_value(&service.service),
            names::LABEL_SLO,
            escape_label_value(&slo.name)
        );
        let windows = alert_windows_with(period, custom);
        SloContext {
            service,
            slo,
            window_texts: windows
                .distinct_windows()
                .iter()
                .map(|w| w.to_string())
                .collect(),
            windows,
            period,
            period_text: period.to_string(),
            budget: number(slo.error_budget()),
            total: slo.sli.total_rate(),
            labels: labels.into(),
            selector,
        }
    }

    /// The shortest recorded window: the "now" of the SLI.
    fn shortest(&self) -> &str {
        &self.window_texts[0]
    }

    /// The SLO's labels and the window's (one map, for every recording of the window).
    fn window_labels(&self, window: &str) -> Labels {
        let mut labels = BTreeMap::clone(&self.labels);
        labels.insert(names::LABEL_WINDOW.to_string(), window.to_string());
        labels.into()
    }

    /// Service, SLO name and team: set on alerts too (they also come from the series), so each
    /// alert rule is distinct, and routable even when its series carry no labels (`absent()`).
    fn identity_labels(&self) -> BTreeMap<String, String> {
        [names::LABEL_SERVICE, names::LABEL_SLO, names::LABEL_TEAM]
            .iter()
            .filter_map(|k| self.labels.get_key_value(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A recorded series of this SLO, its window label dropped so series of different
    /// windows can be compared.
    fn recorded(&self, metric: &str) -> String {
        format!(
            "max without ({}) ({metric}{})",
            names::LABEL_WINDOW,
            self.selector
        )
    }
}

/// Escapes a label value for a PromQL double-quoted string.
pub fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float as a short PromQL literal: 0.001, not 0.0009999999999999432.
pub fn number(value: f64) -> String {
    crate::numfmt::short(value)
}

fn sli_recordings(ctx: &SloContext) -> Vec<Rule> {
    let ratio = ctx.slo.sli.error_ratio();
    let total = &ctx.total;
    let mut rules = Vec::with_capacity(2 * ctx.window_texts.len() + 2);
    let mut shortest_labels = None;
    for w in &ctx.window_texts {
        let labels = ctx.window_labels(w);
        rules.push(Rule::Record {
            record: names::sli_error_ratio_metric(w),
            expr: ratio.render(w),
            labels: labels.clone(),
        });
        if let Some(total) = total {
            rules.push(Rule::Record {
                record: names::sli_total_rate_metric(w),
                expr: total.render(w),
                labels: labels.clone(),
            });
        }
        shortest_labels.get_or_insert(labels);
    }
    // The period is too long to query raw at every evaluation: it is computed from the
    // shortest window's recordings instead, weighted by traffic where the SLI counts events
    // (errors over the period / events over the period), a plain mean of ratios otherwise.
    let shortest = ctx.shortest();
    let p = &ctx.period_text;
    let w = names::LABEL_WINDOW;
    let ratio_short = format!(
        "{}{}",
        names::sli_error_ratio_metric(shortest),
        ctx.selector
    );
    let expr = if total.is_some() {
        let total_short = format!("{}{}", names::sli_total_rate_metric(shortest), ctx.selector);
        let errors_short = names::sli_error_rate_metric(shortest);
        rules.push(Rule::Record {
            record: errors_short.clone(),
            expr: format!("{ratio_short}\n*\n{total_short}"),
            labels: shortest_labels.expect("at least one window"),
        });
        format!(
            "sum without ({w}) (sum_over_time({errors_short}{sel}[{p}]))\n/\n(sum without ({w}) (sum_over_time({total_short}[{p}])) > 0)",
            sel = ctx.selector
        )
    } else {
        format!("avg without ({w}) (avg_over_time({ratio_short}[{p}]))")
    };
    rules.push(Rule::Record {
        record: names::sli_error_ratio_metric(p),
        expr,
        labels: ctx.window_labels(p),
    });
    rules
}

fn meta_recordings(ctx: &SloContext) -> Vec<Rule> {
    let shortest = ctx.shortest();
    let p = &ctx.period_text;
    let days = number(ctx.period.as_secs() as f64 / 86_400.0);
    let record = |name: &str, expr: String| Rule::Record {
        record: name.to_string(),
        expr,
        labels: ctx.labels.clone(),
    };
    vec![
        record(
            names::METRIC_OBJECTIVE,
            format!("vector({})", number(ctx.slo.objective / 100.0)),
        ),
        record(
            names::METRIC_ERROR_BUDGET,
            format!("vector({})", ctx.budget),
        ),
        record(names::METRIC_PERIOD_DAYS, format!("vector({days})")),
        record(
            names::METRIC_CURRENT_BURN_RATE,
            format!(
                "{}\n/ {}",
                ctx.recorded(&names::sli_error_ratio_metric(shortest)),
                ctx.budget
            ),
        ),
        record(
            names::METRIC_PERIOD_BURN_RATE,
            format!(
                "{}\n/ {}",
                ctx.recorded(&names::sli_error_ratio_metric(p)),
                ctx.budget
            ),
        ),
        record(
            names::METRIC_BUDGET_REMAINING,
            format!("1 - {}{}", names::METRIC_PERIOD_BURN_RATE, ctx.selector),
        ),
    ]
}

fn alerts(ctx: &SloContext) -> Vec<Rule> {
    let alerting = &ctx.slo.alerting;
    let name = alerting
        .name
        .clone()
        .unwrap_or_else(|| names::DEFAULT_ALERT_NAME.to_string());
    let mut rules = Vec::new();
    let tiers = [
        (
            "page",
            &alerting.page,
            [ctx.windows.page_quick, ctx.windows.page_slow],
        ),
        (
            "ticket",
            &alerting.ticket,
            [ctx.windows.ticket_quick, ctx.windows.ticket_slow],
        ),
    ];
    for (severity, tier, conditions) in tiers {
        if !tier.enabled {
            continue;
        }
        let mut labels = ctx.identity_labels();
        labels.extend(alerting.labels.clone());
        labels.extend(tier.labels.clone());
        labels.insert(names::LABEL_SEVERITY.to_string(), severity.to_string());
        let labels = labels.into();
        let mut annotations = alerting.annotations.clone();
        annotations.extend(burn_annotations(ctx, severity, &conditions));
        annotations.extend(tier.annotations.clone());
        let expr = conditions
            .iter()
            .map(|c| burn_condition(ctx, c))
            .collect::<Vec<_>>()
            .join("\nor\n");
        rules.push(Rule::Alert {
            alert: name.clone(),
            expr,
            for_: None,
            labels,
            annotations,
        });
    }
    rules.push(absent_alert(ctx));
    rules
}

/// Both windows over the factor, and (with a guard) enough events in the long window.
fn burn_condition(ctx: &SloContext, c: &BurnWindow) -> String {
    let factor = number(c.factor);
    let (long, short) = (c.long.to_string(), c.short.to_string());
    let over = |w: &str| {
        format!(
            "  ({}\n    / {} > {factor})",
            ctx.recorded(&names::sli_error_ratio_metric(w)),
            ctx.budget
        )
    };
    let mut parts = vec![over(&long), over(&short)];
    if let (Some(min), Some(_)) = (ctx.slo.alerting.min_events, &ctx.total) {
        parts.push(format!(
            "  ({}\n    * {} >= {min})",
            ctx.recorded(&names::sli_total_rate_metric(&long)),
            c.long.as_secs()
        ));
    }
    format!("(\n{}\n)", parts.join("\n  and\n"))
}

fn burn_annotations(
    ctx: &SloContext,
    severity: &str,
    conditions: &[BurnWindow; 2],
) -> BTreeMap<String, String> {
    let (service, slo) = (&ctx.service.service, &ctx.slo.name);
    let describe = |c: &BurnWindow| {
        let exhaust = PromDuration::from_secs((ctx.period.as_secs() as f64 / c.factor) as u64);
        format!(
            "at {}x over {} confirmed over {} ({}% of the budget burns in {}, all of it in {})",
            number((c.factor * 100.0).round() / 100.0),
            c.long,
            c.short,
            number((c.budget_fraction * 1000.0).round() / 10.0),
            c.long,
            exhaust
        )
    };
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "summary".to_string(),
        format!("{service} {slo}: error budget burning too fast ({severity})"),
    );
    annotations.insert(
        "description".to_string(),
        format!(
            "{service} SLO {slo} ({}% over {}) is burning its error budget at {{{{ $value | printf \"%.1f\" }}}}x the sustainable rate. The {severity} fires {}, or {}.",
            number(ctx.slo.objective),
            ctx.period,
            describe(&conditions[0]),
            describe(&conditions[1]),
        ),
    );
    annotations
}

fn absent_alert(ctx: &SloContext) -> Rule {
    let shortest = ctx.shortest();
    let metric = if ctx.total.is_some() {
        names::sli_total_rate_metric(shortest)
    } else {
        names::sli_error_ratio_metric(shortest)
    };
    let mut labels = ctx.identity_labels();
    labels.insert(names::LABEL_SEVERITY.to_string(), "ticket".to_string());
    let mut annotations = BTreeMap::new();
    let (service, slo) = (&ctx.service.service, &ctx.slo.name);
    annotations.insert(
        "summary".to_string(),
        format!("{service} {slo}: the SLI has no data"),
    );
    annotations.insert(
        "description".to_string(),
        format!(
            "The SLI queries of {service} SLO {slo} return no series: the service is down, the metrics were renamed, or scraping stopped. Burn-rate alerts cannot fire without data."
        ),
    );
    Rule::Alert {
        alert: names::ALERT_SLI_ABSENT.to_string(),
        expr: format!("absent({metric}{})", ctx.selector),
        for_: Some("15m".to_string()),
        labels: labels.into(),
        annotations,
    }
}

/// A `monitoring.coreos.com/v1` PrometheusRule holding a service's rule groups.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRule {
    api_version: &'static str,
    kind: &'static str,
    metadata: K8sMetadata,
    spec: RuleFile,
}

/// Kubernetes object metadata of generated resources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct K8sMetadata {
    /// Object name.
    pub name: String,
    /// The namespace; `kubectl`'s when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels (the Prometheus Operator selects rules by label).
    pub labels: BTreeMap<String, String>,
    /// Annotations from the settings.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl K8sMetadata {
    /// Adds the settings' namespace, labels and annotations; slogate's own labels win a clash
    /// (operators and `kubectl` select slogate's resources by them).
    pub fn apply(&mut self, settings: &KubernetesMetadata) {
        self.namespace.clone_from(&settings.namespace);
        let own = std::mem::replace(&mut self.labels, settings.labels.clone());
        self.labels.extend(own);
        self.annotations.clone_from(&settings.annotations);
    }
}

impl PrometheusRule {
    /// The resource with the settings' namespace, labels and annotations.
    pub fn with_metadata(mut self, settings: &KubernetesMetadata) -> Self {
        self.metadata.apply(settings);
        self
    }
}

/// Wraps a service's rules in a PrometheusRule resource named `<service>-slos`.
pub fn prometheus_rule(service: &ServiceLevels, rules: RuleFile) -> PrometheusRule {
    let labels = super::k8s_labels(service);
    PrometheusRule {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: K8sMetadata {
            name: super::k8s_name(&format!("{}-slos", service.service)),
            namespace: None,
            labels,
            annotations: BTreeMap::new(),
        },
        spec: rules,
    }
}
