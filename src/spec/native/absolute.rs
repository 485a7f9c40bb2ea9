//! A canary metric's absolute criteria (`max`, `max_rate`, `max_increase_points`), checked
//! against the metric's kind and each one's range; every error names the file, line and field.

use crate::spec::diagnostic::Issues;
use crate::spec::model::{AbsoluteCriteria, CanaryMeasure, Counted};
use crate::spec::yaml::join_key;

/// The limits as a canary metric's document writes them.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Limits {
    /// `max`.
    pub max: Option<f64>,
    /// `max_rate`.
    pub max_rate: Option<f64>,
    /// `max_increase_points`.
    pub max_increase_points: Option<f64>,
}

/// The absolute criteria, each checked against the metric's kind and its own range; a
/// criterion in error is left out (the file does not load anyway).
pub(super) fn load(
    doc: &Limits,
    measure: &CanaryMeasure,
    path: &str,
    issues: &mut Issues,
) -> AbsoluteCriteria {
    let at = |field: &str| join_key(path, field);
    let events = measure.counts_events();
    let good = matches!(
        measure,
        CanaryMeasure::PrometheusEvents {
            counted: Counted::Good,
            ..
        }
    );
    let mut criteria = AbsoluteCriteria::default();
    if let Some(max) = doc.max {
        if events {
            issues.error(
                at("max"),
                "`max` bounds the values of a `query` metric; an event metric takes \
                 `max_rate` (a fraction) or `max_increase_points`",
            );
        } else if matches!(measure, CanaryMeasure::TraceLatency { .. }) {
            issues.error(
                at("max"),
                "`max` bounds the per-minute values of a `query` metric; span durations are \
                 single requests, not a level (bound a histogram quantile query instead)",
            );
        } else if !(max.is_finite() && max > 0.0) {
            issues.error(
                at("max"),
                format!("{max} is out of range: the level tolerated is a positive number"),
            );
        } else {
            criteria.max = Some(max);
        }
    }
    for (field, value) in [
        ("max_rate", doc.max_rate),
        ("max_increase_points", doc.max_increase_points),
    ] {
        let Some(value) = value else { continue };
        if !events {
            issues.error(
                at(field),
                format!(
                    "`{field}` bounds an event rate (`errors` with `total`, or traces `kind: \
                     errors`); a values metric takes `max`"
                ),
            );
            continue;
        }
        if good {
            issues.error(
                at(field),
                format!(
                    "`{field}` bounds the rate of bad events, and this metric counts good ones \
                     (`good:`); put it on a metric with `errors:`"
                ),
            );
            continue;
        }
        let (low, high, unit) = if field == "max_rate" {
            (0.0, 1.0, "a fraction of events: 0.005 for 0.5%")
        } else {
            (
                0.0,
                100.0,
                "percentage points: 0.1 for a rise from 0.2% to 0.3%",
            )
        };
        if !(value.is_finite() && value > low && value < high) {
            issues.error(
                at(field),
                format!("{value} is out of range: it is {unit}, above {low} and below {high}"),
            );
            continue;
        }
        if field == "max_rate" {
            if value >= 0.1 {
                issues.warn(
                    at(field),
                    format!(
                        "{value} tolerates {}% of events failing: `max_rate` is a fraction \
                         (0.005 for 0.5%), not a percentage",
                        value * 100.0
                    ),
                );
            }
            criteria.max_rate = Some(value);
        } else {
            criteria.max_increase_points = Some(value);
        }
    }
    criteria
}
