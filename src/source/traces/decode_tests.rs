//! Tests of `decode.rs`: content types, round trips, gzip and its bombs, the span and
//! attribute limits and the shared decode budget, and the response bodies.

use std::io::Write;
use std::mem::size_of;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::*;

const LIMIT: usize = 16 << 20;

/// A budget no test input comes near.
fn roomy() -> DecodeBudget {
    DecodeBudget::new(1 << 30)
}

/// Decodes with generous span and attribute limits and budget.
fn dec(
    body: &[u8],
    encoding: Encoding,
    gzip: bool,
    max_inflated: usize,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    let limits = DecodeLimits {
        max_inflated,
        census: CensusLimits {
            max_spans: 1 << 20,
            max_attributes: 1 << 20,
        },
    };
    decode(body, encoding, gzip, &limits, &roomy()).map(|d| d.request)
}

fn request() -> ExportTraceServiceRequest {
    let text = |key: &str, value: &str| KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..KeyValue::default()
    };
    let span = Span {
        trace_id: vec![7; 16],
        span_id: vec![9; 8],
        name: "GET /api/v1/transactions".to_string(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_250_000_000,
        attributes: vec![text("http.route", "/api/v1/transactions")],
        status: Some(Status {
            message: "boom".to_string(),
            code: 2,
        }),
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "checkout")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("in memory");
    encoder.finish().expect("in memory")
}

#[test]
fn content_types_ignore_parameters_and_case_and_refuse_the_rest() {
    assert_eq!(
        encoding_of("application/x-protobuf"),
        Some(Encoding::Protobuf)
    );
    assert_eq!(
        encoding_of("Application/JSON; charset=utf-8"),
        Some(Encoding::Json)
    );
    assert_eq!(encoding_of(" application/json ;"), Some(Encoding::Json));
    for other in [
        "",
        "text/plain",
        "application/protobuf",
        "application/jsonx",
    ] {
        assert_eq!(encoding_of(other), None, "{other}");
    }
}

#[test]
fn a_protobuf_request_round_trips_plain_and_gzipped() {
    let sent = request();
    let bytes = sent.encode_to_vec();
    assert_eq!(
        dec(&bytes, Encoding::Protobuf, false, LIMIT),
        Ok(sent.clone())
    );
    let zipped = gzipped(&bytes);
    assert_eq!(
        dec(&zipped, Encoding::Protobuf, true, LIMIT),
        Ok(sent.clone())
    );
    // Two gzip members, one after the other, are one body.
    let mut twice = gzipped(&bytes[..10]);
    twice.extend(gzipped(&bytes[10..]));
    assert_eq!(dec(&twice, Encoding::Protobuf, true, LIMIT), Ok(sent));
}

#[test]
fn a_truncated_protobuf_body_is_a_protobuf_error() {
    let bytes = request().encode_to_vec();
    for cut in [1, bytes.len() / 2, bytes.len() - 1] {
        let error = dec(&bytes[..cut], Encoding::Protobuf, false, LIMIT);
        assert!(
            matches!(error, Err(DecodeError::Protobuf(_))),
            "{cut}: {error:?}"
        );
    }
}

#[test]
fn garbage_is_an_error_of_the_right_kind() {
    let garbage = b"\xff\xfe not a message at all {";
    assert!(matches!(
        dec(garbage, Encoding::Protobuf, false, LIMIT),
        Err(DecodeError::Protobuf(_))
    ));
    assert!(matches!(
        dec(garbage, Encoding::Json, false, LIMIT),
        Err(DecodeError::Json(_))
    ));
    assert!(matches!(
        dec(garbage, Encoding::Protobuf, true, LIMIT),
        Err(DecodeError::Gzip(_))
    ));
    let cut = gzipped(&request().encode_to_vec());
    assert!(matches!(
        dec(&cut[..cut.len() / 2], Encoding::Protobuf, true, LIMIT),
        Err(DecodeError::Gzip(_))
    ));
}

#[test]
fn a_gzip_bomb_stops_at_the_limit_without_inflating_it() {
    // 100 MB of zeros compress to about 100 kB.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        encoder.write_all(&zeros).expect("in memory");
    }
    let bomb = encoder.finish().expect("in memory");
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    let limit = 4 << 20;
    assert_eq!(
        dec(&bomb, Encoding::Protobuf, true, limit),
        Err(DecodeError::TooLarge { limit })
    );
    // The inflating buffer never holds more than the limit.
    assert_eq!(
        gunzip(&bomb, limit, &mut roomy().reservation()),
        Err(DecodeError::TooLarge { limit })
    );
    let small = gzipped(&[0u8; 1000]);
    assert_eq!(
        gunzip(&small, 1000, &mut roomy().reservation()).map(|v| v.len()),
        Ok(1000)
    );
    assert_eq!(
        gunzip(&small, 999, &mut roomy().reservation()),
        Err(DecodeError::TooLarge { limit: 999 })
    );
}

/// A length-delimited field: its key byte, the length as a varint, the payload.
fn field(key: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![key];
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// `spans` empty spans (two bytes each) in one scope of one resource, gzipped.
fn empty_span_bomb(spans: usize) -> Vec<u8> {
    let scope = [0x12u8, 0x00].repeat(spans);
    let request = field(0x0a, &field(0x12, &scope));
    gzipped(&request)
}

#[test]
fn an_empty_span_bomb_is_refused_before_anything_is_decoded() {
    // 3 million empty spans: a few KiB of gzip, 6 MB inflated, about 1.8 GB decoded.
    let bomb = empty_span_bomb(3_000_000);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let limits = DecodeLimits {
        max_inflated: 32 << 20,
        census: CensusLimits {
            max_spans: 100_000,
            max_attributes: 1_000_000,
        },
    };
    let budget = DecodeBudget::new(128 << 20);
    let refused = decode(&bomb, Encoding::Protobuf, true, &limits, &budget);
    assert_eq!(
        refused.map(|d| d.reserved_bytes()),
        Err(DecodeError::TooManySpans { limit: 100_000 })
    );
    assert_eq!(
        budget.reserved_bytes(),
        0,
        "the refusal gives its reservation back"
    );
    // As JSON: three bytes a span.
    let json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}{{}}]}}]}}]}}"#,
        "{},".repeat(3_000_000)
    );
    let refused = decode(json.as_bytes(), Encoding::Json, false, &limits, &budget);
    assert!(
        matches!(refused, Err(DecodeError::TooManyObjects { .. })),
        "{refused:?}"
    );
}

#[test]
fn concurrent_decodes_share_one_budget() {
    let limits = DecodeLimits {
        max_inflated: 32 << 20,
        census: CensusLimits {
            max_spans: 100_000,
            max_attributes: 1_000_000,
        },
    };
    let bomb = empty_span_bomb(90_000);
    // Room for one such export, not two.
    let one = decode(&bomb, Encoding::Protobuf, true, &limits, &roomy())
        .unwrap()
        .reserved_bytes();
    let budget = DecodeBudget::new(one * 3 / 2);
    let first = decode(&bomb, Encoding::Protobuf, true, &limits, &budget).unwrap();
    assert_eq!(
        first.request.resource_spans[0].scope_spans[0].spans.len(),
        90_000
    );
    let held = first.reserved_bytes();
    assert!(held > 90_000 * size_of::<Span>(), "{held}");
    assert_eq!(budget.reserved_bytes(), held);
    let second = decode(&bomb, Encoding::Protobuf, true, &limits, &budget);
    assert!(
        matches!(second, Err(DecodeError::Busy { .. })),
        "{second:?}"
    );
    drop(first);
    assert_eq!(budget.reserved_bytes(), 0);
    assert!(decode(&bomb, Encoding::Protobuf, true, &limits, &budget).is_ok());
    // Never fits, however idle the receiver.
    let small = DecodeBudget::new(1 << 20);
    let refused = decode(&bomb, Encoding::Protobuf, true, &limits, &small);
    assert!(
        matches!(refused, Err(DecodeError::OverBudget { .. })),
        "{refused:?}"
    );
}

#[test]
fn an_uncompressed_body_over_the_limit_is_too_large() {
    let bytes = request().encode_to_vec();
    let limit = bytes.len() - 1;
    assert_eq!(
        dec(&bytes, Encoding::Protobuf, false, limit),
        Err(DecodeError::TooLarge { limit })
    );
}

#[test]
fn responses_are_empty_on_success_and_carry_partial_success_otherwise() {
    assert!(encode_response(Encoding::Protobuf, 0, "").is_empty());
    assert_eq!(encode_response(Encoding::Json, 0, ""), b"{}");
    let bytes = encode_response(Encoding::Protobuf, 3, "span store full");
    let response = ExportTraceServiceResponse::decode(&bytes[..]).expect("decodes");
    assert_eq!(
        response.partial_success,
        Some(ExportTracePartialSuccess {
            rejected_spans: 3,
            error_message: "span store full".to_string(),
        })
    );
    let text = encode_response(Encoding::Json, 3, "span \"x\": full");
    let value: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
    assert_eq!(
        value,
        serde_json::json!({"partialSuccess": {"rejectedSpans": "3", "errorMessage": "span \"x\": full"}})
    );
    // A warning with nothing rejected is still sent, as the specification allows.
    let warning = encode_response(Encoding::Json, 0, "note");
    let value: serde_json::Value = serde_json::from_slice(&warning).expect("JSON");
    assert_eq!(value["partialSuccess"]["errorMessage"], "note");
}
