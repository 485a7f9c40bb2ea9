//! A service's `alerts:` list (threshold and `for:` alerts beside the SLOs) and the route
//! fields that alerts and SLO tiers share (`route`, `channel`, `to`).
//!
//! Each field is checked where it is written, so a mistake is reported at its own
//! `FILE:LINE:COL` like any SLO field; duplicate names are found by the catalog loader, which
//! knows where the first one was.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::conventions as names;
use crate::spec::alert::{PlainAlert, SeverityMap, Tier};
use crate::spec::check;
use crate::spec::diagnostic::Issues;
use crate::spec::model::Route;
use crate::spec::routing::AlertRouting;
use crate::spec::yaml::{join_index, join_key};

/// One entry of `alerts:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertDoc {
    name: String,
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    runbook_url: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Labels an alert may not set: Prometheus sets `alertname`, and the `severity` field writes
/// `severity` (two sources for one label would disagree).
const ALERT_OWNED_LABELS: &[&str] = &["alertname", "severity"];

/// Annotations the alert's own fields write.
const ALERT_OWNED_ANNOTATIONS: &[&str] = &["summary", "description", "runbook_url"];

/// Maps `alerts:` into the model; `None` when any alert has an error.
pub fn load_alerts(
    docs: Vec<AlertDoc>,
    service: &str,
    team: Option<&str>,
    routing: &AlertRouting,
    issues: &mut Issues,
) -> Option<Vec<PlainAlert>> {
    let loaded: Vec<Option<PlainAlert>> = docs
        .into_iter()
        .enumerate()
        .map(|(i, doc)| {
            let path = join_index("alerts", i);
            let alert = load_alert(doc, service, &path, &routing.severities, issues)?;
            check_email_route(issues, &path, &alert.route, team, routing).then_some(alert)
        })
        .collect();
    loaded.into_iter().collect()
}

/// An email route needs an SMTP server in the AlertRouting document, and an address: its own
/// `to` or the team's `email` there. False, with the error at `path.route`, when one lacks.
pub fn check_email_route(
    issues: &mut Issues,
    path: &str,
    route: &Route,
    team: Option<&str>,
    routing: &AlertRouting,
) -> bool {
    let Route::Email { to } = route else {
        return true;
    };
    let at = join_key(path, "route");
    if routing.smtp.is_none() {
        issues.error(
            at,
            "email needs an SMTP server: add `smtp: {smarthost, from}` to the AlertRouting document",
        );
        return false;
    }
    let team_email = routing.team(team).and_then(|t| t.email.as_ref());
    if to.is_none() && team_email.is_none() {
        let team = team.unwrap_or("<team>");
        issues.error(
            at,
            format!("give `to`, or set `teams.{team}.email` in the AlertRouting document"),
        );
        return false;
    }
    true
}

fn load_alert(
    doc: AlertDoc,
    service: &str,
    path: &str,
    severities: &SeverityMap,
    issues: &mut Issues,
) -> Option<PlainAlert> {
    let at = |field: &str| join_key(path, field);
    let name_ok = alert_name(issues, &at("name"), &doc.name);
    let expr = check::query(issues, &at("expr"), &doc.expr, false);
    if expr.as_ref().is_some_and(|q| q.uses_window()) {
        issues.error(
            at("expr"),
            "{{window}} is for SLI queries; an alert's expression names its own range (e.g. rate(x[5m]))",
        );
    }
    let for_ = match &doc.for_ {
        None => Some(None),
        Some(text) => check::duration(issues, &at("for"), "for", text).map(Some),
    };
    let tier = tier(issues, path, &doc, severities);
    let route = tier.and_then(|t| {
        let (route_name, channel, to) = (doc.route.as_deref(), doc.channel, doc.to);
        route(issues, path, route_name, channel, to, t.default_route())
    });
    check::labels(issues, &at("labels"), &doc.labels);
    for key in doc.labels.keys() {
        if ALERT_OWNED_LABELS.contains(&key.as_str()) {
            issues.error(
                join_key(&at("labels"), key),
                format!(
                    "`{key}` is set by the alert itself; use the alert's `name` or `severity` field"
                ),
            );
        }
    }
    for key in doc.annotations.keys() {
        if ALERT_OWNED_ANNOTATIONS.contains(&key.as_str()) {
            issues.error(
                join_key(&at("annotations"), key),
                format!("`{key}` has its own field on the alert; write `{key}:` next to `name`"),
            );
        }
    }
    if let Some(url) = &doc.runbook_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        issues.error(
            at("runbook_url"),
            format!("`{url}` is not a link; write the runbook's http:// or https:// address"),
        );
    }
    let summary = match doc.summary {
        Some(s) if s.trim().is_empty() => {
            issues.error(
                at("summary"),
                "the summary is empty; write one line a person can act on, or leave it out",
            );
            return None;
        }
        Some(s) => s,
        None => format!("{service}: {}", doc.name),
    };
    if !name_ok {
        return None;
    }
    Some(PlainAlert {
        name: doc.name,
        expr: expr?,
        for_: for_?,
        severity: doc.severity,
        tier: tier?,
        route: route?,
        summary,
        description: doc.description,
        runbook_url: doc.runbook_url,
        labels: doc.labels,
        annotations: doc.annotations,
    })
}

/// An alert name: what Prometheus shows as `alertname`, so a metric-style identifier, and not
/// one of the names slogate gives its own SLO alerts (routes would confuse them).
fn alert_name(issues: &mut Issues, path: &str, name: &str) -> bool {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        issues.error(
            path,
            format!("alert name `{name}` must be a Prometheus identifier ([a-zA-Z_][a-zA-Z0-9_]*), e.g. HighErrorRate"),
        );
        return false;
    }
    if [names::DEFAULT_ALERT_NAME, names::ALERT_SLI_ABSENT].contains(&name) {
        issues.error(
            path,
            format!("`{name}` is the name of slogate's own SLO alert; choose another name"),
        );
        return false;
    }
    true
}

/// The tier from `tier`, else from `severity` through the severity map.
fn tier(issues: &mut Issues, path: &str, doc: &AlertDoc, severities: &SeverityMap) -> Option<Tier> {
    if let Some(text) = &doc.tier {
        let tier = Tier::parse(text);
        if tier.is_none() {
            issues.error(
                join_key(path, "tier"),
                format!("unknown tier `{text}`; expected `page` or `ticket`"),
            );
        }
        return tier;
    }
    let Some(severity) = &doc.severity else {
        issues.error(
            join_key(path, "name"),
            "give the alert a `severity` (e.g. critical, warning, P2) or a `tier` (page or ticket)",
        );
        return None;
    };
    let tier = severities.tier(severity);
    if tier.is_none() {
        issues.error(
            join_key(path, "severity"),
            format!(
                "unknown severity `{severity}`; known: {} (map more names to page or ticket in the AlertRouting document's `severities`), or give `tier` instead",
                severities.names()
            ),
        );
    }
    tier
}

/// A route from `route`, `channel` and `to` under `path`, or `default` when none is given.
pub fn route(
    issues: &mut Issues,
    path: &str,
    route: Option<&str>,
    channel: Option<String>,
    to: Option<String>,
    default: Route,
) -> Option<Route> {
    if route.is_none() && channel.is_none() && to.is_none() {
        return Some(default);
    }
    let name = route.unwrap_or(match default {
        Route::PagerDuty => "pagerduty",
        Route::Slack { .. } => "slack",
        Route::Email { .. } => "email",
    });
    let add = |kind: &str| {
        if route.is_none() {
            format!("; add `route: {kind}`")
        } else {
            String::new()
        }
    };
    let mut ok = true;
    if channel.is_some() && name != "slack" {
        let why = match name {
            "pagerduty" if route.is_some() => {
                "; PagerDuty routes by routing key in the service configuration".to_string()
            }
            _ => add("slack"),
        };
        issues.error(
            join_key(path, "channel"),
            format!("`channel` is for Slack{why}"),
        );
        ok = false;
    }
    if to.is_some() && name != "email" {
        let why = add("email");
        issues.error(join_key(path, "to"), format!("`to` is for email{why}"));
        ok = false;
    }
    if let Some(to) = &to {
        ok &= email_addresses(issues, &join_key(path, "to"), to);
    }
    let route = match name {
        "pagerduty" => Route::PagerDuty,
        "slack" => Route::Slack { channel },
        "email" => Route::Email { to },
        other => {
            issues.error(
                join_key(path, "route"),
                format!("unknown route `{other}`; expected `pagerduty`, `slack` or `email`"),
            );
            return None;
        }
    };
    ok.then_some(route)
}

/// Checks one address or a comma-separated list of them (Alertmanager's `to`).
pub fn email_addresses(issues: &mut Issues, path: &str, text: &str) -> bool {
    let bad = text.split(',').map(str::trim).find(|a| {
        let Some((local, domain)) = a.split_once('@') else {
            return true;
        };
        local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || a.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if let Some(bad) = bad {
        issues.error(
            path,
            format!("`{bad}` is not an email address (write name@example.com; separate several with commas)"),
        );
        return false;
    }
    true
}
