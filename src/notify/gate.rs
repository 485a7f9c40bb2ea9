//! After a gate's verdict is recorded: decide whether anybody must be told, and queue what
//! tells them.
//!
//! Notifications go out on changes of outcome per subject (a rollout, or a service's SLO
//! gate), never on every ask, so Argo asking every minute does not spam:
//!
//! | told last            | now          | queued                                               |
//! |----------------------|--------------|------------------------------------------------------|
//! | nothing, pass, inconclusive | fail  | PagerDuty trigger + Slack, where routed               |
//! | fail                 | fail         | nothing (the alert is open)                          |
//! | fail                 | inconclusive | nothing (the alert stays open until a pass)          |
//! | fail                 | pass         | PagerDuty resolve + Slack "passes again", wherever the failure went |
//! | nothing, pass        | inconclusive | Slack, where routed                                  |
//! | inconclusive         | inconclusive | nothing                                              |
//! | inconclusive         | pass         | nothing (the state moves, so the next one is told)   |
//!
//! The state moves and the messages are queued in one transaction
//! ([`Store::notify_transition`]); the decision and the transition are serialised, and each
//! message's key (`notify/<subject>/<verdict id>/<channel>/<target>`) is unique to the
//! transition, so a repeat is never a second message.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::config::{MatchConfig, NotifySettings, Route, Severity};
use super::event::{Change, Judged};
use super::{DispatcherHandle, pagerduty, slack};
use crate::store::{Channel, NewMessage, Store, StoreError};
use crate::verdict::{Outcome, VerdictKind};

/// How many times [`GateNotifier::notify`] decides again after other replicas moved the state.
const MAX_DECISIONS: usize = 8;

/// Turns recorded verdicts into queued notifications.
pub struct GateNotifier {
    /// The outbox and the notified states.
    store: Arc<Store>,
    /// Routes, names of webhooks and routing keys, status page.
    settings: Arc<NotifySettings>,
    /// Woken after something was queued.
    dispatcher: DispatcherHandle,
    /// Serialises read-decide-write per process: two concurrent asks of the same rollout must
    /// not both see "not told yet".
    deciding: Mutex<()>,
}

/// What [`GateNotifier::notify`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// No change of outcome: nothing stored.
    Unchanged,
    /// The state moved; this many new messages were queued (0 when nothing is routed).
    Queued(usize),
}

impl GateNotifier {
    /// A notifier writing to `store` and waking `dispatcher`.
    pub fn new(
        store: Arc<Store>,
        settings: Arc<NotifySettings>,
        dispatcher: DispatcherHandle,
    ) -> GateNotifier {
        GateNotifier {
            store,
            settings,
            dispatcher,
            deciding: Mutex::new(()),
        }
    }

    /// Decides what `judged` changes and queues the messages (blocking: a store write).
    ///
    /// Another replica on the same PostgreSQL may move the subject's state between the read
    /// and the write: the write is then refused ([`Store::notify_transition_from`]) and the
    /// decision is taken again on what that replica wrote, so each change is told once in all.
    pub fn notify(&self, judged: &Judged, now: DateTime<Utc>) -> Result<Told, StoreError> {
        let subject = judged.subject();
        let _one_at_a_time = self.deciding.lock().unwrap_or_else(|p| p.into_inner());
        // Each lost race means another writer moved the state: a handful is plenty.
        for _ in 0..MAX_DECISIONS {
            if let Some(told) = self.decide(judged, &subject, now)? {
                return Ok(told);
            }
            tracing::debug!(%subject, "notification state moved by another replica; deciding again");
        }
        Err(StoreError::Contended {
            operation: "notify",
            key: subject,
        })
    }

    /// One read-decide-write; `None` when the state moved before the write.
    fn decide(
        &self,
        judged: &Judged,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Told>, StoreError> {
        let last = self.store.last_notified(subject)?;
        let outcome = judged.verdict.verdict;
        let id = &judged.verdict.id;
        let change = match (last.as_ref().map(|(o, _)| *o), outcome) {
            (Some(Outcome::Fail), Outcome::Fail | Outcome::Inconclusive) => None,
            (_, Outcome::Fail) => Some(Change::Failed),
            (Some(Outcome::Fail), Outcome::Pass) => Some(Change::Recovered),
            (Some(Outcome::Inconclusive), Outcome::Inconclusive) => None,
            (_, Outcome::Inconclusive) => Some(Change::Inconclusive),
            (Some(Outcome::Inconclusive), Outcome::Pass) => {
                return Ok(self
                    .store
                    .notify_transition_from(subject, last.as_ref(), outcome, id, &[], now)?
                    .map(|_| Told::Queued(0)));
            }
            (None | Some(Outcome::Pass), Outcome::Pass) => None,
        };
        let Some(change) = change else {
            return Ok(Some(Told::Unchanged));
        };
        let messages = match change {
            Change::Recovered => {
                let failed_id = last.as_ref().map(|(_, id)| id.clone()).unwrap_or_default();
                self.recovery(judged, subject, &failed_id)?
            }
            _ => self.routed(judged, change, subject),
        };
        let Some(queued) = self.store.notify_transition_from(
            subject,
            last.as_ref(),
            outcome,
            id,
            &messages,
            now,
        )?
        else {
            return Ok(None);
        };
        let new = queued
            .iter()
            .filter(|q| matches!(q, crate::store::Enqueued::New(_)))
            .count();
        if new > 0 {
            self.dispatcher.wake();
        }
        tracing::info!(%subject, outcome = %outcome, queued = new, "notification state changed");
        Ok(Some(Told::Queued(new)))
    }

    /// The messages of a failure or an inconclusive verdict, by the routes.
    fn routed(&self, judged: &Judged, change: Change, subject: &str) -> Vec<NewMessage> {
        let severity = judged.severity();
        let status_url = self.settings.status_url.as_deref();
        let mut slack_targets = BTreeSet::new();
        let mut pagerduty_targets = BTreeSet::new();
        for route in matching(&self.settings.routes, judged, severity) {
            if let Some(s) = &route.slack {
                slack_targets.insert((s.webhook.clone(), s.channel.clone()));
            }
            // PagerDuty is for failures only: an inconclusive gate pages nobody.
            if let Some(p) = &route.pagerduty
                && change == Change::Failed
            {
                pagerduty_targets.insert(p.routing_key.clone());
            }
        }
        let mut messages = Vec::new();
        for key in pagerduty_targets {
            let event = pagerduty::trigger(judged, status_url, &self.settings.pagerduty_source);
            messages.push(self.message(
                judged,
                change,
                subject,
                Channel::PagerDuty,
                &key,
                None,
                &event,
            ));
        }
        for (webhook, channel) in slack_targets {
            let body = slack::message(judged, change, status_url, channel.as_deref());
            messages.push(self.message(
                judged,
                change,
                subject,
                Channel::Slack,
                &webhook,
                channel.as_deref(),
                &body,
            ));
        }
        messages
    }

    /// The messages ending a failure: a resolve and a Slack message wherever its messages went.
    fn recovery(
        &self,
        judged: &Judged,
        subject: &str,
        failed_id: &str,
    ) -> Result<Vec<NewMessage>, StoreError> {
        let told = self
            .store
            .outbox_with_prefix(&format!("notify/{subject}/{failed_id}/"))?;
        let status_url = self.settings.status_url.as_deref();
        let mut messages = Vec::new();
        for row in told {
            match row.channel {
                Channel::PagerDuty => {
                    let event = pagerduty::resolve(judged);
                    messages.push(self.message(
                        judged,
                        Change::Recovered,
                        subject,
                        Channel::PagerDuty,
                        &row.target,
                        None,
                        &event,
                    ));
                }
                Channel::Slack => {
                    let channel = serde_json::from_slice::<Value>(&row.payload)
                        .ok()
                        .and_then(|v| v.get("channel").and_then(Value::as_str).map(String::from));
                    let body =
                        slack::message(judged, Change::Recovered, status_url, channel.as_deref());
                    messages.push(self.message(
                        judged,
                        Change::Recovered,
                        subject,
                        Channel::Slack,
                        &row.target,
                        channel.as_deref(),
                        &body,
                    ));
                }
                Channel::Email => {}
            }
        }
        Ok(messages)
    }

    #[allow(clippy::too_many_arguments)]
    fn message(
        &self,
        judged: &Judged,
        change: Change,
        subject: &str,
        channel: Channel,
        target: &str,
        slack_channel: Option<&str>,
        body: &Value,
    ) -> NewMessage {
        let mut key = format!("notify/{subject}/{}/{channel}/{target}", judged.verdict.id);
        let mut to = target.to_string();
        if let Some(c) = slack_channel {
            key.push('/');
            key.push_str(c);
            to = format!("{target} {c}");
        }
        NewMessage {
            key,
            channel,
            target: target.to_string(),
            summary: format!("{} -> {channel} {to}", judged.title(change)),
            payload: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

/// The routes a verdict takes: the first match, and the following ones while a matched route
/// says `continue`.
pub fn matching<'a>(routes: &'a [Route], judged: &Judged, severity: Severity) -> Vec<&'a Route> {
    let mut out = Vec::new();
    for route in routes {
        if matches(&route.matches, judged, severity) {
            out.push(route);
            if !route.continue_matching {
                break;
            }
        }
    }
    out
}

fn matches(m: &MatchConfig, judged: &Judged, severity: Severity) -> bool {
    let v = &judged.verdict;
    m.team
        .as_ref()
        .is_none_or(|t| judged.team.as_ref() == Some(t))
        && m.service.as_ref().is_none_or(|s| *s == v.service)
        && m.kind.is_none_or(|k: VerdictKind| k == v.kind)
        && m.verdicts.as_ref().is_none_or(|o| o.contains(&v.verdict))
        && m.severities.as_ref().is_none_or(|s| s.contains(&severity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Dispatcher;
    use crate::notify::config::{PagerDutyRoute, Secret, SlackRoute};
    use crate::notify::event::Rollout;
    use crate::verdict::{Verdict, Window};

    fn notifier(routes: Vec<Route>) -> GateNotifier {
        notifier_on(Arc::new(Store::open_in_memory().unwrap()), routes)
    }

    fn notifier_on(store: Arc<Store>, routes: Vec<Route>) -> GateNotifier {
        let settings = NotifySettings {
            slack_webhooks: [("ops".to_string(), Secret::new("https://x"))].into(),
            routing_keys: [("ops".to_string(), Secret::new("k"))].into(),
            routes,
            ..NotifySettings::default()
        };
        let (_, wake) = Dispatcher::new(store.clone(), vec![], settings.backoff, settings.timeout);
        GateNotifier::new(store, Arc::new(settings), wake)
    }

    fn route(m: MatchConfig) -> Route {
        Route {
            matches: m,
            slack: Some(SlackRoute {
                webhook: "ops".into(),
                channel: Some("#ops".into()),
            }),
            pagerduty: Some(PagerDutyRoute {
                routing_key: "ops".into(),
            }),
            continue_matching: false,
        }
    }

    fn judged(id: &str, outcome: Outcome) -> Judged {
        Judged {
            verdict: Verdict {
                id: id.into(),
                kind: VerdictKind::Canary,
                verdict: outcome,
                score: 0.0,
                summary: "s".into(),
                service: "checkout".into(),
                window: Window {
                    start: "a".into(),
                    end: "b".into(),
                },
                checks: vec![],
                evaluated_at: "2026-01-01T00:00:00Z".into(),
            },
            team: Some("payments".into()),
            rollout: Rollout::Canary {
                baseline: "a1".into(),
                canary: "b2".into(),
            },
            slos: vec![],
        }
    }

    fn channels(n: &GateNotifier, prefix: &str) -> Vec<(Channel, String)> {
        n.store
            .outbox_with_prefix(prefix)
            .unwrap()
            .into_iter()
            .map(|m| {
                let v: Value = serde_json::from_slice(&m.payload).unwrap();
                let action = v["event_action"].as_str().unwrap_or("slack").to_string();
                (m.channel, action)
            })
            .collect()
    }

    #[test]
    fn only_changes_of_outcome_are_told_and_a_recovery_goes_where_the_failure_went() {
        let n = notifier(vec![route(MatchConfig::default())]);
        let now = Utc::now();
        assert_eq!(
            n.notify(&judged("p0", Outcome::Pass), now).unwrap(),
            Told::Unchanged
        );
        assert_eq!(
            n.notify(&judged("f1", Outcome::Fail), now).unwrap(),
            Told::Queued(2)
        );
        assert_eq!(
            n.notify(&judged("f2", Outcome::Fail), now).unwrap(),
            Told::Unchanged
        );
        assert_eq!(
            n.notify(&judged("i3", Outcome::Inconclusive), now).unwrap(),
            Told::Unchanged
        );
        assert_eq!(
            n.notify(&judged("p4", Outcome::Pass), now).unwrap(),
            Told::Queued(2)
        );
        assert_eq!(
            n.notify(&judged("p5", Outcome::Pass), now).unwrap(),
            Told::Unchanged
        );
        let subject = "notify/canary/checkout/a1..b2";
        assert_eq!(
            channels(&n, &format!("{subject}/f1/")),
            [
                (Channel::PagerDuty, "trigger".into()),
                (Channel::Slack, "slack".into())
            ]
        );
        assert_eq!(
            channels(&n, &format!("{subject}/p4/")),
            [
                (Channel::PagerDuty, "resolve".into()),
                (Channel::Slack, "slack".into())
            ]
        );
        let slack = n
            .store
            .outbox_with_prefix(&format!("{subject}/p4/slack"))
            .unwrap();
        let body: Value = serde_json::from_slice(&slack[0].payload).unwrap();
        assert_eq!(body["channel"], "#ops");
        assert_eq!(slack[0].target, "ops");
    }

    #[test]
    fn an_inconclusive_gate_goes_to_slack_only_and_routes_match_on_their_fields() {
        let only_fail = MatchConfig {
            team: Some("payments".into()),
            verdicts: Some(vec![Outcome::Fail]),
            ..MatchConfig::default()
        };
        let other_team = MatchConfig {
            team: Some("search".into()),
            ..MatchConfig::default()
        };
        let n = notifier(vec![
            route(other_team),
            route(only_fail),
            route(MatchConfig::default()),
        ]);
        let now = Utc::now();
        // The first matching route (only_fail) does not take inconclusive; the catch-all does,
        // and it pages nobody for an inconclusive gate.
        assert_eq!(
            n.notify(&judged("i1", Outcome::Inconclusive), now).unwrap(),
            Told::Queued(1)
        );
        assert_eq!(channels(&n, "notify/"), [(Channel::Slack, "slack".into())]);
        assert_eq!(
            n.notify(&judged("f2", Outcome::Fail), now).unwrap(),
            Told::Queued(2)
        );
    }

    #[test]
    fn two_replicas_on_one_postgres_tell_each_change_once() {
        let config = crate::store::testing::postgres_config();
        let replicas: Vec<Arc<GateNotifier>> = (0..2)
            .map(|_| {
                let store = Arc::new(Store::open_postgres(&config).unwrap());
                Arc::new(notifier_on(store, vec![route(MatchConfig::default())]))
            })
            .collect();
        let outcomes = [Outcome::Fail, Outcome::Fail, Outcome::Pass, Outcome::Fail];
        for (round, outcome) in outcomes.into_iter().enumerate() {
            // Both replicas judge the same change at once, each with its own verdict.
            let start = Arc::new(std::sync::Barrier::new(2));
            let told: Vec<Told> = replicas
                .iter()
                .enumerate()
                .map(|(r, n)| {
                    let (n, start) = (n.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        n.notify(&judged(&format!("v{round}r{r}"), outcome), Utc::now())
                            .unwrap()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            let queued = told.iter().filter(|t| **t == Told::Queued(2)).count();
            let expected = usize::from(round != 1);
            assert_eq!(queued, expected, "round {round} ({outcome}): {told:?}");
        }
        // Trigger, resolve, trigger: three changes, two messages each, in all.
        assert_eq!(channels(&replicas[1], "notify/").len(), 6);
    }
}
