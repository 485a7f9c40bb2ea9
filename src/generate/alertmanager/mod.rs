//! Alertmanager routing for slogate's alerts (`alertmanager/alertmanager.yaml`), written for
//! Alertmanager 0.25 (Debian bookworm) and later.
//!
//! The tree, from the root down:
//! - the root groups by alert name, service and SLO and sends anything unmatched to
//!   `slack-default`;
//! - one route per team (`team="payments"`), then one route per service of the team
//!   (`slo_service="financy-api"`), then one route per SLO tier (`slo_name`, `slo_severity`)
//!   whose receiver is the tier's configured route: `pagerduty-<team>`, `slack-<channel>` or
//!   `slack-default`;
//! - a last route for alerts without a `team` label (`team=""`): services without a team, and
//!   the `SLOMetricsAbsent` alert of every service, which carries no team label (it is built
//!   with `absent()`, which keeps only the selector's labels). It holds the same per-service
//!   routes, for every service.
//!
//! A page inhibits the ticket of the same SLO: one incident, one notification.
//!
//! Secrets never appear in the file: PagerDuty routing keys and the Slack webhook URL are read
//! by Alertmanager from files ([`SECRETS_DIR`]), mounted from a Kubernetes Secret or written
//! by configuration management.

use std::collections::BTreeMap;

use crate::conventions as names;
use crate::spec::{self, Catalog, ServiceLevels, Slo};

mod config;

pub use config::{
    AlertmanagerConfig, EmailConfig, InhibitRule, PagerDutyConfig, Receiver, Route, SlackConfig,
};

/// Where the file goes, relative to the output directory.
pub const FILE: &str = "alertmanager/alertmanager.yaml";

/// The directory Alertmanager reads secrets from. Mount a Secret there holding one
/// `pagerduty-<team>.key` per team (a PagerDuty Events API v2 integration key of the team's
/// service) and `slack-webhook-url` (a Slack incoming-webhook URL).
pub const SECRETS_DIR: &str = "/etc/alertmanager/secrets";

/// The file holding the Slack incoming-webhook URL (`api_url_file`). One webhook serves every
/// channel: the channel is set per receiver, which needs a webhook allowed to post to them
/// (a legacy webhook or a Slack app with `chat:write.public`); otherwise Slack posts to the
/// webhook's own channel.
pub const SLACK_WEBHOOK_URL_FILE: &str = "/etc/alertmanager/secrets/slack-webhook-url";

/// The file holding a team's PagerDuty routing key (`routing_key_file`):
/// `/etc/alertmanager/secrets/pagerduty-<team>.key`, `pagerduty-default.key` for services
/// without a team.
pub fn pagerduty_routing_key_file(team: Option<&str>) -> String {
    format!("{SECRETS_DIR}/pagerduty-{}.key", team_slug(team))
}

/// The receiver of every alert no other route takes.
pub const DEFAULT_RECEIVER: &str = "slack-default";

/// Labels notifications are grouped by: one notification per alert name, service and SLO on
/// each route (a page and a ticket of one SLO take different routes, so they never share a
/// notification; inhibition keeps the ticket quiet while the page fires).
pub const GROUP_BY: &[&str] = &["alertname", names::LABEL_SERVICE, names::LABEL_SLO];

// Timing, as an on-call SRE wants it:
// - group_wait 30s: burn-rate alerts already waited out their own windows, so a page should
//   go out quickly; 30s lets a page and the ticket of the same SLO arrive together so the
//   inhibition holds the ticket back.
// - group_interval 5m: a change in a group (a new alert, a resolution) is told within minutes
//   without flooding the channel.
// - repeat_interval: 4h for pages (a page that still fires after a shift of work needs a new
//   nudge; PagerDuty deduplicates on the incident key, so the repeat does not open a second
//   incident), 24h for tickets (a daily reminder in the channel is enough for a slow burn).
const GROUP_WAIT: &str = "30s";
const GROUP_INTERVAL: &str = "5m";
const REPEAT_PAGE: &str = "4h";
const REPEAT_TICKET: &str = "24h";

/// Slack message title: status, alert count, service, SLO and tier.
const SLACK_TITLE: &str = concat!(
    r#"[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] "#,
    r#"{{ .CommonLabels.slo_service }} {{ .CommonLabels.slo_name }}"#,
    r#"{{ with .CommonLabels.slo_severity }} ({{ . }}){{ end }}: {{ .CommonLabels.alertname }}"#,
);

/// Slack message text: each alert's summary and description (the annotations slogate writes),
/// and the runbook when the SLO gives one.
const SLACK_TEXT: &str = concat!(
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n",
    "{{ with .Annotations.description }}{{ . }}\n{{ end }}",
    "{{ with .Annotations.runbook_url }}Runbook: {{ . }}\n{{ end }}",
    "{{ end }}",
);

/// PagerDuty incident title: the alert's summary, Alertmanager's default when there is none.
const PAGERDUTY_DESCRIPTION: &str = r#"{{ with .CommonAnnotations.summary }}{{ . }}{{ else }}{{ template "pagerduty.default.description" . }}{{ end }}"#;

/// PagerDuty severity: a page is critical; a ticket tier routed to PagerDuty is a warning.
const PAGERDUTY_SEVERITY: &str =
    r#"{{ if eq .CommonLabels.slo_severity "page" }}critical{{ else }}warning{{ end }}"#;

/// The Alertmanager configuration routing every SLO alert of the catalog.
pub fn alertmanager_config(catalog: &Catalog) -> AlertmanagerConfig {
    let mut services: Vec<&ServiceLevels> = catalog
        .services
        .iter()
        .filter(|s| !s.slos.is_empty() || !s.alerts.is_empty())
        .collect();
    services.sort_by(|a, b| a.service.cmp(&b.service));

    let mut receivers = BTreeMap::new();
    receivers.insert(DEFAULT_RECEIVER.to_string(), slack_receiver(None));

    let mut teams: BTreeMap<&str, Vec<&ServiceLevels>> = BTreeMap::new();
    for service in &services {
        if let Some(team) = &service.team {
            teams.entry(team.as_str()).or_default().push(service);
        }
    }
    let mut routes: Vec<Route> = teams
        .iter()
        .map(|(team, services)| Route {
            matchers: vec![matcher(names::LABEL_TEAM, team)],
            routes: services
                .iter()
                .map(|s| service_route(s, &mut receivers))
                .collect(),
            ..Route::default()
        })
        .collect();
    // Alerts without a team label: services that have no team, and alerts of any service
    // that lost or never had the label (SLOMetricsAbsent). Routed by service alone.
    routes.push(Route {
        matchers: vec![matcher(names::LABEL_TEAM, "")],
        routes: services
            .iter()
            .map(|s| service_route(s, &mut receivers))
            .collect(),
        ..Route::default()
    });

    AlertmanagerConfig {
        route: Route {
            receiver: Some(DEFAULT_RECEIVER.to_string()),
            group_by: Some(GROUP_BY.iter().map(|l| l.to_string()).collect()),
            group_wait: Some(GROUP_WAIT.to_string()),
            group_interval: Some(GROUP_INTERVAL.to_string()),
            repeat_interval: Some(REPEAT_TICKET.to_string()),
            routes,
            ..Route::default()
        },
        inhibit_rules: vec![page_inhibits_ticket()],
        receivers: receivers.into_values().collect(),
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

/// A service's route: one child per SLO tier, each to the tier's receiver.
fn service_route(service: &ServiceLevels, receivers: &mut BTreeMap<String, Receiver>) -> Route {
    let team = service.team.as_deref();
    let mut routes = Vec::new();
    for slo in &service.slos {
        // First: the no-data alert is also a ticket, and must not be taken by the ticket
        // tier's route when that goes to PagerDuty.
        let absent = receiver_for(&no_data_route(slo), team, receivers);
        routes.push(Route {
            receiver: Some(absent),
            matchers: vec![
                matcher("alertname", names::ALERT_SLI_ABSENT),
                matcher(names::LABEL_SLO, &slo.name),
            ],
            ..Route::default()
        });
        // Pages repeat sooner than the root's ticket pace; tickets inherit the root's.
        let tiers = [
            ("page", &slo.alerting.page, Some(REPEAT_PAGE)),
            ("ticket", &slo.alerting.ticket, None),
        ];
        for (severity, tier, repeat) in tiers {
            if !tier.enabled {
                continue;
            }
            routes.push(Route {
                receiver: Some(receiver_for(&tier.route, team, receivers)),
                matchers: vec![
                    matcher(names::LABEL_SLO, &slo.name),
                    matcher(names::LABEL_SEVERITY, severity),
                ],
                repeat_interval: repeat.map(str::to_string),
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
            receiver: Some(receiver_for(&alert.route, team, receivers)),
            matchers,
            repeat_interval: (alert.tier == spec::Tier::Page).then(|| REPEAT_PAGE.to_string()),
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

/// The name of the receiver for `route`, added to `receivers` the first time it is needed.
fn receiver_for(
    route: &spec::Route,
    team: Option<&str>,
    receivers: &mut BTreeMap<String, Receiver>,
) -> String {
    let receiver = match route {
        spec::Route::PagerDuty => pagerduty_receiver(team),
        spec::Route::Slack { channel } => slack_receiver(channel.as_deref()),
        spec::Route::Email { to } => email_receiver(to.as_deref(), team),
    };
    let name = receiver.name.clone();
    receivers.entry(name.clone()).or_insert(receiver);
    name
}

fn pagerduty_receiver(team: Option<&str>) -> Receiver {
    Receiver {
        name: format!("pagerduty-{}", team_slug(team)),
        pagerduty_configs: vec![PagerDutyConfig {
            send_resolved: true,
            routing_key_file: pagerduty_routing_key_file(team),
            description: PAGERDUTY_DESCRIPTION.to_string(),
            severity: PAGERDUTY_SEVERITY.to_string(),
            component: format!("{{{{ .CommonLabels.{} }}}}", names::LABEL_SERVICE),
            class: format!("{{{{ .CommonLabels.{} }}}}", names::LABEL_SLO),
        }],
        slack_configs: Vec::new(),
        email_configs: Vec::new(),
    }
}

fn slack_receiver(channel: Option<&str>) -> Receiver {
    let name = match channel {
        Some(channel) => format!("slack-{}", slug(channel.trim_start_matches('#'))),
        None => DEFAULT_RECEIVER.to_string(),
    };
    Receiver {
        name,
        pagerduty_configs: Vec::new(),
        slack_configs: vec![SlackConfig {
            send_resolved: true,
            api_url_file: SLACK_WEBHOOK_URL_FILE.to_string(),
            channel: channel.map(str::to_string),
            title: SLACK_TITLE.to_string(),
            text: SLACK_TEXT.to_string(),
        }],
        email_configs: Vec::new(),
    }
}

fn email_receiver(to: Option<&str>, _team: Option<&str>) -> Receiver {
    let to = to.map(str::to_string).unwrap_or_default();
    Receiver {
        name: format!("email-{}", slug(&to)),
        pagerduty_configs: Vec::new(),
        slack_configs: Vec::new(),
        email_configs: vec![EmailConfig {
            send_resolved: true,
            to,
            headers: BTreeMap::from([("Subject".to_string(), SLACK_TITLE.to_string())]),
        }],
    }
}

/// The team as it appears in receiver and file names; `default` for no team.
fn team_slug(team: Option<&str>) -> String {
    team.map(slug).unwrap_or_else(|| "default".to_string())
}

/// A name safe in a receiver name and a file name: anything but ASCII letters, digits, `_`
/// and `-` becomes `-`, so a team called `../x` cannot point a key file outside the secrets
/// directory.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
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
