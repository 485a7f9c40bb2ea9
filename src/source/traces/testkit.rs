//! Builders of export requests for the tests of this module.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// 2026-11-22T12:00:00Z, in Unix seconds: "now" in the tests.
pub(crate) const NOW: i64 = 1_795_348_800;

pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(NOW, 0).unwrap_or_default()
}

/// A string attribute.
pub(crate) fn text(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_string()))
}

/// An integer attribute.
pub(crate) fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// A SERVER span named `name` that ended `ago` seconds before [`NOW`] and lasted `seconds`.
pub(crate) fn server_span(name: &str, ago: f64, seconds: f64) -> Span {
    let end = (i128::from(NOW) * 1_000_000_000 - (ago * 1e9).round() as i128) as u64;
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: name.to_string(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: end - (seconds * 1e9).round() as u64,
        end_time_unix_nano: end,
        ..Span::default()
    }
}

/// The same span moved `seconds` later.
pub(crate) fn shifted(mut span: Span, seconds: i64) -> Span {
    let by = |t: u64| (i128::from(t) + i128::from(seconds) * 1_000_000_000) as u64;
    span.start_time_unix_nano = by(span.start_time_unix_nano);
    span.end_time_unix_nano = by(span.end_time_unix_nano);
    span
}

/// The same span with status ERROR.
pub(crate) fn failed(mut span: Span) -> Span {
    span.status = Some(Status {
        message: String::new(),
        code: 2,
    });
    span
}

/// The same span with more attributes.
pub(crate) fn with(mut span: Span, attributes: Vec<KeyValue>) -> Span {
    span.attributes.extend(attributes);
    span
}

/// One resource with these attributes holding `spans`.
pub(crate) fn resource(attributes: Vec<KeyValue>, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes,
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }
}

/// A request of `spans` from `service` at `version` (resource attribute `service.version`).
pub(crate) fn request(service: &str, version: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![resource(
            vec![
                text("service.name", service),
                text("service.version", version),
            ],
            spans,
        )],
    }
}

/// Every service's version in `service.version`.
pub(crate) fn by_service_version(_service: &str) -> Option<String> {
    Some("service.version".to_string())
}
