//! An SLO over its period, as series: the SLI and the error budget left at evenly spaced
//! times, from one range query of the period's error ratio (the status page's charts).

use std::time::Duration;

use super::describe;
use crate::analysis::slo::period_point;
use crate::source::prometheus::QuerySource;
use crate::spec::Slo;

/// Most points a series may have, whatever is asked.
pub const MAX_POINTS: usize = 500;

/// One time of an SLO's series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloPoint {
    /// Unix seconds.
    pub at: i64,
    /// Good share over the period ending here (0..1).
    pub sli: f64,
    /// Share of the error budget left at that time (negative when overspent).
    pub budget_remaining: f64,
}

/// The SLO's SLI and budget over the period ending at `at`, at most `points` times (bounded
/// by [`MAX_POINTS`]); times without data are left out. The error is a reason in words.
pub async fn slo_series(
    source: &dyn QuerySource,
    slo: &Slo,
    at: i64,
    points: usize,
) -> Result<Vec<SloPoint>, String> {
    let period = slo.period.nominal();
    let points = points.clamp(2, MAX_POINTS) as u64;
    // Whole seconds (Prometheus timestamps), never under a scrape-like minute.
    let step = (period.as_secs() / (points - 1)).max(60);
    let start = at - (step * (points - 1)) as i64;
    let query = slo.sli.error_ratio().render(&period.to_string());
    let series = source
        .range(&query, start, at, Duration::from_secs(step))
        .await
        .map_err(|e| describe(&e))?;
    if series.len() > 1 {
        return Err(format!(
            "the SLI of {} returns several series; aggregate it to one (e.g. with sum)",
            slo.name
        ));
    }
    Ok(series
        .into_iter()
        .flat_map(|s| s.points)
        .filter_map(|(t, ratio)| {
            let (sli, budget_remaining) = period_point(slo, ratio)?;
            Some(SloPoint {
                at: t,
                sli,
                budget_remaining,
            })
        })
        .collect())
}
