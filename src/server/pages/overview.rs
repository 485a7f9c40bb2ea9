//! `GET /`: every service's SLOs at a glance, filtered by team and service and sorted on the
//! server (query parameters, so it works without JavaScript and a view can be linked).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{TimeZone, Utc};
use serde::Serialize;

use super::render::{PageError, render};
use super::view::{Badge, BudgetBar, Choice, burn_text, choices, encode, query_string, sli_text};
use crate::analysis::slo::SloStatus;
use crate::server::state::AppState;
use crate::server::status::{age_seconds, catalog_statuses};
use crate::spec::Catalog;
use crate::spec::windows::{AlertWindows, alert_windows_with};
use crate::verdict::rfc3339;

/// Columns the table sorts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// Service, then SLO name.
    Service,
    /// SLO name.
    Slo,
    /// Objective.
    Objective,
    /// SLI over the period.
    Sli,
    /// Error budget left.
    Budget,
    /// The highest burn rate of the alert windows.
    Burn,
}

impl SortKey {
    const ALL: [(&'static str, SortKey); 6] = [
        ("service", SortKey::Service),
        ("slo", SortKey::Slo),
        ("objective", SortKey::Objective),
        ("sli", SortKey::Sli),
        ("budget", SortKey::Budget),
        ("burn", SortKey::Burn),
    ];

    fn name(self) -> &'static str {
        SortKey::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("service", |(n, _)| n)
    }
}

/// The overview's query parameters, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewQuery {
    /// Only this team's services.
    pub team: Option<String>,
    /// Only this service.
    pub service: Option<String>,
    /// Sort column.
    pub sort: SortKey,
    /// Descending order.
    pub descending: bool,
}

impl Default for OverviewQuery {
    fn default() -> Self {
        OverviewQuery {
            team: None,
            service: None,
            sort: SortKey::Service,
            descending: false,
        }
    }
}

/// A query parameter that cannot be used: `(parameter, why)`.
pub type BadParameter = (String, String);

impl OverviewQuery {
    /// Reads `team`, `service`, `sort`, `order`; empty values mean "no filter"; any other
    /// parameter or value is refused, naming it.
    pub fn parse(params: &BTreeMap<String, String>) -> Result<OverviewQuery, BadParameter> {
        let mut q = OverviewQuery::default();
        for (key, value) in params {
            let value = value.trim();
            match key.as_str() {
                "team" => q.team = (!value.is_empty()).then(|| value.to_string()),
                "service" => q.service = (!value.is_empty()).then(|| value.to_string()),
                "sort" if value.is_empty() => {}
                "sort" => {
                    q.sort = SortKey::ALL
                        .iter()
                        .find(|(n, _)| *n == value)
                        .map(|(_, k)| *k)
                        .ok_or_else(|| {
                            let names: Vec<&str> = SortKey::ALL.iter().map(|(n, _)| *n).collect();
                            (
                                key.clone(),
                                format!("{value:?}: expected one of {}", names.join(", ")),
                            )
                        })?
                }
                "order" => {
                    q.descending = match value {
                        "" | "asc" => false,
                        "desc" => true,
                        other => {
                            return Err((key.clone(), format!("{other:?}: expected asc or desc")));
                        }
                    }
                }
                other => {
                    return Err((
                        other.to_string(),
                        "unknown parameter: expected team, service, sort or order".to_string(),
                    ));
                }
            }
        }
        Ok(q)
    }
}

/// What the overview knows of an SLO besides its status: from the definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct SloMeta {
    /// The owning team.
    pub team: Option<String>,
    /// The SLO's description.
    pub description: Option<String>,
    /// Its alert windows (burn columns, thresholds).
    pub windows: AlertWindows,
}

/// The definitions' side of every SLO, by `(service, slo)`.
pub fn metas(catalog: &Catalog) -> BTreeMap<(String, String), SloMeta> {
    catalog
        .services
        .iter()
        .flat_map(|s| {
            s.slos.iter().map(move |slo| {
                (
                    (s.service.clone(), slo.name.clone()),
                    SloMeta {
                        team: s.team.clone(),
                        description: slo.description.clone(),
                        windows: alert_windows_with(slo.period.nominal(), &catalog.alert_windows),
                    },
                )
            })
        })
        .collect()
}

/// A burn rate over one alert window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnCell {
    /// The window (`1h`).
    pub window: String,
    /// The rate (`0.25×`), or `n/a` without data.
    pub rate: String,
    /// Whether it is over the factor of its alert condition (shown with a word too).
    pub over: bool,
    /// The factor, as text (`14.4×`).
    pub factor: String,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloRow {
    /// Service.
    pub service: String,
    /// Team, or empty.
    pub team: String,
    /// SLO name.
    pub slo: String,
    /// Description, or empty (escaped by the template).
    pub description: String,
    /// Objective, `99.9%`.
    pub objective: String,
    /// Period, `30d`.
    pub period: String,
    /// SLI over the period, or `no data`.
    pub sli: String,
    /// The budget left; `None` without data over the period.
    pub budget: Option<BudgetBar>,
    /// The share left as a plain number (tests and scripts compare it with the API).
    pub budget_remaining: Option<f64>,
    /// Burn rate per alert condition's long window.
    pub burns: Vec<BurnCell>,
    /// Alert tiers that would fire now.
    pub alerts: Vec<Badge>,
    /// The gate's word for the SLO.
    pub state: Badge,
    /// The gate's reason.
    pub reason: String,
    /// Link to the SLO's page.
    pub href: String,
    /// Highest burn rate over the alert windows (sorting).
    #[serde(skip)]
    max_burn: Option<f64>,
    #[serde(skip)]
    objective_value: f64,
    #[serde(skip)]
    sli_value: Option<f64>,
}

/// A column heading that sorts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Heading {
    /// Text.
    pub label: &'static str,
    /// Link that sorts on this column (the other way round when it is the current one).
    pub href: String,
    /// `ascending`, `descending` or `none` (for `aria-sort`).
    pub aria_sort: &'static str,
}

/// The whole overview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverviewView {
    /// Rows after filtering and sorting.
    pub rows: Vec<SloRow>,
    /// SLOs before filtering.
    pub total: usize,
    /// Team filter options.
    pub teams: Vec<Choice>,
    /// Service filter options.
    pub services: Vec<Choice>,
    /// Sortable headings, in column order.
    pub headings: Vec<Heading>,
    /// The current sort, so the form keeps it.
    pub sort: &'static str,
    /// `asc` or `desc`.
    pub order: &'static str,
    /// Whether any filter is set.
    pub filtered: bool,
    /// When the statuses were evaluated.
    pub evaluated_at: String,
    /// How old they are and how long they are shared (`12 s ago, shared for up to 15 s`); set
    /// by the handler, which knows the cache.
    pub age: Option<String>,
    /// Where the statuses were read from (recording rules or raw queries); set by the handler.
    pub source: Option<String>,
}

/// The row of one status.
pub fn row(status: &SloStatus, meta: Option<&SloMeta>) -> SloRow {
    let burns: Vec<BurnCell> = meta
        .map(|m| {
            m.windows
                .all()
                .iter()
                .map(|c| {
                    let rate = status.burn_rate.get(&c.long).copied();
                    BurnCell {
                        window: c.long.to_string(),
                        rate: rate.map_or_else(|| "n/a".to_string(), burn_text),
                        over: rate.is_some_and(|r| r > c.factor),
                        factor: burn_text(c.factor),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let max_burn = meta.and_then(|m| {
        m.windows
            .all()
            .iter()
            .filter_map(|c| status.burn_rate.get(&c.long).copied())
            .reduce(f64::max)
    });
    let period = crate::spec::PromDuration::parse(&status.period).ok();
    let sli_value = period.and_then(|p| status.sli.get(&p).copied());
    SloRow {
        service: status.service.clone(),
        team: meta.and_then(|m| m.team.clone()).unwrap_or_default(),
        slo: status.slo.clone(),
        description: meta.and_then(|m| m.description.clone()).unwrap_or_default(),
        objective: format!("{}%", crate::numfmt::short(status.objective)),
        period: status.period.clone(),
        sli: sli_value.map_or_else(|| "no data".to_string(), |s| sli_text(s, status.objective)),
        budget: status.error_budget.map(|b| BudgetBar::of(b.remaining)),
        budget_remaining: status.error_budget.map(|b| b.remaining),
        burns,
        alerts: status.alerts.iter().map(|t| Badge::alert(t)).collect(),
        state: Badge::outcome(status.verdict),
        reason: status.reason.clone(),
        href: format!("/slos/{}/{}", encode(&status.service), encode(&status.slo)),
        max_burn,
        objective_value: status.objective,
        sli_value,
    }
}

/// Compares two rows on `key`; rows without a value go last whatever the order.
fn compare(a: &SloRow, b: &SloRow, key: SortKey, descending: bool) -> Ordering {
    let by_name = |a: &SloRow, b: &SloRow| (&a.service, &a.slo).cmp(&(&b.service, &b.slo));
    let numbers = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => {
            let o = x.total_cmp(&y);
            if descending { o.reverse() } else { o }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    let primary = match key {
        SortKey::Service => {
            let o = by_name(a, b);
            return if descending { o.reverse() } else { o };
        }
        SortKey::Slo => {
            let o = (&a.slo, &a.service).cmp(&(&b.slo, &b.service));
            return if descending { o.reverse() } else { o };
        }
        SortKey::Objective => numbers(Some(a.objective_value), Some(b.objective_value)),
        SortKey::Sli => numbers(a.sli_value, b.sli_value),
        SortKey::Budget => numbers(a.budget_remaining, b.budget_remaining),
        SortKey::Burn => numbers(a.max_burn, b.max_burn),
    };
    primary.then_with(|| by_name(a, b))
}

/// The overview of `statuses` under `query`.
pub fn overview(
    statuses: &[SloStatus],
    metas: &BTreeMap<(String, String), SloMeta>,
    query: &OverviewQuery,
    evaluated_at: String,
) -> OverviewView {
    let meta = |s: &SloStatus| metas.get(&(s.service.clone(), s.slo.clone()));
    let mut rows: Vec<SloRow> = statuses
        .iter()
        .filter(|s| query.service.as_ref().is_none_or(|want| *want == s.service))
        .filter(|s| {
            query
                .team
                .as_ref()
                .is_none_or(|want| meta(s).and_then(|m| m.team.as_ref()) == Some(want))
        })
        .map(|s| row(s, meta(s)))
        .collect();
    rows.sort_by(|a, b| compare(a, b, query.sort, query.descending));

    let mut teams: Vec<String> = metas.values().filter_map(|m| m.team.clone()).collect();
    teams.sort();
    teams.dedup();
    let mut services: Vec<String> = metas.keys().map(|(s, _)| s.clone()).collect();
    services.dedup();
    let headings = [
        ("Service", SortKey::Service),
        ("SLO", SortKey::Slo),
        ("Objective", SortKey::Objective),
        ("SLI over the period", SortKey::Sli),
        ("Error budget left", SortKey::Budget),
        ("Burn rate per alert window", SortKey::Burn),
    ]
    .into_iter()
    .map(|(label, key)| {
        let current = query.sort == key;
        // The current column links to the other order; a new one starts ascending.
        let order = if current && !query.descending {
            "desc"
        } else {
            "asc"
        };
        Heading {
            label,
            href: format!(
                "/{}",
                query_string(&[
                    ("team", query.team.as_deref()),
                    ("service", query.service.as_deref()),
                    ("sort", Some(key.name())),
                    ("order", Some(order)),
                ])
            ),
            aria_sort: match (current, query.descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
        }
    })
    .collect();
    OverviewView {
        rows,
        total: statuses.len(),
        teams: choices(teams, query.team.as_deref()),
        services: choices(services, query.service.as_deref()),
        headings,
        sort: query.sort.name(),
        order: if query.descending { "desc" } else { "asc" },
        filtered: query.team.is_some() || query.service.is_some(),
        evaluated_at,
        age: None,
        source: None,
    }
}

/// `GET /`.
pub async fn page(
    State(state): State<AppState>,
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    let Query(params) = params.map_err(|e| PageError::bad_request("query", e.body_text()))?;
    let query = OverviewQuery::parse(&params).map_err(|(p, m)| PageError::bad_request(&p, m))?;
    let catalog = state.catalog();
    let now = Utc::now();
    let evaluated = catalog_statuses(&state, now).await?;
    let at = Utc.timestamp_opt(evaluated.at, 0).single().unwrap_or(now);
    let mut view = overview(&evaluated.statuses, &metas(&catalog), &query, rfc3339(at));
    let ttl = state.status_cache.ttl().as_secs_f64();
    view.age = Some(match age_seconds(&evaluated, now) {
        _ if ttl == 0.0 => "just now; not cached".to_string(),
        age => format!("{age} s ago; shared for up to {ttl} s"),
    });
    view.source = Some(evaluated.provenance.summary(evaluated.statuses.len()));
    render("overview.html", "SLO overview", &view)
}

#[cfg(test)]
#[path = "overview_tests.rs"]
mod tests;
