//! `report:` in `slogate.yaml`: when the weekly report goes out, to whom, and through which SMTP
//! server; checked into [`ReportSettings`] at start, each refusal naming its setting.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use croner::Cron;
use lettre::message::Mailbox;
use serde::Deserialize;

use crate::spec::PromDuration;

/// The default schedule: Mondays at 09:00 (in [`ReportConfig::timezone`]).
pub const DEFAULT_SCHEDULE: &str = "0 9 * * 1";

/// A report setting that cannot be used: the setting's path (`report.smtp.password_file`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ReportConfigError {
    /// The setting, as a path of keys from the top of the file.
    pub setting: String,
    /// What is wrong with it.
    pub message: String,
}

fn refuse(setting: impl Into<String>, message: impl Into<String>) -> ReportConfigError {
    ReportConfigError {
        setting: setting.into(),
        message: message.into(),
    }
}

/// `report:` as the file spells it. Every key is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Cron expression (5 fields, minute first; croner syntax) of the sending times, read in
    /// `timezone`. Each run reports the last full ISO week before it.
    pub schedule: String,
    /// IANA time zone (`Europe/Berlin`) of the schedule and of the week's boundaries
    /// (Monday 00:00 to Monday 00:00 there).
    pub timezone: String,
    /// Base URL of slogate's status page, for the links in the report (none when unset).
    pub status_url: Option<String>,
    /// The SMTP server; without it `slogate serve` sends no report (`slogate report --dry-run`
    /// still works).
    pub smtp: Option<SmtpConfig>,
    /// Who receives each team's report.
    pub recipients: RecipientsConfig,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            schedule: DEFAULT_SCHEDULE.to_string(),
            timezone: "UTC".to_string(),
            status_url: None,
            smtp: None,
            recipients: RecipientsConfig::default(),
        }
    }
}

/// `report.recipients:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecipientsConfig {
    /// Addresses for teams not listed in `teams` (and for services without a team).
    pub default: Vec<String>,
    /// Addresses per team (the `team:` of the SLO definitions).
    pub teams: BTreeMap<String, Vec<String>>,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption: only to a loopback address (a local relay or a test server).
    None,
}

/// `report.smtp:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name (checked against its TLS certificate).
    pub host: String,
    /// Port; default 587 (starttls), 465 (tls) or 25 (none).
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default), `tls`, or `none` (loopback hosts only).
    #[serde(default = "default_tls")]
    pub tls: TlsMode,
    /// User name for SMTP AUTH; needs `password_file`.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the SMTP password (a mounted Secret); read at start, never logged.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender, `slogate@example.com` or `SLO reports <slogate@example.com>`.
    pub from: String,
    /// Longest one delivery may take (connect, TLS, SMTP dialogue).
    #[serde(default = "default_timeout")]
    pub timeout: String,
}

fn default_tls() -> TlsMode {
    TlsMode::Starttls
}

fn default_timeout() -> String {
    "30s".to_string()
}

/// The report settings, checked: schedule parsed, zone known, addresses parsed, secret read.
#[derive(Clone)]
pub struct ReportSettings {
    /// When reports go out.
    pub schedule: Cron,
    /// The schedule's text, for messages.
    pub schedule_text: String,
    /// The zone of the schedule and of week boundaries.
    pub timezone: Tz,
    /// Status page base URL, without a trailing `/`.
    pub status_url: Option<String>,
    /// The SMTP server, when configured.
    pub smtp: Option<SmtpSettings>,
    /// Recipients per team.
    pub teams: BTreeMap<String, Vec<Mailbox>>,
    /// Recipients of every other team.
    pub default_recipients: Vec<Mailbox>,
}

impl fmt::Debug for ReportSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportSettings")
            .field("schedule", &self.schedule_text)
            .field("timezone", &self.timezone)
            .field("status_url", &self.status_url)
            .field("smtp", &self.smtp)
            .field("teams", &self.teams.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ReportSettings {
    /// The recipients of `team`'s report: its own list, else the default one (may be empty).
    pub fn recipients(&self, team: &str) -> &[Mailbox] {
        self.teams
            .get(team)
            .map_or(&self.default_recipients[..], |v| &v[..])
    }
}

/// The SMTP settings, checked.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection protection.
    pub tls: TlsMode,
    /// `(username, password)` for SMTP AUTH; the password is only ever sent to the server.
    pub credentials: Option<(String, String)>,
    /// Envelope and header sender.
    pub from: Mailbox,
    /// Longest one delivery may take.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    /// Written by hand: the password is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ReportConfig {
    /// Checks every value and reads the password file.
    pub fn settings(&self) -> Result<ReportSettings, ReportConfigError> {
        let schedule = parse_schedule(&self.schedule)?;
        let timezone = parse_timezone(&self.timezone)?;
        let status_url = match &self.status_url {
            None => None,
            Some(url) => {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|e| refuse("report.status_url", format!("{url:?}: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(refuse("report.status_url", "must be an http(s) URL"));
                }
                Some(url.trim_end_matches('/').to_string())
            }
        };
        let smtp = self.smtp.as_ref().map(SmtpConfig::settings).transpose()?;
        let mailboxes = |setting: &str, list: &[String]| -> Result<Vec<Mailbox>, _> {
            list.iter()
                .enumerate()
                .map(|(i, a)| parse_mailbox(&format!("{setting}[{i}]"), a))
                .collect()
        };
        let default_recipients = mailboxes("report.recipients.default", &self.recipients.default)?;
        let mut teams = BTreeMap::new();
        for (team, list) in &self.recipients.teams {
            let setting = format!("report.recipients.teams.{team}");
            if list.is_empty() {
                return Err(refuse(setting, "lists no address"));
            }
            teams.insert(team.clone(), mailboxes(&setting, list)?);
        }
        Ok(ReportSettings {
            schedule,
            schedule_text: self.schedule.clone(),
            timezone,
            status_url,
            smtp,
            teams,
            default_recipients,
        })
    }
}

impl Default for ReportSettings {
    /// The defaults of [`ReportConfig`]: Mondays 09:00 UTC, no SMTP, no recipients.
    fn default() -> Self {
        ReportConfig::default()
            .settings()
            .expect("the default report configuration is valid")
    }
}

/// `report.schedule`: a cron expression.
pub fn parse_schedule(text: &str) -> Result<Cron, ReportConfigError> {
    Cron::from_str(text).map_err(|e| {
        refuse(
            "report.schedule",
            format!("{text:?} is not a cron expression ({e}); e.g. {DEFAULT_SCHEDULE:?} for Mondays at 09:00"),
        )
    })
}

/// `report.timezone`: an IANA zone name.
pub fn parse_timezone(text: &str) -> Result<Tz, ReportConfigError> {
    text.parse::<Tz>().map_err(|_| {
        refuse(
            "report.timezone",
            format!(
                "{text:?} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"
            ),
        )
    })
}

fn parse_mailbox(setting: &str, text: &str) -> Result<Mailbox, ReportConfigError> {
    text.parse::<Mailbox>()
        .map_err(|e| refuse(setting, format!("{text:?} is not an email address ({e})")))
}

impl SmtpConfig {
    fn settings(&self) -> Result<SmtpSettings, ReportConfigError> {
        if self.host.trim().is_empty() {
            return Err(refuse("report.smtp.host", "is empty"));
        }
        if self.tls == TlsMode::None && !is_loopback(&self.host) {
            return Err(refuse(
                "report.smtp.tls",
                format!(
                    "none sends the password and the reports in clear text; it is allowed only to a \
                     loopback host, not {:?} (use starttls or tls)",
                    self.host
                ),
            ));
        }
        let port = self.port.unwrap_or(match self.tls {
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
            TlsMode::None => 25,
        });
        let credentials = match (&self.username, &self.password_file) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(refuse(
                    "report.smtp.password_file",
                    "is needed with report.smtp.username",
                ));
            }
            (None, Some(_)) => {
                return Err(refuse(
                    "report.smtp.username",
                    "is needed with report.smtp.password_file",
                ));
            }
            (Some(user), Some(file)) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    refuse(
                        "report.smtp.password_file",
                        format!("{}: cannot be read ({e})", file.display()),
                    )
                })?;
                let password = text.trim_end_matches(['\r', '\n']).to_string();
                if password.is_empty() {
                    return Err(refuse(
                        "report.smtp.password_file",
                        format!("{} is empty", file.display()),
                    ));
                }
                Some((user.clone(), password))
            }
        };
        let timeout = PromDuration::parse(&self.timeout)
            .map_err(|e| refuse("report.smtp.timeout", format!("{:?}: {e}", self.timeout)))?
            .as_std();
        Ok(SmtpSettings {
            host: self.host.clone(),
            port,
            tls: self.tls,
            credentials,
            from: parse_mailbox("report.smtp.from", &self.from)?,
            timeout,
        })
    }
}

/// Whether `host` is a loopback address or `localhost`.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ReportConfig {
        serde_saphyr::from_str(text).unwrap()
    }

    fn refused(text: &str) -> ReportConfigError {
        parse(text).settings().unwrap_err()
    }

    #[test]
    fn the_defaults_send_on_monday_at_nine_utc() {
        let s = ReportConfig::default().settings().unwrap();
        assert_eq!(s.schedule_text, "0 9 * * 1");
        assert_eq!(s.timezone, Tz::UTC);
        assert!(s.smtp.is_none());
    }

    #[test]
    fn a_bad_cron_expression_is_refused_naming_the_schedule() {
        for bad in ["every monday", "0 25 * * 1", "* * *"] {
            let e = refused(&format!("schedule: {bad:?}"));
            assert_eq!(e.setting, "report.schedule", "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn an_unknown_time_zone_is_refused_naming_the_timezone() {
        let e = refused("timezone: Europe/Atlantis");
        assert_eq!(e.setting, "report.timezone");
        assert!(e.message.contains("Europe/Atlantis"), "{e}");
    }

    #[test]
    fn an_unreadable_password_file_is_refused_without_a_secret_in_the_message() {
        let e = refused(
            "smtp: {host: smtp.example.com, username: u, password_file: /nonexistent/pw, from: a@example.com}",
        );
        assert_eq!(e.setting, "report.smtp.password_file");
        assert!(e.message.contains("/nonexistent/pw"), "{e}");
    }

    #[test]
    fn bad_addresses_are_refused_with_their_position() {
        let e = refused("recipients: {teams: {payments: [ok@example.com, not-an-address]}}");
        assert_eq!(e.setting, "report.recipients.teams.payments[1]");
        let e = refused("smtp: {host: localhost, tls: none, from: nobody}");
        assert_eq!(e.setting, "report.smtp.from");
    }

    #[test]
    fn plain_smtp_is_refused_to_a_remote_host() {
        let e = refused("smtp: {host: smtp.example.com, tls: none, from: a@example.com}");
        assert_eq!(e.setting, "report.smtp.tls");
        let ok = parse("smtp: {host: 127.0.0.1, tls: none, from: a@example.com}")
            .settings()
            .unwrap();
        assert_eq!(ok.smtp.unwrap().port, 25);
    }

    #[test]
    fn the_password_is_read_from_its_file_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret-hunter2\n").unwrap();
        let text = format!(
            "smtp: {{host: smtp.example.com, username: slogate, password_file: {}, from: a@example.com}}",
            file.display()
        );
        let s = parse(&text).settings().unwrap();
        let smtp = s.smtp.clone().unwrap();
        assert_eq!(smtp.port, 587);
        assert_eq!(
            smtp.credentials,
            Some(("slogate".into(), "s3cret-hunter2".into()))
        );
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn teams_fall_back_to_the_default_recipients() {
        let s =
            parse("recipients: {default: [sre@example.com], teams: {payments: [pay@example.com]}}")
                .settings()
                .unwrap();
        assert_eq!(s.recipients("payments")[0].to_string(), "pay@example.com");
        assert_eq!(s.recipients("search")[0].to_string(), "sre@example.com");
    }
}
