//! Traces: OTLP export requests in, time-bucketed windows of server spans out, for judging a
//! canary against its baseline on span durations and outcomes.
//!
//! - [`decode`](decode()): an OTLP/HTTP body (protobuf or OTLP/JSON, gzip or not, with a cap on
//!   the inflated size) into an `ExportTraceServiceRequest`, its spans and attributes counted
//!   first (`census`) and its memory reserved from the [`DecodeBudget`] shared by every decode
//!   in flight; [`encode_response`] the answer in the request's encoding, with
//!   `partial_success` when spans were refused.
//! - [`SpanStore`]: per service, version and operation, buckets of [`SpanSettings::window`]
//!   holding exact span and error counts and a uniform reservoir of durations, expired after
//!   [`SpanSettings::retention`] and bounded by [`SpanSettings::max_buckets`]; ingest is
//!   thread-safe, and [`SpanStore::sample`] answers a gate's question for a time range.
//! - [`SharedSpans`] (`shared`): the span store of this replica, and the closed buckets every
//!   replica writes to the store (`store::spans`), so a gate on any replica, or after a restart,
//!   judges the spans every replica received. A bucket is written [`FlushSettings::grace`]
//!   after its end by `serve`'s background flush (every [`FlushSettings::interval`], batches of
//!   `shared::MAX_BATCH` in one transaction each), again whole when late spans came, and on
//!   SIGTERM the open ones too; rows are pruned after the retention. A read takes this
//!   replica's buckets from memory and every other row of the range from the store (other
//!   replicas', and this replica's previous runs', since a replica id is random per start),
//!   each bucket once: a row of a bucket still in memory is skipped. Memory keeps its bound:
//!   written buckets stay until the retention or eviction drops them, as before.
//! - `merge`: buckets from memory and from rows into one [`SpanSample`]: counts added exactly,
//!   durations subsampled in proportion to each bucket's spans, so the merged durations are a
//!   uniform sample of the union (every span the same chance; no weights left to carry into the
//!   statistics).
//!
//! The HTTP endpoint (`POST /v1/traces`) lives in `server`; this module knows nothing of HTTP
//! beyond content types.

mod buckets;
mod budget;
mod census;
mod decode;
mod json;
mod merge;
mod reservoir;
mod settings;
mod shared;
mod span;
mod windows;

#[cfg(test)]
mod testkit;

pub use buckets::FlushItem;
pub use budget::{DecodeBudget, Reservation};
pub use census::CensusLimits;
pub use decode::{
    DecodeError, DecodeLimits, Decoded, Encoding, decode, encode_response, encoding_of,
};
pub use merge::BucketData;
/// The seeded generator, for other modules' deterministic tests too.
#[cfg(test)]
pub(crate) use reservoir::SplitMix64;
pub use settings::{DEFAULT_MEMORY_BUDGET, FlushSettings, MAX_FUTURE, SpanSettings};
pub use shared::{FlushReport, FlushScope, ReplicaId, SharedSpans, SpanBuckets};
pub use span::{HTTP_STATUS, MAX_NAME_BYTES, SERVICE_NAME};
pub use windows::{IngestOutcome, STORE_FULL, SpanSample, SpanStore, StoreStats};

/// The OTLP request and response types, re-exported so callers need not name the generated
/// modules' paths.
pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
