//! OTLP/JSON: the request through `opentelemetry-proto`'s serde types, with the gaps they leave
//! against the OTLP/JSON specification filled in, and the response written as the protobuf JSON
//! mapping wants it.
//!
//! What the generated types already do right: lowerCamelCase keys, unknown keys ignored,
//! hex-encoded `traceId`/`spanId`/`parentSpanId` (either case), enums as integers, 64-bit
//! integers (`startTimeUnixNano`, `intValue`) as strings or numbers, base64 `bytesValue`.
//!
//! What they refuse that a conforming receiver accepts (the protobuf JSON mapping, which
//! OTLP/JSON follows), so a body that fails the direct parse is rewritten and parsed again:
//! - `null` for any field: the field's default;
//! - enums by name (`"SPAN_KIND_SERVER"`, `"STATUS_CODE_ERROR"`) and 32-bit integers as
//!   strings (`"kind": "2"`, `"droppedAttributesCount": "1"`);
//! - an omitted repeated field in `arrayValue`/`kvlistValue` (`{"arrayValue": {}}`) and an
//!   omitted `key` in a key-value pair: empty;
//! - `doubleValue` as a string (`"1.5"`; `"NaN"` and the infinities, which a JSON number cannot
//!   hold, leave the attribute empty).
//!
//! The direct parse comes first because it is faster and its errors carry a line and column.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest,
};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::{Map, Value};

use super::decode::DecodeError;

/// Fields of 32-bit integer type in a trace request: the protobuf JSON mapping lets senders
/// write them as strings, and the generated types only take numbers.
const INT32_FIELDS: &[&str] = &[
    "kind",
    "code",
    "flags",
    "droppedAttributesCount",
    "droppedEventsCount",
    "droppedLinksCount",
];

/// Parses an OTLP/JSON export request; the error says what is wrong and, when the body could be
/// read as JSON at all, where.
#[cfg(test)]
pub(crate) fn parse(bytes: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    parse_guarded(bytes, || Ok(())).map_err(|e| match e {
        DecodeError::Json(message) => message,
        other => other.to_string(),
    })
}

/// As `parse`, asking `before_fallback` (the memory budget) before the slower, hungrier
/// normalising parse; its error is returned as it is.
pub(crate) fn parse_guarded(
    bytes: &[u8],
    before_fallback: impl FnOnce() -> Result<(), DecodeError>,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    let direct = match serde_json::from_slice::<ExportTraceServiceRequest>(bytes) {
        Ok(request) => return Ok(request),
        Err(error) => error,
    };
    // Syntax errors and truncation cannot be rewritten away; only a well-formed document with
    // a shape the generated types refuse gets a second chance.
    if direct.classify() != serde_json::error::Category::Data {
        return Err(DecodeError::Json(direct.to_string()));
    }
    before_fallback()?;
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|error| DecodeError::Json(error.to_string()))?;
    normalize(&mut value);
    serde_json::from_value(value).map_err(|again| {
        // The same problem is reported with the position the direct parse knew; a different
        // one (the first was rewritten away) as it comes.
        let again = again.to_string();
        let direct = direct.to_string();
        DecodeError::Json(if direct.starts_with(&again) {
            direct
        } else {
            again
        })
    })
}

/// Rewrites, in place and at any depth, what the protobuf JSON mapping allows and the
/// generated types refuse (see the module documentation). Depth is bounded by serde_json's
/// recursion limit (128) on the parse that built `value`.
fn normalize(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(normalize),
        Value::Object(members) => {
            members.retain(|_, member| !member.is_null());
            for (name, member) in members.iter_mut() {
                normalize_member(name, member);
                normalize(member);
            }
        }
        _ => {}
    }
}

/// The rewrites that depend on the member's name.
fn normalize_member(name: &str, member: &mut Value) {
    match (name, &mut *member) {
        (name, Value::String(text)) if INT32_FIELDS.contains(&name) => {
            let number = text
                .trim()
                .parse::<i64>()
                .ok()
                .or_else(|| enum_number(name, text));
            if let Some(number) = number {
                *member = Value::from(number);
            }
        }
        ("arrayValue" | "kvlistValue", Value::Object(list)) => {
            let values = list
                .entry("values")
                .or_insert_with(|| Value::Array(Vec::new()));
            if name == "kvlistValue" {
                with_keys(values);
            }
        }
        ("attributes", attributes) => with_keys(attributes),
        ("doubleValue", Value::String(text)) => {
            *member = text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number);
        }
        _ => {}
    }
}

/// The number of an enum given by name, for the two enums of a span.
fn enum_number(field: &str, name: &str) -> Option<i64> {
    match field {
        "kind" => SpanKind::from_str_name(name).map(|kind| kind as i64),
        "code" => StatusCode::from_str_name(name).map(|code| code as i64),
        _ => None,
    }
}

/// Gives every key-value pair in a list a `key` (empty when omitted).
fn with_keys(list: &mut Value) {
    if let Value::Array(pairs) = list {
        for pair in pairs.iter_mut().filter_map(Value::as_object_mut) {
            pair.entry("key")
                .or_insert_with(|| Value::String(String::new()));
        }
    }
}

/// The response in the protobuf JSON mapping: default fields omitted, so full success is `{}`,
/// and the 64-bit `rejectedSpans` as a decimal string, which every conforming parser reads.
pub(crate) fn response(partial_success: Option<&ExportTracePartialSuccess>) -> Vec<u8> {
    let mut body = Map::new();
    if let Some(partial) = partial_success {
        let mut fields = Map::new();
        if partial.rejected_spans != 0 {
            fields.insert(
                "rejectedSpans".to_string(),
                Value::String(partial.rejected_spans.to_string()),
            );
        }
        if !partial.error_message.is_empty() {
            fields.insert(
                "errorMessage".to_string(),
                Value::String(partial.error_message.clone()),
            );
        }
        body.insert("partialSuccess".to_string(), Value::Object(fields));
    }
    // Serialising a map of strings cannot fail; an empty object is the safe fallback anyway.
    serde_json::to_vec(&Value::Object(body)).unwrap_or_else(|_| b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value;

    use super::*;

    /// The OTLP specification's own example (opentelemetry-proto's `examples/trace.json`).
    const EXAMPLE: &str = include_str!("../../../../shared/reference/otlp/trace.example.json");

    #[test]
    fn the_specification_example_decodes_with_its_ids_names_and_times() {
        let request = parse(EXAMPLE.as_bytes()).expect("the example decodes");
        let resource = &request.resource_spans[0];
        let attribute = &resource.resource.as_ref().expect("resource").attributes[0];
        assert_eq!(attribute.key, "service.name");
        assert_eq!(
            attribute.value.as_ref().and_then(|v| v.value.clone()),
            Some(any_value::Value::StringValue("my.service".to_string()))
        );
        let scope = &resource.scope_spans[0];
        let library = scope.scope.as_ref().expect("scope");
        assert_eq!(
            (library.name.as_str(), library.version.as_str()),
            ("my.library", "1.0.0")
        );
        let span = &scope.spans[0];
        assert_eq!(
            span.trace_id,
            [
                0x5B, 0x8E, 0xFF, 0xF7, 0x98, 0x03, 0x81, 0x03, 0xD2, 0x69, 0xB6, 0x33, 0x81, 0x3F,
                0xC6, 0x0C
            ]
        );
        assert_eq!(
            span.span_id,
            [0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x74]
        );
        assert_eq!(
            span.parent_span_id,
            [0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x73]
        );
        assert_eq!(span.name, "I'm a server span");
        assert_eq!(span.kind, SpanKind::Server as i32);
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
        assert_eq!(span.attributes[0].key, "my.span.attr");
    }

    #[test]
    fn int64_fields_are_read_from_strings_and_numbers_and_ids_in_either_case() {
        let body = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
            "traceId":"5b8efff798038103d269b633813fc60c","spanId":"EEE19B7EC3C1B174",
            "startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"1544712661000000000",
            "attributes":[{"key":"n","value":{"intValue":42}},{"key":"s","value":{"intValue":"-7"}}],
            "status":{"code":2},"unknownField":{"ignored":true}}]}]}]}"#;
        let request = parse(body.as_bytes()).expect("decodes");
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.trace_id[0], 0x5b);
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
        let ints: Vec<_> = span
            .attributes
            .iter()
            .map(|a| a.value.as_ref().and_then(|v| v.value.clone()))
            .collect();
        assert_eq!(
            ints,
            [
                Some(any_value::Value::IntValue(42)),
                Some(any_value::Value::IntValue(-7))
            ]
        );
        assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
    }

    #[test]
    fn what_the_mapping_allows_and_the_generated_types_refuse_is_accepted() {
        let body = r#"{"resourceSpans":[{"resource":null,"scopeSpans":[{"spans":[{
            "traceId":"5b8efff798038103d269b633813fc60c","parentSpanId":null,
            "kind":"SPAN_KIND_SERVER","flags":"1","droppedAttributesCount":"2",
            "status":{"code":"STATUS_CODE_ERROR","message":null},
            "attributes":[{"key":"a","value":{"arrayValue":{}}},
                {"key":"k","value":{"kvlistValue":{"values":[{"value":{"boolValue":true}}]}}},
                {"value":{"doubleValue":"1.5"}},{"key":"nan","value":{"doubleValue":"NaN"}}],
            "events":null}]}]}]}"#;
        let request = parse(body.as_bytes()).expect("decodes after normalization");
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.kind, SpanKind::Server as i32);
        assert_eq!((span.flags, span.dropped_attributes_count), (1, 2));
        assert_eq!(
            span.status.as_ref().map(|s| s.code),
            Some(StatusCode::Error as i32)
        );
        assert!(span.parent_span_id.is_empty() && span.events.is_empty());
        let values: Vec<_> = span
            .attributes
            .iter()
            .map(|a| a.value.as_ref().and_then(|v| v.value.clone()))
            .collect();
        assert!(matches!(&values[0], Some(any_value::Value::ArrayValue(a)) if a.values.is_empty()));
        assert!(
            matches!(&values[1], Some(any_value::Value::KvlistValue(l)) if l.values[0].key.is_empty())
        );
        assert_eq!(values[2], Some(any_value::Value::DoubleValue(1.5)));
        assert_eq!(span.attributes[2].key, "");
        assert_eq!(values[3], None);
    }

    #[test]
    fn errors_say_what_and_where() {
        let error = parse(b"{\"resourceSpans\": [").expect_err("truncated");
        assert!(error.contains("line 1 column 19"), "{error}");
        let error = parse(b"not json").expect_err("garbage");
        assert!(error.contains("at line 1 column"), "{error}");
        let bad_id =
            "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[\n{\"traceId\":\"xyz\"}]}]}]}";
        let error = parse(bad_id.as_bytes()).expect_err("bad hex");
        assert!(error.contains("line 2"), "{error}");
        let error = parse(b"[1, 2, 3]").expect_err("not an object");
        assert!(error.contains("line 1"), "{error}");
        // Unknown members are ignored, even ones the rewrite would touch.
        let ignored = parse(br#"{"resourceSpans":null,"x":{"kind":"SPAN_KIND_NONE"}}"#);
        assert!(ignored.is_ok(), "{ignored:?}");
        // A problem the rewrite cannot fix is reported where the body has it.
        let spans = |span: &str| {
            format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#)
        };
        let error = parse(spans(r#"{"kind":"SPAN_KIND_NONE"}"#).as_bytes()).expect_err("bad kind");
        assert!(
            error.contains("invalid type: string") && error.contains("line 1 column"),
            "{error}"
        );
        // One found after a rewritten one (the null before it) is reported without a position,
        // never as the null, which is fine.
        let error = parse(spans(r#"{"events":null,"kind":"SPAN_KIND_NONE"}"#).as_bytes())
            .expect_err("bad kind after a null");
        assert!(
            error.contains("invalid type: string") && !error.contains("null"),
            "{error}"
        );
    }

    #[test]
    fn responses_follow_the_protobuf_json_mapping() {
        assert_eq!(response(None), b"{}");
        let partial = ExportTracePartialSuccess {
            rejected_spans: 2,
            error_message: String::new(),
        };
        assert_eq!(
            response(Some(&partial)),
            br#"{"partialSuccess":{"rejectedSpans":"2"}}"#
        );
    }
}
