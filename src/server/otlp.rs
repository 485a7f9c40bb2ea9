//! `POST /v1/traces`: the OTLP/HTTP trace receiver, per the OTLP specification.
//!
//! Protobuf and JSON bodies, gzip or not; the answer comes in the request's encoding: an empty
//! `ExportTraceServiceResponse`, or one with `partial_success` counting the spans refused (no
//! version attribute, no service name, too old, store full). 400 with a `google.rpc.Status` for a
//! body that does not decode (nothing of it is stored), 413 past the size, span or attribute
//! limits, 415 for another content type, and 429 (more exports in flight than the receiver
//! takes at once) or 503 (the shared decode budget is taken) with `Retry-After`: exporters retry
//! those later, as the specification asks them to.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use prost::Message;

use super::state::AppState;
use crate::source::traces::{Encoding, decode, encode_response, encoding_of};
use crate::telemetry::names;

/// How long an exporter told to back off should wait, in seconds.
const RETRY_AFTER_SECS: &str = "1";

/// `google.rpc.Status`, the body of OTLP/HTTP error answers.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC's INVALID_ARGUMENT, RESOURCE_EXHAUSTED and UNAVAILABLE codes, for the Status body.
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;

/// Admission: at most `traces.max_concurrent_exports` exports are read and decoded at once;
/// past that, 429 with `Retry-After` before the body is even read, so an overloaded receiver
/// sheds load instead of queueing it in memory.
pub async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Ok(_permit) = state.otlp_permits.try_acquire() else {
        metrics::counter!(names::ERRORS, "kind" => "otlp_overload").increment(1);
        let encoding = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(encoding_of)
            .unwrap_or(Encoding::Json);
        return retry_later(
            encoding,
            StatusCode::TOO_MANY_REQUESTS,
            "too many exports in flight; retry later".to_string(),
        );
    };
    next.run(request).await
}

/// The receiver.
pub async fn traces(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(encoding) = encoding_of(content_type) else {
        return error(
            Encoding::Json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_ARGUMENT,
            format!(
                "content type {content_type:?}: send application/x-protobuf or application/json"
            ),
        );
    };
    let gzip = match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str()) {
        None => false,
        Some(Ok(e)) if e.eq_ignore_ascii_case("gzip") => true,
        Some(Ok(e)) if e.eq_ignore_ascii_case("identity") => false,
        Some(other) => {
            let shown = other.unwrap_or("?");
            return error(
                encoding,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                format!("content encoding {shown:?}: send gzip or none"),
            );
        }
    };
    let limits = state.settings.traces.decode;
    let budget = state.decode_budget.clone();
    // Decoding is CPU work: keep it off the threads that serve the gates.
    let decoded =
        tokio::task::spawn_blocking(move || decode(&body, encoding, gzip, &limits, &budget)).await;
    let decoded = match decoded {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(e)) if e.is_size() => {
            metrics::counter!(names::ERRORS, "kind" => "otlp_too_large").increment(1);
            return error(
                encoding,
                StatusCode::PAYLOAD_TOO_LARGE,
                INVALID_ARGUMENT,
                e.to_string(),
            );
        }
        Ok(Err(e)) if !e.is_final() => {
            metrics::counter!(names::ERRORS, "kind" => "otlp_overload").increment(1);
            return retry_later(encoding, StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        }
        Ok(Err(e)) => {
            metrics::counter!(names::ERRORS, "kind" => "otlp_decode").increment(1);
            return error(
                encoding,
                StatusCode::BAD_REQUEST,
                INVALID_ARGUMENT,
                e.to_string(),
            );
        }
        Err(e) => {
            return error(
                encoding,
                StatusCode::SERVICE_UNAVAILABLE,
                RESOURCE_EXHAUSTED,
                format!("the decoder stopped: {e}"),
            );
        }
    };
    let request = &decoded.request;
    let catalog = state.catalog();
    // Spans of services without a canary profile are not judged: accepted, not kept.
    let version_attribute = |service: &str| {
        catalog
            .service(service)
            .and_then(|s| s.canary.as_ref())
            .map(|p| p.trace_version_attribute.clone())
    };
    let outcome = state
        .spans
        .memory()
        .ingest(request, &version_attribute, Utc::now());
    // The decoded request goes, and its memory back to the budget.
    drop(decoded);
    metrics::counter!(names::SPANS, "result" => "accepted").increment(outcome.accepted);
    metrics::counter!(names::SPANS, "result" => "rejected").increment(outcome.rejected);
    metrics::counter!(names::SPANS, "result" => "ignored").increment(outcome.ignored);
    let message = outcome.first_error.unwrap_or_default();
    let rejected = i64::try_from(outcome.rejected).unwrap_or(i64::MAX);
    let body = encode_response(encoding, rejected, &message);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type_of(encoding))],
        body,
    )
        .into_response()
}

fn content_type_of(encoding: Encoding) -> &'static str {
    encoding.content_type()
}

/// An overload answer (429 or 503) with `Retry-After`: exporters retry those later.
fn retry_later(encoding: Encoding, status: StatusCode, message: String) -> Response {
    let mut response = error(encoding, status, RESOURCE_EXHAUSTED, message);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    response
}

/// An error answer with a `google.rpc.Status` body in the request's encoding.
fn error(encoding: Encoding, status: StatusCode, code: i32, message: String) -> Response {
    let body = match encoding {
        Encoding::Protobuf => Status {
            code,
            message: message.clone(),
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({"code": code, "message": message})
            .to_string()
            .into_bytes(),
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type_of(encoding))],
        body,
    )
        .into_response()
}
