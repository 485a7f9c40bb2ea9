//! API errors: a status code and a JSON body that says what was wrong and where.
//!
//! Handlers answer with [`ApiError`]; the extractors axum runs before them (a body past the size
//! limit, a query string that does not parse, a path that is not UTF-8) answer in plain text,
//! so [`json_errors`] rewrites those into the same documented JSON shape.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// A stable word for machines (`bad_request`, `unknown_service`, ...).
    pub code: &'static str,
    /// What was wrong, for people.
    pub message: String,
    /// The request field at fault, as a path (`canary.version`).
    pub field: Option<String>,
}

impl ApiError {
    /// 400 about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    /// 400 about the body as a whole (does not parse).
    pub fn body(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            field: None,
        }
    }

    /// 404 for a service, SLO or verdict that does not exist.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 401: missing or wrong bearer token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
            field: None,
        }
    }

    /// 403: a valid token without the scope the route needs.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
            field: None,
        }
    }

    /// 503: a dependency (the history database) cannot serve the request.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: message.into(),
            field: None,
        }
    }

    /// 503 for a store that could not serve `what`: the error itself (which names the database
    /// file or server and the statement) goes to the log, the answer says only what failed.
    pub fn store(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what}");
        ApiError::unavailable(format!(
            "{what}: the store did not answer (the reason is in slogate's log)"
        ))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(field) = &self.field {
            error["field"] = json!(field);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// At most this much of a plain-text error body is kept as the message (axum's rejections
/// are one line).
const MAX_PLAIN_MESSAGE: usize = 4096;

/// Middleware of the JSON API: an error answer that is not JSON (an extractor's rejection,
/// an unknown method) becomes `{"error": {"code", "message"}}` with the same status and the
/// other headers (`Allow`, `WWW-Authenticate`) kept.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = to_bytes(body, MAX_PLAIN_MESSAGE)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if status.is_server_error() || text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let error = ApiError {
        status,
        code: code_of(status),
        message,
        field: None,
    };
    let (json_parts, json_body) = error.into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(json_parts.headers);
    Response::from_parts(parts, Body::new(json_body))
}

/// The `code` word of an error status that no handler chose.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}
