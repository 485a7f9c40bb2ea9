//! The canonical model: what every input format is mapped into and what every generator and
//! evaluator reads. Values here are already validated; nothing downstream re-checks them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

pub use super::alert::{PlainAlert, SeverityMap, Tier};
use super::dashboard::DashboardSpec;
use super::duration::PromDuration;
use super::query::QueryTemplate;

mod canary;
pub use canary::*;

/// A service's SLOs and its canary analysis profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLevels {
    /// Service name: a label value on every generated series and the stem of generated files.
    pub service: String,
    /// Owning team: routes alerts, notifications and reports.
    pub team: Option<String>,
    /// Labels added to every generated series and alert of the service.
    pub labels: BTreeMap<String, String>,
    /// The SLOs, in file order.
    pub slos: Vec<Slo>,
    /// Threshold alerts beside the SLOs (error rate, memory, database down), in file order.
    pub alerts: Vec<PlainAlert>,
    /// What the dashboard's traffic row reads where the SLIs do not say it.
    pub dashboard: DashboardSpec,
    /// How to compare a canary with its baseline; absent when the service has no canary gate.
    pub canary: Option<CanaryProfile>,
    /// Where the definition came from, for messages.
    pub origin: Origin,
}

/// The file and format a definition was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, as given on the command line or found in the directory.
    pub file: PathBuf,
    /// The format of the document(s).
    pub format: SourceFormat,
}

/// The input formats slogate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// `apiVersion: slogate/v1`, `kind: ServiceLevels`.
    Native,
    /// Sloth's `version: prometheus/v1`.
    SlothPrometheusV1,
    /// Sloth's Kubernetes CR, `sloth.slok.dev/v1` `PrometheusServiceLevel`.
    SlothKubernetes,
    /// OpenSLO `openslo/v1` SLO documents.
    OpenSloV1,
    /// OpenSLO `openslo/v1alpha` SLO documents (the form Sloth reads).
    OpenSloV1Alpha,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Native => "slogate/v1",
            SourceFormat::SlothPrometheusV1 => "sloth prometheus/v1",
            SourceFormat::SlothKubernetes => "sloth.slok.dev/v1 PrometheusServiceLevel",
            SourceFormat::OpenSloV1 => "openslo/v1",
            SourceFormat::OpenSloV1Alpha => "openslo/v1alpha",
        })
    }
}

/// One service level objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// Name, unique within the service; a label value on generated series.
    pub name: String,
    /// What the SLO promises, in words.
    pub description: Option<String>,
    /// Target share of good events, in percent (0 < objective < 100).
    pub objective: f64,
    /// The window the objective is measured over.
    pub period: Period,
    /// How the error budget is counted.
    pub budgeting: Budgeting,
    /// How good and bad are measured.
    pub sli: Sli,
    /// Labels added to this SLO's series and alerts (on top of the service's).
    pub labels: BTreeMap<String, String>,
    /// Burn-rate alerting settings.
    pub alerting: Alerting,
}

impl Slo {
    /// The error budget as a ratio of events (1 - objective/100): 0.001 for 99.9%.
    pub fn error_budget(&self) -> f64 {
        1.0 - self.objective / 100.0
    }
}

/// The window an objective is measured over.
#[derive(Debug, Clone, PartialEq)]
pub enum Period {
    /// The last `duration`, at any moment (the usual SRE choice: 28d or 30d).
    Rolling(PromDuration),
    /// Calendar-aligned windows (a month, a quarter), as OpenSLO allows.
    Calendar(CalendarPeriod),
}

impl Period {
    /// A fixed length for the period: the rolling duration, or the calendar window's nominal
    /// length (a month is 30 days, a quarter 90, a year 365). Burn-rate windows scale with it.
    pub fn nominal(&self) -> PromDuration {
        match self {
            Period::Rolling(d) => *d,
            Period::Calendar(c) => PromDuration::from_secs(c.unit.nominal_secs() * c.count as u64),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Rolling(d) => write!(f, "{d} rolling"),
            Period::Calendar(c) => write!(f, "{} {:?} calendar", c.count, c.unit),
        }
    }
}

/// A calendar-aligned period.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarPeriod {
    /// How many units make one period.
    pub count: u32,
    /// The calendar unit.
    pub unit: CalendarUnit,
    /// When the first period starts (`2022-01-01 12:00:00`), if given.
    pub start: Option<String>,
    /// The IANA time zone the calendar is read in, if given.
    pub time_zone: Option<String>,
}

/// Calendar units of OpenSLO time windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarUnit {
    /// Calendar minute (OpenSLO allows it; rarely meant).
    Minute,
    /// Calendar hour.
    Hour,
    /// Calendar day.
    Day,
    /// Calendar week.
    Week,
    /// Calendar month.
    Month,
    /// Calendar quarter.
    Quarter,
    /// Calendar year.
    Year,
}

impl CalendarUnit {
    /// The unit's nominal length in seconds.
    pub fn nominal_secs(self) -> u64 {
        const DAY: u64 = 86_400;
        match self {
            CalendarUnit::Minute => 60,
            CalendarUnit::Hour => 3_600,
            CalendarUnit::Day => DAY,
            CalendarUnit::Week => 7 * DAY,
            CalendarUnit::Month => 30 * DAY,
            CalendarUnit::Quarter => 90 * DAY,
            CalendarUnit::Year => 365 * DAY,
        }
    }
}

/// How the error budget is counted (OpenSLO's budgeting methods).
#[derive(Debug, Clone, PartialEq)]
pub enum Budgeting {
    /// Every event counts the same: bad events / all events.
    Occurrences,
    /// Time is cut into slices; a slice is good when its own good ratio reaches
    /// `slice_objective`; the SLI is the share of good slices.
    Timeslices {
        /// Length of one slice.
        slice: PromDuration,
        /// The good ratio (0..1) a slice needs to count as good.
        slice_objective: f64,
    },
    /// The SLI is the average of per-slice good ratios.
    RatioTimeslices {
        /// Length of one slice.
        slice: PromDuration,
    },
}

/// How an SLO tells good from bad.
#[derive(Debug, Clone, PartialEq)]
pub enum Sli {
    /// Bad events over all events: error ratio = errors / total.
    ErrorEvents {
        /// Rate of bad events over `{{window}}`.
        errors: QueryTemplate,
        /// Rate of all events over `{{window}}`.
        total: QueryTemplate,
    },
    /// Good events over all events: error ratio = 1 - good / total.
    GoodEvents {
        /// Rate of good events over `{{window}}`.
        good: QueryTemplate,
        /// Rate of all events over `{{window}}`.
        total: QueryTemplate,
    },
    /// A query that yields the error ratio over `{{window}}` itself.
    ErrorRatio {
        /// The error-ratio query.
        query: QueryTemplate,
    },
    /// The share of requests slower than a threshold, from a histogram.
    Latency(LatencySli),
}

/// A latency SLI: requests slower than `threshold` are bad.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySli {
    /// The histogram's metric name (`http_request_duration_seconds`, without `_bucket`).
    pub histogram: String,
    /// Label matchers without braces (`service="api",route!="/health"`), possibly empty.
    pub matchers: String,
    /// Requests slower than this are bad. For a classic histogram it must be a bucket bound.
    pub threshold: PromDuration,
    /// Classic (`_bucket`/`_count` series) or native histogram.
    pub kind: HistogramKind,
}

/// The two kinds of Prometheus histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistogramKind {
    /// `_bucket{le=...}`, `_count`, `_sum` series.
    Classic,
    /// One native (sparse) histogram series.
    Native,
}

impl Sli {
    /// The SLI as one error-ratio query over `{{window}}`: what recording rules record and what
    /// the evaluator asks Prometheus. Every SLI kind reduces to this one shape.
    ///
    /// Two guards keep the ratio honest: a total of zero gives no sample rather than NaN (a NaN
    /// would poison every average over the period), and an errors query that selects no series
    /// (no 5xx has ever been counted) reads as zero errors rather than as no data.
    pub fn error_ratio(&self) -> QueryTemplate {
        match self {
            Sli::ErrorEvents { errors, total } => QueryTemplate::from_normalized(format!(
                "(\n  ({errors})\n  or\n  (0 * ({total}))\n)\n/\n(({total}) > 0)"
            )),
            Sli::GoodEvents { good, total } => QueryTemplate::from_normalized(format!(
                "1 - (\n  (\n    ({good})\n    or\n    (0 * ({total}))\n  )\n  /\n  (({total}) > 0)\n)"
            )),
            Sli::ErrorRatio { query } => query.clone(),
            Sli::Latency(l) => l.error_ratio(),
        }
    }

    /// The rate of all events over `{{window}}`, for SLIs that count events (the low-traffic
    /// guard and traffic-weighted period ratios need it); `None` for a raw error ratio.
    pub fn total_rate(&self) -> Option<QueryTemplate> {
        match self {
            Sli::ErrorEvents { total, .. } | Sli::GoodEvents { total, .. } => Some(total.clone()),
            Sli::ErrorRatio { .. } => None,
            Sli::Latency(l) => Some(l.total_rate()),
        }
    }
}

impl LatencySli {
    /// The threshold in seconds as Prometheus writes bucket bounds (Go float formatting:
    /// 0.5, 1, 2.5).
    pub fn threshold_seconds(&self) -> String {
        format!("{}", self.threshold.as_std().as_secs_f64())
    }

    fn selector(&self, extra: &str) -> String {
        match (self.matchers.is_empty(), extra.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("{{{}}}", self.matchers),
            (true, false) => format!("{{{extra}}}"),
            (false, false) => format!("{{{},{extra}}}", self.matchers),
        }
    }

    fn total_rate(&self) -> QueryTemplate {
        let h = &self.histogram;
        QueryTemplate::from_normalized(match self.kind {
            HistogramKind::Classic => {
                format!("sum(rate({h}_count{}[{{{{window}}}}]))", self.selector(""))
            }
            HistogramKind::Native => {
                format!(
                    "histogram_count(sum(rate({h}{}[{{{{window}}}}])))",
                    self.selector("")
                )
            }
        })
    }

    /// The share of requests slower than the threshold over `{{window}}`.
    fn error_ratio(&self) -> QueryTemplate {
        let h = &self.histogram;
        let le = self.threshold_seconds();
        let total = self.total_rate();
        let text = match self.kind {
            HistogramKind::Classic => format!(
                "1 - (\n  sum(rate({h}_bucket{}[{{{{window}}}}]))\n  /\n  ({total} > 0)\n)",
                self.selector(&le_matcher(&le))
            ),
            HistogramKind::Native => format!(
                "1 - histogram_fraction(0, {le}, sum(rate({h}{}[{{{{window}}}}])))",
                self.selector("")
            ),
        };
        QueryTemplate::from_normalized(text)
    }
}

/// The `le` matcher for a bucket bound. Prometheus 3 writes whole bounds as `1.0` where
/// Prometheus 2 wrote `1`; a regex accepts both so the rule survives an upgrade.
fn le_matcher(le: &str) -> String {
    if le.contains('.') {
        format!("le=\"{le}\"")
    } else {
        format!("le=~\"{le}(\\\\.0)?\"")
    }
}

/// Burn-rate alerting for one SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerting {
    /// Alert name; defaults to a name derived from service and SLO.
    pub name: Option<String>,
    /// Labels on both tiers' alerts.
    pub labels: BTreeMap<String, String>,
    /// Annotations on both tiers' alerts.
    pub annotations: BTreeMap<String, String>,
    /// The fast-burn tier that wakes someone.
    pub page: AlertTier,
    /// The slow-burn tier that opens a ticket.
    pub ticket: AlertTier,
    /// Low-traffic guard: no alert while the alert window saw fewer events than this.
    pub min_events: Option<u64>,
}

/// One alert tier.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertTier {
    /// False when the user turned the tier off.
    pub enabled: bool,
    /// Where the tier's alerts go.
    pub route: Route,
    /// Labels on this tier's alerts.
    pub labels: BTreeMap<String, String>,
    /// Annotations on this tier's alerts.
    pub annotations: BTreeMap<String, String>,
}

impl AlertTier {
    /// An enabled tier with the given route and nothing else.
    pub fn enabled(route: Route) -> Self {
        AlertTier {
            enabled: true,
            route,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }
}

/// Where an alert tier is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// PagerDuty, through the Events API v2.
    PagerDuty,
    /// Slack, optionally to a given channel.
    Slack {
        /// `#channel`; the receiver's default channel when absent.
        channel: Option<String>,
    },
    /// Email, through Alertmanager's `email_configs`.
    Email {
        /// The address; the team's address from the routing settings when absent.
        to: Option<String>,
    },
}

/// Custom burn-rate alert windows for SLOs of one period (Sloth's `AlertWindows` document):
/// each condition spends `budget_percent` of the period's budget over its long window.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWindowsSpec {
    /// The SLO period these windows are for; SLOs of other periods use the defaults.
    pub period: PromDuration,
    /// Fast page.
    pub page_quick: BurnWindowSpec,
    /// Slow page.
    pub page_slow: BurnWindowSpec,
    /// Fast ticket.
    pub ticket_quick: BurnWindowSpec,
    /// Slow ticket.
    pub ticket_slow: BurnWindowSpec,
}

/// One burn-rate condition of a custom window set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindowSpec {
    /// Share of the period's error budget (percent) spent over `long` at the alerting burn.
    pub budget_percent: f64,
    /// The window that shows the burn is still going on.
    pub short: PromDuration,
    /// The window that shows the burn is significant.
    pub long: PromDuration,
}
