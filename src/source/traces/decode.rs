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
#[path = "decode_tests.rs"]
mod tests;
