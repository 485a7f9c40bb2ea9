//! PagerDuty Events API v2 events: `trigger` when a gate fails (the SLO gate fails on a
//! page-tier burn too, as `critical`), `resolve` when it passes again.
//!
//! The `dedup_key` is per service and rollout ([`Judged::dedup_key`]), so a repeated trigger
//! updates the open alert instead of opening another, and the resolve closes it. The stored
//! event has no `routing_key`: it is the secret, and the transport adds it when it sends
//! ([`with_routing_key`]).

use serde_json::{Map, Value, json};

use super::event::{Judged, truncate};

/// Longest `payload.summary` PagerDuty accepts.
pub const SUMMARY_MAX: usize = 1024;

/// The trigger event for a failed gate (without its routing key).
pub fn trigger(judged: &Judged, status_url: Option<&str>, source: &str) -> Value {
    let v = &judged.verdict;
    let mut details = Map::new();
    details.insert("verdict_id".into(), json!(v.id));
    details.insert("verdict".into(), json!(v.verdict));
    details.insert("gate".into(), json!(judged.what()));
    details.insert("summary".into(), json!(v.summary));
    details.insert("window".into(), json!(v.window));
    details.insert("score".into(), json!(v.score));
    details.insert("checks".into(), json!(judged.problems()));
    let numbers: Map<String, Value> = judged
        .numbers()
        .into_iter()
        .map(|(k, val)| (k, json!(val)))
        .collect();
    details.insert("numbers".into(), Value::Object(numbers));
    let mut payload = json!({
        "summary": truncate(&format!("{}: {}", judged.title(super::event::Change::Failed), v.summary), SUMMARY_MAX),
        "timestamp": v.evaluated_at,
        "severity": judged.severity(),
        "source": source,
        "component": v.service,
        "class": if judged.page_burn() { "slo page-tier burn".to_string() } else { format!("{} gate", judged.kind()) },
        "custom_details": details,
    });
    if let Some(team) = &judged.team {
        payload["group"] = json!(team);
    }
    let mut event = json!({
        "event_action": "trigger",
        "dedup_key": judged.dedup_key(),
        "client": "slogate",
        "payload": payload,
    });
    if let Some(link) = judged.link(status_url) {
        event["links"] = json!([{"href": link, "text": "The verdict in slogate"}]);
        if let Some(base) = status_url {
            event["client_url"] = json!(base);
        }
    }
    event
}

/// The resolve event that closes the alert of [`trigger`] for the same rollout.
pub fn resolve(judged: &Judged) -> Value {
    json!({"event_action": "resolve", "dedup_key": judged.dedup_key()})
}

/// The stored event with `routing_key` added, as sent; `None` when the stored bytes are not a
/// JSON object (a corrupt row: rejected, not retried).
pub fn with_routing_key(stored: &[u8], routing_key: &str) -> Option<Vec<u8>> {
    let mut event: Value = serde_json::from_slice(stored).ok()?;
    event
        .as_object_mut()?
        .insert("routing_key".into(), json!(routing_key));
    serde_json::to_vec(&event).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::{Rollout, SloNumbers};
    use crate::verdict::{Outcome, Verdict, VerdictKind, Window};

    fn slo_fail(page: bool) -> Judged {
        Judged {
            verdict: Verdict {
                id: "v-9".into(),
                kind: VerdictKind::Slo,
                verdict: Outcome::Fail,
                score: 0.0,
                summary: "mita-backend fail: ".to_string() + &"burning ".repeat(300),
                service: "mita-backend".into(),
                window: Window {
                    start: "a".into(),
                    end: "b".into(),
                },
                checks: vec![],
                evaluated_at: "2026-01-01T00:00:00Z".into(),
            },
            team: Some("mita".into()),
            rollout: Rollout::Slo { slo: None },
            slos: vec![SloNumbers {
                slo: "availability".into(),
                objective: 99.9,
                period: "30d".into(),
                budget_remaining: Some(-2.0),
                burn_rates: vec![("5m".into(), 200.0)],
                alerts: if page { vec!["page".into()] } else { vec![] },
            }],
        }
    }

    #[test]
    fn a_page_tier_burn_triggers_a_critical_alert_keyed_by_service() {
        let event = trigger(&slo_fail(true), Some("https://s.example"), "slogate");
        assert_eq!(event["event_action"], "trigger");
        assert_eq!(event["dedup_key"], "slogate/mita-backend/slo");
        assert_eq!(event["payload"]["severity"], "critical");
        assert_eq!(event["payload"]["group"], "mita");
        assert_eq!(event["links"][0]["href"], "https://s.example/verdicts/v-9");
        let summary = event["payload"]["summary"].as_str().unwrap();
        assert!(summary.chars().count() <= SUMMARY_MAX);
        assert!(event.get("routing_key").is_none());
        assert_eq!(
            trigger(&slo_fail(false), None, "s")["payload"]["severity"],
            "error"
        );
    }

    #[test]
    fn the_routing_key_is_added_only_when_sending() {
        let stored = serde_json::to_vec(&resolve(&slo_fail(true))).unwrap();
        let sent: Value =
            serde_json::from_slice(&with_routing_key(&stored, "KEY").unwrap()).unwrap();
        assert_eq!(sent["routing_key"], "KEY");
        assert_eq!(sent["event_action"], "resolve");
        assert_eq!(with_routing_key(b"[1]", "KEY"), None);
    }
}
