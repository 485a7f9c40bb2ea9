//! What a notification is about: one recorded verdict, the rollout it judged, and what changed.
//!
//! The Slack and PagerDuty builders read only this, so both say the same thing.

use crate::analysis::slo::SloStatus;
use crate::numfmt::short;
use crate::verdict::{Outcome, Verdict, VerdictKind};

use super::config::Severity;

/// What a gate judged: which rollout (or which SLOs) a verdict is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Rollout {
    /// A canary compared with its baseline, by version label value.
    Canary {
        /// The stable version.
        baseline: String,
        /// The new version.
        canary: String,
    },
    /// A blue-green preview held against its profile's absolute limits, alone.
    Preview {
        /// The preview's version.
        preview: String,
    },
    /// The error-budget gate of a service, for one SLO when the request named one.
    Slo {
        /// The SLO asked about, or all of them.
        slo: Option<String>,
    },
}

/// An SLO's key numbers, for messages (from the gate's evaluation).
#[derive(Debug, Clone, PartialEq)]
pub struct SloNumbers {
    /// The SLO.
    pub slo: String,
    /// Objective in percent.
    pub objective: f64,
    /// Period, as Prometheus writes it.
    pub period: String,
    /// Share of the budget left (negative when overspent).
    pub budget_remaining: Option<f64>,
    /// Burn rate per window (window, rate), shortest first.
    pub burn_rates: Vec<(String, f64)>,
    /// Alert tiers burning now (`page`, `ticket`).
    pub alerts: Vec<String>,
}

impl From<&SloStatus> for SloNumbers {
    fn from(st: &SloStatus) -> Self {
        SloNumbers {
            slo: st.slo.clone(),
            objective: st.objective,
            period: st.period.clone(),
            budget_remaining: st.error_budget.map(|b| b.remaining),
            burn_rates: st
                .burn_rate
                .iter()
                .map(|(w, b)| (w.to_string(), *b))
                .collect(),
            alerts: st.alerts.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// A recorded verdict and what it is about: the gate notifier's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// The verdict as answered (and recorded).
    pub verdict: Verdict,
    /// The service's team, from its definitions.
    pub team: Option<String>,
    /// The rollout or SLOs judged.
    pub rollout: Rollout,
    /// The SLO gate's numbers (empty for a canary).
    pub slos: Vec<SloNumbers>,
}

/// What a message tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The gate fails (it did not, or nobody was told).
    Failed,
    /// The gate is inconclusive (after a pass or nothing).
    Inconclusive,
    /// The gate passes after a notified failure.
    Recovered,
}

impl Judged {
    /// The subject whose notified state is remembered: one per rollout (canary: service,
    /// baseline and canary versions) or per service's SLO gate (and SLO, when one was asked).
    pub fn subject(&self) -> String {
        let service = &self.verdict.service;
        match &self.rollout {
            Rollout::Canary { baseline, canary } => {
                format!("canary/{service}/{baseline}..{canary}")
            }
            Rollout::Preview { preview } => format!("preview/{service}/{preview}"),
            Rollout::Slo { slo: None } => format!("slo/{service}"),
            Rollout::Slo { slo: Some(slo) } => format!("slo/{service}/{slo}"),
        }
    }

    /// PagerDuty's `dedup_key`: repeats of the same rollout collapse into one alert.
    pub fn dedup_key(&self) -> String {
        let service = &self.verdict.service;
        match &self.rollout {
            Rollout::Canary { baseline, canary } => {
                format!("slogate/{service}/{baseline}..{canary}")
            }
            Rollout::Preview { preview } => format!("slogate/{service}/preview/{preview}"),
            Rollout::Slo { slo: None } => format!("slogate/{service}/slo"),
            Rollout::Slo { slo: Some(slo) } => format!("slogate/{service}/slo/{slo}"),
        }
    }

    /// Whether an SLO of the verdict is burning at the page tier.
    pub fn page_burn(&self) -> bool {
        self.slos
            .iter()
            .any(|s| s.alerts.iter().any(|a| a == "page"))
    }

    /// How bad: a page-tier burn is critical, another failure an error, inconclusive a
    /// warning, a pass information.
    pub fn severity(&self) -> Severity {
        match self.verdict.verdict {
            Outcome::Fail if self.page_burn() => Severity::Critical,
            Outcome::Fail => Severity::Error,
            Outcome::Inconclusive => Severity::Warning,
            Outcome::Pass => Severity::Info,
        }
    }

    /// The gate in words: "canary bad-6f1a vs baseline stable-7d9f" or "error-budget gate".
    pub fn what(&self) -> String {
        match &self.rollout {
            Rollout::Canary { baseline, canary } => {
                format!("canary {canary} vs baseline {baseline}")
            }
            Rollout::Preview { preview } => format!("blue-green preview {preview}"),
            Rollout::Slo { slo: None } => "error-budget gate".to_string(),
            Rollout::Slo { slo: Some(slo) } => format!("error-budget gate ({slo})"),
        }
    }

    /// The title line: "checkout: canary bad vs baseline good failed".
    pub fn title(&self, change: Change) -> String {
        let how = match change {
            Change::Failed => "failed",
            Change::Inconclusive => "is inconclusive",
            Change::Recovered => "passes again",
        };
        format!("{}: {} {how}", self.verdict.service, self.what())
    }

    /// The verdict on the status page.
    pub fn link(&self, status_url: Option<&str>) -> Option<String> {
        status_url.map(|base| format!("{base}/verdicts/{}", self.verdict.id))
    }

    /// The verdict's kind as a word.
    pub fn kind(&self) -> &'static str {
        match self.verdict.kind {
            VerdictKind::Canary => "canary",
            VerdictKind::Slo => "slo",
        }
    }

    /// One line per check that did not pass, with its reason and numbers.
    pub fn problems(&self) -> Vec<String> {
        self.verdict
            .checks
            .iter()
            .filter(|c| c.verdict != Outcome::Pass)
            .map(|c| format!("{} ({}): {}", c.name, c.verdict, c.reason))
            .collect()
    }

    /// Key numbers as (label, value) pairs: per canary check baseline vs canary, effect and
    /// interval; per SLO budget left and burn rates.
    pub fn numbers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.verdict.kind == VerdictKind::Canary {
            out.push(("score".to_string(), short(self.verdict.score)));
        }
        for c in &self.verdict.checks {
            let mut parts = Vec::new();
            if let (Some(b), Some(k)) = (&c.baseline, &c.canary) {
                parts.push(format!(
                    "baseline {} (n={}) vs canary {} (n={})",
                    short(b.value),
                    b.n,
                    short(k.value),
                    k.n
                ));
            }
            if let Some(e) = c.effect {
                parts.push(format!("effect {}x", short(e)));
            }
            if let Some([lo, hi]) = c.interval {
                parts.push(format!("interval [{}, {}]", short(lo), short(hi)));
            }
            if let Some(slo) = self.slos.iter().find(|s| s.slo == c.name) {
                parts.push(format!(
                    "objective {}% over {}",
                    short(slo.objective),
                    slo.period
                ));
                if let Some(r) = slo.budget_remaining {
                    parts.push(format!(
                        "budget left {}%",
                        short((r * 1000.0).round() / 10.0)
                    ));
                }
                let burns: Vec<String> = slo
                    .burn_rates
                    .iter()
                    .map(|(w, b)| format!("{w} {}x", short((b * 10.0).round() / 10.0)))
                    .collect();
                if !burns.is_empty() {
                    parts.push(format!("burn {}", burns.join(", ")));
                }
            }
            if !parts.is_empty() {
                out.push((c.name.clone(), parts.join("; ")));
            }
        }
        out
    }
}

/// `text` cut to at most `max` characters, the last one an ellipsis when anything was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_short_text_and_marks_a_cut_with_an_ellipsis() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("ééééé", 4).chars().count(), 4);
    }
}
