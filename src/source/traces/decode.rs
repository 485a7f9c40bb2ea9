//! OTLP/HTTP bodies in and out: content types, gzip with a cap on the inflated size,
//! protobuf and OTLP/JSON requests counted before they are decoded (spans, attributes) and
//! decoded within the shared memory budget, and the response body in the request's encoding.

use std::io::Read;

use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::budget::{DecodeBudget, Reservation};
use super::census::{self, CensusLimits};
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
    /// More spans than one export may hold.
    #[error("the export holds more than {limit} spans; send smaller batches")]
    TooManySpans {
        /// `traces.max_spans_per_export`.
        limit: usize,
    },
    /// More attributes than one export may hold.
    #[error("the export holds more than {limit} attributes; send smaller batches")]
    TooManyAttributes {
        /// `traces.max_attributes_per_export`.
        limit: usize,
    },
    /// More JSON objects than the span and attribute limits allow.
    #[error(
        "the JSON export holds more than {limit} objects (spans, attributes and their values); send smaller batches"
    )]
    TooManyObjects {
        /// The most spans plus twice the most attributes.
        limit: usize,
    },
    /// Decoding it would take more memory than the whole decode budget.
    #[error(
        "decoding the export would take {needed} bytes, more than the decode budget of {budget}; send smaller batches"
    )]
    OverBudget {
        /// The bound of what it would take.
        needed: usize,
        /// `traces.decode_budget_bytes`.
        budget: usize,
    },
    /// The decode budget is taken by exports in flight: retry later.
    #[error("the decode budget of {budget} bytes is taken by exports in flight; retry later")]
    Busy {
        /// `traces.decode_budget_bytes`.
        budget: usize,
    },
}

impl DecodeError {
    /// Whether the same body would be refused again: everything but [`DecodeError::Busy`].
    pub fn is_final(&self) -> bool {
        !matches!(self, DecodeError::Busy { .. })
    }

    /// Whether the body is refused for its size (413) rather than its content (400).
    pub fn is_size(&self) -> bool {
        matches!(
            self,
            DecodeError::TooLarge { .. }
                | DecodeError::TooManySpans { .. }
                | DecodeError::TooManyAttributes { .. }
                | DecodeError::TooManyObjects { .. }
                | DecodeError::OverBudget { .. }
        )
    }
}

/// What one export may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest body to decode, inflated or not (a gzip bomb stops one byte past it).
    pub max_inflated: usize,
    /// Spans and attributes, counted before decoding.
    pub census: CensusLimits,
}

/// A decoded export and the memory it holds from the budget until it is dropped.
#[derive(Debug)]
pub struct Decoded {
    /// The request.
    pub request: ExportTraceServiceRequest,
    /// Returned to the budget on drop.
    reservation: Reservation,
}

impl Decoded {
    /// The bytes reserved from the budget for this export.
    pub fn reserved_bytes(&self) -> usize {
        self.reservation.bytes()
    }
}

/// Reads an export request from `body`: inflated first when `gzip` (the request had
/// `Content-Encoding: gzip`), counted, then decoded as `encoding`, within `budget`.
///
/// The inflated body and the bound of the decoded request are reserved from `budget` before
/// they are allocated, and held by the [`Decoded`] until it is dropped. Past
/// `limits.max_inflated` the answer is [`DecodeError::TooLarge`] (a gzip bomb is never inflated
/// further than one byte past it); past the span or attribute limits it is refused before
/// anything is decoded.
pub fn decode(
    body: &[u8],
    encoding: Encoding,
    gzip: bool,
    limits: &DecodeLimits,
    budget: &DecodeBudget,
) -> Result<Decoded, DecodeError> {
    let mut reservation = budget.reservation();
    let inflated;
    let bytes = if gzip {
        inflated = gunzip(body, limits.max_inflated, &mut reservation)?;
        &inflated[..]
    } else if body.len() > limits.max_inflated {
        return Err(DecodeError::TooLarge {
            limit: limits.max_inflated,
        });
    } else {
        body
    };
    let request = match encoding {
        Encoding::Protobuf => {
            let counted = census::protobuf(bytes, &limits.census)?;
            reservation.grow(counted.decoded_bytes(bytes.len()))?;
            ExportTraceServiceRequest::decode(bytes)
                .map_err(|error| DecodeError::Protobuf(error.to_string()))?
        }
        Encoding::Json => {
            let objects = census::json_objects(bytes, limits.census.max_json_objects())?;
            reservation.grow(census::json_typed_bytes(bytes.len(), objects))?;
            json::parse_guarded(bytes, || {
                reservation.grow(census::json_value_bytes(bytes.len(), objects))
            })?
        }
    };
    Ok(Decoded {
        request,
        reservation,
    })
}

/// Inflates gzip (one member or several, as `Content-Encoding: gzip` allows) into at most
/// `limit` bytes, reserving each new buffer whole before it is allocated (at most about twice
/// the limit in all). The buffer grows by hand, never
/// past `limit + 1` bytes of capacity: `Read::read_to_end` would double it and could reserve
/// twice the limit.
fn gunzip(
    body: &[u8],
    limit: usize,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, DecodeError> {
    const CHUNK: usize = 64 * 1024;
    let too_large = DecodeError::TooLarge { limit };
    let mut decoder = MultiGzDecoder::new(body);
    // Compressed OTLP is typically 5-10x smaller than the message: start there.
    let start = body.len().saturating_mul(8).min(limit) + 1;
    reservation.grow(start + CHUNK)?;
    let mut out: Vec<u8> = Vec::with_capacity(start);
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
            // Growing copies into a new buffer while the old one is still held: the new one
            // is reserved whole, so the sum of reservations covers that moment too.
            reservation.grow(grown)?;
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

    use std::mem::size_of;

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
}
