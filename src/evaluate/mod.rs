//! Runs SLO evaluations: plans the queries ([`plan::plan`]), fetches them from
//! Prometheus at once, and hands the values to the pure analysis. The CLI and the server both
//! come through here, so they answer the same way.

pub mod calibrate;
pub mod canary;
pub mod catalog;
pub mod plan;
pub mod rules;
pub mod series;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use crate::analysis::slo::{self, GatePolicy, SloStatus, WindowResult, WindowValues};
use crate::source::prometheus::{QuerySource, Sample, SourceError};
use crate::spec::{Catalog, ServiceLevels};
use crate::verdict::{Check, Outcome, Verdict, VerdictKind, Window, new_id, rfc3339};
use plan::{LABEL_PART, LABEL_SLO};

/// Evaluates the SLOs of `service` (or the one named) at `at` (unix seconds): one query per
/// distinct window, all sent at once.
pub async fn evaluate_service(
    source: &dyn QuerySource,
    catalog: &Catalog,
    service: &ServiceLevels,
    slo: Option<&str>,
    at: i64,
    policy: &GatePolicy,
) -> Vec<SloStatus> {
    let selected = slo::selected(service, slo, &catalog.alert_windows);
    evaluate_slos(source, service, &selected, at, policy).await
}

/// Evaluates the `selected` SLOs of `service` (with their alert windows) at `at` from raw SLI
/// queries: one query per distinct window, all sent at once.
pub async fn evaluate_slos(
    source: &dyn QuerySource,
    service: &ServiceLevels,
    selected: &[(&crate::spec::Slo, crate::spec::windows::AlertWindows)],
    at: i64,
    policy: &GatePolicy,
) -> Vec<SloStatus> {
    let plan = plan::plan(selected);
    let queries: Vec<String> = plan.queries.iter().map(|(_, q)| q.clone()).collect();
    let results = source.instant_all(&queries, at).await;
    let fetched: BTreeMap<_, WindowResult> = plan
        .queries
        .iter()
        .zip(results)
        .map(|((window, _), result)| (*window, to_window_result(result)))
        .collect();
    selected
        .iter()
        .map(|(s, windows)| slo::status(&service.service, s, windows, &fetched, policy))
        .collect()
}

/// Rows of a combined query, by SLO; a failed query becomes the reason every SLO that needed
/// the window will give.
fn to_window_result(result: Result<Vec<Sample>, SourceError>) -> WindowResult {
    let samples = result.map_err(|e| describe(&e))?;
    let mut by_slo: HashMap<String, WindowValues> = HashMap::new();
    for sample in samples {
        let (Some(slo), Some(part)) = (sample.labels.get(LABEL_SLO), sample.labels.get(LABEL_PART))
        else {
            continue;
        };
        let values = by_slo.entry(slo.clone()).or_default();
        let slot = match part.as_str() {
            "ratio" => &mut values.error_ratio,
            _ => &mut values.event_rate,
        };
        if slot.is_some() {
            return Err(format!(
                "the SLI of {slo} returns several series; aggregate it to one (e.g. with sum)"
            ));
        }
        *slot = Some(sample.value);
    }
    Ok(by_slo)
}

/// A source error in the words of a verdict's reason.
pub fn describe(error: &SourceError) -> String {
    match error {
        SourceError::Unreachable { reason, .. } => format!("Prometheus is unreachable ({reason})"),
        SourceError::Timeout { after, .. } => {
            format!("Prometheus did not answer within {}s", after.as_secs_f64())
        }
        SourceError::Rejected { message, .. } => {
            format!("Prometheus refused the query ({message})")
        }
        SourceError::Partial { warnings, .. } => format!(
            "Prometheus answered only in part ({warnings}); part of the data is no evidence"
        ),
        SourceError::Failed { message, .. } => format!("Prometheus failed ({message})"),
    }
}

/// The error-budget gate's verdict from the statuses of a service's SLOs.
pub fn slo_gate_verdict(service: &str, statuses: &[SloStatus], at: DateTime<Utc>) -> Verdict {
    let checks: Vec<Check> = statuses
        .iter()
        .map(|st| Check {
            name: st.slo.clone(),
            source: "prometheus".to_string(),
            verdict: st.verdict,
            classification: match st.verdict {
                Outcome::Pass => "pass".to_string(),
                Outcome::Fail => "high".to_string(),
                Outcome::Inconclusive => "nodata".to_string(),
            },
            baseline: None,
            canary: None,
            effect: None,
            interval: None,
            p_value: None,
            threshold: format!(
                "objective {}% over {}",
                crate::numfmt::short(st.objective),
                st.period
            ),
            reason: st.reason.clone(),
            sequential: None,
        })
        .collect();
    let verdict = if checks.is_empty() {
        Outcome::Inconclusive
    } else {
        checks
            .iter()
            .fold(Outcome::Pass, |acc, c| acc.worst(c.verdict))
    };
    let passed = checks.iter().filter(|c| c.verdict == Outcome::Pass).count();
    let score = if checks.is_empty() {
        0.0
    } else {
        100.0 * passed as f64 / checks.len() as f64
    };
    let summary = match verdict {
        Outcome::Pass => format!("{service}: every SLO is within its error budget"),
        _ if checks.is_empty() => format!("{service}: no SLO to evaluate"),
        _ => {
            let worst: Vec<String> = checks
                .iter()
                .filter(|c| c.verdict == verdict)
                .map(|c| format!("{}: {}", c.name, c.reason))
                .collect();
            format!("{service} {verdict}: {}", worst.join("; "))
        }
    };
    let longest = statuses
        .iter()
        .filter_map(|s| crate::spec::PromDuration::parse(&s.period).ok())
        .max()
        .map_or(0, |d| d.as_secs() as i64);
    let start = Utc
        .timestamp_opt(at.timestamp() - longest, 0)
        .single()
        .unwrap_or(at);
    Verdict {
        id: new_id(),
        kind: VerdictKind::Slo,
        verdict,
        score,
        summary,
        service: service.to_string(),
        window: Window {
            start: rfc3339(start),
            end: rfc3339(at),
        },
        checks,
        evaluated_at: rfc3339(at),
    }
}

/// SLO statuses as JSON (`slogate evaluate --output json` and `GET /api/v1/slos`):
/// `{"evaluated_at", "slos": [...]}`.
pub fn status_json(statuses: &[SloStatus], at: DateTime<Utc>) -> Value {
    let slos: Vec<Value> = statuses
        .iter()
        .map(|s| {
            let by_window =
                |m: &BTreeMap<crate::spec::PromDuration, f64>| -> serde_json::Map<String, Value> {
                    m.iter().map(|(w, v)| (w.to_string(), json!(v))).collect()
                };
            json!({
                "service": s.service,
                "slo": s.slo,
                "objective": s.objective,
                "period": s.period,
                "sli": by_window(&s.sli),
                "error_budget": s.error_budget.map(|b| json!({
                    "remaining": b.remaining,
                    "remaining_minutes": b.remaining_minutes,
                    "consumed": b.consumed,
                })),
                "burn_rate": by_window(&s.burn_rate),
                "alerts": s.alerts,
                "exhaustion_hours": s.exhaustion_hours,
                "verdict": s.verdict,
                "reason": s.reason,
            })
        })
        .collect();
    json!({"evaluated_at": rfc3339(at), "slos": slos})
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
