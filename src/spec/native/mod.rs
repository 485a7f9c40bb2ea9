//! slogate's own format, `apiVersion: slogate/v1`, `kind: ServiceLevels`.
//!
//! These types mirror the YAML one to one (`deny_unknown_fields`, so a typo is an error);
//! [`load`] maps them into the canonical model, checking as it goes.

mod absolute;
mod alerts;
mod canary;
mod dashboard;
mod pacing;
pub mod routing;

pub use alerts::email_addresses;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::check;
use super::dashboard::{DashboardSpec, HistogramRef};
use super::diagnostic::Issues;
use super::duration::PromDuration;
use super::model::{
    AlertTier, Alerting, Budgeting, LatencySli, Origin, Period, Route, ServiceLevels, Sli, Slo,
};
use super::routing::AlertRouting;
use super::yaml::{join_index, join_key};

/// The `apiVersion` of this format.
pub const API_VERSION: &str = "slogate/v1";
/// The `kind` of this format.
pub const KIND: &str = "ServiceLevels";
/// The period of an SLO that names none (Sloth's default too).
pub const DEFAULT_PERIOD: PromDuration = PromDuration::from_secs(30 * 86_400);

/// A `ServiceLevels` document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceLevelsDoc {
    /// `slogate/v1`.
    pub api_version: String,
    /// `ServiceLevels`.
    pub kind: String,
    /// The service name.
    pub service: String,
    /// The owning team.
    #[serde(default)]
    pub team: Option<String>,
    /// Labels on every series and alert of the service.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The SLOs.
    #[serde(default)]
    pub slos: Vec<SloDoc>,
    /// The canary analysis profile.
    #[serde(default)]
    pub canary: Option<canary::CanaryDoc>,
    /// Threshold alerts beside the SLOs.
    #[serde(default)]
    pub alerts: Vec<alerts::AlertDoc>,
    /// What the dashboard's traffic row reads, where the SLIs do not say it.
    #[serde(default)]
    pub dashboard: Option<dashboard::DashboardDoc>,
}

/// One SLO.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloDoc {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Percent.
    objective: f64,
    /// A Prometheus duration; 30d when absent.
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    sli: SliDoc,
    #[serde(default)]
    alerting: AlertingDoc,
}

/// Exactly one of the three SLI kinds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SliDoc {
    #[serde(default)]
    events: Option<EventsDoc>,
    #[serde(default)]
    raw: Option<RawDoc>,
    #[serde(default)]
    latency: Option<LatencyDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsDoc {
    #[serde(default)]
    errors: Option<String>,
    #[serde(default)]
    good: Option<String>,
    total: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDoc {
    error_ratio: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyDoc {
    histogram: String,
    #[serde(default)]
    selector: Option<String>,
    threshold: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
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
    #[serde(default)]
    page: Option<TierDoc>,
    #[serde(default)]
    ticket: Option<TierDoc>,
    #[serde(default)]
    min_events: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierDoc {
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Maps a decoded document into the model, recording every problem in `issues`; `routing`
/// names the severities alerts may use and the teams' email addresses.
pub fn load(
    doc: ServiceLevelsDoc,
    origin: Origin,
    routing: &AlertRouting,
    issues: &mut Issues,
) -> Option<ServiceLevels> {
    if doc.kind != KIND {
        issues.error(
            "kind",
            format!(
                "kind `{}` is not known for {API_VERSION}; expected `{KIND}`",
                doc.kind
            ),
        );
    }
    check::name(issues, "service", "service", &doc.service);
    if let Some(team) = &doc.team {
        check::name(issues, "team", "team", team);
    }
    check::labels(issues, "labels", &doc.labels);
    if doc.slos.is_empty() && doc.canary.is_none() && doc.alerts.is_empty() {
        issues.error(
            "slos",
            "the service defines no SLO, no alert and no canary profile",
        );
    }
    let slos: Vec<Slo> = doc
        .slos
        .into_iter()
        .enumerate()
        .filter_map(|(i, slo)| {
            let path = join_index("slos", i);
            let slo = load_slo(slo, &path, issues)?;
            for (tier, t) in [
                ("page", &slo.alerting.page),
                ("ticket", &slo.alerting.ticket),
            ] {
                let at = join_key(&join_key(&path, "alerting"), tier);
                alerts::check_email_route(issues, &at, &t.route, doc.team.as_deref(), routing);
            }
            Some(slo)
        })
        .collect();
    let canary = doc.canary.and_then(|c| canary::load(c, "canary", issues));
    let alerts = alerts::load_alerts(
        doc.alerts,
        &doc.service,
        doc.team.as_deref(),
        routing,
        issues,
    );
    let derives_requests = slos.iter().any(|s| s.sli.total_rate().is_some());
    let dashboard = match doc.dashboard {
        None => Some(DashboardSpec::default()),
        Some(d) => dashboard::load(d, "dashboard", derives_requests, issues),
    };
    (!issues.has_errors()).then_some(ServiceLevels {
        service: doc.service,
        team: doc.team,
        labels: doc.labels,
        slos,
        alerts: alerts?,
        dashboard: dashboard?,
        canary,
        origin,
    })
}

fn load_slo(doc: SloDoc, path: &str, issues: &mut Issues) -> Option<Slo> {
    let at = |field: &str| join_key(path, field);
    check::name(issues, &at("name"), "SLO name", &doc.name);
    let objective = check::objective_percent(issues, &at("objective"), doc.objective);
    let period = match &doc.period {
        None => Some(DEFAULT_PERIOD),
        Some(text) => check::duration(issues, &at("period"), "period", text),
    };
    check::labels(issues, &at("labels"), &doc.labels);
    let sli = load_sli(doc.sli, &at("sli"), issues);
    let alerting = load_alerting(doc.alerting, &at("alerting"), issues);
    Some(Slo {
        name: doc.name,
        description: doc.description,
        objective: objective?,
        period: Period::Rolling(period?),
        budgeting: Budgeting::Occurrences,
        sli: sli?,
        labels: doc.labels,
        alerting: alerting?,
    })
}

fn load_sli(doc: SliDoc, path: &str, issues: &mut Issues) -> Option<Sli> {
    let given = [
        doc.events.is_some(),
        doc.raw.is_some(),
        doc.latency.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        issues.error(
            path,
            "give exactly one SLI kind: `events` (errors or good, and total), `raw` (error_ratio) or `latency` (histogram and threshold)",
        );
        return None;
    }
    if let Some(events) = doc.events {
        return load_events(events, &join_key(path, "events"), issues);
    }
    if let Some(raw) = doc.raw {
        let q = check::query(
            issues,
            &join_key(path, "raw.error_ratio"),
            &raw.error_ratio,
            true,
        )?;
        return Some(Sli::ErrorRatio { query: q });
    }
    doc.latency
        .and_then(|l| load_latency(l, &join_key(path, "latency"), issues))
}

fn load_events(doc: EventsDoc, path: &str, issues: &mut Issues) -> Option<Sli> {
    let total = check::query(issues, &join_key(path, "total"), &doc.total, true);
    let (field, text) = match (&doc.errors, &doc.good) {
        (Some(errors), None) => ("errors", errors),
        (None, Some(good)) => ("good", good),
        _ => {
            issues.error(
                path,
                "give either `errors` or `good` (not both) next to `total`",
            );
            return None;
        }
    };
    let counted_path = join_key(path, field);
    let counted = check::query(issues, &counted_path, text, true);
    let (counted, total) = (counted?, total?);
    check::distinct_from_total(issues, &counted_path, field, &counted, &total);
    Some(if field == "errors" {
        Sli::ErrorEvents {
            errors: counted,
            total,
        }
    } else {
        Sli::GoodEvents {
            good: counted,
            total,
        }
    })
}

fn load_latency(doc: LatencyDoc, path: &str, issues: &mut Issues) -> Option<Sli> {
    let histogram = dashboard::histogram(
        issues,
        path,
        &doc.histogram,
        doc.selector.as_deref(),
        doc.kind.as_deref(),
    );
    let threshold = check::duration(
        issues,
        &join_key(path, "threshold"),
        "threshold",
        &doc.threshold,
    );
    if issues.has_errors() {
        return None;
    }
    let HistogramRef {
        histogram,
        matchers,
        kind,
    } = histogram?;
    Some(Sli::Latency(LatencySli {
        histogram,
        matchers,
        threshold: threshold?,
        kind,
    }))
}

fn load_alerting(doc: AlertingDoc, path: &str, issues: &mut Issues) -> Option<Alerting> {
    check::labels(issues, &join_key(path, "labels"), &doc.labels);
    let page = load_tier(
        doc.page.unwrap_or_default(),
        &join_key(path, "page"),
        Route::PagerDuty,
        issues,
    );
    let ticket = load_tier(
        doc.ticket.unwrap_or_default(),
        &join_key(path, "ticket"),
        Route::Slack { channel: None },
        issues,
    );
    Some(Alerting {
        name: doc.name,
        labels: doc.labels,
        annotations: doc.annotations,
        page: page?,
        ticket: ticket?,
        min_events: doc.min_events,
    })
}

fn load_tier(doc: TierDoc, path: &str, default: Route, issues: &mut Issues) -> Option<AlertTier> {
    check::labels(issues, &join_key(path, "labels"), &doc.labels);
    let route = alerts::route(
        issues,
        path,
        doc.route.as_deref(),
        doc.channel,
        doc.to,
        default,
    )?;
    Some(AlertTier {
        enabled: !doc.disabled,
        route,
        labels: doc.labels,
        annotations: doc.annotations,
    })
}
