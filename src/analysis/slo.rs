//! How each SLO is doing at a given time, from the raw SLI queries' values (so it works before
//! any recording rule is deployed) with the same windows and conditions as the generated rules,
//! and the error-budget gate's verdict. Pure: the queries themselves are planned in
//! `evaluate::plan`, the windows come from `spec::windows`.

use std::collections::{BTreeMap, HashMap};

use crate::numfmt::short;
use crate::spec::windows::{AlertWindows, BurnWindow, alert_windows_with};
use crate::spec::{AlertWindowsSpec, PromDuration, ServiceLevels, Slo};
use crate::verdict::Outcome;

/// How far under 0 an error ratio may be from floating-point rounding (`1 - good/total`) and
/// still count as 0; further under, the SLI's queries disagree and nothing is concluded.
const NEGATIVE_SLACK: f64 = 1e-9;

/// The SLOs of `service` to evaluate (all, or the one named), with their windows.
pub fn selected<'a>(
    service: &'a ServiceLevels,
    slo: Option<&str>,
    custom: &[AlertWindowsSpec],
) -> Vec<(&'a Slo, AlertWindows)> {
    service
        .slos
        .iter()
        .filter(|s| slo.is_none_or(|name| s.name == name))
        .map(|s| (s, alert_windows_with(s.period.nominal(), custom)))
        .collect()
}

/// Every window an SLO needs: its alert windows and its period.
pub fn needed_windows(slo: &Slo, windows: &AlertWindows) -> Vec<PromDuration> {
    let mut all = windows.distinct_windows();
    all.push(slo.period.nominal());
    all.sort();
    all.dedup();
    all
}

/// One SLO's values over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowValues {
    /// Bad events / all events; `None` when the query returned no series.
    pub error_ratio: Option<f64>,
    /// All events per second; `None` for raw-ratio SLIs or no series.
    pub event_rate: Option<f64>,
}

/// What a window's query brought back: values per SLO name, or why there are none.
pub type WindowResult = Result<HashMap<String, WindowValues>, String>;

/// An SLO's error budget over its period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorBudget {
    /// Share of the budget left (1 - consumed); negative when overspent.
    pub remaining: f64,
    /// Minutes of full outage the remaining budget still allows.
    pub remaining_minutes: f64,
    /// Share of the budget spent over the period.
    pub consumed: f64,
}

/// How an SLO is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct SloStatus {
    /// The service.
    pub service: String,
    /// The SLO.
    pub slo: String,
    /// Objective in percent.
    pub objective: f64,
    /// The period, as Prometheus writes it.
    pub period: String,
    /// SLI (good share, 0..1) per window with data.
    pub sli: BTreeMap<PromDuration, f64>,
    /// Burn rate per window with data.
    pub burn_rate: BTreeMap<PromDuration, f64>,
    /// Events per window, for SLIs that count them.
    pub events: BTreeMap<PromDuration, f64>,
    /// The budget, when the period has data.
    pub error_budget: Option<ErrorBudget>,
    /// Alert tiers whose burn condition holds now.
    pub alerts: Vec<&'static str>,
    /// When the budget runs out at the burn of the page's long window, in hours.
    pub exhaustion_hours: Option<f64>,
    /// The gate's answer for this SLO.
    pub verdict: Outcome,
    /// Why, in words.
    pub reason: String,
}

/// What the error-budget gate requires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatePolicy {
    /// Fail when the share of budget remaining is below this (0: fail once overspent).
    pub budget_floor: f64,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy { budget_floor: 0.0 }
    }
}

/// The status of one SLO from the fetched windows.
pub fn status(
    service: &str,
    slo: &Slo,
    windows: &AlertWindows,
    fetched: &BTreeMap<PromDuration, WindowResult>,
    policy: &GatePolicy,
) -> SloStatus {
    let budget = slo.error_budget();
    let period = slo.period.nominal();
    let mut st = SloStatus {
        service: service.to_string(),
        slo: slo.name.clone(),
        objective: slo.objective,
        period: period.to_string(),
        sli: BTreeMap::new(),
        burn_rate: BTreeMap::new(),
        events: BTreeMap::new(),
        error_budget: None,
        alerts: Vec::new(),
        exhaustion_hours: None,
        verdict: Outcome::Inconclusive,
        reason: String::new(),
    };
    let mut problems: Vec<String> = Vec::new();
    for window in needed_windows(slo, windows) {
        let values = match fetched.get(&window) {
            Some(Ok(by_slo)) => by_slo.get(&slo.name).copied().unwrap_or_default(),
            Some(Err(reason)) => {
                problems.push(format!("{window} window: {reason}"));
                continue;
            }
            None => {
                problems.push(format!("{window} window was not queried"));
                continue;
            }
        };
        if let Some(rate) = values.event_rate.filter(|r| r.is_finite()) {
            st.events.insert(window, rate * window.as_secs() as f64);
        }
        match values.error_ratio {
            Some(r) if r < -NEGATIVE_SLACK => problems.push(format!(
                "{window} window: the error ratio is negative ({r}); the SLI's queries disagree \
                 (errors subtracted, or counted outside the total)"
            )),
            Some(r) if r.is_finite() => {
                // Rounding may leave a ratio of 0 a hair under it.
                let r = r.max(0.0);
                st.sli.insert(window, 1.0 - r);
                st.burn_rate.insert(window, r / budget);
            }
            Some(_) => problems.push(format!("{window} window: the SLI is NaN (0/0: no events?)")),
            None if st.events.get(&window) == Some(&0.0) => {
                problems.push(format!("{window} window: no traffic (0 events)"))
            }
            None => problems.push(format!(
                "{window} window: the SLI queries returned no series"
            )),
        }
    }

    if let Some(burn) = st.burn_rate.get(&period).copied() {
        let consumed = burn;
        let remaining = 1.0 - consumed;
        st.error_budget = Some(ErrorBudget {
            remaining,
            remaining_minutes: remaining * budget * period.as_secs() as f64 / 60.0,
            consumed,
        });
        if let Some(current) = st.burn_rate.get(&windows.page_quick.long).copied()
            && current > 0.0
            && remaining > 0.0
        {
            st.exhaustion_hours = Some(remaining * period.as_secs() as f64 / 3600.0 / current);
        }
    }
    for (tier, conditions) in [
        ("page", [windows.page_quick, windows.page_slow]),
        ("ticket", [windows.ticket_quick, windows.ticket_slow]),
    ] {
        if conditions.iter().any(|c| burning(&st, slo, c)) {
            st.alerts.push(tier);
        }
    }
    let (verdict, reason) = gate(&st, slo, windows, &problems, policy);
    st.verdict = verdict;
    st.reason = reason;
    st
}

/// Whether a burn condition holds: both windows over the factor and, with a guard, enough
/// events in the long window (the generated alert's condition).
fn burning(st: &SloStatus, slo: &Slo, c: &BurnWindow) -> bool {
    let over = |w: &PromDuration| st.burn_rate.get(w).is_some_and(|b| *b > c.factor);
    let guarded = match (slo.alerting.min_events, slo.sli.total_rate()) {
        (Some(min), Some(_)) => st.events.get(&c.long).is_some_and(|e| *e >= min as f64),
        _ => true,
    };
    over(&c.long) && over(&c.short) && guarded
}

/// The gate for one SLO: a page-tier burn or a budget under the floor fails; any missing,
/// NaN or unreachable window is inconclusive; otherwise pass.
fn gate(
    st: &SloStatus,
    slo: &Slo,
    windows: &AlertWindows,
    problems: &[String],
    policy: &GatePolicy,
) -> (Outcome, String) {
    if st.alerts.contains(&"page") {
        let c = [windows.page_quick, windows.page_slow]
            .into_iter()
            .find(|c| burning(st, slo, c))
            .expect("a page condition holds");
        return (
            Outcome::Fail,
            format!(
                "page-tier burn in progress: {}x over {} and {}x over {} (threshold {}x)",
                short1(st.burn_rate[&c.long]),
                c.long,
                short1(st.burn_rate[&c.short]),
                c.short,
                short(c.factor)
            ),
        );
    }
    if let Some(budget) = st.error_budget
        && budget.remaining < policy.budget_floor
    {
        return (
            Outcome::Fail,
            format!(
                "error budget remaining {}% is below the floor of {}% ({} consumed over {})",
                short1(budget.remaining * 100.0),
                short1(policy.budget_floor * 100.0),
                percent(budget.consumed),
                st.period
            ),
        );
    }
    if !problems.is_empty() {
        return (
            Outcome::Inconclusive,
            format!("not enough data to judge: {}", problems.join("; ")),
        );
    }
    let needed = slo.alerting.min_events.unwrap_or(1) as f64;
    if let Some(events) = st.events.get(&slo.period.nominal())
        && *events < needed
    {
        return (
            Outcome::Inconclusive,
            format!(
                "too little traffic: {} events over {}, at least {} needed",
                short1(*events),
                st.period,
                short1(needed)
            ),
        );
    }
    let budget = st
        .error_budget
        .expect("no problems means the period has data");
    (
        Outcome::Pass,
        format!(
            "healthy: {} of the error budget left over {}, no burn alert",
            percent(budget.remaining),
            st.period
        ),
    )
}

/// The SLI and the share of the error budget left from the error ratio over a whole period
/// (what [`status`] computes for now, at any time); `None` for a NaN, infinite or negative
/// ratio (never more than the whole budget left).
pub fn period_point(slo: &Slo, error_ratio: f64) -> Option<(f64, f64)> {
    (error_ratio.is_finite() && error_ratio >= -NEGATIVE_SLACK).then(|| {
        let r = error_ratio.max(0.0);
        (1.0 - r, 1.0 - r / slo.error_budget())
    })
}

fn short1(value: f64) -> String {
    short((value * 10.0).round() / 10.0)
}

fn percent(ratio: f64) -> String {
    format!("{}%", short1(ratio * 100.0))
}
