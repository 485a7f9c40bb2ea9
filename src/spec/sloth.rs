//! Sloth specs as Sloth's users write them: `version: prometheus/v1` files and the
//! `sloth.slok.dev/v1` `PrometheusServiceLevel` custom resource. Both map to the same model; the
//! CR only spells fields in camelCase and nests them under `spec`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::check;
use super::diagnostic::Issues;
use super::model::{
    AlertTier, Alerting, Budgeting, Origin, Period, Route, ServiceLevels, Sli, Slo,
};
use super::native::DEFAULT_PERIOD;
use super::yaml::{join_index, join_key};

/// `version` of Sloth's plain format.
pub const VERSION: &str = "prometheus/v1";
/// `apiVersion` of Sloth's custom resource.
pub const K8S_API_VERSION: &str = "sloth.slok.dev/v1";
/// `kind` of Sloth's custom resource.
pub const K8S_KIND: &str = "PrometheusServiceLevel";

/// A `prometheus/v1` document: the body with its `version`.
pub type PrometheusV1Doc = Body;

/// A `PrometheusServiceLevel` resource.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubernetesDoc {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<IgnoredAny>,
    spec: Body,
    #[serde(default)]
    #[allow(dead_code)]
    status: Option<IgnoredAny>,
}

/// The service and its SLOs, common to both forms. Field aliases accept the CR's camelCase.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// `prometheus/v1` in the plain form; absent in the CR's `spec`.
    #[serde(default)]
    version: Option<String>,
    service: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default, alias = "sloPlugins")]
    slo_plugins: Option<IgnoredAny>,
    #[serde(default)]
    slos: Vec<SloDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SloDoc {
    name: String,
    objective: f64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    sli: SliDoc,
    #[serde(default)]
    alerting: AlertingDoc,
    #[serde(default)]
    plugins: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SliDoc {
    #[serde(default)]
    events: Option<EventsDoc>,
    #[serde(default)]
    raw: Option<RawDoc>,
    #[serde(default)]
    plugin: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsDoc {
    #[serde(alias = "errorQuery")]
    error_query: String,
    #[serde(alias = "totalQuery")]
    total_query: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDoc {
    #[serde(alias = "errorRatioQuery")]
    error_ratio_query: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertingDoc {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, alias = "pageAlert")]
    page_alert: Option<TierDoc>,
    #[serde(default, alias = "ticketAlert")]
    ticket_alert: Option<TierDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierDoc {
    #[serde(default)]
    disable: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Maps a `prometheus/v1` document into the model.
pub fn load_prometheus_v1(
    doc: PrometheusV1Doc,
    origin: Origin,
    issues: &mut Issues,
) -> Option<ServiceLevels> {
    if doc.version.as_deref() != Some(VERSION) {
        issues.error("version", format!("expected `version: {VERSION}`"));
    }
    load_body(doc, "", origin, issues, false)
}

/// Maps a `PrometheusServiceLevel` resource into the model.
pub fn load_kubernetes(
    doc: KubernetesDoc,
    origin: Origin,
    issues: &mut Issues,
) -> Option<ServiceLevels> {
    if doc.spec.version.is_some() {
        issues.error(
            "spec.version",
            "`version` belongs to Sloth's plain format, not to the custom resource",
        );
    }
    load_body(doc.spec, "spec", origin, issues, true)
}

fn load_body(
    body: Body,
    path: &str,
    origin: Origin,
    issues: &mut Issues,
    camel: bool,
) -> Option<ServiceLevels> {
    let at = |field: &str| join_key(path, field);
    // Field names in messages as the user wrote them.
    let spell =
        |snake: &'static str, camel_name: &'static str| if camel { camel_name } else { snake };
    check::name(issues, &at("service"), "service", &body.service);
    check::labels(issues, &at("labels"), &body.labels);
    if body.slo_plugins.is_some() {
        issues.warn(
            at(spell("slo_plugins", "sloPlugins")),
            "Sloth SLO plugins are not run by slogate; rules are generated without them",
        );
    }
    if body.slos.is_empty() {
        issues.error(at("slos"), "the service defines no SLO");
    }
    let slos_path = at("slos");
    let mut slos = Vec::new();
    for (i, slo) in body.slos.into_iter().enumerate() {
        let p = join_index(&slos_path, i);
        let at = |field: &str| join_key(&p, field);
        check::name(issues, &at("name"), "SLO name", &slo.name);
        let objective = check::objective_percent(issues, &at("objective"), slo.objective);
        check::labels(issues, &at("labels"), &slo.labels);
        if slo.plugins.is_some() {
            issues.warn(at("plugins"), "Sloth SLO plugins are not run by slogate");
        }
        let sli = load_sli(slo.sli, &at("sli"), issues, &spell);
        let alerting = load_alerting(slo.alerting, &at("alerting"), issues, &spell);
        if let (Some(objective), Some(sli)) = (objective, sli) {
            slos.push(Slo {
                name: slo.name,
                description: slo.description,
                objective,
                period: Period::Rolling(DEFAULT_PERIOD),
                budgeting: Budgeting::Occurrences,
                sli,
                labels: slo.labels,
                alerting,
            });
        }
    }
    (!issues.has_errors()).then_some(ServiceLevels {
        service: body.service,
        team: None,
        labels: body.labels,
        slos,
        alerts: Vec::new(),
        dashboard: Default::default(),
        canary: None,
        origin,
    })
}

fn load_sli(
    doc: SliDoc,
    path: &str,
    issues: &mut Issues,
    spell: &dyn Fn(&'static str, &'static str) -> &'static str,
) -> Option<Sli> {
    let at = |field: &str| join_key(path, field);
    match (doc.events, doc.raw, doc.plugin) {
        (Some(events), None, None) => {
            let errors_path = join_key(&at("events"), spell("error_query", "errorQuery"));
            let total_path = join_key(&at("events"), spell("total_query", "totalQuery"));
            let errors = check::query(issues, &errors_path, &events.error_query, true);
            let total = check::query(issues, &total_path, &events.total_query, true);
            let (errors, total) = (errors?, total?);
            check::distinct_from_total(issues, &errors_path, "error", &errors, &total);
            Some(Sli::ErrorEvents { errors, total })
        }
        (None, Some(raw), None) => {
            let p = join_key(&at("raw"), spell("error_ratio_query", "errorRatioQuery"));
            let query = check::query(issues, &p, &raw.error_ratio_query, true)?;
            Some(Sli::ErrorRatio { query })
        }
        (None, None, Some(_)) => {
            issues.error(
                at("plugin"),
                "Sloth SLI plugins are not supported by slogate; write the SLI as `events` or `raw` queries",
            );
            None
        }
        _ => {
            issues.error(path, "give exactly one SLI kind: `events` or `raw`");
            None
        }
    }
}

fn load_alerting(
    doc: AlertingDoc,
    path: &str,
    issues: &mut Issues,
    spell: &dyn Fn(&'static str, &'static str) -> &'static str,
) -> Alerting {
    check::labels(issues, &join_key(path, "labels"), &doc.labels);
    let tier = |doc: Option<TierDoc>, field: &str, route: Route, issues: &mut Issues| {
        let doc = doc.unwrap_or_default();
        check::labels(
            issues,
            &join_key(&join_key(path, field), "labels"),
            &doc.labels,
        );
        AlertTier {
            enabled: !doc.disable,
            route,
            labels: doc.labels,
            annotations: doc.annotations,
        }
    };
    let page = tier(
        doc.page_alert,
        spell("page_alert", "pageAlert"),
        Route::PagerDuty,
        issues,
    );
    let ticket = tier(
        doc.ticket_alert,
        spell("ticket_alert", "ticketAlert"),
        Route::Slack { channel: None },
        issues,
    );
    Alerting {
        name: doc.name,
        labels: doc.labels,
        annotations: doc.annotations,
        page,
        ticket,
        min_events: None,
    }
}
