//! What the traffic row of a service's dashboard reads: request rate, error ratio and latency
//! percentiles, from the service's own HTTP series (the SLO rows read recorded SLI series).
//!
//! A spec may say it in `dashboard:`; each part it leaves out is taken from the service's
//! SLIs, so most services need nothing new: the latency SLI names the HTTP histogram, an
//! events SLI names the request and error counters. Resolving here, once, keeps the
//! dashboard generator a plain function of the model.

use super::model::{HistogramKind, LatencySli, ServiceLevels, Sli};
use super::query::QueryTemplate;

/// The range every traffic query rates over: the "p95 over 5m" operators read, and four
/// scrapes at the common 15 s interval, the fewest `rate()` is steady on.
pub const TRAFFIC_WINDOW: &str = "5m";

/// The parts a spec's `dashboard:` gives; each absent one is derived (see [`Traffic`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DashboardSpec {
    /// Requests per second; may rate over `{{window}}` ([`TRAFFIC_WINDOW`]).
    pub requests: Option<QueryTemplate>,
    /// Failed requests per second, divided by `requests` for the error ratio.
    pub errors: Option<QueryTemplate>,
    /// The HTTP latency histogram the percentiles come from.
    pub latency: Option<HistogramRef>,
}

/// A histogram and the series of it that belong to the service.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramRef {
    /// Base metric name (no `_bucket`).
    pub histogram: String,
    /// Label matchers without braces, possibly empty.
    pub matchers: String,
    /// Classic or native.
    pub kind: HistogramKind,
}

/// The traffic row's queries, resolved: each `None` when neither the spec nor an SLI says it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Traffic {
    /// Requests per second, rendered over [`TRAFFIC_WINDOW`].
    pub requests: Option<String>,
    /// Share of requests failing, rendered over [`TRAFFIC_WINDOW`].
    pub error_ratio: Option<String>,
    /// Where the latency percentiles come from.
    pub latency: Option<HistogramRef>,
}

impl HistogramRef {
    /// The `q` quantile (0.5 for p50) over [`TRAFFIC_WINDOW`]: a classic histogram's buckets
    /// summed by `le`, or a native histogram summed whole.
    pub fn quantile(&self, q: &str) -> String {
        match self.kind {
            HistogramKind::Classic => format!(
                "histogram_quantile({q}, sum by (le) (rate({}_bucket{{{}}}[{TRAFFIC_WINDOW}])))",
                self.histogram, self.matchers
            ),
            HistogramKind::Native => format!(
                "histogram_quantile({q}, sum(rate({}{{{}}}[{TRAFFIC_WINDOW}])))",
                self.histogram, self.matchers
            ),
        }
    }

    /// Requests per second counted by the histogram.
    pub fn request_rate(&self) -> String {
        match self.kind {
            HistogramKind::Classic => format!(
                "sum(rate({}_count{{{}}}[{TRAFFIC_WINDOW}]))",
                self.histogram, self.matchers
            ),
            HistogramKind::Native => format!(
                "sum(histogram_count(rate({}{{{}}}[{TRAFFIC_WINDOW}])))",
                self.histogram, self.matchers
            ),
        }
    }
}

impl From<&LatencySli> for HistogramRef {
    fn from(sli: &LatencySli) -> Self {
        HistogramRef {
            histogram: sli.histogram.clone(),
            matchers: sli.matchers.clone(),
            kind: sli.kind,
        }
    }
}

impl ServiceLevels {
    /// The traffic row's queries: the spec's `dashboard:` parts, else the first SLI that says
    /// each (latency: a latency SLI's histogram; requests: an events SLI's total, else the
    /// histogram's count; errors: an events SLI's errors, as its own error ratio).
    pub fn traffic(&self) -> Traffic {
        let spec = &self.dashboard;
        let latency = spec.latency.clone().or_else(|| {
            self.slos.iter().find_map(|s| match &s.sli {
                Sli::Latency(l) => Some(HistogramRef::from(l)),
                _ => None,
            })
        });
        let event_sli = self.slos.iter().find_map(|s| match &s.sli {
            sli @ (Sli::ErrorEvents { total, .. } | Sli::GoodEvents { total, .. }) => {
                Some((sli, total))
            }
            _ => None,
        });
        let requests = spec
            .requests
            .as_ref()
            .map(|q| q.render(TRAFFIC_WINDOW))
            .or_else(|| event_sli.map(|(_, total)| total.render(TRAFFIC_WINDOW)))
            .or_else(|| latency.as_ref().map(HistogramRef::request_rate));
        let error_ratio = match (&spec.errors, &requests) {
            (Some(errors), Some(requests)) => Some(format!(
                "({})\n/\n(({requests}) > 0)",
                errors.render(TRAFFIC_WINDOW)
            )),
            _ => event_sli.map(|(sli, _)| sli.error_ratio().render(TRAFFIC_WINDOW)),
        };
        Traffic {
            requests,
            error_ratio,
            latency,
        }
    }
}
