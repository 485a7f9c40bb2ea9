//! The parts of Alertmanager's configuration file slogate writes, as Alertmanager 0.25 names
//! them (it refuses unknown fields). Empty lists and unset values are left out so
//! Alertmanager's defaults and route inheritance apply.

use serde::Serialize;

/// An `alertmanager.yml` (the parts slogate sets; Alertmanager's defaults fill the rest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertmanagerConfig {
    /// The SMTP server, when an email receiver needs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<Global>,
    /// The routing tree.
    pub route: Route,
    /// Alerts that silence others while they fire.
    pub inhibit_rules: Vec<InhibitRule>,
    /// Where notifications go, each named once.
    pub receivers: Vec<Receiver>,
}

/// Alertmanager's `global` section: the SMTP server email receivers send through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Global {
    /// `host:port` of the relay.
    pub smtp_smarthost: String,
    /// The sender address.
    pub smtp_from: String,
    /// The login, when the relay wants one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_username: Option<String>,
    /// The file holding the password (never inlined).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password_file: Option<String>,
    /// Whether STARTTLS is required.
    pub smtp_require_tls: bool,
}

/// One node of the routing tree.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Route {
    /// The receiver of alerts this route takes and none of its children does; inherited when
    /// absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Label matchers (`name="value"`), all of which an alert must match.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    /// Labels notifications are grouped by; inherited when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// How long a new group waits for more alerts before its first notification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    /// How long a group waits before telling about changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    /// How long before an unchanged, still-firing group is notified again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    /// Child routes, tried in order; the first match takes the alert.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// Silences `target` alerts while a `source` alert with the same `equal` labels fires.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InhibitRule {
    /// Matchers of the alert that silences.
    pub source_matchers: Vec<String>,
    /// Matchers of the alerts silenced.
    pub target_matchers: Vec<String>,
    /// Labels that must be equal on both for the silence to apply.
    pub equal: Vec<String>,
}

/// A named notification target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receiver {
    /// Name routes refer to.
    pub name: String,
    /// PagerDuty Events API v2 integrations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<PagerDutyConfig>,
    /// Slack incoming webhooks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    /// Email through the SMTP server of the `global` section.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
}

/// An email notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailConfig {
    /// Mail again when the alert resolves, so the inbox sees the end of it.
    pub send_resolved: bool,
    /// The address (or comma-separated addresses).
    pub to: String,
    /// Subject and other headers (Go templates).
    pub headers: std::collections::BTreeMap<String, String>,
}

/// A PagerDuty Events API v2 integration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PagerDutyConfig {
    /// Resolve the incident when the alert resolves.
    pub send_resolved: bool,
    /// The file holding the integration's routing key (never inlined).
    pub routing_key_file: String,
    /// Incident title (Go template).
    pub description: String,
    /// PagerDuty severity (Go template).
    pub severity: String,
    /// The component shown in PagerDuty: the service.
    pub component: String,
    /// The class shown in PagerDuty: the SLO.
    pub class: String,
}

/// A Slack incoming webhook posting to one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackConfig {
    /// Post again when the alert resolves, so the channel sees the end of the burn.
    pub send_resolved: bool,
    /// The file holding the webhook URL (never inlined).
    pub api_url_file: String,
    /// `#channel`; the webhook's own channel when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Message title (Go template).
    pub title: String,
    /// Message body (Go template).
    pub text: String,
}
