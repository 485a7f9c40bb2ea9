//! When reports go out, and making sure each goes out once.
//!
//! At start and at every tick of the cron schedule (read in the report's zone), the latest
//! scheduled time at or before now decides the week: the last full ISO week before that time.
//! Each team's report for it is enqueued in the outbox under the key
//! `report/<team>/<YYYY-Www>`, unless that key is already there (in any state). So:
//! - a run missed while slogate was down is made when it starts again (once: for the latest
//!   week only, not for every week it missed);
//! - a report is never enqueued, hence never sent, twice, whatever the restarts;
//! - a failing SMTP server leaves the report pending in the outbox, and the dispatcher retries
//!   it with its backoff.
//!
//! A report that cannot be gathered (Prometheus down) is not enqueued: the task tries again
//! every [`RETRY_INTERVAL`] rather than mail a report of missing data.
//!
//! With several replicas on PostgreSQL, one at a time runs a tick (`store::jobs::Job::Report`);
//! a replica that finds the job taken looks again after [`RETRY_INTERVAL`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::collect::{Sources, teams};
use super::config::ReportSettings;
use super::week::IsoWeek;
use super::{ReportError, prepare};
use crate::notify::DispatcherHandle;
use crate::spec::Catalog;
use crate::store::jobs::{Job, run_alone};
use crate::store::{Channel, Enqueued, MessageState, NewMessage, Store, StoreError};

/// How soon a report that could not be gathered is tried again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(300);
/// The longest the task sleeps: it looks again at least this often, so a clock change or a
/// suspended host never makes it miss a tick.
pub const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// The outbox key of `team`'s report for `week`.
pub fn report_key(team: &str, week: IsoWeek) -> String {
    format!("report/{team}/{week}")
}

/// The week whose report is due at `now`: the last full week before the latest scheduled
/// time at or before `now`. `None` when the schedule has no time before `now`.
pub fn due_week(settings: &ReportSettings, now: DateTime<Utc>) -> Option<IsoWeek> {
    let local = now.with_timezone(&settings.timezone);
    let tick = settings
        .schedule
        .find_previous_occurrence(&local, true)
        .ok()?;
    Some(IsoWeek::last_full_before(
        tick.with_timezone(&Utc),
        settings.timezone,
    ))
}

/// The wait from `now` to the next scheduled time, at most [`MAX_SLEEP`].
pub fn until_next_tick(settings: &ReportSettings, now: DateTime<Utc>) -> Duration {
    let local = now.with_timezone(&settings.timezone);
    settings
        .schedule
        .find_next_occurrence(&local, false)
        .ok()
        .and_then(|next| (next.with_timezone(&Utc) - now).to_std().ok())
        .unwrap_or(MAX_SLEEP)
        .min(MAX_SLEEP)
}

/// What happened to one team's report.
#[derive(Debug, Clone, PartialEq)]
pub enum TeamOutcome {
    /// Stored in the outbox now.
    Enqueued {
        /// The outbox row.
        id: i64,
    },
    /// The key was already in the outbox: nothing done.
    AlreadyQueued {
        /// Where that row stands.
        state: MessageState,
    },
    /// No recipient is configured for the team (nor a default).
    NoRecipients,
    /// The report could not be made; tried again later.
    Failed(String),
}

impl TeamOutcome {
    /// The reason of a [`TeamOutcome::Failed`].
    pub fn failed_reason(&self) -> Option<String> {
        match self {
            TeamOutcome::Failed(reason) => Some(reason.clone()),
            _ => None,
        }
    }
}

/// Everything the schedule needs to make and enqueue reports.
#[derive(Clone)]
pub struct Reporter {
    /// `report:` settings.
    pub settings: ReportSettings,
    /// Prometheus, history, gate policy.
    pub sources: Sources,
    /// The outbox.
    pub store: Arc<Store>,
}

impl Reporter {
    /// Enqueues every team's report for `week` that is not in the outbox yet.
    pub async fn enqueue_week(
        &self,
        catalog: &Arc<Catalog>,
        week: IsoWeek,
        now: DateTime<Utc>,
    ) -> Vec<(String, TeamOutcome)> {
        let mut outcomes = Vec::new();
        for team in teams(catalog).keys() {
            let outcome = match self.enqueue_team(catalog, team, week, now).await {
                Ok(o) => o,
                Err(e) => TeamOutcome::Failed(e.to_string()),
            };
            outcomes.push((team.clone(), outcome));
        }
        outcomes
    }

    async fn enqueue_team(
        &self,
        catalog: &Arc<Catalog>,
        team: &str,
        week: IsoWeek,
        now: DateTime<Utc>,
    ) -> Result<TeamOutcome, ReportError> {
        let key = report_key(team, week);
        let store = self.store.clone();
        let lookup = key.clone();
        if let Some(row) = blocking(move || store.outbox_by_key(&lookup)).await? {
            return Ok(TeamOutcome::AlreadyQueued { state: row.state });
        }
        let recipients = self.settings.recipients(team).to_vec();
        if recipients.is_empty() {
            return Ok(TeamOutcome::NoRecipients);
        }
        let prepared = prepare(
            &self.settings,
            &self.sources,
            catalog,
            team,
            week,
            &recipients,
            now,
        )
        .await?;
        let message = NewMessage {
            key,
            channel: Channel::Email,
            target: recipients
                .iter()
                .map(|m| m.email.to_string())
                .collect::<Vec<_>>()
                .join(","),
            summary: format!("weekly SLO report {week} for {team}"),
            payload: prepared.eml,
        };
        let store = self.store.clone();
        Ok(
            match blocking(move || store.enqueue(&message, now)).await? {
                Enqueued::New(id) => TeamOutcome::Enqueued { id },
                // Another process enqueued it meanwhile: the key keeps it to one.
                Enqueued::Duplicate(_) => TeamOutcome::AlreadyQueued {
                    state: MessageState::Pending,
                },
            },
        )
    }

    /// Enqueues what is due at `now`; returns the week (if any) and each team's outcome.
    pub async fn tick(
        &self,
        catalog: &Arc<Catalog>,
        now: DateTime<Utc>,
    ) -> Option<(IsoWeek, Vec<(String, TeamOutcome)>)> {
        let week = due_week(&self.settings, now)?;
        Some((week, self.enqueue_week(catalog, week, now).await))
    }
}

/// Runs the schedule until `shutdown`: at start and at every tick, enqueues the reports due
/// (see the module doc) and wakes the dispatcher. `catalog` gives the definitions in force.
pub async fn run(
    reporter: Reporter,
    catalog: impl Fn() -> Arc<Catalog> + Send + Sync,
    dispatcher: Option<DispatcherHandle>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let now = Utc::now();
        let mut retry_soon = false;
        // One replica at a time gathers the reports (`store::jobs`); the report keys keep them
        // to one each in any case.
        let definitions = catalog();
        let ran = run_alone(&reporter.store, Job::Report, || {
            reporter.tick(&definitions, now)
        })
        .await;
        let ticked = match ran {
            Ok(Some(ticked)) => ticked,
            Ok(None) => {
                // Looked at again soon: if the holder stops before it is done, this replica
                // takes over.
                tracing::debug!("another replica is making the weekly reports");
                retry_soon = true;
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask whether another replica makes the weekly reports; trying again");
                retry_soon = true;
                None
            }
        };
        if let Some((week, outcomes)) = ticked {
            for (team, outcome) in outcomes {
                match outcome {
                    TeamOutcome::Enqueued { id } => {
                        tracing::info!(%team, %week, id, "weekly report enqueued");
                        if let Some(d) = &dispatcher {
                            d.wake();
                        }
                    }
                    TeamOutcome::AlreadyQueued { state } => tracing::info!(%team, %week,
                        ?state, "weekly report already in the outbox; not made again"),
                    TeamOutcome::NoRecipients => tracing::warn!(%team, %week,
                        "no recipient for this team's weekly report (report.recipients)"),
                    TeamOutcome::Failed(reason) => {
                        retry_soon = true;
                        tracing::warn!(%team, %week, %reason,
                            "the weekly report could not be made; trying again");
                    }
                }
            }
        }
        let mut wait = until_next_tick(&reporter.settings, now);
        if retry_soon {
            wait = wait.min(RETRY_INTERVAL);
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(wait.max(Duration::from_secs(1))) => {}
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ReportError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(ReportError::Store(StoreError::Unwritable {
            path: "outbox".into(),
            operation: "report",
            reason: format!("the store task stopped: {e}"),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::slo::GatePolicy;
    use crate::evaluate::catalog::StatusCache;
    use crate::report::config::ReportConfig;
    use crate::source::{PrometheusSettings, PrometheusSource};

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn settings(yaml: &str) -> ReportSettings {
        serde_saphyr::from_str::<ReportConfig>(yaml)
            .unwrap()
            .settings()
            .unwrap()
    }

    #[test]
    fn a_run_missed_while_down_reports_the_same_week_when_slogate_comes_back() {
        let s = settings("timezone: Europe/Berlin");
        // Monday 16 February 2026, 09:00 in Berlin (08:00 UTC): week 7 is due.
        let on_time = due_week(&s, utc("2026-02-16T08:00:00Z")).unwrap();
        assert_eq!(on_time.to_string(), "2026-W07");
        // Down over Monday, back on Wednesday: still week 7 (and the same key), not week 8.
        let late = due_week(&s, utc("2026-02-18T13:00:00Z")).unwrap();
        assert_eq!(late, on_time);
        assert_eq!(report_key("payments", late), "report/payments/2026-W07");
        // A minute before Monday's run the due week is still the one before.
        let before = due_week(&s, utc("2026-02-16T07:59:00Z")).unwrap();
        assert_eq!(before.to_string(), "2026-W06");
    }

    #[test]
    fn weeks_follow_local_time_across_a_dst_change() {
        let s = settings("timezone: Europe/Berlin");
        // Summer time began on Sunday 29 March 2026: Monday 09:00 CEST is 07:00 UTC.
        let week = due_week(&s, utc("2026-03-30T07:00:00Z")).unwrap();
        assert_eq!(week.to_string(), "2026-W13");
        let (start, end) = week.bounds(s.timezone);
        assert_eq!(start, utc("2026-03-22T23:00:00Z"));
        assert_eq!(end, utc("2026-03-29T22:00:00Z"));
        // 07:59 CEST is before the run: the week before.
        let before = due_week(&s, utc("2026-03-30T05:59:00Z")).unwrap();
        assert_eq!(before.to_string(), "2026-W12");
        // The next tick is a week later at 09:00 local, i.e. 07:00 UTC, capped at MAX_SLEEP.
        assert_eq!(
            until_next_tick(&s, utc("2026-04-06T06:30:00Z")),
            Duration::from_secs(1800)
        );
        assert_eq!(until_next_tick(&s, utc("2026-03-31T07:00:00Z")), MAX_SLEEP);
    }

    #[test]
    fn a_custom_schedule_decides_the_week_from_its_own_latest_tick() {
        // Fridays 17:00 New York: the Friday's report covers the last full week before it.
        let s = settings("schedule: '0 17 * * 5'\ntimezone: America/New_York");
        let week = due_week(&s, utc("2026-02-23T12:00:00Z")).unwrap();
        // Latest tick: Friday 20 February 17:00 EST, in week 8; last full week: 7.
        assert_eq!(week.to_string(), "2026-W07");
    }

    fn reporter(store: Arc<Store>) -> Reporter {
        // Nothing listens on port 9 of loopback: any query fails at once.
        let prometheus = PrometheusSource::new(PrometheusSettings {
            url: "http://127.0.0.1:9".into(),
            retries: 0,
            ..PrometheusSettings::default()
        })
        .unwrap();
        Reporter {
            settings: settings("recipients: {default: [sre@example.com]}"),
            sources: Sources {
                prometheus: Arc::new(prometheus),
                store: Some(store.clone()),
                policy: GatePolicy::default(),
                status_cache: Arc::new(StatusCache::new(
                    Duration::from_secs(15),
                    Default::default(),
                )),
                basis: Default::default(),
            },
            store,
        }
    }

    fn catalog() -> Catalog {
        let text = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: checkout
team: payments
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{service="checkout",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="checkout"}[{{window}}]))
---
apiVersion: slogate/v1
kind: ServiceLevels
service: search
team: discovery
slos:
  - name: availability
    objective: 99.5
    sli:
      events:
        errors: sum(rate(http_requests_total{service="search",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="search"}[{{window}}]))
"#;
        let report =
            crate::spec::load_texts(&[(std::path::PathBuf::from("defs.yaml"), text.to_string())]);
        assert!(!report.has_errors(), "{:?}", report.diagnostics);
        report.catalog
    }

    #[tokio::test]
    async fn a_report_already_in_the_outbox_is_never_made_or_enqueued_again() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let week: IsoWeek = "2026-W07".parse().unwrap();
        let sent = NewMessage {
            key: report_key("payments", week),
            channel: Channel::Email,
            target: "sre@example.com".into(),
            summary: "weekly SLO report".into(),
            payload: b"the first one".to_vec(),
        };
        let Enqueued::New(id) = store.enqueue(&sent, Utc::now()).unwrap() else {
            panic!("a fresh store has no such key")
        };
        store.mark_sent(id, Utc::now()).unwrap();
        let r = reporter(store.clone());
        let outcomes = r.enqueue_week(&Arc::new(catalog()), week, Utc::now()).await;
        assert_eq!(outcomes.len(), 2, "{outcomes:?}");
        assert_eq!(
            outcomes[1],
            (
                "payments".to_string(),
                TeamOutcome::AlreadyQueued {
                    state: MessageState::Sent
                }
            )
        );
        // Prometheus is down, so the discovery report cannot be made: nothing is stored, and
        // the schedule tries again later.
        assert_eq!(outcomes[0].0, "discovery");
        let reason = outcomes[0].1.failed_reason().expect("discovery failed");
        assert!(reason.contains("Prometheus"), "{reason}");
        let rows = store.outbox_with_prefix("report/").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].payload, b"the first one");
    }

    #[tokio::test]
    async fn the_schedule_task_runs_once_at_start_and_stops_on_shutdown() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let catalog = Arc::new(catalog());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // Spawned as the server spawns it (so its future is Send).
        let task = tokio::spawn(run(
            reporter(store.clone()),
            move || catalog.clone(),
            None,
            async move {
                let _ = stopped.await;
            },
        ));
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the task stops on shutdown")
            .unwrap();
        // Prometheus was down at start: nothing was enqueued.
        assert!(store.outbox_with_prefix("report/").unwrap().is_empty());
    }
}
