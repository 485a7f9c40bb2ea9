//! Canary profiles: how a canary is compared with its baseline, metric by metric, and the
//! absolute limits a metric may carry.

use crate::spec::duration::PromDuration;
use crate::spec::query::QueryTemplate;

/// How a canary is compared with its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryProfile {
    /// The Prometheus label that tells baseline from canary series.
    pub version_label: String,
    /// The span or resource attribute that tells baseline from canary spans.
    pub trace_version_attribute: String,
    /// How far back an analysis looks when the request names no window.
    pub lookback: PromDuration,
    /// Score (0-100) at or above which the canary passes.
    pub pass_score: f64,
    /// Score at or above which a non-passing canary is marginal (inconclusive) rather than failed.
    pub marginal_score: f64,
    /// The metrics compared.
    pub metrics: Vec<CanaryMetric>,
    /// How repeated asks about the same rollout are judged.
    pub mode: CanaryMode,
    /// The generated AnalysisTemplate's schedule and limits.
    pub pacing: crate::spec::pacing::Pacing,
}

/// How the canary gate judges a rollout that Argo asks about again and again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CanaryMode {
    /// Every ask about the same service, baseline and canary is one look of one anytime-valid
    /// test, its state kept in the store: the false-fail rate over the whole rollout stays
    /// bounded however often it is asked (`analysis::sequential`).
    #[default]
    Sequential,
    /// Every ask is a fixed-horizon test of its own window (the judge before sequential mode).
    Fixed,
}

/// One metric compared between baseline and canary.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryMetric {
    /// Name, unique within the profile.
    pub name: String,
    /// What is measured and where.
    pub measure: CanaryMeasure,
    /// Which way is worse.
    pub direction: Direction,
    /// Canary/baseline ratio tolerated upwards (>= 1; 1.10 tolerates 10% more).
    pub allowed_increase: f64,
    /// Canary/baseline ratio upwards beyond which the metric fails the whole analysis.
    pub critical_increase: Option<f64>,
    /// Canary/baseline ratio tolerated downwards (<= 1; 0.9 tolerates 10% less).
    pub allowed_decrease: f64,
    /// Canary/baseline ratio downwards beyond which the metric fails the whole analysis.
    pub critical_decrease: Option<f64>,
    /// Weight in the group score.
    pub weight: f64,
    /// A failure of this metric fails the verdict whatever the score.
    pub critical: bool,
    /// No data for this metric fails (rather than makes inconclusive) the verdict.
    pub must_have_data: bool,
    /// False: when neither side has any data (a source that has never seen the service, such
    /// as traces without an OTLP feed) the metric is left out of the score, with a note in the
    /// verdict, instead of making every verdict inconclusive. True (the default): no data
    /// makes the verdict inconclusive, as for any metric. Data on one side only is never left
    /// out: that is a difference between the versions.
    pub required: bool,
    /// Fewer samples (or events) than this on either side is too little data; the judge's
    /// default for the metric's kind when absent.
    pub min_samples: Option<u64>,
    /// Score group; metrics without one form the default group.
    pub group: Option<String>,
    /// Ratio of means or of medians as the effect size.
    pub effect: EffectMeasure,
    /// Limits on the canary's own level (and on the rise of its rate in points), judged
    /// beside the ratio tolerances; the blue-green pre-promotion gate judges only these.
    pub absolute: AbsoluteCriteria,
}

/// A canary metric's absolute criteria (`docs/statistics.md`, "Absolute criteria"): each
/// fails only on evidence at the judge's confidence, and never passes on too little data.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AbsoluteCriteria {
    /// `query` metrics: the highest level (geometric mean of the per-minute values) tolerated,
    /// in the query's unit (`0.5` for a p95 latency in seconds of 500 ms).
    pub max: Option<f64>,
    /// Event metrics counting bad events: the highest rate tolerated, a fraction (`0.005` for
    /// 0.5%).
    pub max_rate: Option<f64>,
    /// Event metrics counting bad events: the largest rise of the canary's rate over the
    /// baseline's, in percentage points (`0.1`: 0.2% → 0.3% is the most tolerated).
    pub max_increase_points: Option<f64>,
}

impl AbsoluteCriteria {
    /// No absolute criterion is set.
    pub fn is_empty(&self) -> bool {
        self.max.is_none() && self.max_rate.is_none() && self.max_increase_points.is_none()
    }

    /// A criterion that needs no baseline (`max`, `max_rate`) is set: what a preview is
    /// judged on.
    pub fn judges_alone(&self) -> bool {
        self.max.is_some() || self.max_rate.is_some()
    }
}

/// Where a canary metric's data comes from and what it is.
#[derive(Debug, Clone, PartialEq)]
pub enum CanaryMeasure {
    /// Event counts from Prometheus: bad (or good) events and all events over the window,
    /// compared as proportions.
    PrometheusEvents {
        /// Whether `counted` counts bad or good events.
        counted: Counted,
        /// Events counted over `{{window}}`.
        counted_query: QueryTemplate,
        /// All events over `{{window}}`.
        total: QueryTemplate,
    },
    /// A series of values (one per step) from Prometheus, compared as distributions.
    PrometheusValues {
        /// The query; `{{window}}`, if used, is the analysis window.
        query: QueryTemplate,
    },
    /// Server span durations, optionally of one operation.
    TraceLatency {
        /// The span name to keep; all server spans when absent.
        operation: Option<String>,
    },
    /// Server span outcomes (status ERROR or HTTP status >= 500) counted as events.
    TraceErrors {
        /// The span name to keep; all server spans when absent.
        operation: Option<String>,
    },
}

/// Ratio tolerated upwards for event counts when the metric names none: 20% more errors
/// (1.0% → 1.2%) is within what a canary's share of bursts and request mix moves from
/// rollout to rollout; a doubling is not.
pub const DEFAULT_ALLOWED_INCREASE_EVENTS: f64 = 1.2;
/// Ratio tolerated upwards for values (latency) when the metric names none: 5%, about what a
/// p95 from a few minutes of histogram buckets wanders; a 20% slowdown is well beyond it.
pub const DEFAULT_ALLOWED_INCREASE_VALUES: f64 = 1.05;

impl CanaryMeasure {
    /// Whether the metric is judged on event counts (else on values).
    pub fn counts_events(&self) -> bool {
        matches!(
            self,
            CanaryMeasure::PrometheusEvents { .. } | CanaryMeasure::TraceErrors { .. }
        )
    }

    /// The tolerances (increase, decrease) a metric of this kind gets when it names none; the
    /// decrease is the mirror image, 1 / increase.
    pub fn default_tolerances(&self) -> (f64, f64) {
        let up = if self.counts_events() {
            DEFAULT_ALLOWED_INCREASE_EVENTS
        } else {
            DEFAULT_ALLOWED_INCREASE_VALUES
        };
        (up, 1.0 / up)
    }
}

/// Whether an event query counts bad or good events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Bad events (errors).
    Bad,
    /// Good events (successes).
    Good,
}

/// Which change of a metric is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Higher is worse (latency, errors).
    Increase,
    /// Lower is worse (throughput, success rate).
    Decrease,
    /// Any change is suspect.
    Either,
}

/// The effect size statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectMeasure {
    /// Ratio of means (Kayenta's choice).
    Mean,
    /// Ratio of medians (robust to a few outliers).
    Median,
}
