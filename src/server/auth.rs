//! Bearer-token authentication of the API.
//!
//! Tokens are compared in constant time (the time taken does not depend on how much of a
//! guess is right), against every configured token, so a second token can be rolled in before
//! the first is removed.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::state::AppState;
use crate::telemetry::names;

/// Middleware: passes the request on only with a valid `Authorization: Bearer <token>`, or
/// when no token is configured (loopback or explicitly unauthenticated service).
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let tokens = &state.settings.tokens;
    if tokens.is_empty() {
        return Ok(next.run(request).await);
    }
    let Some(presented) = bearer(request.headers()) else {
        metrics::counter!(names::ERRORS, "kind" => "auth").increment(1);
        return Err(ApiError::unauthorized(
            "missing bearer token: send Authorization: Bearer <token>",
        ));
    };
    if !token_valid(tokens, presented) {
        metrics::counter!(names::ERRORS, "kind" => "auth").increment(1);
        return Err(ApiError::unauthorized("the bearer token is not valid"));
    }
    Ok(next.run(request).await)
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// The Flagger webhook's check. Flagger's webhooks cannot send headers, so the token may come
/// in the webhook's `metadata` (already taken out of the payload by the caller, so nothing
/// downstream sees it); a bearer header is accepted too, for callers that can send one. Either
/// is compared in constant time against every configured token. No token configured: open,
/// as the rest of the API.
pub(super) fn check_webhook(
    tokens: &[String],
    headers: &HeaderMap,
    metadata_token: Option<&str>,
) -> Result<(), ApiError> {
    if tokens.is_empty() {
        return Ok(());
    }
    let Some(presented) = bearer(headers).or(metadata_token) else {
        metrics::counter!(names::ERRORS, "kind" => "auth").increment(1);
        return Err(ApiError::unauthorized(
            "missing token: Flagger sends no headers, so put the token in the webhook's \
             metadata as `token` (or send Authorization: Bearer <token>)",
        ));
    };
    if !token_valid(tokens, presented) {
        metrics::counter!(names::ERRORS, "kind" => "auth").increment(1);
        return Err(ApiError::unauthorized("the token is not valid"));
    }
    Ok(())
}

/// Whether `presented` is one of `tokens`, checking every one (no early exit), so timing does
/// not tell which one nearly matched.
pub(super) fn token_valid(tokens: &[String], presented: &str) -> bool {
    tokens.iter().fold(false, |any, t| {
        any | constant_time_eq(t.as_bytes(), presented.as_bytes())
    })
}

/// Equality whose running time depends only on the lengths.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut difference = expected.len() ^ presented.len();
    for (i, e) in expected.iter().enumerate() {
        // Compare against the presented byte at the same place, or 0 past its end: the loop
        // always runs over the whole expected token.
        let p = presented.get(i).copied().unwrap_or(0);
        difference |= usize::from(e ^ p);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn equal_only_when_equal() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-token", b"secret-tokem"));
        assert!(!constant_time_eq(b"secret-token", b"secret-token-and-more"));
        assert!(!constant_time_eq(b"secret-token", b"secret"));
        assert!(!constant_time_eq(b"secret-token", b""));
    }
}
