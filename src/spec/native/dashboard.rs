//! A service's optional `dashboard:` (what its dashboard's traffic row reads), and the
//! histogram checks it shares with the latency SLI: a base metric name, a selector in braces,
//! `classic` or `native`.

use serde::Deserialize;

use crate::spec::check;
use crate::spec::dashboard::{DashboardSpec, HistogramRef};
use crate::spec::diagnostic::Issues;
use crate::spec::model::HistogramKind;
use crate::spec::yaml::join_key;

/// `dashboard:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardDoc {
    #[serde(default)]
    requests: Option<String>,
    #[serde(default)]
    errors: Option<String>,
    #[serde(default)]
    latency: Option<HistogramDoc>,
}

/// `dashboard.latency`: the latency SLI's histogram fields without the threshold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistogramDoc {
    histogram: String,
    #[serde(default)]
    selector: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// Maps `dashboard:` into the model. `derives_requests`: whether an SLI gives a request rate,
/// so `errors` may come without `requests`.
pub fn load(
    doc: DashboardDoc,
    path: &str,
    derives_requests: bool,
    issues: &mut Issues,
) -> Option<DashboardSpec> {
    let at = |field: &str| join_key(path, field);
    // The request rate the error ratio divides by: given, derived from an SLI, or the
    // histogram's count.
    let has_requests = doc.requests.is_some() || derives_requests || doc.latency.is_some();
    let query = |issues: &mut Issues, field: &str, text: &Option<String>| match text {
        None => Some(None),
        Some(text) => check::query(issues, &at(field), text, false).map(Some),
    };
    let requests = query(issues, "requests", &doc.requests);
    let errors = query(issues, "errors", &doc.errors);
    let latency = match doc.latency {
        None => Some(None),
        Some(h) => {
            let latency = at("latency");
            histogram(
                issues,
                &latency,
                &h.histogram,
                h.selector.as_deref(),
                h.kind.as_deref(),
            )
            .map(Some)
        }
    };
    if doc.errors.is_some() && !has_requests {
        issues.error(
            at("errors"),
            "the error ratio is `errors` over the request rate, and none is known: add `requests` (requests per second) or `latency` (the HTTP histogram)",
        );
        return None;
    }
    Some(DashboardSpec {
        requests: requests?,
        errors: errors?,
        latency: latency?,
    })
}

/// Checks a histogram's base name, selector and type under `path`.
pub fn histogram(
    issues: &mut Issues,
    path: &str,
    name: &str,
    selector: Option<&str>,
    kind: Option<&str>,
) -> Option<HistogramRef> {
    let at = |field: &str| join_key(path, field);
    let histogram = name.trim().to_string();
    let metric_ok = histogram
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && histogram
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    let mut ok = true;
    if !metric_ok {
        issues.error(
            at("histogram"),
            format!("`{histogram}` is not a metric name; give the histogram's name without `_bucket` and without labels"),
        );
        ok = false;
    } else if histogram.ends_with("_bucket") || histogram.ends_with("_count") {
        issues.error(
            at("histogram"),
            format!(
                "give the histogram's base name, without `_bucket` or `_count` (`{}`)",
                histogram
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_count")
            ),
        );
        ok = false;
    }
    let matchers = match selector.map(str::trim) {
        None | Some("") => Some(String::new()),
        Some(selector) => selector_matchers(issues, &at("selector"), selector),
    };
    let kind = match kind {
        None | Some("classic") => Some(HistogramKind::Classic),
        Some("native") => Some(HistogramKind::Native),
        Some(other) => {
            issues.error(
                at("type"),
                format!("unknown histogram type `{other}`; expected `classic` or `native`"),
            );
            None
        }
    };
    let (matchers, kind) = (matchers?, kind?);
    ok.then_some(HistogramRef {
        histogram,
        matchers,
        kind,
    })
}

/// Checks a `{label="value",...}` selector and returns the matchers inside the braces.
fn selector_matchers(issues: &mut Issues, path: &str, selector: &str) -> Option<String> {
    let inner = selector
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .map(str::trim);
    let Some(inner) = inner else {
        issues.error(
            path,
            format!(
                "`{selector}` is not a label selector; write it in braces, e.g. {{service=\"api\"}}"
            ),
        );
        return None;
    };
    if inner.is_empty() {
        return Some(String::new());
    }
    match crate::spec::query::parse_promql(&format!("up{{{inner}}}")) {
        Ok(_) => Some(inner.to_string()),
        Err(err) => {
            issues.error(path, format!("invalid selector: {err}"));
            None
        }
    }
}
