//! The service configuration: `slogate.yaml`, then `SLOGATE_*` environment variables and
//! command-line flags over it (the CLI applies those), then checks that name the setting.
//!
//! Every setting has a default, so `slogate serve` runs with no file at all (a container with
//! env only). Secrets never sit in the file itself: API tokens come from files named here or
//! from `SLOGATE_API_TOKENS`, and `Debug` never prints them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::connections::{ConnectionLimits, ConnectionsConfig};
use crate::notify::{NotifyConfig, NotifySettings};
use crate::source::{BudgetSettings, PrometheusSettings};
use crate::spec::PromDuration;
use crate::telemetry::TelemetrySettings;

mod traces;

pub use traces::{TracesConfig, TracesSettings};

/// A configuration that cannot be used, naming the setting (and the file where it came from).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the configuration: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not parse or has an unknown or mistyped key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde-saphyr's message, with line and column.
        message: String,
    },
    /// A value that parses but cannot be used.
    #[error("{setting}: {message}")]
    Invalid {
        /// The setting, as a path of keys (`prometheus.query_timeout`) or an env variable.
        setting: String,
        /// Why.
        message: String,
    },
}

fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_string(),
        message: message.into(),
    }
}

/// A Prometheus duration, zero allowed, refused naming `setting`.
pub(crate) fn duration(setting: &str, text: &str) -> Result<Duration, ConfigError> {
    // The Prometheus parser refuses zero; `0`, `0s`, `0ms` ... mean none.
    let number = text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !number.is_empty() && number.chars().all(|c| c == '0') {
        return Ok(Duration::ZERO);
    }
    PromDuration::parse(text)
        .map(|d| d.as_std())
        .map_err(|e| invalid(setting, format!("{text:?}: {e}")))
}

/// A Prometheus duration that must be longer than zero, refused naming `setting`.
pub(crate) fn positive_duration(setting: &str, text: &str) -> Result<Duration, ConfigError> {
    let d = PromDuration::parse(text)
        .map_err(|e| invalid(setting, format!("{text:?}: {e}")))?
        .as_std();
    if d.is_zero() {
        return Err(invalid(setting, "must be longer than 0s"));
    }
    Ok(d)
}

/// The whole configuration, as `slogate.yaml` spells it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Serve without API tokens on a non-loopback address (refused otherwise).
    pub allow_unauthenticated: bool,
    /// How to reach Prometheus.
    pub prometheus: PrometheusConfig,
    /// SLO definitions: a directory or a file.
    pub slos: PathBuf,
    /// The store: a SQLite file (default `slogate.db`), or a PostgreSQL URL
    /// (`postgres://user@host:port/dbname`) for several replicas.
    pub db: PathBuf,
    /// A file holding the PostgreSQL password (a mounted Secret); else `PGPASSWORD`, else the
    /// URL's.
    pub db_password_file: Option<PathBuf>,
    /// Most PostgreSQL connections per process.
    pub db_pool_size: u32,
    /// How long verdicts are kept (Prometheus duration, e.g. `90d`).
    pub history_retention: String,
    /// Time a gate request may take before it answers `inconclusive` (under Argo's 10 s).
    pub request_deadline: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Header and body read timeouts, and the shutdown grace period.
    pub connections: ConnectionsConfig,
    /// How often the definitions are checked for changes on disk (SIGHUP reloads at once).
    pub reload_interval: String,
    /// Gate policy.
    pub gate: GateConfig,
    /// API authentication.
    pub auth: AuthConfig,
    /// slogate's own logs, spans and metrics.
    pub telemetry: TelemetrySettings,
    /// The OTLP trace receiver and its span windows.
    pub traces: TracesConfig,
    /// Slack and PagerDuty notifications (routes, webhooks, routing keys, retries).
    pub notify: NotifyConfig,
    /// The weekly SLO report: schedule, time zone, SMTP server, recipients.
    pub report: crate::report::ReportConfig,
    /// The status pages (`GET /`, `/verdicts`, `/slos/...`).
    pub pages: PagesConfig,
    /// The A/A backtests of canary profiles the status page shows.
    pub calibration: crate::evaluate::calibrate::CalibrationConfig,
    /// Requests per token and second (429 past it).
    pub rate_limit: crate::server::rate::RateLimitConfig,
    /// How long one evaluation of the whole catalog serves the overview, `GET /api/v1/slos` and
    /// the report (`0s`: no cache, every request evaluates).
    pub status_cache_ttl: String,
    /// Where the overview, `GET /api/v1/slos` and the report read SLO status from: `auto`
    /// (the generated recording rules where Prometheus runs current ones, raw queries for the
    /// rest), `rules` (rules only) or `raw`. The gates always query raw.
    pub evaluation: crate::evaluate::rules::EvaluationMode,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".to_string(),
            allow_unauthenticated: false,
            prometheus: PrometheusConfig::default(),
            slos: PathBuf::from("slo-definitions"),
            db: PathBuf::from("slogate.db"),
            db_password_file: None,
            db_pool_size: crate::store::DEFAULT_POOL_SIZE,
            history_retention: "90d".to_string(),
            request_deadline: "8s".to_string(),
            max_body_bytes: 64 * 1024,
            connections: ConnectionsConfig::default(),
            reload_interval: "10s".to_string(),
            gate: GateConfig::default(),
            auth: AuthConfig::default(),
            telemetry: TelemetrySettings::default(),
            traces: TracesConfig::default(),
            notify: NotifyConfig::default(),
            report: crate::report::ReportConfig::default(),
            pages: PagesConfig::default(),
            calibration: Default::default(),
            rate_limit: Default::default(),
            status_cache_ttl: "15s".to_string(),
            evaluation: Default::default(),
        }
    }
}

/// `pages:`: the status pages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagesConfig {
    /// Base URL of the Grafana that holds the generated dashboards (`https://grafana.example`):
    /// the SLO pages link to them; no links when absent.
    pub grafana_url: Option<String>,
    /// Serve the pages without a token even when API tokens are configured, for setups where
    /// an authenticating proxy or ingress already stands in front of slogate. The pages show
    /// deploy history, so by default they ask for a token like the API.
    pub public: bool,
    /// How long a sign-in lasts before the form asks for the token again.
    pub session_ttl: String,
}

impl Default for PagesConfig {
    fn default() -> Self {
        PagesConfig {
            grafana_url: None,
            public: false,
            session_ttl: "12h".to_string(),
        }
    }
}

/// [`PagesConfig`], checked.
#[derive(Debug, Clone, PartialEq)]
pub struct PagesSettings {
    /// As [`PagesConfig::grafana_url`], without a trailing slash.
    pub grafana_url: Option<String>,
    /// As [`PagesConfig::public`].
    pub public: bool,
    /// As [`PagesConfig::session_ttl`].
    pub session_ttl: Duration,
}

/// `prometheus:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// Base URL (credentials in it are sent as basic auth and never logged).
    pub url: String,
    /// Deadline of one query attempt.
    pub query_timeout: String,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// Queries in flight at most, across the whole process (under Prometheus' own
    /// `--query.max-concurrency`, 20 by default, which rules and dashboards share).
    pub max_concurrent_queries: usize,
    /// Of those, how many only the gates may take, so page views never hold a gate up.
    pub reserved_for_gates: usize,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        let budget = BudgetSettings::default();
        PrometheusConfig {
            url: "http://127.0.0.1:9090".to_string(),
            query_timeout: "3s".to_string(),
            retries: 1,
            max_concurrent_queries: budget.max_concurrent,
            reserved_for_gates: budget.reserved_for_gates,
        }
    }
}

/// `gate:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// The error-budget gate fails when less than this share of the budget remains (0..1).
    pub budget_floor: f64,
    /// Confidence of the canary statistics (Kayenta's 0.98).
    pub confidence: f64,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            budget_floor: 0.0,
            confidence: crate::analysis::canary::DEFAULT_CONFIDENCE,
        }
    }
}

/// `auth:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Files holding bearer tokens with every scope, one per line (a mounted Kubernetes
    /// Secret).
    pub token_files: Vec<PathBuf>,
    /// Files of tokens limited to the scopes listed (`ingest`, `gate`, `read`, `admin`).
    pub scoped_tokens: Vec<crate::tokens::ScopedTokenFile>,
}

/// The settings the server runs with: durations parsed, tokens read, addresses resolved.
#[derive(Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Prometheus connection.
    pub prometheus: PrometheusSettings,
    /// SLO definitions path.
    pub slos: PathBuf,
    /// The store (its password never printed).
    pub db: crate::store::Location,
    /// Verdict retention.
    pub history_retention: Duration,
    /// Per-request deadline of the gates.
    pub request_deadline: Duration,
    /// Body limit.
    pub max_body_bytes: usize,
    /// Read timeouts and shutdown grace.
    pub connections: ConnectionLimits,
    /// Poll interval for definition changes.
    pub reload_interval: Duration,
    /// Gate policy.
    pub gate: GateConfig,
    /// Accepted bearer tokens and their scopes; empty means no authentication (loopback only,
    /// or explicitly allowed).
    pub tokens: crate::tokens::Tokens,
    /// Telemetry.
    pub telemetry: TelemetrySettings,
    /// OTLP receiver.
    pub traces: TracesSettings,
    /// Notifications, with their secrets read (never printed).
    pub notify: NotifySettings,
    /// The weekly report.
    pub report: crate::report::ReportSettings,
    /// Status pages (the Grafana URL without a trailing slash).
    pub pages: PagesSettings,
    /// The canary profiles' backtests.
    pub calibration: crate::evaluate::calibrate::CalibrationSettings,
    /// Requests per token and second.
    pub rate_limit: crate::server::rate::RateLimitConfig,
    /// Lifetime of a cached catalog evaluation; zero: no cache.
    pub status_cache_ttl: Duration,
    /// Recording rules or raw queries for the catalog-wide status.
    pub evaluation: crate::evaluate::rules::EvaluationMode,
}

impl fmt::Debug for Settings {
    /// Written by hand: tokens are counted, never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("prometheus", &self.prometheus)
            .field("slos", &self.slos)
            .field("db", &self.db)
            .field("history_retention", &self.history_retention)
            .field("request_deadline", &self.request_deadline)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("connections", &self.connections)
            .field("reload_interval", &self.reload_interval)
            .field("gate", &self.gate)
            .field("traces", &self.traces)
            .field("notify", &self.notify)
            .field("report", &self.report)
            .field("pages", &self.pages)
            .field("calibration", &self.calibration)
            .field("rate_limit", &self.rate_limit)
            .field("status_cache_ttl", &self.status_cache_ttl)
            .field("evaluation", &self.evaluation)
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl Config {
    /// Reads `path` (or the defaults when `None`).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_saphyr::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Checks every value and reads the token files; `env_tokens` is `SLOGATE_API_TOKENS`
    /// (comma-separated), read by the caller.
    pub fn settings(&self, env_tokens: Option<&str>) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|e| {
            invalid(
                "listen",
                format!("{:?} is not ADDRESS:PORT ({e})", self.listen),
            )
        })?;
        let duration = positive_duration;
        let request_deadline = duration("request_deadline", &self.request_deadline)?;
        let query_timeout = duration("prometheus.query_timeout", &self.prometheus.query_timeout)?;
        if query_timeout >= request_deadline {
            return Err(invalid(
                "prometheus.query_timeout",
                format!(
                    "{} is not shorter than request_deadline {}: a slow Prometheus would use up \
                     the whole deadline",
                    self.prometheus.query_timeout, self.request_deadline
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.gate.budget_floor) {
            return Err(invalid("gate.budget_floor", "must be between 0 and 1"));
        }
        if !(self.gate.confidence > 0.5 && self.gate.confidence < 1.0) {
            return Err(invalid(
                "gate.confidence",
                "must be between 0.5 and 1 (e.g. 0.98)",
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(invalid("max_body_bytes", "must be at least 1024"));
        }
        let tokens = self.tokens(env_tokens)?;
        if tokens.is_empty() && !listen.ip().is_loopback() && !self.allow_unauthenticated {
            return Err(invalid(
                "listen",
                format!(
                    "{listen} is not a loopback address and no API token is configured \
                     (auth.token_files or SLOGATE_API_TOKENS); add a token, or pass \
                     --allow-unauthenticated to serve the gates to anyone who can reach them"
                ),
            ));
        }
        let budget = BudgetSettings {
            max_concurrent: self.prometheus.max_concurrent_queries,
            reserved_for_gates: self.prometheus.reserved_for_gates,
        };
        if let Some((setting, message)) = budget.problem() {
            return Err(invalid(setting, message));
        }
        let prometheus = PrometheusSettings {
            url: self.prometheus.url.clone(),
            query_timeout,
            retries: self.prometheus.retries,
            budget,
            ..PrometheusSettings::default()
        };
        // `0s` is allowed here (no cache), unlike other durations.
        let status_cache_ttl = match self.status_cache_ttl.trim() {
            "0" | "0s" => Duration::ZERO,
            text => duration("status_cache_ttl", text)?,
        };
        let traces = self.traces.settings(&duration)?;
        let report = self
            .report
            .settings()
            .map_err(|e| invalid(&e.setting, e.message))?;
        let pages = self.pages_settings()?;
        Ok(Settings {
            listen,
            prometheus,
            slos: self.slos.clone(),
            db: self.db_location()?,
            history_retention: duration("history_retention", &self.history_retention)?,
            request_deadline,
            max_body_bytes: self.max_body_bytes,
            connections: self.connections.limits()?,
            reload_interval: duration("reload_interval", &self.reload_interval)?,
            gate: self.gate.clone(),
            tokens,
            telemetry: self.telemetry.clone(),
            traces,
            notify: self.notify.settings()?,
            report,
            pages,
            calibration: self.calibration.settings()?,
            rate_limit: {
                self.rate_limit.limits()?;
                self.rate_limit.clone()
            },
            status_cache_ttl,
            evaluation: self.evaluation,
        })
    }

    fn pages_settings(&self) -> Result<PagesSettings, ConfigError> {
        let grafana_url = match self.pages.grafana_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_string())
            }
            Some(url) => {
                return Err(invalid(
                    "pages.grafana_url",
                    format!("{url:?} is not an http:// or https:// URL"),
                ));
            }
        };
        Ok(PagesSettings {
            grafana_url,
            public: self.pages.public,
            session_ttl: positive_duration("pages.session_ttl", &self.pages.session_ttl)?,
        })
    }

    /// `db` as a location; a PostgreSQL password from `db_password_file` or `PGPASSWORD`.
    fn db_location(&self) -> Result<crate::store::Location, ConfigError> {
        if self.db_pool_size == 0 {
            return Err(invalid("db_pool_size", "must be at least 1"));
        }
        let password = crate::store::Location::read_password(self.db_password_file.as_deref())
            .map_err(|e| invalid("db_password_file", e.to_string()))?
            .or_else(|| std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()));
        Ok(crate::store::Location::from_setting(
            &self.db,
            password,
            self.db_pool_size,
        ))
    }

    fn tokens(&self, env_tokens: Option<&str>) -> Result<crate::tokens::Tokens, ConfigError> {
        crate::tokens::Tokens::read(&self.auth.token_files, &self.auth.scoped_tokens, env_tokens)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
