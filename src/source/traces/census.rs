//! Counting what an OTLP export would decode into, before decoding it.
//!
//! An empty span is two bytes of protobuf (`{}` in JSON) and some 250 bytes once decoded, so a
//! few kilobytes of gzip can ask for gigabytes. Before prost or serde allocate anything, one
//! pass over the bytes (allocating nothing itself) counts the spans, attributes and other
//! elements the request holds, refuses it past the per-export limits, and turns the counts into
//! an upper bound of the memory decoding takes, which the shared decode budget is asked for.
//!
//! - Protobuf: the wire format is walked with the OTLP trace schema, so the counts are exact
//!   (depth bounded as prost bounds it).
//! - JSON: serde reads keys after unescaping them, so key names cannot be trusted to tell a
//!   span from an attribute; every object is counted as an element instead, an upper bound of
//!   both.

use std::mem::size_of;

use opentelemetry_proto::tonic::common::v1::{AnyValue, EntityRef, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::decode::DecodeError;

/// Nesting prost itself refuses past (its recursion limit).
const MAX_DEPTH: usize = 100;
/// Memory a JSON object may take on the way to the request: the largest element it can become
/// (a span), or its `serde_json::Value` map node on the normalising path (a B-tree leaf of
/// eleven keys and values).
const JSON_OBJECT_BYTES: usize = 1024;
/// Memory per byte of JSON on the normalising path: a member of a few bytes (`"a":0,`) becomes
/// a key `String` and a `Value` in a map node.
const JSON_VALUE_BYTES_PER_BYTE: usize = 12;

/// Per-export limits, counted before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CensusLimits {
    /// Most spans in one export.
    pub max_spans: usize,
    /// Most attributes in one export: key-value pairs at any level (resource, scope, span,
    /// event, link, nested lists) and elements of array values.
    pub max_attributes: usize,
}

impl CensusLimits {
    /// Most objects in one OTLP/JSON export: a span is one, an attribute two (the pair and its
    /// value).
    pub fn max_json_objects(&self) -> usize {
        self.max_spans
            .saturating_add(self.max_attributes.saturating_mul(2))
    }
}

/// What a protobuf export holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Spans.
    pub spans: usize,
    /// Key-value pairs and array elements.
    pub attributes: usize,
    /// `ResourceSpans`, `ScopeSpans`, events, links, entity references.
    pub containers: usize,
    /// Length-delimited fields (strings, bytes, messages), each a possible allocation.
    pub fields: usize,
}

/// The message types of the OTLP trace schema that hold repeated messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    ResourceSpans,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    EntityRef,
    /// Any other message or a string: not looked into.
    Leaf,
}

/// The kind of the length-delimited field `field` of a `parent` message.
fn child(parent: Kind, field: u64) -> Kind {
    use Kind::*;
    match (parent, field) {
        (Request, 1) => ResourceSpans,
        (ResourceSpans, 1) => Resource,
        (ResourceSpans, 2) => ScopeSpans,
        (Resource, 3) => EntityRef,
        (Resource, 1) | (Scope, 3) | (Span, 9) | (Event, 3) | (Link, 4) | (KeyValueList, 1) => {
            KeyValue
        }
        (ScopeSpans, 1) => Scope,
        (ScopeSpans, 2) => Span,
        (Span, 11) => Event,
        (Span, 13) => Link,
        (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
        (AnyValue, 5) => ArrayValue,
        (AnyValue, 6) => KeyValueList,
        _ => Leaf,
    }
}

/// Counts a protobuf `ExportTraceServiceRequest`, failing as soon as a limit is passed.
pub fn protobuf(bytes: &[u8], limits: &CensusLimits) -> Result<Census, DecodeError> {
    let mut census = Census::default();
    walk(bytes, Kind::Request, 0, &mut census, limits)?;
    Ok(census)
}

fn malformed(what: &str) -> DecodeError {
    DecodeError::Protobuf(format!("malformed protobuf: {what}"))
}

fn walk(
    bytes: &[u8],
    kind: Kind,
    depth: usize,
    census: &mut Census,
    limits: &CensusLimits,
) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(malformed("nested too deeply"));
    }
    let mut pos = 0usize;
    while pos < bytes.len() {
        let key = varint(bytes, &mut pos)?;
        let skip = match key & 7 {
            0 => {
                varint(bytes, &mut pos)?;
                0
            }
            1 => 8,
            5 => 4,
            2 => usize::try_from(varint(bytes, &mut pos)?).map_err(|_| malformed("length"))?,
            _ => return Err(malformed("a wire type OTLP does not use")),
        };
        let end = pos
            .checked_add(skip)
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| malformed("a field runs past the end"))?;
        if key & 7 == 2 {
            census.fields += 1;
            let inner = child(kind, key >> 3);
            count(inner, kind, census, limits)?;
            if inner != Kind::Leaf {
                walk(&bytes[pos..end], inner, depth + 1, census, limits)?;
            }
        }
        pos = end;
    }
    Ok(())
}

/// Counts one element of `kind` found in a `parent`.
fn count(
    kind: Kind,
    parent: Kind,
    census: &mut Census,
    limits: &CensusLimits,
) -> Result<(), DecodeError> {
    match kind {
        Kind::Span => {
            census.spans += 1;
            if census.spans > limits.max_spans {
                return Err(DecodeError::TooManySpans {
                    limit: limits.max_spans,
                });
            }
        }
        // The value of a pair is part of the pair; an array's elements count one each.
        Kind::KeyValue | Kind::AnyValue if kind == Kind::KeyValue || parent == Kind::ArrayValue => {
            census.attributes += 1;
            if census.attributes > limits.max_attributes {
                return Err(DecodeError::TooManyAttributes {
                    limit: limits.max_attributes,
                });
            }
        }
        Kind::ResourceSpans | Kind::ScopeSpans | Kind::Event | Kind::Link | Kind::EntityRef => {
            census.containers += 1
        }
        _ => {}
    }
    Ok(())
}

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = *bytes
            .get(*pos)
            .ok_or_else(|| malformed("a number runs past the end"))?;
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err(malformed("a number is too long"));
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed("a number is too long"))
}

impl Census {
    /// An upper bound of the memory prost takes to decode what was counted from `len` bytes:
    /// every repeated element at its size, tripled for the growth of the vectors that hold them
    /// (a vector that doubles holds its old and its new buffer at once), a vector or string
    /// header per length-delimited field, and the bytes themselves (strings and bytes are
    /// copied).
    pub fn decoded_bytes(&self, len: usize) -> usize {
        let largest_container = size_of::<ResourceSpans>()
            .max(size_of::<ScopeSpans>())
            .max(size_of::<Event>())
            .max(size_of::<Link>())
            .max(size_of::<EntityRef>());
        let elements = self
            .spans
            .saturating_mul(size_of::<Span>())
            .saturating_add(
                self.attributes
                    .saturating_mul(size_of::<KeyValue>().max(size_of::<AnyValue>())),
            )
            .saturating_add(self.containers.saturating_mul(largest_container))
            .saturating_add(self.fields.saturating_mul(size_of::<Vec<u8>>()));
        elements.saturating_mul(3).saturating_add(len)
    }
}

/// Counts the objects of a JSON text (outside strings), failing past `max`.
pub fn json_objects(bytes: &[u8], max: usize) -> Result<usize, DecodeError> {
    let (mut objects, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'{' {
            objects += 1;
            if objects > max {
                return Err(DecodeError::TooManyObjects { limit: max });
            }
        }
    }
    Ok(objects)
}

/// Upper bound of the memory the direct parse of a JSON export takes: every object as the
/// largest element, tripled for vector growth, and the text.
pub fn json_typed_bytes(len: usize, objects: usize) -> usize {
    objects
        .saturating_mul(size_of::<Span>())
        .saturating_mul(3)
        .saturating_add(len)
}

/// Upper bound of the memory the normalising parse (through `serde_json::Value`) adds.
pub fn json_value_bytes(len: usize, objects: usize) -> usize {
    objects
        .saturating_mul(JSON_OBJECT_BYTES)
        .saturating_add(len.saturating_mul(JSON_VALUE_BYTES_PER_BYTE))
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use prost::Message;

    use super::*;

    const ROOMY: CensusLimits = CensusLimits {
        max_spans: 1000,
        max_attributes: 1000,
    };

    fn attribute(value: any_value::Value) -> KeyValue {
        KeyValue {
            key: "k".into(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    fn request(spans: usize, attributes_each: usize) -> ExportTraceServiceRequest {
        let span = Span {
            attributes: (0..attributes_each)
                .map(|_| attribute(any_value::Value::IntValue(1)))
                .collect(),
            ..Span::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![attribute(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue::default(); 3],
                    }))],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span; spans],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    #[test]
    fn spans_and_attributes_are_counted_exactly() {
        let census = protobuf(&request(7, 5).encode_to_vec(), &ROOMY).unwrap();
        assert_eq!(census.spans, 7);
        // 35 span attributes, the resource's pair and its array's three elements.
        assert_eq!(census.attributes, 35 + 1 + 3);
        assert_eq!(census.containers, 2);
    }

    #[test]
    fn a_limit_is_refused_on_the_first_element_past_it() {
        let limits = CensusLimits {
            max_spans: 6,
            max_attributes: 1000,
        };
        assert_eq!(
            protobuf(&request(7, 0).encode_to_vec(), &limits),
            Err(DecodeError::TooManySpans { limit: 6 })
        );
        assert!(protobuf(&request(6, 0).encode_to_vec(), &limits).is_ok());
        let limits = CensusLimits {
            max_spans: 100,
            max_attributes: 10,
        };
        assert_eq!(
            protobuf(&request(2, 5).encode_to_vec(), &limits),
            Err(DecodeError::TooManyAttributes { limit: 10 })
        );
    }

    #[test]
    fn the_bound_covers_what_prost_decodes() {
        for (spans, attributes) in [(0, 0), (1, 0), (100, 0), (10, 30)] {
            let bytes = request(spans, attributes).encode_to_vec();
            let census = protobuf(&bytes, &ROOMY).unwrap();
            let decoded = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
            let exact = decoded.resource_spans[0].scope_spans[0].spans.len() * size_of::<Span>()
                + spans * attributes * size_of::<KeyValue>();
            assert!(
                census.decoded_bytes(bytes.len()) >= exact,
                "{spans} {attributes}"
            );
        }
    }

    #[test]
    fn malformed_wire_data_is_an_error_never_a_panic() {
        for bytes in [
            &[0x0a, 0x05, 0x01][..],
            &[
                0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ][..],
            &[0x0b][..],
            &[0x80][..],
            &[0x09, 0x01, 0x02][..],
        ] {
            assert!(
                matches!(protobuf(bytes, &ROOMY), Err(DecodeError::Protobuf(_))),
                "{bytes:?}"
            );
        }
        // 200 nested array values.
        let mut value = AnyValue::default();
        for _ in 0..200 {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let mut deep = request(1, 0);
        deep.resource_spans[0].scope_spans[0].spans[0].attributes = vec![KeyValue {
            value: Some(value),
            ..KeyValue::default()
        }];
        assert!(protobuf(&deep.encode_to_vec(), &ROOMY).is_err());
    }

    #[test]
    fn json_objects_are_counted_outside_strings() {
        assert_eq!(json_objects(br#"{"a": "{{\"{", "b": [{}, {}]}"#, 10), Ok(3));
        assert_eq!(
            json_objects(b"[{},{},{}]", 2),
            Err(DecodeError::TooManyObjects { limit: 2 })
        );
    }
}
