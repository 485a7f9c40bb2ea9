//! prometheus-operator `AlertmanagerConfig` resources (monitoring.coreos.com/v1alpha1), one per
//! team, so slogate's routes merge into an Alertmanager the operator already runs instead of
//! replacing its whole configuration.
//!
//! Each resource is the team's subtree of [`alertmanager_config`](super::alertmanager_config)
//! in the operator's spelling (camelCase, matchers as objects, secrets as Secret key
//! references), with the receivers that subtree uses and slogate's inhibitions. The operator
//! adds a `namespace="<resource namespace>"` matcher to the top route (its default matcher
//! strategy), so the alerts must carry the namespace the resource is applied in.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::generate::rules::K8sMetadata;

use super::config::{self, AlertmanagerConfig};
use super::receivers::{SLACK_WEBHOOK_URL_KEY, SMTP_PASSWORD_KEY, team_slug};
use crate::spec::AlertRouting;

/// An `AlertmanagerConfig` resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerConfigResource {
    api_version: &'static str,
    kind: &'static str,
    metadata: K8sMetadata,
    spec: Spec,
}

impl AlertmanagerConfigResource {
    /// The file name under `alertmanager/`.
    pub fn file_name(&self) -> String {
        format!("{}.yaml", self.metadata.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    route: Route,
    receivers: Vec<Receiver>,
    inhibit_rules: Vec<InhibitRule>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Route {
    #[serde(skip_serializing_if = "Option::is_none")]
    receiver: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    matchers: Vec<Matcher>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_by: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Matcher {
    name: String,
    value: String,
    match_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Receiver {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pagerduty_configs: Vec<PagerDutyConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    slack_configs: Vec<SlackConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    email_configs: Vec<EmailConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct SecretKey {
    name: String,
    key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct PagerDutyConfig {
    send_resolved: bool,
    routing_key: SecretKey,
    description: String,
    severity: String,
    component: String,
    class: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct SlackConfig {
    send_resolved: bool,
    #[serde(rename = "apiURL")]
    api_url: SecretKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    title: String,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct EmailConfig {
    send_resolved: bool,
    to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    smarthost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_password: Option<SecretKey>,
    #[serde(rename = "requireTLS", skip_serializing_if = "Option::is_none")]
    require_tls: Option<bool>,
    headers: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct KeyValue {
    key: String,
    value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct InhibitRule {
    source_match: Vec<Matcher>,
    target_match: Vec<Matcher>,
    equal: Vec<String>,
}

/// One resource per team route of `config` (the routing [`alertmanager_config`] built from the
/// same catalog), named `slogate-<team>`; services without a team share `slogate-default`.
///
/// [`alertmanager_config`]: super::alertmanager_config
pub fn alertmanager_config_resources(
    config: &AlertmanagerConfig,
    routing: &AlertRouting,
) -> Vec<AlertmanagerConfigResource> {
    let receivers: BTreeMap<&str, &config::Receiver> = config
        .receivers
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    let inhibit_rules: Vec<InhibitRule> = config
        .inhibit_rules
        .iter()
        .map(|r| InhibitRule {
            source_match: r.source_matchers.iter().map(|m| matcher(m)).collect(),
            target_match: r.target_matchers.iter().map(|m| matcher(m)).collect(),
            equal: r.equal.clone(),
        })
        .collect();
    let root = &config.route;
    config
        .route
        .routes
        .iter()
        .filter(|team| !team.routes.is_empty())
        .map(|team_route| {
            let team = team_route
                .matchers
                .first()
                .map(|m| matcher(m).value)
                .filter(|t| !t.is_empty());
            // The team's route carries the root's grouping and default receiver, so the
            // resource routes the same way wherever it is merged.
            let mut top = route(team_route);
            top.receiver = root.receiver.clone();
            top.group_by = root.group_by.clone();
            top.group_wait = top.group_wait.or_else(|| root.group_wait.clone());
            top.group_interval = top.group_interval.or_else(|| root.group_interval.clone());
            top.repeat_interval = top.repeat_interval.or_else(|| root.repeat_interval.clone());
            let mut used = Vec::new();
            used_receivers(&top, &mut used);
            let name = format!("slogate-{}", team_slug(team.as_deref()));
            AlertmanagerConfigResource {
                api_version: "monitoring.coreos.com/v1alpha1",
                kind: "AlertmanagerConfig",
                metadata: K8sMetadata {
                    name: crate::generate::k8s_name(&name),
                    namespace: routing.kubernetes.namespace.clone(),
                    annotations: routing.kubernetes.annotations.clone(),
                    labels: routing
                        .kubernetes
                        .labels
                        .clone()
                        .into_iter()
                        .chain([
                            (
                                "app.kubernetes.io/managed-by".to_string(),
                                "slogate".to_string(),
                            ),
                            (
                                crate::conventions::LABEL_TEAM.to_string(),
                                team_slug(team.as_deref()),
                            ),
                        ])
                        .collect(),
                },
                spec: Spec {
                    route: top,
                    receivers: used
                        .iter()
                        .filter_map(|name| receivers.get(name.as_str()))
                        .map(|r| receiver(r, routing))
                        .collect(),
                    inhibit_rules: inhibit_rules.clone(),
                },
            }
        })
        .collect()
}

fn route(from: &config::Route) -> Route {
    Route {
        receiver: from.receiver.clone(),
        matchers: from.matchers.iter().map(|m| matcher(m)).collect(),
        group_by: from.group_by.clone(),
        group_wait: from.group_wait.clone(),
        group_interval: from.group_interval.clone(),
        repeat_interval: from.repeat_interval.clone(),
        routes: from.routes.iter().map(route).collect(),
    }
}

/// Every receiver the tree names, each once, in name order.
fn used_receivers(route: &Route, used: &mut Vec<String>) {
    if let Some(name) = &route.receiver
        && !used.contains(name)
    {
        used.push(name.clone());
        used.sort();
    }
    for child in &route.routes {
        used_receivers(child, used);
    }
}

fn receiver(from: &config::Receiver, routing: &AlertRouting) -> Receiver {
    let secret = |key: &str| SecretKey {
        name: routing.secret.clone(),
        key: key.to_string(),
    };
    let smtp = routing.smtp.as_ref();
    Receiver {
        name: from.name.clone(),
        pagerduty_configs: from
            .pagerduty_configs
            .iter()
            .map(|pd| PagerDutyConfig {
                send_resolved: pd.send_resolved,
                // The key is the file name the plain configuration reads.
                routing_key: secret(pd.routing_key_file.rsplit('/').next().unwrap_or_default()),
                description: pd.description.clone(),
                severity: pd.severity.clone(),
                component: pd.component.clone(),
                class: pd.class.clone(),
            })
            .collect(),
        slack_configs: from
            .slack_configs
            .iter()
            .map(|s| SlackConfig {
                send_resolved: s.send_resolved,
                api_url: secret(SLACK_WEBHOOK_URL_KEY),
                channel: s.channel.clone(),
                title: s.title.clone(),
                text: s.text.clone(),
            })
            .collect(),
        email_configs: from
            .email_configs
            .iter()
            .map(|e| EmailConfig {
                send_resolved: e.send_resolved,
                to: e.to.clone(),
                smarthost: smtp.map(|s| s.smarthost.clone()),
                from: smtp.map(|s| s.from.clone()),
                auth_username: smtp.and_then(|s| s.auth_username.clone()),
                auth_password: smtp
                    .and_then(|s| s.auth_username.as_ref())
                    .map(|_| secret(SMTP_PASSWORD_KEY)),
                require_tls: smtp.map(|s| s.require_tls),
                headers: e
                    .headers
                    .iter()
                    .map(|(k, v)| KeyValue {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Splits a matcher slogate wrote (`name="value"`, `=~`, `!=`, `!~`; the value quoted and
/// escaped as [`super::matcher`] and the settings' validation make sure) into the operator's
/// object form.
fn matcher(text: &str) -> Matcher {
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(name_end);
    let op = ["=~", "!~", "!=", "="]
        .into_iter()
        .find(|op| rest.starts_with(op))
        .unwrap_or("=");
    let quoted = rest[op.len().min(rest.len())..].trim();
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(quoted);
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => value.push('\n'),
                Some(other) => value.push(other),
                None => value.push('\\'),
            }
        } else {
            value.push(c);
        }
    }
    Matcher {
        name: name.to_string(),
        value,
        match_type: op.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_split_into_name_type_and_unescaped_value() {
        for (text, name, op, value) in [
            (r#"team="payments""#, "team", "=", "payments"),
            (r#"slo_name=~".+""#, "slo_name", "=~", ".+"),
            (r#"team="""#, "team", "=", ""),
            (r#"a!="x\"y""#, "a", "!=", "x\"y"),
            (r#"b!~"c\\d""#, "b", "!~", r"c\d"),
        ] {
            let m = matcher(text);
            assert_eq!(
                (m.name.as_str(), m.match_type.as_str(), m.value.as_str()),
                (name, op, value),
                "{text}"
            );
        }
    }
}
