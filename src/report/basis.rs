//! The figures every team's report reads, gathered once per report run for the whole catalog.
//!
//! A report run makes one report per team. Asked team by team, Prometheus would answer the
//! same `ALERTS` range once per team, and every service's week, previous week and burn-down
//! once per service and SLO: at 1,000 services some 26,000 queries. Here the run's first team
//! gathers, for every SLO that the catalog evaluation at the week's end read from recording
//! rules (`evaluate::rules`), the same figures from those recordings in a few catalog-wide
//! queries, and the other teams reuse them:
//!
//! - the week's and the previous week's SLI and events: `avg_over_time` of the shortest
//!   window's recorded error rate, event rate and error ratio over the week (the mean of the
//!   recorded 5-minute rates is the week's rate: events = mean rate x week; SLI = 1 - mean
//!   errors / mean events, or 1 - mean ratio for SLIs that count no events);
//! - the period's events at the week's end (the budget consumed this week is the week's bad
//!   events over the period's budget in events);
//! - the burn-down: the recorded period ratio as one range query, hourly through the week.
//!
//! Each is one query per distinct shortest window (or period) for every SLO at once. SLOs not
//! read from rules keep the per-service queries (`collect::collect_service`). The recorded
//! figures are means of the rules' 5-minute rates, so they differ from the raw queries' exact
//! `increase` over the week at the week's edges only (a burst within five minutes of an edge is
//! partly counted in the next week).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::collect::{AlertFiring, BURN_DOWN_STEP, CollectError, Sources, alerts};
use super::week::IsoWeek;
use crate::conventions::{
    LABEL_SERVICE, LABEL_SLO, sli_error_rate_metric, sli_error_ratio_metric, sli_total_rate_metric,
};
use crate::evaluate::catalog::{CatalogStatus, Wanted};
use crate::evaluate::describe;
use crate::source::prometheus::{Sample, Series, SourceError};
use crate::spec::windows::alert_windows_with;
use crate::spec::{Catalog, PromDuration, Slo};

/// One SLO's SLI over a week (or another window), as a report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekFigures {
    /// The window measured.
    pub window: PromDuration,
    /// Good share over it; `None` without data (`reason` says why).
    pub sli: Option<f64>,
    /// Events over it, for SLIs that count them.
    pub events: Option<f64>,
    /// Why `sli` is missing.
    pub reason: String,
}

/// One SLO's figures read from its recording rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedWeek {
    /// This week.
    pub week: WeekFigures,
    /// The week before.
    pub previous: WeekFigures,
    /// Events over the SLO's period at the week's end.
    pub period_events: Option<f64>,
    /// `(unix seconds, budget remaining)` hourly through the week.
    pub burn_down: Vec<(i64, f64)>,
}

/// What one report run gathers once.
#[derive(Debug, Clone)]
pub struct WeekBasis {
    /// Every SLO's status at the week's end (the period figures), and where each came from.
    pub at_end: Arc<CatalogStatus>,
    /// SLO alert firings during the week, by service.
    pub firings: Vec<(String, AlertFiring)>,
    /// Figures of the SLOs read from rules, by (service, SLO).
    pub recorded: HashMap<(String, String), RecordedWeek>,
}

/// A basis with the catalog it was made of and its week's end (unix seconds).
type Gathered = (Arc<Catalog>, i64, Arc<WeekBasis>);

/// One catalog-wide query's rows by (service, SLO), or why it failed.
type Rows = Result<HashMap<(String, String), f64>, String>;

/// The basis of the run's week, made by the first team's report and handed to the others.
/// Held across the gathering, so teams asking meanwhile wait for it rather than repeat it.
#[derive(Default)]
pub struct BasisCache {
    slot: tokio::sync::Mutex<Option<Gathered>>,
}

impl BasisCache {
    /// The basis for `week` of `catalog` (compared by identity: a reload starts afresh).
    pub async fn get(
        &self,
        sources: &Sources,
        catalog: &Arc<Catalog>,
        week: IsoWeek,
        tz: Tz,
    ) -> Result<Arc<WeekBasis>, CollectError> {
        let (start, end) = week.bounds(tz);
        let mut slot = self.slot.lock().await;
        if let Some((c, e, basis)) = slot.as_ref()
            && Arc::ptr_eq(c, catalog)
            && *e == end.timestamp()
        {
            return Ok(basis.clone());
        }
        // The catalog at the week's end, once for the run: the status cache's TTL (15 s) is
        // shorter than a run of a hundred teams, which would evaluate it again and again.
        let at_end = sources
            .status_cache
            .statuses(
                &sources.prometheus,
                catalog,
                sources.policy,
                Wanted::At(end.timestamp()),
            )
            .await
            .map_err(CollectError::Prometheus)?;
        let basis = Arc::new(gather(sources, catalog, week, tz, start, end, at_end).await?);
        *slot = Some((catalog.clone(), end.timestamp(), basis.clone()));
        Ok(basis)
    }
}

/// An SLO read from rules: its key, shortest recorded window and period.
struct Recorded<'a> {
    key: (String, String),
    slo: &'a Slo,
    shortest: PromDuration,
    period: PromDuration,
}

async fn gather(
    sources: &Sources,
    catalog: &Catalog,
    week: IsoWeek,
    tz: Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    at_end: Arc<CatalogStatus>,
) -> Result<WeekBasis, CollectError> {
    let source = sources.prometheus.as_ref();
    let firings = alerts(source, start, end).await?;
    let slos: Vec<Recorded> = catalog
        .services
        .iter()
        .flat_map(|s| s.slos.iter().map(move |slo| (s, slo)))
        .filter(|(s, slo)| at_end.provenance.source_of(&s.service, &slo.name) == "rules")
        .filter_map(|(s, slo)| {
            let windows = alert_windows_with(slo.period.nominal(), &catalog.alert_windows);
            Some(Recorded {
                key: (s.service.clone(), slo.name.clone()),
                slo,
                shortest: windows.distinct_windows().into_iter().next()?,
                period: slo.period.nominal(),
            })
        })
        .collect();
    if slos.is_empty() {
        return Ok(WeekBasis {
            at_end,
            firings,
            recorded: HashMap::new(),
        });
    }
    let (prev_start, _) = week.previous().bounds(tz);
    let this_week = secs(end.timestamp() - start.timestamp());
    let last_week = secs(start.timestamp() - prev_start.timestamp());
    let shortest: BTreeSet<PromDuration> = slos.iter().map(|r| r.shortest).collect();
    let pairs: BTreeSet<(PromDuration, PromDuration)> =
        slos.iter().map(|r| (r.shortest, r.period)).collect();
    let periods: BTreeSet<PromDuration> = slos.iter().map(|r| r.period).collect();

    // Instant queries: per shortest window, the three means over each week; per (shortest,
    // period), the event rate over the period.
    let mut asked: Vec<(Key, String, i64)> = Vec::new();
    for s in &shortest {
        let text = s.to_string();
        for (week_key, window, at) in [
            (Which::ThisWeek, this_week, end.timestamp()),
            (Which::LastWeek, last_week, start.timestamp()),
        ] {
            for (part, metric) in [
                (Part::Errors, sli_error_rate_metric(&text)),
                (Part::Total, sli_total_rate_metric(&text)),
                (Part::Ratio, sli_error_ratio_metric(&text)),
            ] {
                asked.push((
                    Key::Mean(*s, week_key, part),
                    format!("avg_over_time({metric}[{window}])"),
                    at,
                ));
            }
        }
    }
    for (s, p) in &pairs {
        asked.push((
            Key::PeriodEvents(*s, *p),
            format!(
                "avg_over_time({}[{p}])",
                sli_total_rate_metric(&s.to_string())
            ),
            end.timestamp(),
        ));
    }
    let answers = futures::future::join_all(
        asked
            .iter()
            .map(|(_, query, at)| source.instant(query, *at)),
    )
    .await;
    let mut means: HashMap<Key, Rows> = HashMap::new();
    for ((key, _, _), answer) in asked.into_iter().zip(answers) {
        means.insert(key, by_slo(answer));
    }
    let burn_downs = futures::future::join_all(periods.iter().map(|p| {
        let query = sli_error_ratio_metric(&p.to_string());
        async move {
            let series = source
                .range(&query, start.timestamp(), end.timestamp(), BURN_DOWN_STEP)
                .await;
            (*p, series)
        }
    }))
    .await;
    let burn_downs: BTreeMap<PromDuration, Vec<Series>> = burn_downs
        .into_iter()
        .map(|(p, series)| (p, series.unwrap_or_default()))
        .collect();

    let recorded = slos
        .iter()
        .map(|r| {
            let figures =
                |which: Which, window: PromDuration| week_figures(r, &means, which, window);
            let period_events = means
                .get(&Key::PeriodEvents(r.shortest, r.period))
                .and_then(|m| m.as_ref().ok())
                .and_then(|m| m.get(&r.key))
                .map(|rate| rate * r.period.as_secs() as f64);
            let budget = r.slo.error_budget();
            let burn_down = burn_downs
                .get(&r.period)
                .into_iter()
                .flatten()
                .filter(|s| key_of(&s.labels).as_ref() == Some(&r.key))
                .flat_map(|s| s.points.iter())
                .filter(|(_, ratio)| ratio.is_finite())
                .map(|(t, ratio)| (*t, 1.0 - ratio / budget))
                .collect();
            let value = RecordedWeek {
                week: figures(Which::ThisWeek, this_week),
                previous: figures(Which::LastWeek, last_week),
                period_events,
                burn_down,
            };
            (r.key.clone(), value)
        })
        .collect();
    Ok(WeekBasis {
        at_end,
        firings,
        recorded,
    })
}

/// Which week a mean covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Which {
    ThisWeek,
    LastWeek,
}

/// Which recorded metric a mean is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Errors,
    Total,
    Ratio,
}

/// One catalog-wide query's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// A mean over a week of a shortest window's recording.
    Mean(PromDuration, Which, Part),
    /// The event rate over a period, from a shortest window's recording.
    PeriodEvents(PromDuration, PromDuration),
}

fn secs(seconds: i64) -> PromDuration {
    PromDuration::from_secs(seconds.max(1) as u64)
}

fn key_of(labels: &BTreeMap<String, String>) -> Option<(String, String)> {
    Some((
        labels.get(LABEL_SERVICE)?.clone(),
        labels.get(LABEL_SLO)?.clone(),
    ))
}

/// A query's rows by (service, SLO); rows of one SLO are summed (there is one unless the
/// rules are loaded twice, which the catalog evaluation has already refused).
fn by_slo(answer: Result<Vec<Sample>, SourceError>) -> Rows {
    let mut out = HashMap::new();
    for sample in answer.map_err(|e| describe(&e))? {
        if let Some(key) = key_of(&sample.labels) {
            out.insert(key, sample.value);
        }
    }
    Ok(out)
}

/// One SLO's SLI and events over a week from the means.
fn week_figures(
    r: &Recorded,
    means: &HashMap<Key, Rows>,
    which: Which,
    window: PromDuration,
) -> WeekFigures {
    let mean = |part: Part| -> Result<Option<f64>, String> {
        match means.get(&Key::Mean(r.shortest, which, part)) {
            Some(Ok(values)) => Ok(values.get(&r.key).copied().filter(|v| v.is_finite())),
            Some(Err(why)) => Err(why.clone()),
            None => Ok(None),
        }
    };
    let counts_events = r.slo.sli.total_rate().is_some();
    let result = if counts_events {
        mean(Part::Errors)
            .and_then(|errors| Ok((errors, mean(Part::Total)?)))
            .map(|(errors, total)| match (errors, total) {
                (Some(e), Some(t)) if t > 0.0 => {
                    (Some(1.0 - e / t), Some(t * window.as_secs() as f64))
                }
                (_, Some(0.0)) => (None, Some(0.0)),
                _ => (None, None),
            })
    } else {
        mean(Part::Ratio).map(|ratio| (ratio.map(|r| 1.0 - r), None))
    };
    match result {
        Ok((Some(sli), events)) => WeekFigures {
            window,
            sli: Some(sli.clamp(0.0, 1.0)),
            events,
            reason: String::new(),
        },
        Ok((None, Some(_))) => WeekFigures {
            window,
            sli: None,
            events: Some(0.0),
            reason: format!("{window} window: no traffic (0 events)"),
        },
        Ok((None, None)) => WeekFigures {
            window,
            sli: None,
            events: None,
            reason: format!("{window} window: the recording rules hold no data for it"),
        },
        Err(why) => WeekFigures {
            window,
            sli: None,
            events: None,
            reason: format!("{window} window: {why}"),
        },
    }
}

impl WeekFigures {
    /// The figures of an evaluation whose period was set to the window measured (the
    /// per-service road: `collect::collect_service`).
    pub fn of(status: &crate::analysis::slo::SloStatus) -> WeekFigures {
        let window = PromDuration::parse(&status.period).unwrap_or(PromDuration::from_secs(1));
        WeekFigures {
            window,
            sli: status.sli.get(&window).copied(),
            events: status.events.get(&window).copied(),
            reason: status.reason.clone(),
        }
    }
}

#[cfg(test)]
#[path = "basis_tests.rs"]
mod tests;
