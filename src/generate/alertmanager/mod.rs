//! Alertmanager routing for slogate's alerts (`alertmanager/alertmanager.yaml`), written for
//! Alertmanager 0.25 (Debian bookworm) and later.
//!
//! The tree, from the root down:
//! - the root groups by alert name, service and SLO (timings and default receiver from the
//!   catalog's AlertRouting settings) and sends anything unmatched to `slack-default`;
//! - one route per team (`team="payments"`, with the team's own timings when it has any),
//!   then one route per service of the team (`slo_service="financy-api"`), then one route per
//!   SLO tier (`slo_name`, `slo_severity`) and per plain alert (`alertname`, `slo_severity`,
//!   `severity`) whose receiver is its configured route: `pagerduty-<team>`, `slack-<channel>`,
//!   `email-<address or team>` or `slack-default`;
//! - a last route for alerts without a `team` label (`team=""`): services without a team, and
//!   the `SLOMetricsAbsent` alert of every service, which carries no team label (it is built
//!   with `absent()`, which keeps only the selector's labels). It holds the same per-service
//!   routes, for every service.
//!
//! A page inhibits the ticket of the same SLO: one incident, one notification; the settings
//! may add inhibitions of their own.
//!
//! Secrets never appear in the file: PagerDuty routing keys, the Slack webhook URL and the SMTP
//! password are read by Alertmanager from files in the prometheus-operator's mount layout
//! (`/etc/alertmanager/secrets/<secret>/<key>`, [`secret_file`]).

use std::collections::BTreeMap;

use crate::conventions as names;
use crate::spec::{self, AlertRouting, Catalog, ServiceLevels, Slo, Tier};

mod config;
mod operator;
mod receivers;

pub use config::{
    AlertmanagerConfig, EmailConfig, Global, InhibitRule, PagerDutyConfig, Receiver, Route,
    SlackConfig,
};
pub use operator::{AlertmanagerConfigResource, alertmanager_config_resources};
use receivers::Receivers;
pub use receivers::{
    DEFAULT_RECEIVER, SECRETS_DIR, SLACK_WEBHOOK_URL_KEY, SMTP_PASSWORD_KEY,
    pagerduty_routing_key_file, secret_file,
};

/// Where the file goes, relative to the output directory.
pub const FILE: &str = "alertmanager/alertmanager.yaml";

/// The Alertmanager configuration routing every SLO and plain alert of the catalog, with the
/// catalog's routing settings (defaults when it has no AlertRouting document).
pub fn alertmanager_config(catalog: &Catalog) -> AlertmanagerConfig {
    let routing = &catalog.routing;
    let mut services: Vec<&ServiceLevels> = catalog
        .services
        .iter()
        .filter(|s| !s.slos.is_empty() || !s.alerts.is_empty())
        .collect();
    services.sort_by(|a, b| a.service.cmp(&b.service));

    let mut receivers = Receivers::new(routing);
    let default_receiver = receivers.name_for(&routing.default_receiver, None);

    let mut teams: BTreeMap<&str, Vec<&ServiceLevels>> = BTreeMap::new();
    for service in &services {
        if let Some(team) = &service.team {
            teams.entry(team.as_str()).or_default().push(service);
        }
    }
    let mut routes: Vec<Route> = teams
        .iter()
        .map(|(team, services)| {
            let settings = routing.team(Some(team));
            let text = |d: Option<spec::PromDuration>| d.map(|d| d.to_string());
            Route {
                matchers: vec![matcher(names::LABEL_TEAM, team)],
                group_wait: text(settings.and_then(|t| t.group_wait)),
                group_interval: text(settings.and_then(|t| t.group_interval)),
                repeat_interval: text(settings.and_then(|t| t.repeat_interval)),
                routes: services
                    .iter()
                    .map(|s| service_route(s, routing, &mut receivers))
                    .collect(),
                ..Route::default()
            }
        })
        .collect();
    // Alerts without a team label: services that have no team, and alerts of any service
    // that lost or never had the label (SLOMetricsAbsent). Routed by service alone.
    routes.push(Route {
        matchers: vec![matcher(names::LABEL_TEAM, "")],
        routes: services
            .iter()
            .map(|s| service_route(s, routing, &mut receivers))
            .collect(),
        ..Route::default()
    });

    let mut inhibit_rules = vec![page_inhibits_ticket()];
    inhibit_rules.extend(routing.inhibit_rules.iter().map(|r| InhibitRule {
        source_matchers: r.source_matchers.clone(),
        target_matchers: r.target_matchers.clone(),
        equal: r.equal.clone(),
    }));
    AlertmanagerConfig {
        global: routing.smtp.as_ref().map(|smtp| Global {
            smtp_smarthost: smtp.smarthost.clone(),
            smtp_from: smtp.from.clone(),
            smtp_auth_username: smtp.auth_username.clone(),
            smtp_auth_password_file: smtp
                .auth_username
                .as_ref()
                .map(|_| secret_file(&routing.secret, SMTP_PASSWORD_KEY)),
            smtp_require_tls: smtp.require_tls,
        }),
        route: Route {
            receiver: Some(default_receiver),
            group_by: Some(routing.group_by.clone()),
            group_wait: Some(routing.group_wait.to_string()),
            group_interval: Some(routing.group_interval.to_string()),
            repeat_interval: Some(routing.repeat_interval.to_string()),
            routes,
            ..Route::default()
        },
        inhibit_rules,
        receivers: receivers.into_list(),
    }
}

/// While an SLO pages, its ticket (and its no-data ticket) is noise: the same people are
/// already on it.
fn page_inhibits_ticket() -> InhibitRule {
    InhibitRule {
        // Only SLO alerts: plain alerts carry no SLO name, and Alertmanager counts two missing
        // labels as equal, so without this a plain page would silence every plain ticket.
        source_matchers: vec![
            matcher(names::LABEL_SEVERITY, "page"),
            format!("{}=~\".+\"", names::LABEL_SLO),
        ],
        target_matchers: vec![matcher(names::LABEL_SEVERITY, "ticket")],
        equal: vec![
            names::LABEL_SERVICE.to_string(),
            names::LABEL_SLO.to_string(),
        ],
    }
}

/// A service's route: one child per SLO tier and per plain alert, each to its receiver. Pages
/// repeat at the page pace (the team's, else the catalog's); tickets inherit the ticket pace.
fn service_route(
    service: &ServiceLevels,
    routing: &AlertRouting,
    receivers: &mut Receivers,
) -> Route {
    let team = service.team.as_deref();
    let page_repeat = routing
        .team(team)
        .and_then(|t| t.page_repeat_interval)
        .unwrap_or(routing.page_repeat_interval)
        .to_string();
    let mut routes = Vec::new();
    for slo in &service.slos {
        // First: the no-data alert is also a ticket, and must not be taken by the ticket
        // tier's route when that goes to PagerDuty.
        let absent = receivers.name_for(&no_data_route(slo), team);
        routes.push(Route {
            receiver: Some(absent),
            matchers: vec![
                matcher("alertname", names::ALERT_SLI_ABSENT),
                matcher(names::LABEL_SLO, &slo.name),
            ],
            ..Route::default()
        });
        let tiers = [
            (Tier::Page, &slo.alerting.page),
            (Tier::Ticket, &slo.alerting.ticket),
        ];
        for (tier, alerting) in tiers {
            if !alerting.enabled {
                continue;
            }
            routes.push(Route {
                receiver: Some(receivers.name_for(&alerting.route, team)),
                matchers: vec![
                    matcher(names::LABEL_SLO, &slo.name),
                    matcher(names::LABEL_SEVERITY, tier.as_str()),
                ],
                repeat_interval: (tier == Tier::Page).then(|| page_repeat.clone()),
                ..Route::default()
            });
        }
    }
    // Plain alerts after the SLO routes: they carry no `slo_name`, so no SLO route takes them.
    for alert in &service.alerts {
        let mut matchers = vec![
            matcher("alertname", &alert.name),
            matcher(names::LABEL_SEVERITY, alert.tier.as_str()),
        ];
        if let Some(severity) = &alert.severity {
            matchers.push(matcher(names::LABEL_ALERT_SEVERITY, severity));
        }
        routes.push(Route {
            receiver: Some(receivers.name_for(&alert.route, team)),
            matchers,
            repeat_interval: (alert.tier == Tier::Page).then(|| page_repeat.clone()),
            ..Route::default()
        });
    }
    Route {
        matchers: vec![matcher(names::LABEL_SERVICE, &service.service)],
        routes,
        ..Route::default()
    }
}

/// Where an SLO's no-data alert goes: Slack, to the ticket tier's channel when it has one,
/// else the page tier's, else the default channel. Never PagerDuty: missing metrics are a
/// ticket's worth, whatever the tiers say.
fn no_data_route(slo: &Slo) -> spec::Route {
    let channel = [&slo.alerting.ticket, &slo.alerting.page]
        .into_iter()
        .find_map(|tier| match &tier.route {
            spec::Route::Slack {
                channel: Some(channel),
            } => Some(channel.clone()),
            _ => None,
        });
    spec::Route::Slack { channel }
}

/// An Alertmanager equality matcher; the value is double-quoted with `\` and `"` escaped, as
/// Alertmanager's matcher parser reads it.
fn matcher(name: &str, value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("{name}=\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::receivers::slug;
    use super::*;

    #[test]
    fn slugs_keep_safe_names_and_neutralise_paths() {
        for (name, expected) in [
            ("payments", "payments"),
            ("payments-alerts", "payments-alerts"),
            ("a/b", "a-b"),
            ("../x", "---x"),
            ("team one", "team-one"),
        ] {
            assert_eq!(slug(name), expected, "{name}");
        }
    }

    #[test]
    fn matchers_escape_quotes_and_backslashes() {
        assert_eq!(matcher("team", "pay\"ments"), r#"team="pay\"ments""#);
        assert_eq!(matcher("team", r"a\b"), r#"team="a\\b""#);
        assert_eq!(matcher("team", ""), r#"team="""#);
    }
}
