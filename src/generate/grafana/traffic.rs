//! The traffic row of a service's dashboard, above the SLO rows: request rate, error ratio
//! and latency percentiles (p50, p95, p99) from the service's HTTP series.
//!
//! Unlike the SLO rows these read the service's raw series, not recorded ones: a percentile
//! cannot be derived from the SLI's recorded error ratios, and operators compare these panels
//! with the ones they already know ("API Response Time, p95 over 5m"). What they read is
//! resolved by [`ServiceLevels::traffic`] (the spec's `dashboard:`, else the SLIs); a service
//! whose spec and SLIs name none of it gets no row.

use super::model::Panel;
use super::panels::{Field, Layout, ThresholdLines, range_target, timeseries};
use crate::spec::{HistogramRef, ServiceLevels, TRAFFIC_WINDOW};

/// Title of the row (tests find the SLO rows by skipping it).
pub const ROW_TITLE: &str = "Traffic: requests, errors, latency";

/// Panel titles.
pub mod titles {
    /// Requests per second.
    pub const REQUESTS: &str = "Request rate";
    /// Share of requests failing.
    pub const ERRORS: &str = "Error rate";
    /// p50, p95, p99.
    pub const LATENCY: &str = "Latency percentiles";
}

/// The quantiles shown and their legends: the median, and the tail most SLOs are set on.
const QUANTILES: [(&str, &str); 3] = [("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")];

/// Adds the traffic row to `layout` when anything is known to show in it.
pub(super) fn row(service: &ServiceLevels, layout: &mut Layout) {
    let traffic = service.traffic();
    let mut panels: Vec<Panel> = Vec::new();
    if let Some(requests) = traffic.requests {
        panels.push(requests_panel(requests));
    }
    if let Some(ratio) = traffic.error_ratio {
        panels.push(errors_panel(ratio));
    }
    if let Some(histogram) = &traffic.latency {
        panels.push(latency_panel(histogram));
    }
    if panels.is_empty() {
        return;
    }
    layout.row(ROW_TITLE.to_string());
    // One line, the panels sharing its 24 columns (8 each for three, 12 for two).
    let width = 24 / panels.len() as u32;
    let mut panels = panels.into_iter();
    match (panels.next(), panels.next(), panels.next()) {
        (Some(a), Some(b), Some(c)) => layout.line(8, [(width, a), (width, b), (width, c)]),
        (Some(a), Some(b), None) => layout.line(8, [(width, a), (width, b)]),
        (Some(a), None, None) => layout.line(8, [(width, a)]),
        _ => unreachable!("at least one panel, at most three"),
    }
}

fn requests_panel(expr: String) -> Panel {
    timeseries(
        titles::REQUESTS,
        format!("Requests per second the service answers, over {TRAFFIC_WINDOW}."),
        vec![range_target("A", expr, "requests")],
        &Field {
            min: Some(0.0),
            ..Field::new("reqps")
        },
        ThresholdLines::Off,
        "per second",
    )
}

fn errors_panel(expr: String) -> Panel {
    timeseries(
        titles::ERRORS,
        format!("Share of requests that failed, over {TRAFFIC_WINDOW}."),
        vec![range_target("A", expr, "error ratio")],
        &Field {
            decimals: Some(2),
            min: Some(0.0),
            ..Field::new("percentunit")
        },
        ThresholdLines::Off,
        "",
    )
}

fn latency_panel(histogram: &HistogramRef) -> Panel {
    let targets = QUANTILES
        .iter()
        .zip(["A", "B", "C"])
        .map(|((q, legend), id)| range_target(id, histogram.quantile(q), *legend))
        .collect();
    timeseries(
        titles::LATENCY,
        format!(
            "Response time percentiles from `{}` over {TRAFFIC_WINDOW} (interpolated within {} buckets).",
            histogram.histogram,
            match histogram.kind {
                crate::spec::HistogramKind::Classic => "the classic histogram's",
                crate::spec::HistogramKind::Native => "the native histogram's",
            }
        ),
        targets,
        &Field {
            min: Some(0.0),
            ..Field::new("s")
        },
        ThresholdLines::Off,
        "",
    )
}
