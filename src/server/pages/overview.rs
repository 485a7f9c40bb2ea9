//! `GET /`: every service's SLOs at a glance, filtered by team and service and sorted on the
//! server (query parameters, so it works without JavaScript and a view can be linked).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::Utc;
use serde::Serialize;

use super::render::{PageError, render};
use super::view::{Badge, BudgetBar, Choice, burn_text, choices, encode, query_string, sli_text};
use crate::analysis::slo::SloStatus;
use crate::generate::windows::{AlertWindows, alert_windows_with};
use crate::server::state::AppState;
use crate::server::status::statuses;
use crate::spec::Catalog;
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
    let names: Vec<String> = catalog.services.iter().map(|s| s.service.clone()).collect();
    let at = Utc::now();
    let all = statuses(&state, &names, None, at).await?;
    let view = overview(&all, &metas(&catalog), &query, rfc3339(at));
    render("overview.html", "SLO overview", &view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::slo::ErrorBudget;
    use crate::spec::PromDuration;
    use crate::verdict::Outcome;

    pub(crate) fn status(service: &str, slo: &str, remaining: Option<f64>) -> SloStatus {
        let d = |s: &str| PromDuration::parse(s).unwrap();
        let mut burn = BTreeMap::new();
        burn.insert(d("1h"), remaining.map_or(0.0, |r| (1.0 - r) * 20.0));
        SloStatus {
            service: service.into(),
            slo: slo.into(),
            objective: 99.9,
            period: "30d".into(),
            sli: [(d("30d"), 0.9995)].into_iter().collect(),
            burn_rate: burn,
            events: BTreeMap::new(),
            error_budget: remaining.map(|r| ErrorBudget {
                remaining: r,
                remaining_minutes: 0.0,
                consumed: 1.0 - r,
            }),
            alerts: vec![],
            exhaustion_hours: None,
            verdict: Outcome::Pass,
            reason: "healthy".into(),
        }
    }

    fn meta(team: &str, description: &str) -> SloMeta {
        SloMeta {
            team: Some(team.into()),
            description: Some(description.into()),
            windows: alert_windows_with(PromDuration::parse("30d").unwrap(), &[]),
        }
    }

    fn fixture() -> (Vec<SloStatus>, BTreeMap<(String, String), SloMeta>) {
        let statuses = vec![
            status("checkout", "availability", Some(0.9)),
            status("checkout", "latency", None),
            status("billing", "availability", Some(-0.5)),
            status("search", "latency", Some(0.3)),
        ];
        let metas = [
            (("checkout", "availability"), "payments"),
            (("checkout", "latency"), "payments"),
            (("billing", "availability"), "payments"),
            (("search", "latency"), "discovery"),
        ]
        .into_iter()
        .map(|((s, o), t)| ((s.to_string(), o.to_string()), meta(t, "desc")))
        .collect();
        (statuses, metas)
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn names(view: &OverviewView) -> Vec<String> {
        view.rows
            .iter()
            .map(|r| format!("{}/{}", r.service, r.slo))
            .collect()
    }

    #[test]
    fn rows_are_sorted_by_service_then_slo_by_default() {
        let (s, m) = fixture();
        let v = overview(&s, &m, &OverviewQuery::default(), String::new());
        assert_eq!(
            names(&v),
            [
                "billing/availability",
                "checkout/availability",
                "checkout/latency",
                "search/latency"
            ]
        );
    }

    #[test]
    fn sorting_by_budget_puts_the_least_left_first_and_no_data_last_both_ways() {
        let (s, m) = fixture();
        let q = OverviewQuery::parse(&params(&[("sort", "budget")])).unwrap();
        let v = overview(&s, &m, &q, String::new());
        assert_eq!(
            names(&v),
            [
                "billing/availability",
                "search/latency",
                "checkout/availability",
                "checkout/latency"
            ]
        );
        assert_eq!(v.headings[4].aria_sort, "ascending");
        assert!(
            v.headings[4].href.contains("order=desc"),
            "{}",
            v.headings[4].href
        );
        let q = OverviewQuery::parse(&params(&[("sort", "budget"), ("order", "desc")])).unwrap();
        let v = overview(&s, &m, &q, String::new());
        assert_eq!(
            names(&v),
            [
                "checkout/availability",
                "search/latency",
                "billing/availability",
                "checkout/latency"
            ]
        );
    }

    #[test]
    fn the_team_filter_keeps_only_that_teams_slos_and_the_service_filter_one_service() {
        let (s, m) = fixture();
        let q = OverviewQuery::parse(&params(&[("team", "discovery")])).unwrap();
        let v = overview(&s, &m, &q, String::new());
        assert_eq!(names(&v), ["search/latency"]);
        assert!(v.filtered);
        assert!(v.teams.iter().any(|c| c.value == "discovery" && c.selected));
        let q = OverviewQuery::parse(&params(&[("service", "checkout"), ("team", "")])).unwrap();
        let v = overview(&s, &m, &q, String::new());
        assert_eq!(names(&v), ["checkout/availability", "checkout/latency"]);
        assert_eq!(v.total, 4);
    }

    #[test]
    fn a_bad_parameter_is_refused_by_name() {
        let err = OverviewQuery::parse(&params(&[("sort", "colour")])).unwrap_err();
        assert_eq!(err.0, "sort");
        assert!(err.1.contains("budget"), "{}", err.1);
        assert_eq!(
            OverviewQuery::parse(&params(&[("order", "up")]))
                .unwrap_err()
                .0,
            "order"
        );
        assert_eq!(
            OverviewQuery::parse(&params(&[("tema", "x")]))
                .unwrap_err()
                .0,
            "tema"
        );
    }

    #[test]
    fn a_row_shows_the_budget_bar_burns_per_alert_window_and_a_word_for_the_state() {
        let (s, m) = fixture();
        let r = row(&s[2], m.get(&("billing".into(), "availability".into())));
        assert_eq!(r.budget.as_ref().unwrap().word, "exhausted");
        assert_eq!(r.budget.as_ref().unwrap().width, "0.0");
        assert_eq!(r.burns.len(), 4);
        assert_eq!(
            (r.burns[0].window.as_str(), r.burns[0].rate.as_str()),
            ("1h", "30.0×")
        );
        assert!(r.burns[0].over, "30x is over the 14.4x page factor");
        assert_eq!(r.burns[1].rate, "n/a");
        assert_eq!(r.state.word, "pass");
        assert_eq!(r.sli, "99.95%");
        assert_eq!(r.href, "/slos/billing/availability");
    }

    #[test]
    fn a_script_in_an_slo_description_is_shown_as_text_not_run() {
        let (s, mut m) = fixture();
        m.insert(
            ("search".into(), "latency".into()),
            meta("discovery", "<script>alert('x')</script>"),
        );
        let v = overview(&s, &m, &OverviewQuery::default(), String::new());
        let html = super::super::render::render_text("overview.html", "SLO overview", &v).unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert("), "{html}");
        assert_eq!(html.matches("<tr class=\"slo-row\"").count(), 4);
    }
}
