//! Plain alerts: the threshold and `for:` alerts a platform team keeps beside its SLOs (error
//! rate above 10%, memory above 80%, database down, crash looping). They are part of the one
//! canonical model so the same rule file and the same Alertmanager tree carry them, and so a
//! team adopting slogate for SLOs does not hand-write the rest in another tool.

use std::collections::BTreeMap;
use std::fmt;

use super::duration::PromDuration;
use super::model::Route;
use super::query::QueryTemplate;

/// One threshold alert of a service, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainAlert {
    /// The alert name (`alertname`): a Prometheus metric-style name, unique within the service.
    pub name: String,
    /// The condition: fires while it returns series. Plain PromQL, no window placeholder.
    pub expr: QueryTemplate,
    /// How long the condition must hold before the alert fires; at once when absent.
    pub for_: Option<PromDuration>,
    /// The team's own severity name (`critical`, `P2`), written as the `severity` label so
    /// existing silences, inhibitions and dashboards keep working.
    pub severity: Option<String>,
    /// Page or ticket: decides the receiver and the repeat pace, given or mapped from the
    /// severity name.
    pub tier: Tier,
    /// Where the alert is delivered.
    pub route: Route,
    /// One line for the notification title.
    pub summary: String,
    /// What is wrong and what to look at, for the notification body.
    pub description: Option<String>,
    /// The runbook to open, as a link in the notification.
    pub runbook_url: Option<String>,
    /// Labels on the alert, on top of the service's.
    pub labels: BTreeMap<String, String>,
    /// Annotations on the alert, on top of summary, description and runbook.
    pub annotations: BTreeMap<String, String>,
}

/// How urgent an alert is: whether it wakes someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Wakes the on-call person (PagerDuty by default).
    Page,
    /// Is looked at in working hours (Slack by default).
    Ticket,
}

impl Tier {
    /// The name slogate writes in the `slo_severity` label and reads in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Page => "page",
            Tier::Ticket => "ticket",
        }
    }

    /// Reads `page` or `ticket`.
    pub fn parse(text: &str) -> Option<Tier> {
        match text {
            "page" => Some(Tier::Page),
            "ticket" => Some(Tier::Ticket),
            _ => None,
        }
    }

    /// The route a tier takes when the alert names none: pages to PagerDuty, tickets to the
    /// team's Slack (the receiver's default channel).
    pub fn default_route(self) -> Route {
        match self {
            Tier::Page => Route::PagerDuty,
            Tier::Ticket => Route::Slack { channel: None },
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity names and the tier each maps to (`P1` → page, `P3` → ticket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityMap(pub BTreeMap<String, Tier>);

impl Default for SeverityMap {
    /// The names in common use: Prometheus' `critical`/`warning`/`info`, and P0–P5 as
    /// PagerDuty and most incident processes number them (P0–P2 wake someone).
    fn default() -> Self {
        let page = ["critical", "P0", "P1", "P2"];
        let ticket = ["warning", "info", "P3", "P4", "P5"];
        SeverityMap(
            page.iter()
                .map(|n| (n.to_string(), Tier::Page))
                .chain(ticket.iter().map(|n| (n.to_string(), Tier::Ticket)))
                .collect(),
        )
    }
}

impl SeverityMap {
    /// The tier of a severity name.
    pub fn tier(&self, severity: &str) -> Option<Tier> {
        self.0.get(severity).copied()
    }

    /// The known names, for messages.
    pub fn names(&self) -> String {
        self.0
            .keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
