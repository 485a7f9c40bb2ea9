//! `GET /verdicts/{id}`: one verdict, each check with baseline and canary side by side, its
//! interval, effect and reason, and a chart of the two distributions when the stored inputs
//! hold them (canary verdicts recorded since the pages came; older ones say so).

use axum::extract::{Path, State};
use axum::response::Html;
use serde::Serialize;
use serde_json::Value;

use super::chart;
use super::render::{PageError, render};
use super::view::{Badge, number};
use crate::analysis::distribution::Distribution;
use crate::server::state::AppState;
use crate::store::StoredVerdict;
use crate::verdict::{Check, Outcome, Side, VerdictKind, rfc3339};

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckView {
    /// Metric or SLO name.
    pub name: String,
    /// `prometheus` or `traces`.
    pub source: String,
    /// Outcome.
    pub outcome: Badge,
    /// `pass`, `high`, `low`, `nodata`.
    pub classification: String,
    /// Baseline side, `n = 600 · 0.0012`.
    pub baseline: String,
    /// Canary side.
    pub canary: String,
    /// Effect (ratio canary/baseline), `1.52×`.
    pub effect: String,
    /// Interval of the difference, `[0.01, 0.05]`.
    pub interval: String,
    /// p-value.
    pub p_value: String,
    /// The threshold applied.
    pub threshold: String,
    /// Why, in words.
    pub reason: String,
    /// The anytime-valid evidence in sequential mode (`look 7 · e-value 240 of 100 needed ·
    /// failed at look 5`), or `None` for a fixed-horizon check.
    pub evidence: Option<String>,
    /// The chart (SVG with escaped text), or `None`.
    pub chart: Option<String>,
    /// Why there is no chart.
    pub no_chart: Option<&'static str>,
    /// Anchor id.
    pub anchor: String,
}

/// The verdict page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictView {
    /// Id.
    pub id: String,
    /// `canary` or `slo`.
    pub kind: &'static str,
    /// Outcome.
    pub outcome: Badge,
    /// Score out of 100.
    pub score: String,
    /// Summary line.
    pub summary: String,
    /// Service.
    pub service: String,
    /// Window start and end.
    pub window: (String, String),
    /// Evaluated at.
    pub evaluated_at: String,
    /// Recorded at.
    pub recorded_at: String,
    /// Versions compared (canary verdicts): `(baseline, canary)`.
    pub versions: Option<(String, String)>,
    /// Checks, failing first, then inconclusive, then passing, each in recorded order.
    pub checks: Vec<CheckView>,
    /// Checks that failed.
    pub failed: usize,
    /// Whether the checks have sides (canary) or only reasons (SLO gate).
    pub sides: bool,
    /// The JSON API's URL of this verdict.
    pub api: String,
}

fn side(s: &Option<Side>) -> String {
    s.as_ref().map_or_else(
        || "—".to_string(),
        |s| format!("{} (n = {})", number(s.value), s.n),
    )
}

fn check_view(
    index: usize,
    check: &Check,
    distribution: Option<Distribution>,
    canary: bool,
) -> CheckView {
    let id = format!("chart-{index}");
    let (chart, no_chart) = match distribution {
        Some(Distribution::Values { baseline, canary }) => (
            Some(chart::box_plots(&id, &check.name, &baseline, &canary)),
            None,
        ),
        Some(Distribution::Events { baseline, canary }) => (
            Some(chart::rate_bars(&id, &check.name, baseline, canary)),
            None,
        ),
        None if canary => (
            None,
            Some(
                "no distribution was recorded for this check (no data, or a verdict older than the status pages)",
            ),
        ),
        None => (None, None),
    };
    CheckView {
        name: check.name.clone(),
        source: check.source.clone(),
        outcome: Badge::outcome(check.verdict),
        classification: check.classification.clone(),
        baseline: side(&check.baseline),
        canary: side(&check.canary),
        effect: check
            .effect
            .map_or_else(|| "—".to_string(), |e| format!("{}×", number(e))),
        interval: check.interval.map_or_else(
            || "—".to_string(),
            |[a, b]| format!("[{}, {}]", number(a), number(b)),
        ),
        p_value: check.p_value.map_or_else(
            || "—".to_string(),
            |p| {
                if p < 1e-4 {
                    "< 0.0001".to_string()
                } else {
                    number(p)
                }
            },
        ),
        threshold: check.threshold.clone(),
        evidence: check.sequential.as_ref().map(evidence),
        reason: check.reason.clone(),
        chart,
        no_chart,
        anchor: format!("check-{index}"),
    }
}

/// The view of a stored verdict.
pub fn view(stored: &StoredVerdict) -> VerdictView {
    let v = &stored.verdict;
    let canary = v.kind == VerdictKind::Canary;
    let distribution = |name: &str| -> Option<Distribution> {
        serde_json::from_value(stored.inputs.get("distributions")?.get(name)?.clone()).ok()
    };
    let rank = |o: Outcome| match o {
        Outcome::Fail => 0,
        Outcome::Inconclusive => 1,
        Outcome::Pass => 2,
    };
    let mut order: Vec<(usize, &Check)> = v.checks.iter().enumerate().collect();
    order.sort_by_key(|(i, c)| (rank(c.verdict), *i));
    let text = |key: &str| {
        stored
            .inputs
            .get(key)
            .and_then(Value::as_str)
            .map(String::from)
    };
    VerdictView {
        id: v.id.clone(),
        kind: if canary { "canary" } else { "slo" },
        outcome: Badge::outcome(v.verdict),
        score: format!("{:.0}", v.score),
        summary: v.summary.clone(),
        service: v.service.clone(),
        window: (v.window.start.clone(), v.window.end.clone()),
        evaluated_at: v.evaluated_at.clone(),
        recorded_at: rfc3339(stored.recorded_at),
        versions: text("baseline").zip(text("canary")),
        failed: v
            .checks
            .iter()
            .filter(|c| c.verdict == Outcome::Fail)
            .count(),
        checks: order
            .into_iter()
            .map(|(i, c)| check_view(i, c, distribution(&c.name), canary))
            .collect(),
        sides: canary,
        api: format!("/api/v1/verdicts/{}", super::view::encode(&v.id)),
    }
}

/// `GET /verdicts/{id}`.
pub async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let stored = crate::server::history::lookup(&state, &id)
        .await?
        .ok_or_else(|| {
            PageError::not_found(format!(
                "there is no verdict {id:?} in the history (it may have been pruned)"
            ))
        })?;
    let view = view(&stored);
    render(
        "verdict.html",
        &format!("Verdict: {} {}", view.service, view.outcome.word),
        &view,
    )
}

/// The sequential test's state in words.
fn evidence(s: &crate::verdict::Sequential) -> String {
    let mut text = format!(
        "look {} · e-value {} of {} needed",
        s.look,
        crate::numfmt::sig(s.e_value),
        crate::numfmt::sig(s.threshold)
    );
    if let Some(at) = s.rejected_at {
        text.push_str(&format!(" · failed at look {at}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Verdict, Window};
    use serde_json::json;

    fn check(name: &str, verdict: Outcome) -> Check {
        Check {
            name: name.into(),
            source: "prometheus".into(),
            verdict,
            classification: "high".into(),
            baseline: Some(Side {
                n: 1000,
                value: 0.001,
            }),
            canary: Some(Side {
                n: 1000,
                value: 0.05,
            }),
            effect: Some(50.0),
            interval: Some([0.03, 0.06]),
            p_value: Some(1e-9),
            threshold: "x".into(),
            reason: "canary error rate 5% vs 0.1%".into(),
            sequential: None,
        }
    }

    #[test]
    fn failing_checks_come_first_with_their_reason_and_chart() {
        let stored = StoredVerdict {
            verdict: Verdict {
                id: "v1".into(),
                kind: VerdictKind::Canary,
                verdict: Outcome::Fail,
                score: 50.0,
                summary: "s".into(),
                service: "checkout".into(),
                window: Window {
                    start: "a".into(),
                    end: "b".into(),
                },
                checks: vec![
                    check("latency", Outcome::Pass),
                    check("error-rate", Outcome::Fail),
                ],
                evaluated_at: "c".into(),
            },
            inputs: json!({"baseline": "v1", "canary": "v2", "distributions": {
                "error-rate": {"kind": "events", "baseline": {"counted": 1, "total": 1000}, "canary": {"counted": 50, "total": 1000}},
            }}),
            recorded_at: chrono::Utc::now(),
        };
        let v = view(&stored);
        assert_eq!(v.checks[0].name, "error-rate");
        assert_eq!(v.checks[0].reason, "canary error rate 5% vs 0.1%");
        assert!(v.checks[0].chart.as_deref().unwrap().contains("50 of 1000"));
        assert!(v.checks[1].chart.is_none() && v.checks[1].no_chart.is_some());
        assert_eq!(v.failed, 1);
        assert_eq!(v.versions, Some(("v1".into(), "v2".into())));
        assert_eq!(v.checks[0].baseline, "0.001 (n = 1000)");
        assert_eq!(v.checks[0].effect, "50×");
        assert_eq!(v.checks[0].evidence, None);
    }

    #[test]
    fn a_sequential_check_shows_its_look_and_evidence_in_words() {
        let s = crate::verdict::Sequential {
            look: 7,
            e_value: 240.0,
            threshold: 100.0,
            rejected_at: Some(5),
        };
        assert_eq!(
            evidence(&s),
            "look 7 · e-value 240 of 100 needed · failed at look 5"
        );
        let open = crate::verdict::Sequential {
            rejected_at: None,
            e_value: 0.5,
            ..s
        };
        assert_eq!(evidence(&open), "look 7 · e-value 0.5 of 100 needed");
        let overwhelming = crate::verdict::Sequential {
            e_value: 3.0671e127,
            threshold: 99.99999999999991,
            ..s
        };
        assert_eq!(
            evidence(&overwhelming),
            "look 7 · e-value 3.067e127 of 100 needed · failed at look 5"
        );
    }
}
