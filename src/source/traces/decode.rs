//! OTLP/HTTP bodies in and out: content types, gzip with a cap on the inflated size,
//! protobuf and OTLP/JSON requests, and the response body in the request's encoding.

use std::io::Read;

use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::json;

/// How a body is encoded, per its `Content-Type`. OTLP/HTTP answers in the request's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`: the binary protobuf message.
    Protobuf,
    /// `application/json`: OTLP/JSON (the protobuf JSON mapping with OTLP's exceptions:
    /// hex-encoded ids, integer enums).
    Json,
}

impl Encoding {
    /// The `Content-Type` of a response in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The encoding a `Content-Type` names, parameters (`; charset=utf-8`) and case ignored; `None`
/// for any other type, which OTLP/HTTP answers with 415 Unsupported Media Type.
pub fn encoding_of(content_type: &str) -> Option<Encoding> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-protobuf") {
        Some(Encoding::Protobuf)
    } else if essence.eq_ignore_ascii_case("application/json") {
        Some(Encoding::Json)
    } else {
        None
    }
}

/// Why a body could not be read. All are the sender's fault (400, or 413 for [`TooLarge`]) and
/// must not be retried as they are.
///
/// [`TooLarge`]: DecodeError::TooLarge
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// `Content-Encoding: gzip` on a body that is not gzip, or is cut short.
    #[error("the body is not valid gzip: {0}")]
    Gzip(String),
    /// Not an `ExportTraceServiceRequest` in protobuf (prost names the field it failed in).
    #[error("the body is not an OTLP ExportTraceServiceRequest in protobuf: {0}")]
    Protobuf(String),
    /// Not an `ExportTraceServiceRequest` in OTLP/JSON (with the line and column when known).
    #[error("the body is not an OTLP ExportTraceServiceRequest in JSON: {0}")]
    Json(String),
    /// The body, once inflated, is longer than the limit.
    #[error("the body inflates to more than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// Reads an export request from `body`: inflated first when `gzip` (the request had
/// `Content-Encoding: gzip`), then decoded as `encoding`.
///
/// `max_inflated` bounds the body to decode, inflated or not: past it the answer is
/// [`DecodeError::TooLarge`], and a gzip bomb is never inflated further than one byte past the
/// limit. Decoded messages take more memory than their encoding (an empty protobuf message is
/// two bytes, its Rust struct some 80), so size the limit with that factor in mind.
pub fn decode(
    body: &[u8],
    encoding: Encoding,
    gzip: bool,
    max_inflated: usize,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    let inflated;
    let bytes = if gzip {
        inflated = gunzip(body, max_inflated)?;
        &inflated[..]
    } else if body.len() > max_inflated {
        return Err(DecodeError::TooLarge {
            limit: max_inflated,
        });
    } else {
        body
    };
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes)
            .map_err(|error| DecodeError::Protobuf(error.to_string())),
        Encoding::Json => json::parse(bytes).map_err(DecodeError::Json),
    }
}

/// Inflates gzip (one member or several, as `Content-Encoding: gzip` allows) into at most
/// `limit` bytes. The buffer grows by hand, never past `limit + 1` bytes of capacity: `Read::
/// read_to_end` would double it and could reserve twice the limit.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    const CHUNK: usize = 64 * 1024;
    let too_large = DecodeError::TooLarge { limit };
    let mut decoder = MultiGzDecoder::new(body);
    // Compressed OTLP is typically 5-10x smaller than the message: start there.
    let mut out: Vec<u8> = Vec::with_capacity(body.len().saturating_mul(8).min(limit) + 1);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let read = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(DecodeError::Gzip(error.to_string())),
        };
        let wanted = out.len() + read;
        if wanted > limit {
            return Err(too_large);
        }
        if wanted > out.capacity() {
            let grown = out.capacity().saturating_mul(2).clamp(wanted, limit);
            out.reserve_exact(grown - out.len());
        }
        out.extend_from_slice(&chunk[..read]);
    }
}

/// The body of an export response in `encoding`: an empty `ExportTraceServiceResponse` when
/// every span was accepted and there is nothing to say, otherwise one with `partial_success`
/// carrying `rejected` (the spans refused) and `message` (why, for the sender's logs).
pub fn encode_response(encoding: Encoding, rejected: i64, message: &str) -> Vec<u8> {
    let partial_success =
        (rejected != 0 || !message.is_empty()).then(|| ExportTracePartialSuccess {
            rejected_spans: rejected,
            error_message: message.to_string(),
        });
    match encoding {
        Encoding::Protobuf => ExportTraceServiceResponse { partial_success }.encode_to_vec(),
        Encoding::Json => json::response(partial_success.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

    use super::*;

    const LIMIT: usize = 16 << 20;

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
            decode(&bytes, Encoding::Protobuf, false, LIMIT),
            Ok(sent.clone())
        );
        let zipped = gzipped(&bytes);
        assert_eq!(
            decode(&zipped, Encoding::Protobuf, true, LIMIT),
            Ok(sent.clone())
        );
        // Two gzip members, one after the other, are one body.
        let mut twice = gzipped(&bytes[..10]);
        twice.extend(gzipped(&bytes[10..]));
        assert_eq!(decode(&twice, Encoding::Protobuf, true, LIMIT), Ok(sent));
    }

    #[test]
    fn a_truncated_protobuf_body_is_a_protobuf_error() {
        let bytes = request().encode_to_vec();
        for cut in [1, bytes.len() / 2, bytes.len() - 1] {
            let error = decode(&bytes[..cut], Encoding::Protobuf, false, LIMIT);
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
            decode(garbage, Encoding::Protobuf, false, LIMIT),
            Err(DecodeError::Protobuf(_))
        ));
        assert!(matches!(
            decode(garbage, Encoding::Json, false, LIMIT),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            decode(garbage, Encoding::Protobuf, true, LIMIT),
            Err(DecodeError::Gzip(_))
        ));
        let cut = gzipped(&request().encode_to_vec());
        assert!(matches!(
            decode(&cut[..cut.len() / 2], Encoding::Protobuf, true, LIMIT),
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
            decode(&bomb, Encoding::Protobuf, true, limit),
            Err(DecodeError::TooLarge { limit })
        );
        // The inflating buffer never holds more than the limit.
        assert_eq!(gunzip(&bomb, limit), Err(DecodeError::TooLarge { limit }));
        let small = gzipped(&[0u8; 1000]);
        assert_eq!(gunzip(&small, 1000).map(|v| v.len()), Ok(1000));
        assert_eq!(
            gunzip(&small, 999),
            Err(DecodeError::TooLarge { limit: 999 })
        );
    }

    #[test]
    fn an_uncompressed_body_over_the_limit_is_too_large() {
        let bytes = request().encode_to_vec();
        let limit = bytes.len() - 1;
        assert_eq!(
            decode(&bytes, Encoding::Protobuf, false, limit),
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
}
