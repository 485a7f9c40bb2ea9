//! The rule group of a service's plain alerts (`alerts:` in the spec): one alerting rule per
//! alert, in file order, labelled like the SLO alerts (service, team, tier) so the same
//! Alertmanager tree routes both.

use std::collections::BTreeMap;

use super::rules::{Rule, RuleGroup};
use crate::conventions as names;
use crate::spec::{PlainAlert, ServiceLevels};

/// The service's plain alerts as one rule group; `None` when it has none.
pub fn service_alert_group(service: &ServiceLevels) -> Option<RuleGroup> {
    if service.alerts.is_empty() {
        return None;
    }
    Some(RuleGroup {
        name: names::group_service_alerts(&service.service),
        rules: service
            .alerts
            .iter()
            .map(|alert| alert_rule(service, alert))
            .collect(),
    })
}

/// The labels routing reads, as an alert of `service` carries them.
pub fn alert_labels(service: &ServiceLevels, alert: &PlainAlert) -> BTreeMap<String, String> {
    let mut labels = service.labels.clone();
    labels.extend(alert.labels.clone());
    if let Some(team) = &service.team {
        labels.insert(names::LABEL_TEAM.to_string(), team.clone());
    }
    labels.insert(names::LABEL_SERVICE.to_string(), service.service.clone());
    labels.insert(
        names::LABEL_SEVERITY.to_string(),
        alert.tier.as_str().to_string(),
    );
    if let Some(severity) = &alert.severity {
        labels.insert(names::LABEL_ALERT_SEVERITY.to_string(), severity.clone());
    }
    labels
}

fn alert_rule(service: &ServiceLevels, alert: &PlainAlert) -> Rule {
    let mut annotations = alert.annotations.clone();
    annotations.insert("summary".to_string(), alert.summary.clone());
    if let Some(description) = &alert.description {
        annotations.insert("description".to_string(), description.clone());
    }
    if let Some(url) = &alert.runbook_url {
        annotations.insert("runbook_url".to_string(), url.clone());
    }
    Rule::Alert {
        alert: alert.name.clone(),
        expr: alert.expr.as_str().to_string(),
        for_: alert.for_.map(|d| d.to_string()),
        labels: alert_labels(service, alert).into(),
        annotations,
    }
}
