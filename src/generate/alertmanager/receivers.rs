//! The receivers of the generated Alertmanager configuration: one per destination (a team's
//! PagerDuty service, a Slack channel, an email address), named after it and added the first
//! time a route needs it. Secrets are read from files in the prometheus-operator's mount layout,
//! `/etc/alertmanager/secrets/<secret>/<key>`, never written into the configuration.

use std::collections::BTreeMap;

use super::config::{EmailConfig, PagerDutyConfig, Receiver, SlackConfig};
use crate::conventions as names;
use crate::spec::{self, AlertRouting};

/// The directory the prometheus-operator mounts each Secret of `Alertmanager.spec.secrets`
/// under (`<dir>/<secret>/<key>`).
pub const SECRETS_DIR: &str = "/etc/alertmanager/secrets";

/// The receiver of every alert no other route takes, unless the routing settings name one.
pub const DEFAULT_RECEIVER: &str = "slack-default";

/// The Secret key holding the Slack incoming-webhook URL (`api_url_file`). One webhook serves
/// every channel: the channel is set per receiver, which needs a webhook allowed to post to them
/// (a legacy webhook or a Slack app with `chat:write.public`); otherwise Slack posts to the
/// webhook's own channel.
pub const SLACK_WEBHOOK_URL_KEY: &str = "slack-webhook-url";

/// The Secret key holding the SMTP password (`smtp_auth_password_file`).
pub const SMTP_PASSWORD_KEY: &str = "smtp-password";

/// The file holding `key` of `secret`, where the operator mounts it.
pub fn secret_file(secret: &str, key: &str) -> String {
    format!("{SECRETS_DIR}/{secret}/{key}")
}

/// The file holding a team's PagerDuty routing key (`routing_key_file`):
/// `<secret>/pagerduty-<team>.key`, `pagerduty-default.key` for services without a team.
pub fn pagerduty_routing_key_file(secret: &str, team: Option<&str>) -> String {
    secret_file(secret, &format!("pagerduty-{}.key", team_slug(team)))
}

/// Slack message title: status, alert count, service, SLO (or alert) and tier.
pub(super) const TITLE: &str = concat!(
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

/// The receivers needed so far, by name.
pub(super) struct Receivers<'a> {
    /// Secret names and team addresses.
    routing: &'a AlertRouting,
    /// Each receiver once, in name order (the file's order).
    by_name: BTreeMap<String, Receiver>,
}

impl<'a> Receivers<'a> {
    pub(super) fn new(routing: &'a AlertRouting) -> Self {
        Receivers {
            routing,
            by_name: BTreeMap::new(),
        }
    }

    /// The name of the receiver for `route` of `team`, added the first time it is needed.
    pub(super) fn name_for(&mut self, route: &spec::Route, team: Option<&str>) -> String {
        let receiver = match route {
            spec::Route::PagerDuty => self.pagerduty(team),
            spec::Route::Slack { channel } => self.slack(channel.as_deref()),
            spec::Route::Email { to } => self.email(to.as_deref(), team),
        };
        let name = receiver.name.clone();
        self.by_name.entry(name.clone()).or_insert(receiver);
        name
    }

    /// Every receiver, in name order.
    pub(super) fn into_list(self) -> Vec<Receiver> {
        self.by_name.into_values().collect()
    }

    fn pagerduty(&self, team: Option<&str>) -> Receiver {
        Receiver {
            name: format!("pagerduty-{}", team_slug(team)),
            pagerduty_configs: vec![PagerDutyConfig {
                send_resolved: true,
                routing_key_file: pagerduty_routing_key_file(&self.routing.secret, team),
                description: PAGERDUTY_DESCRIPTION.to_string(),
                severity: PAGERDUTY_SEVERITY.to_string(),
                component: format!("{{{{ .CommonLabels.{} }}}}", names::LABEL_SERVICE),
                class: format!("{{{{ .CommonLabels.{} }}}}", names::LABEL_SLO),
            }],
            slack_configs: Vec::new(),
            email_configs: Vec::new(),
        }
    }

    fn slack(&self, channel: Option<&str>) -> Receiver {
        let name = match channel {
            Some(channel) => format!("slack-{}", slug(channel.trim_start_matches('#'))),
            None => DEFAULT_RECEIVER.to_string(),
        };
        Receiver {
            name,
            pagerduty_configs: Vec::new(),
            slack_configs: vec![SlackConfig {
                send_resolved: true,
                api_url_file: secret_file(&self.routing.secret, SLACK_WEBHOOK_URL_KEY),
                channel: channel.map(str::to_string),
                title: TITLE.to_string(),
                text: SLACK_TEXT.to_string(),
            }],
            email_configs: Vec::new(),
        }
    }

    /// Email to `to`, else to the team's address (validation made sure there is one).
    fn email(&self, to: Option<&str>, team: Option<&str>) -> Receiver {
        let (name, to) = match to {
            Some(to) => (format!("email-{}", slug(to)), to.to_string()),
            None => {
                let address = self.routing.team(team).and_then(|t| t.email.clone());
                (
                    format!("email-{}", team_slug(team)),
                    address.unwrap_or_default(),
                )
            }
        };
        Receiver {
            name,
            pagerduty_configs: Vec::new(),
            slack_configs: Vec::new(),
            email_configs: vec![EmailConfig {
                send_resolved: true,
                to,
                headers: BTreeMap::from([("Subject".to_string(), TITLE.to_string())]),
            }],
        }
    }
}

/// The team as it appears in receiver and file names; `default` for no team.
pub(super) fn team_slug(team: Option<&str>) -> String {
    team.map(slug).unwrap_or_else(|| "default".to_string())
}

/// A name safe in a receiver name and a file name: anything but ASCII letters, digits, `_`
/// and `-` becomes `-`, so a team called `../x` cannot point a key file outside the secrets
/// directory.
pub(super) fn slug(name: &str) -> String {
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
