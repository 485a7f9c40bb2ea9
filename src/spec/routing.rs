//! How alerts are delivered, catalog-wide: the `AlertRouting` document (`apiVersion:
//! slogate/v1`, at most one, beside the service specs). It lets the generated Alertmanager
//! configuration fit a setup that already exists: its timings, default receiver, severity
//! names, per-team email and timings, extra inhibitions and the Secret it reads keys from.
//! Without the document every value is the default below, which is what slogate always wrote.

use std::collections::BTreeMap;

use super::alert::SeverityMap;
use super::duration::PromDuration;
use super::model::Route;

/// The Secret the prometheus-operator mounts at `/etc/alertmanager/secrets/<secret>/` when the
/// Alertmanager resource lists it under `spec.secrets`.
pub const DEFAULT_SECRET: &str = "slogate-alertmanager";

/// Catalog-wide delivery settings, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRouting {
    /// Where alerts no team or service route takes go.
    pub default_receiver: Route,
    /// Labels notifications are grouped by.
    pub group_by: Vec<String>,
    /// How long a new group waits for more alerts before its first notification.
    pub group_wait: PromDuration,
    /// How long a group waits before telling about changes.
    pub group_interval: PromDuration,
    /// How long before a still-firing ticket is notified again.
    pub repeat_interval: PromDuration,
    /// How long before a still-firing page is notified again.
    pub page_repeat_interval: PromDuration,
    /// Severity names alerts may use, and their tiers.
    pub severities: SeverityMap,
    /// The Kubernetes Secret holding keys and webhook URLs (its mount directory's name).
    pub secret: String,
    /// The SMTP server email receivers send through; email routes need it.
    pub smtp: Option<Smtp>,
    /// Per-team settings, by team name.
    pub teams: BTreeMap<String, TeamRouting>,
    /// Inhibitions added to slogate's own (a page silences the ticket of the same SLO).
    pub inhibit_rules: Vec<InhibitSpec>,
    /// Namespace, labels and annotations of the Kubernetes resources `--format k8s` writes.
    pub kubernetes: KubernetesMetadata,
}

/// What the operators select generated resources by: `ruleSelector` and the `release` label
/// of kube-prometheus-stack, a Grafana's namespace, Argo CD annotations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KubernetesMetadata {
    /// The namespace of every resource; the one `kubectl apply` uses when absent.
    pub namespace: Option<String>,
    /// Labels added to every resource (slogate's own win on a clash).
    pub labels: BTreeMap<String, String>,
    /// Annotations on every resource.
    pub annotations: BTreeMap<String, String>,
}

impl Default for AlertRouting {
    /// What slogate wrote before the document existed: 30s/5m, tickets every 24h and pages
    /// every 4h, grouped by alert, service and SLO, unmatched alerts to the Slack webhook's
    /// own channel.
    fn default() -> Self {
        AlertRouting {
            default_receiver: Route::Slack { channel: None },
            group_by: DEFAULT_GROUP_BY.iter().map(|s| s.to_string()).collect(),
            group_wait: PromDuration::from_secs(30),
            group_interval: PromDuration::from_secs(5 * 60),
            repeat_interval: PromDuration::from_secs(24 * 3600),
            page_repeat_interval: PromDuration::from_secs(4 * 3600),
            severities: SeverityMap::default(),
            secret: DEFAULT_SECRET.to_string(),
            smtp: None,
            teams: BTreeMap::new(),
            inhibit_rules: Vec::new(),
            kubernetes: KubernetesMetadata::default(),
        }
    }
}

/// The default grouping: one notification per alert name, service and SLO.
pub const DEFAULT_GROUP_BY: &[&str] = &[
    "alertname",
    crate::conventions::LABEL_SERVICE,
    crate::conventions::LABEL_SLO,
];

impl AlertRouting {
    /// The settings of `team`, when the document gives any.
    pub fn team(&self, team: Option<&str>) -> Option<&TeamRouting> {
        team.and_then(|t| self.teams.get(t))
    }
}

/// The SMTP server of Alertmanager's `global` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    /// `host:port` of the relay.
    pub smarthost: String,
    /// The sender address.
    pub from: String,
    /// The user to log in as; no authentication when absent. The password is read from the
    /// Secret's `smtp-password` key, never written in the file.
    pub auth_username: Option<String>,
    /// Whether to require STARTTLS (Alertmanager's default: true).
    pub require_tls: bool,
}

/// One team's overrides; each unset value is the catalog-wide one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TeamRouting {
    /// Where the team's email routes go when an alert names no `to`.
    pub email: Option<String>,
    /// Group wait on the team's route.
    pub group_wait: Option<PromDuration>,
    /// Group interval on the team's route.
    pub group_interval: Option<PromDuration>,
    /// Ticket repeat interval on the team's route.
    pub repeat_interval: Option<PromDuration>,
    /// Page repeat interval of the team's pages.
    pub page_repeat_interval: Option<PromDuration>,
}

/// An inhibition, in Alertmanager's own matcher syntax (`severity="critical"`).
#[derive(Debug, Clone, PartialEq)]
pub struct InhibitSpec {
    /// Matchers of the alert that silences.
    pub source_matchers: Vec<String>,
    /// Matchers of the alerts it silences.
    pub target_matchers: Vec<String>,
    /// Labels both must share.
    pub equal: Vec<String>,
}
