//! The canary's verdict from its metrics: the weighted group score, critical metrics, and
//! the absolute criteria, which fail the verdict on evidence whatever the score.

use crate::numfmt::sig;
use crate::verdict::Outcome;

use super::MetricJudgement;

/// The whole canary's judgement.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryJudgement {
    /// pass / fail / inconclusive.
    pub outcome: Outcome,
    /// 0-100: mean over groups of the weighted share of passing metrics.
    pub score: f64,
    /// One line a person can act on.
    pub summary: String,
    /// Every metric's judgement, each followed by its absolute criteria as judgements of
    /// their own (`<metric>:max`, ...).
    pub metrics: Vec<MetricJudgement>,
}

/// Scores the metrics and decides: a critical failure fails; no metric with data is
/// inconclusive; a score (over metrics with a verdict) under `marginal` fails; any metric
/// without a verdict makes it inconclusive; a score under `pass` is inconclusive.
///
/// Each metric's absolute criteria count as metrics of their own (in its group, with its
/// weight), and a criterion breached on evidence fails the verdict as a critical metric does:
/// a limit written in the definitions is a requirement, not a share of the score.
pub fn judge(
    metrics: Vec<MetricJudgement>,
    pass_score: f64,
    marginal_score: f64,
) -> CanaryJudgement {
    let metrics = with_criteria(metrics);
    // Metrics left out (not required, no data at all) take no part in the decision; the
    // summary names them so nobody mistakes the verdict for one on every metric.
    let left_out: Vec<String> = metrics
        .iter()
        .filter(|m| m.left_out)
        .map(|m| m.name.clone())
        .collect();
    let mut judgement = judge_included(&metrics, pass_score, marginal_score);
    if !left_out.is_empty() {
        judgement.summary = format!(
            "{}; left out (not required, no data on either side): {}",
            judgement.summary,
            left_out.join(", ")
        );
    }
    judgement.metrics = metrics;
    judgement
}

fn judge_included(
    all: &[MetricJudgement],
    pass_score: f64,
    marginal_score: f64,
) -> CanaryJudgement {
    let metrics: Vec<&MetricJudgement> = all.iter().filter(|m| !m.left_out).collect();
    // Metrics without a verdict stay out of the score (as in Kayenta): no data is not a
    // failure, and the verdict cannot be pass anyway while any metric lacks one.
    let mut groups: Vec<(Option<&str>, f64, f64)> = Vec::new();
    for m in metrics
        .iter()
        .filter(|m| m.outcome != Outcome::Inconclusive)
    {
        let passed = if m.outcome == Outcome::Pass {
            m.weight
        } else {
            0.0
        };
        match groups.iter_mut().find(|g| g.0 == m.group.as_deref()) {
            Some(g) => {
                g.1 += passed;
                g.2 += m.weight;
            }
            None => groups.push((m.group.as_deref(), passed, m.weight)),
        }
    }
    let score = if groups.is_empty() {
        0.0
    } else {
        100.0 * groups.iter().map(|g| g.1 / g.2).sum::<f64>() / groups.len() as f64
    };
    let names = |pred: &dyn Fn(&MetricJudgement) -> bool| -> Vec<String> {
        metrics
            .iter()
            .filter(|m| pred(m))
            .map(|m| format!("{} ({})", m.name, m.reason))
            .collect()
    };
    let critical = names(&|m| m.critical_failure);
    let failed = names(&|m| m.outcome == Outcome::Fail);
    let unclear = names(&|m| m.outcome == Outcome::Inconclusive);
    let (outcome, summary) = if metrics.is_empty() {
        (Outcome::Inconclusive, "no metric to judge".to_string())
    } else if !critical.is_empty() {
        (
            Outcome::Fail,
            format!("critical metric failed: {}", critical.join("; ")),
        )
    } else if groups.is_empty() {
        (
            Outcome::Inconclusive,
            format!("no metric has enough data: {}", unclear.join("; ")),
        )
    } else if score < marginal_score {
        (
            Outcome::Fail,
            format!(
                "score {} is below the marginal threshold {}: {}",
                sig(score),
                sig(marginal_score),
                failed.join("; ")
            ),
        )
    } else if !unclear.is_empty() {
        (
            Outcome::Inconclusive,
            format!("cannot judge every metric: {}", unclear.join("; ")),
        )
    } else if score < pass_score {
        (
            Outcome::Inconclusive,
            format!(
                "score {} is marginal (pass at {}): {}",
                sig(score),
                sig(pass_score),
                failed.join("; ")
            ),
        )
    } else {
        (
            Outcome::Pass,
            format!(
                "canary as good as baseline on every metric (score {})",
                sig(score)
            ),
        )
    };
    // The caller puts every judgement, left out or not, back in.
    CanaryJudgement {
        outcome,
        score,
        summary,
        metrics: Vec::new(),
    }
}

/// The metrics, each followed by its absolute criteria as judgements of their own.
fn with_criteria(metrics: Vec<MetricJudgement>) -> Vec<MetricJudgement> {
    let mut out = Vec::with_capacity(metrics.len());
    for m in metrics {
        let criteria: Vec<MetricJudgement> = m.absolute.iter().map(|a| a.as_metric(&m)).collect();
        out.push(m);
        out.extend(criteria);
    }
    out
}

/// A blue-green preview judged on its own: only the absolute criteria that need no baseline
/// (each metric's `absolute`; the metrics' own comparisons are not made). Any criterion
/// breached on evidence fails; any without a verdict (too little data, a breach not yet
/// significant) makes it inconclusive; pass when every criterion passes.
pub fn judge_alone(metrics: &[MetricJudgement]) -> CanaryJudgement {
    let criteria: Vec<MetricJudgement> = metrics
        .iter()
        .filter(|m| !m.left_out)
        .flat_map(|m| m.absolute.iter().map(|a| a.as_metric(m)))
        .collect();
    let listed = |outcome: Outcome| -> Vec<String> {
        criteria
            .iter()
            .filter(|c| c.outcome == outcome)
            .map(|c| format!("{} ({})", c.name, c.reason))
            .collect()
    };
    let (failed, unclear, passed) = (
        listed(Outcome::Fail),
        listed(Outcome::Inconclusive),
        listed(Outcome::Pass),
    );
    let judged = failed.len() + passed.len();
    let score = if judged == 0 {
        0.0
    } else {
        100.0 * passed.len() as f64 / judged as f64
    };
    let (outcome, summary) = if criteria.is_empty() {
        (
            Outcome::Inconclusive,
            "no absolute criterion (max, max_rate) to judge the preview on".to_string(),
        )
    } else if !failed.is_empty() {
        (
            Outcome::Fail,
            format!("preview beyond its limits: {}", failed.join("; ")),
        )
    } else if !unclear.is_empty() {
        (
            Outcome::Inconclusive,
            format!(
                "cannot judge every limit of the preview: {}",
                unclear.join("; ")
            ),
        )
    } else {
        (
            Outcome::Pass,
            format!("preview within every limit: {}", passed.join("; ")),
        )
    };
    CanaryJudgement {
        outcome,
        score,
        summary,
        metrics: criteria,
    }
}
