//! From an export request to the facts the store keeps about each server span (service,
//! version, operation, end time, duration, outcome), every span checked whole before anything
//! is stored, and the reason a span is refused.

use std::borrow::Cow;
use std::fmt;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

/// The resource attribute that names the service (OpenTelemetry semantic conventions).
pub const SERVICE_NAME: &str = "service.name";

/// The HTTP status attributes, current semantic conventions first, then the pre-1.21 name that
/// older instrumentations still send.
pub const HTTP_STATUS: [&str; 2] = ["http.response.status_code", "http.status_code"];

/// The longest service name, version or operation kept, in bytes. Server span names are
/// `{method} {route}` and versions are hashes or semvers, far shorter; the cap keeps one
/// series' key, and so the store's memory bound, small whatever a sender puts there.
pub const MAX_NAME_BYTES: usize = 256;

/// What the store keeps of one accepted server span; strings borrow from the request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpanFacts<'a> {
    /// The resource's `service.name`.
    pub service: &'a str,
    /// The version attribute's value (owned when it was an integer).
    pub version: Cow<'a, str>,
    /// The span name: the operation (`GET /api/v1/transactions`).
    pub operation: &'a str,
    /// End time, nanoseconds since the Unix epoch: spans are bucketed by when they ended.
    pub end_ns: u64,
    /// End minus start, in seconds.
    pub seconds: f64,
    /// Status ERROR or an HTTP status of 500 and above.
    pub error: bool,
}

/// The time range a span's end must fall in, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accepting {
    /// Ends before this are older than the retention.
    pub oldest_ns: u64,
    /// Ends after this are in the future beyond the allowed clock skew.
    pub newest_ns: u64,
}

/// Why a server span is refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reason {
    NoServiceName,
    NoVersion(String),
    NoStart,
    EndsBeforeStart,
    TooOld,
    InTheFuture,
    TooLong(&'static str),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoServiceName => write!(f, "its resource has no {SERVICE_NAME} attribute"),
            Reason::NoVersion(attribute) => write!(
                f,
                "no string or integer attribute {attribute:?} (the service's version attribute) on the span or its resource"
            ),
            Reason::NoStart => f.write_str("it has no start time"),
            Reason::EndsBeforeStart => f.write_str("it ends before it starts"),
            Reason::TooOld => f.write_str("it ended before the retention window"),
            Reason::InTheFuture => f.write_str("it ends more than 5 minutes in the future"),
            Reason::TooLong(what) => write!(f, "its {what} is longer than {MAX_NAME_BYTES} bytes"),
        }
    }
}

/// The spans of a request, sorted into those to store, those ignored and those refused.
#[derive(Debug, Default)]
pub(crate) struct Extracted<'a> {
    /// Valid server spans of services judged from traces.
    pub spans: Vec<SpanFacts<'a>>,
    /// Spans accepted but not kept: other kinds than SERVER, or of services that are not
    /// judged from traces.
    pub ignored: u64,
    /// Server spans refused.
    pub rejected: u64,
    /// The first refusal, described for the sender (`partial_success.error_message`).
    pub first_error: Option<String>,
}

impl Extracted<'_> {
    /// Counts a refusal, describing it when it is the first.
    pub(crate) fn reject(&mut self, describe: impl FnOnce() -> String) {
        self.rejected += 1;
        if self.first_error.is_none() {
            self.first_error = Some(describe());
        }
    }
}

/// Checks every span of `request`. `version_attribute(service)` names the attribute that
/// carries a service's version, or `None` when the service is not judged from traces.
pub(crate) fn extract<'a>(
    request: &'a ExportTraceServiceRequest,
    version_attribute: &dyn Fn(&str) -> Option<String>,
    accepting: Accepting,
) -> Extracted<'a> {
    let mut out = Extracted::default();
    for resource_spans in &request.resource_spans {
        let resource: &[KeyValue] = resource_spans
            .resource
            .as_ref()
            .map_or(&[], |resource| &resource.attributes);
        let service = find(resource, SERVICE_NAME)
            .and_then(text)
            .filter(|name| !name.is_empty());
        // Asked once per resource: the version attribute is a property of the service.
        let attribute = service.and_then(version_attribute);
        let spans = resource_spans
            .scope_spans
            .iter()
            .flat_map(|scope| &scope.spans);
        for span in spans {
            if span.kind != SpanKind::Server as i32 {
                out.ignored += 1;
                continue;
            }
            let Some(service) = service else {
                out.reject(|| describe(span, None, &Reason::NoServiceName));
                continue;
            };
            let Some(attribute) = attribute.as_deref() else {
                out.ignored += 1;
                continue;
            };
            match facts(span, service, attribute, resource, accepting) {
                Ok(facts) => out.spans.push(facts),
                Err(reason) => out.reject(|| describe(span, Some(service), &reason)),
            }
        }
    }
    out
}

/// The facts of one server span, or why it is refused.
fn facts<'a>(
    span: &'a Span,
    service: &'a str,
    attribute: &str,
    resource: &'a [KeyValue],
    accepting: Accepting,
) -> Result<SpanFacts<'a>, Reason> {
    let mut version = None;
    let mut http_error = false;
    // One pass over the span's attributes finds the version and the HTTP status.
    for pair in &span.attributes {
        if pair.key == attribute {
            version = version.or_else(|| pair.value.as_ref().and_then(|v| version_text(&v.value)));
        } else if HTTP_STATUS.contains(&pair.key.as_str()) {
            http_error |= pair
                .value
                .as_ref()
                .and_then(|v| http_status(&v.value))
                .is_some_and(|status| status >= 500);
        }
    }
    let version = version
        .or_else(|| find(resource, attribute).and_then(version_text))
        .filter(|version| !version.is_empty())
        .ok_or_else(|| Reason::NoVersion(attribute.to_string()))?;
    let (start, end) = (span.start_time_unix_nano, span.end_time_unix_nano);
    if start == 0 {
        return Err(Reason::NoStart);
    }
    if end < start {
        return Err(Reason::EndsBeforeStart);
    }
    if end < accepting.oldest_ns {
        return Err(Reason::TooOld);
    }
    if end > accepting.newest_ns {
        return Err(Reason::InTheFuture);
    }
    for (what, name) in [
        ("service.name", service),
        ("version", &version),
        ("name", span.name.as_str()),
    ] {
        if name.len() > MAX_NAME_BYTES {
            return Err(Reason::TooLong(what));
        }
    }
    let error = http_error
        || span
            .status
            .as_ref()
            .is_some_and(|status| status.code == StatusCode::Error as i32);
    Ok(SpanFacts {
        service,
        version,
        operation: &span.name,
        end_ns: end,
        seconds: (end - start) as f64 / 1e9,
        error,
    })
}

/// The value of the attribute `key`, if present.
fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Option<any_value::Value>> {
    attributes
        .iter()
        .find(|pair| pair.key == key)
        .and_then(|pair| pair.value.as_ref())
        .map(|value| &value.value)
}

/// A string attribute's text.
fn text(value: &Option<any_value::Value>) -> Option<&str> {
    match value {
        Some(any_value::Value::StringValue(text)) => Some(text),
        _ => None,
    }
}

/// A version as text: strings as they are, integers (a build number) in decimal.
fn version_text(value: &Option<any_value::Value>) -> Option<Cow<'_, str>> {
    match value {
        Some(any_value::Value::StringValue(text)) => Some(Cow::Borrowed(text)),
        Some(any_value::Value::IntValue(number)) => Some(Cow::Owned(number.to_string())),
        _ => None,
    }
}

/// An HTTP status from an integer attribute, or a string one as some instrumentations send.
fn http_status(value: &Option<any_value::Value>) -> Option<i64> {
    match value {
        Some(any_value::Value::IntValue(status)) => Some(*status),
        Some(any_value::Value::StringValue(text)) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Names a refused span so its sender can find it: name, ids, service, and the reason.
fn describe(span: &Span, service: Option<&str>, reason: &Reason) -> String {
    let service = service.map_or(String::new(), |service| format!(" of service {service:?}"));
    format!(
        "span {:?} (trace {}, span {}){service} refused: {reason}",
        span.name,
        hex(&span.trace_id),
        hex(&span.span_id),
    )
}

/// Lower-case hex, as OTLP/JSON writes ids.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
#[path = "span_tests.rs"]
mod tests;
