//! What a team's weekly report says, gathered from the same evaluator as the gates
//! ([`crate::evaluate::evaluate_service`]), Prometheus `ALERTS`, and the verdict history. The
//! catalog at the week's end comes from the shared status cache: every team's report of one
//! run (and the pages asking meanwhile) share one evaluation.
//!
//! How each figure is defined (the README's "The weekly report" says the same):
//! - **attainment over the week**: the SLI over the week's exact length (167, 168 or 169 hours,
//!   Monday 00:00 to Monday 00:00 in the report's zone), at the week's end. It is the evaluator's
//!   own number: the SLO is evaluated with its period set to the week.
//! - **attainment over the period** and **budget remaining**: the evaluator's SLI and
//!   error budget over the SLO's own (rolling) period, at the week's end.
//! - **budget consumed this week**: the week's bad events as a share of one period's error
//!   budget: `(1 - SLI_week) * events_week / ((1 - objective) * events_period)`; for SLIs without
//!   event counts (raw ratios) time stands in for traffic: `(1 - SLI_week) / (1 - objective) *
//!   week / period`.
//! - **week-over-week change**: this week's attainment minus the previous week's, in
//!   percentage points.
//! - **burn-down**: the budget remaining over the period, hourly through the week (the
//!   evaluator's period query as a range query), so its last point is the budget remaining.
//! - **alerts**: `ALERTS{alertstate="firing"}` of the team's services, each continuous run of a
//!   series (to the minute) being one firing.
//! - **rollouts**: every verdict recorded in the history during the week for the services.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::basis::{BasisCache, RecordedWeek, WeekFigures};
use super::week::IsoWeek;
use crate::analysis::slo::{GatePolicy, SloStatus};
use crate::evaluate::catalog::StatusCache;
use crate::evaluate::plan::{LABEL_PART, plan};
use crate::evaluate::{describe, evaluate_service};
use crate::source::prometheus::{QuerySource, SourceError};
use crate::spec::windows::alert_windows_with;
use crate::spec::{Catalog, Period, PromDuration, ServiceLevels, Slo};
use crate::store::{HistoryFilter, Store, StoreError};
use crate::verdict::{Outcome, VerdictKind};

/// The team name of services whose definitions name none.
pub const NO_TEAM: &str = "unassigned";
/// Step of the burn-down series.
pub const BURN_DOWN_STEP: Duration = Duration::from_secs(3600);
/// Step of the `ALERTS` range query: firings are found to the minute (a week is 10,080 steps,
/// under Prometheus' 11,000 points per series).
const ALERTS_STEP: Duration = Duration::from_secs(60);
/// Rollouts listed per service at most (the newest; the count says how many there were).
const MAX_ROLLOUTS: usize = 200;

/// Why a report could not be gathered (nothing is sent then; the schedule tries again).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Prometheus did not answer: a report of "no data" everywhere would mislead.
    #[error("Prometheus: {0}")]
    Prometheus(String),
    /// The history could not be read.
    #[error("verdict history: {0}")]
    History(#[from] StoreError),
    /// The definitions have no service of this team.
    #[error("no service belongs to team {0:?}")]
    UnknownTeam(String),
}

/// One team's week.
#[derive(Debug, Clone)]
pub struct TeamReport {
    /// The team.
    pub team: String,
    /// The week reported.
    pub week: IsoWeek,
    /// Monday 00:00 in `timezone`.
    pub start: DateTime<Utc>,
    /// The next Monday 00:00 in `timezone` (exclusive).
    pub end: DateTime<Utc>,
    /// The zone of the week's boundaries.
    pub timezone: Tz,
    /// The team's services, by name.
    pub services: Vec<ServiceReport>,
}

/// One service's week.
#[derive(Debug, Clone)]
pub struct ServiceReport {
    /// The service.
    pub service: String,
    /// Its SLOs, in definition order.
    pub slos: Vec<SloReport>,
    /// Alert firings during the week, oldest first.
    pub alerts: Vec<AlertFiring>,
    /// Verdicts recorded during the week, newest first (at most [`MAX_ROLLOUTS`]).
    pub rollouts: Vec<GatedRollout>,
    /// How many verdicts were recorded during the week (may exceed `rollouts.len()`).
    pub rollouts_total: usize,
}

/// One SLO's week. Ratios are 0..1; `None` where the data was missing (`reason` says why).
#[derive(Debug, Clone)]
pub struct SloReport {
    /// The SLO's name.
    pub name: String,
    /// What it promises, in words (user text: escaped wherever it is shown).
    pub description: Option<String>,
    /// Objective, percent.
    pub objective: f64,
    /// Its period, as Prometheus writes it.
    pub period: String,
    /// Good share over the week.
    pub week_sli: Option<f64>,
    /// Good share over the week before.
    pub previous_week_sli: Option<f64>,
    /// Good share over the period, at the week's end.
    pub period_sli: Option<f64>,
    /// Share of the period's budget left at the week's end (negative when overspent).
    pub budget_remaining: Option<f64>,
    /// Share of one period's budget used by this week's bad events.
    pub budget_consumed_week: Option<f64>,
    /// The error-budget gate's answer at the week's end.
    pub verdict: Outcome,
    /// Why, in the evaluator's words (or why the week's attainment is missing).
    pub reason: String,
    /// `(unix seconds, budget remaining)` hourly through the week.
    pub burn_down: Vec<(i64, f64)>,
}

impl SloReport {
    /// Week-over-week change in percentage points.
    pub fn change_points(&self) -> Option<f64> {
        Some((self.week_sli? - self.previous_week_sli?) * 100.0)
    }

    /// Whether the week met the objective.
    pub fn week_met(&self) -> Option<bool> {
        self.week_sli.map(|s| s * 100.0 >= self.objective)
    }

    /// Whether the period (at the week's end) meets the objective.
    pub fn period_met(&self) -> Option<bool> {
        self.period_sli.map(|s| s * 100.0 >= self.objective)
    }
}

/// One continuous firing of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFiring {
    /// `alertname`.
    pub alertname: String,
    /// `slo_name`.
    pub slo: String,
    /// `slo_severity` (page, ticket).
    pub severity: String,
    /// First minute it was seen firing.
    pub started: DateTime<Utc>,
    /// How long it fired, to the minute.
    pub duration: Duration,
}

/// A verdict recorded during the week.
#[derive(Debug, Clone)]
pub struct GatedRollout {
    /// Verdict id (links to the status page).
    pub id: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Canary or SLO gate.
    pub kind: VerdictKind,
    /// Its outcome.
    pub verdict: Outcome,
    /// Its one-line summary (user-influenced text: escaped wherever it is shown).
    pub summary: String,
}

/// The teams of a catalog and their services ([`NO_TEAM`] for services without one).
pub fn teams(catalog: &Catalog) -> BTreeMap<String, Vec<&ServiceLevels>> {
    let mut teams: BTreeMap<String, Vec<&ServiceLevels>> = BTreeMap::new();
    for s in &catalog.services {
        let team = s.team.clone().unwrap_or_else(|| NO_TEAM.to_string());
        teams.entry(team).or_default().push(s);
    }
    teams
}

/// What collecting needs: where the numbers come from.
#[derive(Clone)]
pub struct Sources {
    /// Prometheus (at status priority: a report never holds up a gate).
    pub prometheus: Arc<dyn QuerySource>,
    /// The verdict history; `None` reports no rollouts (e.g. a dry run without a database).
    pub store: Option<Arc<Store>>,
    /// The gate policy (the budget floor), so the verdicts match the gates'.
    pub policy: GatePolicy,
    /// Catalog evaluations shared with the pages (in `serve`) and between teams.
    pub status_cache: Arc<StatusCache>,
    /// The week's catalog-wide figures, gathered by a run's first team for the others.
    pub basis: Arc<BasisCache>,
}

/// Gathers `team`'s report for `week` (boundaries in `tz`).
pub async fn collect_team(
    sources: &Sources,
    catalog: &Arc<Catalog>,
    team: &str,
    week: IsoWeek,
    tz: Tz,
) -> Result<TeamReport, CollectError> {
    let all = teams(catalog);
    let services = all
        .get(team)
        .ok_or_else(|| CollectError::UnknownTeam(team.to_string()))?;
    let (start, end) = week.bounds(tz);
    sources
        .prometheus
        .instant("vector(1)", end.timestamp())
        .await
        .map_err(|e| CollectError::Prometheus(describe(&e)))?;
    let basis = sources.basis.get(sources, catalog, week, tz).await?;
    let at_end = &basis.at_end;
    let mut reports = Vec::new();
    for service in services {
        let period: Vec<SloStatus> = at_end
            .statuses
            .iter()
            .filter(|s| s.service == service.service)
            .cloned()
            .collect();
        let recorded: Option<Vec<&RecordedWeek>> = service
            .slos
            .iter()
            .map(|slo| {
                basis
                    .recorded
                    .get(&(service.service.clone(), slo.name.clone()))
            })
            .collect();
        let mut report = match recorded {
            Some(recorded) => {
                from_recordings(sources, service, &period, &recorded, start, end).await?
            }
            None => collect_service(sources, catalog, service, &period, week, tz).await?,
        };
        report.alerts = basis
            .firings
            .iter()
            .filter(|(s, _)| s == &service.service)
            .map(|(_, f)| f.clone())
            .collect();
        reports.push(report);
    }
    reports.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(TeamReport {
        team: team.to_string(),
        week,
        start,
        end,
        timezone: tz,
        services: reports,
    })
}

/// `service` with every SLO's period set to `secs` (the evaluator then measures the SLI over
/// exactly that window).
fn with_period(service: &ServiceLevels, secs: i64) -> ServiceLevels {
    let mut s = service.clone();
    for slo in &mut s.slos {
        slo.period = Period::Rolling(PromDuration::from_secs(secs.max(1) as u64));
    }
    s
}

async fn collect_service(
    sources: &Sources,
    catalog: &Catalog,
    service: &ServiceLevels,
    period: &[SloStatus],
    week: IsoWeek,
    tz: Tz,
) -> Result<ServiceReport, CollectError> {
    let (start, end) = week.bounds(tz);
    let (prev_start, _) = week.previous().bounds(tz);
    let source = sources.prometheus.as_ref();
    let policy = &sources.policy;
    let at = end.timestamp();
    let this_week = with_period(service, at - start.timestamp());
    let weekly = evaluate_service(source, catalog, &this_week, None, at, policy).await;
    let last_week = with_period(service, start.timestamp() - prev_start.timestamp());
    let previous =
        evaluate_service(source, catalog, &last_week, None, start.timestamp(), policy).await;
    let mut slos = Vec::new();
    for slo in &service.slos {
        let find = |all: &[SloStatus]| all.iter().find(|s| s.slo == slo.name).cloned();
        let (Some(p), Some(w), Some(prev)) = (find(period), find(&weekly), find(&previous)) else {
            continue;
        };
        let burn_down = burn_down(source, catalog, slo, start, end).await;
        let period_events = p.events.get(&slo.period.nominal()).copied();
        let (week, previous) = (WeekFigures::of(&w), WeekFigures::of(&prev));
        slos.push(slo_report(
            slo,
            &p,
            &week,
            &previous,
            period_events,
            burn_down,
        ));
    }
    service_report(sources, service, slos, start, end).await
}

/// A service whose SLOs were all read from recording rules: its figures from the run's
/// catalog-wide basis, no query of its own.
async fn from_recordings(
    sources: &Sources,
    service: &ServiceLevels,
    period: &[SloStatus],
    recorded: &[&RecordedWeek],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<ServiceReport, CollectError> {
    let mut slos = Vec::new();
    for (slo, r) in service.slos.iter().zip(recorded) {
        let Some(p) = period.iter().find(|s| s.slo == slo.name) else {
            continue;
        };
        let burn_down = r.burn_down.clone();
        slos.push(slo_report(
            slo,
            p,
            &r.week,
            &r.previous,
            r.period_events,
            burn_down,
        ));
    }
    service_report(sources, service, slos, start, end).await
}

/// A service's report from its SLOs' figures and the history's rollouts.
async fn service_report(
    sources: &Sources,
    service: &ServiceLevels,
    slos: Vec<SloReport>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<ServiceReport, CollectError> {
    let (rollouts, rollouts_total) = match &sources.store {
        Some(store) => rollouts(store.clone(), &service.service, start, end).await?,
        None => (Vec::new(), 0),
    };
    Ok(ServiceReport {
        service: service.service.clone(),
        slos,
        alerts: Vec::new(),
        rollouts,
        rollouts_total,
    })
}

/// One SLO's figures: the period at the week's end (`period`, and its events), the week and
/// the previous week.
fn slo_report(
    slo: &Slo,
    period: &SloStatus,
    week: &WeekFigures,
    previous: &WeekFigures,
    period_events: Option<f64>,
    burn_down: Vec<(i64, f64)>,
) -> SloReport {
    let period_window = slo.period.nominal();
    let week_sli = week.sli;
    let previous_sli = previous.sli;
    let budget = slo.error_budget();
    let consumed = week_sli.and_then(|sli| {
        let bad_share = (1.0 - sli) / budget;
        match (week.events, period_events) {
            (Some(events), Some(all)) if all > 0.0 => Some(bad_share * events / all),
            (None, None) => {
                Some(bad_share * week.window.as_secs() as f64 / period_window.as_secs() as f64)
            }
            _ => None,
        }
    });
    let reason = if week_sli.is_none() {
        format!("week: {}", week.reason)
    } else {
        period.reason.clone()
    };
    SloReport {
        name: slo.name.clone(),
        description: slo.description.clone(),
        objective: slo.objective,
        period: period.period.clone(),
        week_sli,
        previous_week_sli: previous_sli,
        period_sli: period.sli.get(&period_window).copied(),
        budget_remaining: period.error_budget.map(|b| b.remaining),
        budget_consumed_week: consumed,
        verdict: period.verdict,
        reason,
        burn_down,
    }
}

/// The budget remaining over `slo`'s period, hourly from `start` to `end`, from the same query
/// the evaluator sends for the period window. Empty when Prometheus has nothing.
async fn burn_down(
    source: &dyn QuerySource,
    catalog: &Catalog,
    slo: &Slo,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(i64, f64)> {
    let windows = alert_windows_with(slo.period.nominal(), &catalog.alert_windows);
    let plan = plan(&[(slo, windows)]);
    let period = slo.period.nominal();
    let Some((_, query)) = plan.queries.iter().find(|(w, _)| *w == period) else {
        return Vec::new();
    };
    let budget = slo.error_budget();
    let Ok(series) = source
        .range(query, start.timestamp(), end.timestamp(), BURN_DOWN_STEP)
        .await
    else {
        return Vec::new();
    };
    series
        .iter()
        .filter(|s| s.labels.get(LABEL_PART).map(String::as_str) == Some("ratio"))
        .flat_map(|s| s.points.iter())
        .filter(|(_, ratio)| ratio.is_finite())
        .map(|(t, ratio)| (*t, 1.0 - ratio / budget))
        .collect()
}

/// Firings of SLO alerts during `[start, end)`, by service.
pub(super) async fn alerts(
    source: &dyn QuerySource,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<(String, AlertFiring)>, CollectError> {
    let series = source
        .range(
            r#"ALERTS{alertstate="firing",slo_service!=""}"#,
            start.timestamp(),
            end.timestamp() - 1,
            ALERTS_STEP,
        )
        .await
        .map_err(|e: SourceError| CollectError::Prometheus(describe(&e)))?;
    let step = ALERTS_STEP.as_secs() as i64;
    let mut firings = Vec::new();
    for s in &series {
        let label = |name: &str| s.labels.get(name).cloned().unwrap_or_default();
        let mut run: Option<(i64, i64)> = None;
        let close = |(first, last): (i64, i64), firings: &mut Vec<(String, AlertFiring)>| {
            firings.push((
                label("slo_service"),
                AlertFiring {
                    alertname: label("alertname"),
                    slo: label("slo_name"),
                    severity: label("slo_severity"),
                    started: Utc.timestamp_opt(first, 0).single().unwrap_or_default(),
                    duration: Duration::from_secs((last - first + step).max(0) as u64),
                },
            ));
        };
        for (t, _) in &s.points {
            run = match run {
                Some((first, last)) if *t - last <= step => Some((first, *t)),
                Some(done) => {
                    close(done, &mut firings);
                    Some((*t, *t))
                }
                None => Some((*t, *t)),
            };
        }
        if let Some(done) = run {
            close(done, &mut firings);
        }
    }
    firings.sort_by_key(|f| f.1.started);
    Ok(firings)
}

/// The verdicts recorded for `service` in `[start, end)`, newest first, and their count.
async fn rollouts(
    store: Arc<Store>,
    service: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(Vec<GatedRollout>, usize), CollectError> {
    let service = service.to_string();
    let task = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let mut filter = HistoryFilter {
            service: Some(service),
            limit: 500,
            ..HistoryFilter::default()
        };
        let (mut kept, mut total) = (Vec::new(), 0);
        'pages: loop {
            let page = store.list(&filter)?;
            for row in page.verdicts {
                if row.recorded_at < start {
                    break 'pages;
                }
                if row.recorded_at >= end {
                    continue;
                }
                total += 1;
                if kept.len() < MAX_ROLLOUTS {
                    kept.push(GatedRollout {
                        id: row.verdict.id,
                        at: row.recorded_at,
                        kind: row.verdict.kind,
                        verdict: row.verdict.verdict,
                        summary: row.verdict.summary,
                    });
                }
            }
            match page.next {
                Some(next) => filter.before = Some(next),
                None => break,
            }
        }
        Ok((kept, total))
    });
    match task.await {
        Ok(result) => Ok(result?),
        Err(e) => Err(CollectError::History(StoreError::Unwritable {
            path: "history".into(),
            operation: "report",
            reason: format!("the reading task stopped: {e}"),
        })),
    }
}
