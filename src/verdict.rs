//! The verdict: what Argo Rollouts and Flagger read, and what a person reads at 3 a.m.
//!
//! `pass` only when every check passed on enough data; missing data, too little data, a
//! timeout or an error is `inconclusive` (or `fail` where the user asked for it), with the reason.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// pass / fail / inconclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Safe to proceed.
    Pass,
    /// Stop (roll back).
    Fail,
    /// Cannot tell: pause and let a person decide (Argo matches neither condition).
    Inconclusive,
}

impl Outcome {
    /// The worse of two outcomes: fail over inconclusive over pass.
    pub fn worst(self, other: Outcome) -> Outcome {
        use Outcome::*;
        match (self, other) {
            (Fail, _) | (_, Fail) => Fail,
            (Inconclusive, _) | (_, Inconclusive) => Inconclusive,
            _ => Pass,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Inconclusive => "inconclusive",
        })
    }
}

/// What kind of question the verdict answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// Canary compared with its baseline.
    Canary,
    /// A service's error budget.
    Slo,
}

/// The time range a verdict looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
}

/// One side of a comparison (canary checks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Sample size (samples or events).
    pub n: u64,
    /// The side's value (mean, median or rate).
    pub value: f64,
}

/// One check of a verdict: an SLO of the gate, or a canary metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The SLO or metric name.
    pub name: String,
    /// `prometheus` or `traces`.
    pub source: String,
    /// This check's outcome.
    pub verdict: Outcome,
    /// pass / high / low / nodata (canary); for SLO checks the gate's own word.
    pub classification: String,
    /// Baseline side (canary checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Side>,
    /// Canary side (canary checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Side>,
    /// Effect size (ratio canary/baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<f64>,
    /// Confidence interval of the difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    /// p-value of the test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// The threshold applied, in words or numbers.
    pub threshold: String,
    /// Why, in words.
    pub reason: String,
    /// The anytime-valid evidence, for a canary check judged in sequential mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<Sequential>,
}

/// The evidence of a sequential canary check: valid at every look, however often Argo asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sequential {
    /// Looks so far (asks that brought at least a minute of new data), this one included.
    pub look: u64,
    /// The e-value in the bad direction (the larger of the two for `either`); capped at the
    /// largest finite number so that it stays valid JSON.
    pub e_value: f64,
    /// 1/α: the e-value at which the check fails.
    pub threshold: f64,
    /// The look at which the e-value first reached the threshold, once it has (the check
    /// stays failed from then on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_at: Option<u64>,
}

/// A gate's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Unique id (history and links).
    pub id: String,
    /// Canary or SLO.
    pub kind: VerdictKind,
    /// The outcome.
    pub verdict: Outcome,
    /// 0-100: share of (weighted) checks that passed.
    pub score: f64,
    /// One line a person can act on.
    pub summary: String,
    /// The service judged.
    pub service: String,
    /// The time range looked at.
    pub window: Window,
    /// Every check, with its reason.
    pub checks: Vec<Check>,
    /// When the verdict was made (RFC 3339).
    pub evaluated_at: String,
}

/// RFC 3339 with second precision, UTC (`2026-11-22T05:00:00Z`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A new verdict id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
