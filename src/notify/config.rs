//! The `notify:` section of `slogate.yaml`: where Slack messages and PagerDuty events go, and
//! how hard delivery tries.
//!
//! Secrets (webhook URLs, routing keys) never sit in the file: each named webhook or routing key
//! is read from a file or from `SLOGATE_SLACK_WEBHOOK_<NAME>` / `SLOGATE_PAGERDUTY_ROUTING_KEY_<NAME>`
//! (the name upper-cased, `-` and `.` as `_`; env beats the file) when the settings are checked,
//! and the checked settings print them as `<redacted>`. Rows in the outbox name the webhook or
//! routing key, never its secret.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::Backoff;
use crate::config::ConfigError;
use crate::verdict::{Outcome, VerdictKind};

/// `notify:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Base URL of slogate's status page; messages link to `{status_url}/verdicts/{id}`.
    /// Without it messages carry the verdict id only.
    pub status_url: Option<String>,
    /// Longest one delivery attempt may take (past it: retried).
    pub timeout: String,
    /// When failed deliveries are tried again.
    pub backoff: BackoffConfig,
    /// Slack incoming webhooks, by name.
    pub slack: SlackConfig,
    /// PagerDuty Events API v2 integrations, by name.
    pub pagerduty: PagerDutyConfig,
    /// Which verdicts go where: the first route that matches is used (and the following ones
    /// too while a matched route says `continue: true`), as in Alertmanager.
    pub routes: Vec<RouteConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            status_url: None,
            timeout: "10s".to_string(),
            backoff: BackoffConfig::default(),
            slack: SlackConfig::default(),
            pagerduty: PagerDutyConfig::default(),
            routes: Vec::new(),
        }
    }
}

/// `notify.backoff:`: capped exponential backoff.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffConfig {
    /// Wait after the first failed attempt; doubled after each further one.
    pub initial: String,
    /// Longest wait between attempts (a longer `Retry-After` is honoured).
    pub max: String,
    /// A message still failing this long after it was queued is given up (and counted).
    pub give_up_after: String,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: "1s".to_string(),
            max: "5m".to_string(),
            give_up_after: "24h".to_string(),
        }
    }
}

/// `notify.slack:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Incoming webhooks by name; routes refer to them by this name.
    pub webhooks: BTreeMap<String, WebhookFile>,
}

/// `notify.pagerduty:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerDutyConfig {
    /// The Events API v2 endpoint (another one only for tests or a proxy).
    pub events_url: String,
    /// `payload.source` of every event: where the alert comes from.
    pub source: String,
    /// Integration (routing) keys by name; routes refer to them by this name.
    pub routing_keys: BTreeMap<String, KeyFile>,
}

impl Default for PagerDutyConfig {
    fn default() -> Self {
        PagerDutyConfig {
            events_url: "https://events.pagerduty.com/v2/enqueue".to_string(),
            source: "slogate".to_string(),
            routing_keys: BTreeMap::new(),
        }
    }
}

/// `{url_file: PATH}` of a Slack webhook.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookFile {
    /// File holding the webhook URL (a mounted Secret); without it the env variable is used.
    pub url_file: Option<PathBuf>,
}

/// `{key_file: PATH}` of a PagerDuty routing key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyFile {
    /// File holding the integration key; without it the env variable is used.
    pub key_file: Option<PathBuf>,
}

/// `notify.routes[]`: a match and where matching verdicts go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// Which verdicts this route takes; an empty match takes all.
    #[serde(rename = "match")]
    pub matches: MatchConfig,
    /// The Slack webhook (and channel) to post to.
    pub slack: Option<SlackRoute>,
    /// The PagerDuty routing key to page through.
    pub pagerduty: Option<PagerDutyRoute>,
    /// Look at the following routes too after this one matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
}

/// `match:` of a route: every field given must hold.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// The service's `team` in its definitions.
    pub team: Option<String>,
    /// The service's name.
    pub service: Option<String>,
    /// `canary` or `slo`.
    pub kind: Option<VerdictKind>,
    /// Outcomes taken (default all). A recovery goes wherever the failure it ends went.
    pub verdicts: Option<Vec<Outcome>>,
    /// Severities taken (default all): `critical` (a page-tier burn), `error` (another failed
    /// gate), `warning` (inconclusive).
    pub severities: Option<Vec<Severity>>,
}

/// How bad a verdict is, in PagerDuty's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The SLO gate failed on a page-tier burn.
    Critical,
    /// Any other failed gate.
    Error,
    /// An inconclusive gate.
    Warning,
    /// A pass (a recovery).
    Info,
}

/// `slack:` of a route.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackRoute {
    /// A name under `notify.slack.webhooks`.
    pub webhook: String,
    /// Channel override (legacy webhooks honour it; app webhooks post to their own channel).
    #[serde(default)]
    pub channel: Option<String>,
}

/// `pagerduty:` of a route.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyRoute {
    /// A name under `notify.pagerduty.routing_keys`.
    pub routing_key: String,
}

/// A secret value; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A route, checked: every name it uses is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// As configured.
    pub matches: MatchConfig,
    /// As configured.
    pub slack: Option<SlackRoute>,
    /// As configured.
    pub pagerduty: Option<PagerDutyRoute>,
    /// As configured.
    pub continue_matching: bool,
}

/// The `notify:` settings, checked and with their secrets read.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Status page base, without a trailing `/`.
    pub status_url: Option<String>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retry policy.
    pub backoff: Backoff,
    /// Slack webhook URLs by name.
    pub slack_webhooks: BTreeMap<String, Secret>,
    /// The Events API endpoint.
    pub pagerduty_url: Url,
    /// `payload.source` of PagerDuty events.
    pub pagerduty_source: String,
    /// Routing keys by name.
    pub routing_keys: BTreeMap<String, Secret>,
    /// Routes in order.
    pub routes: Vec<Route>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifyConfig::default()
            .settings_with(&|_| None)
            .expect("the defaults are valid")
    }
}

fn invalid(setting: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.into(),
        message: message.into(),
    }
}

/// The env variable that may hold a named secret: `PREFIX` + the name upper-cased, with every
/// character other than a letter or digit as `_`.
pub fn env_name(prefix: &str, name: &str) -> String {
    let tail: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}{tail}")
}

impl NotifyConfig {
    /// Checks the section and reads its secrets (files, then `SLOGATE_*` env over them).
    pub fn settings(&self) -> Result<NotifySettings, ConfigError> {
        self.settings_with(&|name| std::env::var(name).ok())
    }

    /// As [`NotifyConfig::settings`], with `env` looking up environment variables.
    pub fn settings_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<NotifySettings, ConfigError> {
        let duration = crate::config::positive_duration;
        let backoff = Backoff {
            initial: duration("notify.backoff.initial", &self.backoff.initial)?,
            max: duration("notify.backoff.max", &self.backoff.max)?,
            give_up_after: duration("notify.backoff.give_up_after", &self.backoff.give_up_after)?,
        };
        if backoff.max < backoff.initial {
            return Err(invalid(
                "notify.backoff.max",
                format!(
                    "{} is shorter than notify.backoff.initial {}",
                    self.backoff.max, self.backoff.initial
                ),
            ));
        }
        let status_url = match &self.status_url {
            None => None,
            Some(text) => {
                let url = Url::parse(text)
                    .map_err(|e| invalid("notify.status_url", format!("{text:?}: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(invalid("notify.status_url", "must be an http(s) URL"));
                }
                Some(text.trim_end_matches('/').to_string())
            }
        };
        let mut slack_webhooks = BTreeMap::new();
        for (name, source) in &self.slack.webhooks {
            let setting = format!("notify.slack.webhooks.{name}");
            let var = env_name("SLOGATE_SLACK_WEBHOOK_", name);
            let value = read_secret(&setting, "url_file", source.url_file.as_ref(), &var, env)?;
            // The message names the setting, never the URL: the URL is the secret.
            let url = Url::parse(&value)
                .map_err(|e| invalid(&setting, format!("the webhook URL does not parse ({e})")))?;
            check_transport_url(&setting, &url)?;
            slack_webhooks.insert(name.clone(), Secret(value));
        }
        let pagerduty_url = Url::parse(&self.pagerduty.events_url).map_err(|e| {
            invalid(
                "notify.pagerduty.events_url",
                format!("{:?}: {e}", self.pagerduty.events_url),
            )
        })?;
        check_transport_url("notify.pagerduty.events_url", &pagerduty_url)?;
        if self.pagerduty.source.trim().is_empty() {
            return Err(invalid("notify.pagerduty.source", "must not be empty"));
        }
        let mut routing_keys = BTreeMap::new();
        for (name, source) in &self.pagerduty.routing_keys {
            let setting = format!("notify.pagerduty.routing_keys.{name}");
            let var = env_name("SLOGATE_PAGERDUTY_ROUTING_KEY_", name);
            let value = read_secret(&setting, "key_file", source.key_file.as_ref(), &var, env)?;
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(&setting, "the routing key holds whitespace"));
            }
            routing_keys.insert(name.clone(), Secret(value));
        }
        let mut routes = Vec::with_capacity(self.routes.len());
        for (i, r) in self.routes.iter().enumerate() {
            let setting = format!("notify.routes[{i}]");
            if r.slack.is_none() && r.pagerduty.is_none() {
                return Err(invalid(&setting, "names neither slack nor pagerduty"));
            }
            if let Some(s) = &r.slack
                && !slack_webhooks.contains_key(&s.webhook)
            {
                return Err(invalid(
                    format!("{setting}.slack.webhook"),
                    format!(
                        "{:?} is not a webhook under notify.slack.webhooks",
                        s.webhook
                    ),
                ));
            }
            if let Some(p) = &r.pagerduty
                && !routing_keys.contains_key(&p.routing_key)
            {
                return Err(invalid(
                    format!("{setting}.pagerduty.routing_key"),
                    format!(
                        "{:?} is not a key under notify.pagerduty.routing_keys",
                        p.routing_key
                    ),
                ));
            }
            routes.push(Route {
                matches: r.matches.clone(),
                slack: r.slack.clone(),
                pagerduty: r.pagerduty.clone(),
                continue_matching: r.continue_matching,
            });
        }
        Ok(NotifySettings {
            status_url,
            timeout: duration("notify.timeout", &self.timeout)?,
            backoff,
            slack_webhooks,
            pagerduty_url,
            pagerduty_source: self.pagerduty.source.clone(),
            routing_keys,
            routes,
        })
    }
}

/// Reads one secret: the env variable when set, else the file; trimmed, never empty.
fn read_secret(
    setting: &str,
    file_key: &str,
    file: Option<&PathBuf>,
    var: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let value = match (env(var), file) {
        (Some(value), _) => value,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            invalid(
                format!("{setting}.{file_key}"),
                format!("{}: {e}", path.display()),
            )
        })?,
        (None, None) => {
            return Err(invalid(
                setting,
                format!("no {file_key} is given and {var} is not set"),
            ));
        }
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(invalid(
            setting,
            format!("the secret is empty ({file_key} or {var})"),
        ));
    }
    Ok(value)
}

/// https, or http to a loopback host (a local receiver, a sidecar proxy, tests).
fn check_transport_url(setting: &str, url: &Url) -> Result<(), ConfigError> {
    let loopback = match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(invalid(
            setting,
            "must be https (plain http only to a loopback address)",
        )),
        _ => Err(invalid(setting, "must be an https URL")),
    }
}

impl NotifySettings {
    /// Whether any route is configured (without one nothing is ever notified).
    pub fn has_routes(&self) -> bool {
        !self.routes.is_empty()
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
