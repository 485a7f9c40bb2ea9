//! Bearer-token authentication of the API, by scope (`crate::tokens`): each route needs one
//! scope, and a valid token without it is answered 403 naming the scope.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::rate;
use super::state::AppState;
use crate::telemetry::names;
use crate::tokens::{Refusal, Scope, Tokens};

/// The scope a token route needs: spans to ingest, the gates to gate, the reload to admin,
/// every other (read-only) route to read.
pub(super) fn scope_of(method: &Method, path: &str) -> Scope {
    if path == "/v1/traces" {
        Scope::Ingest
    } else if path.starts_with("/api/v1/gates/") {
        Scope::Gate
    } else if path == "/api/v1/reload" || *method != Method::GET {
        Scope::Admin
    } else {
        Scope::Read
    }
}

/// Middleware: passes the request on only with a valid `Authorization: Bearer <token>` that
/// holds the route's scope, or when no token is configured (loopback or explicitly
/// unauthenticated service).
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let tokens = &state.settings.tokens;
    let scope = scope_of(request.method(), request.uri().path());
    let key = if tokens.is_empty() {
        rate::ANONYMOUS
    } else {
        let Some(presented) = bearer(request.headers()) else {
            metrics::counter!(names::ERRORS, "kind" => "auth").increment(1);
            return Err(ApiError::unauthorized(
                "missing bearer token: send Authorization: Bearer <token>",
            ));
        };
        check(tokens, presented, scope, "the bearer token is not valid")?
    };
    // Exports are bounded by the receiver's own limits (concurrency, decode budget).
    if scope != Scope::Ingest
        && let Some(refused) = refuse_past_rate(&state, key)
    {
        return Ok(refused);
    }
    Ok(next.run(request).await)
}

/// Takes one request of token `key`'s allowance (`rate_limit`); without one, the 429 answer
/// with `Retry-After` (whole seconds, rounded up).
fn refuse_past_rate(state: &AppState, key: usize) -> Option<Response> {
    state.rate_limits.take(key).err().map(|wait| {
        metrics::counter!(names::ERRORS, "kind" => "rate_limit").increment(1);
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut response = ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate_limited",
            message: format!(
                "this token sent more requests than rate_limit allows; retry in {seconds}s"
            ),
            field: None,
        }
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    })
}

/// `presented` checked for `scope`: 401 for an unknown token (`unknown` says so), 403 for one
/// without the scope.
fn check(tokens: &Tokens, presented: &str, scope: Scope, unknown: &str) -> Result<usize, ApiError> {
    match tokens.check(presented, scope) {
        Ok(key) => Ok(key),
        Err(refusal) => {
            metrics::counter!(names::ERRORS, "kind" => "auth").increment(1);
            Err(match refusal {
                Refusal::Unknown => ApiError::unauthorized(unknown),
                Refusal::MissingScope(scope) => ApiError::forbidden(format!(
                    "this token does not hold the {scope} scope this route needs \
                     (auth.scoped_tokens)"
                )),
            })
        }
    }
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
    tokens: &Tokens,
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
    check(tokens, presented, Scope::Gate, "the token is not valid").map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_its_scope() {
        let get = Method::GET;
        assert_eq!(scope_of(&Method::POST, "/v1/traces"), Scope::Ingest);
        assert_eq!(scope_of(&Method::POST, "/api/v1/gates/canary"), Scope::Gate);
        assert_eq!(scope_of(&get, "/api/v1/gates/slo"), Scope::Gate);
        assert_eq!(scope_of(&Method::POST, "/api/v1/reload"), Scope::Admin);
        assert_eq!(scope_of(&get, "/api/v1/verdicts"), Scope::Read);
        assert_eq!(scope_of(&get, "/api/v1/calibrations"), Scope::Read);
        assert_eq!(scope_of(&Method::DELETE, "/api/v1/verdicts"), Scope::Admin);
    }
}
