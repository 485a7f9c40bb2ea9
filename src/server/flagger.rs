//! `POST /api/v1/gates/flagger`: Flagger's webhook, answered so that Flagger's own client acts
//! on it.
//!
//! What Flagger does (read in fluxcd/flagger `pkg/controller/webhook.go`, `scheduler.go`,
//! `scheduler_hooks.go`, `events.go`, and hashicorp/go-retryablehttp `client.go`): it POSTs
//! `{name, namespace, phase, checksum, metadata}` with no header but `Content-Type`; a status
//! of 200-202 passes the check and any other fails it, the body becoming the error Flagger logs
//! and records as a Kubernetes event ("Halt NAME.NS advancement external check HOOK failed
//! BODY"). Its client retries connection errors, 429 and every 5xx but 501, up to the webhook's
//! `retries`, and when it gives up on such a status it discards the body ("giving up after N
//! attempt(s)"), even with no retry at all. So:
//!
//! - `pass` is 200, `fail` 412 and `inconclusive` 409: a 4xx other than 429 is never retried,
//!   so one ask is one recorded verdict and one look of the sequential test, and the verdict
//!   (its summary near the start of the body) reaches Flagger's log line and event. Flagger
//!   has no "pause": an inconclusive counts as a failed check toward the Canary's `threshold`,
//!   which is the fail-safe reading (never a pass without evidence).
//! - The token comes in the webhook's `metadata` as `token` (Flagger cannot send headers). It
//!   is taken out of the payload before anything reads it, so it is never stored with the
//!   verdict's inputs, logged or echoed. A token in the URL was rejected: Go's errors print the
//!   whole URL, and retryablehttp redacts only a userinfo password, so a connection error or a
//!   5xx would put the token in Flagger's log, in a Kubernetes event anyone who can list events
//!   reads, and in Flagger's Slack/event-webhook alerts (docs/flagger.md).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth;
use super::error::ApiError;
use super::gates::{run_canary, run_slo};
use super::requests::{self, CanaryBody, FlaggerBody, SloBody, VersionRef};
use super::state::AppState;
use crate::verdict::Outcome;

/// The metadata key that carries the token.
pub const TOKEN_KEY: &str = "token";

/// Every metadata key the gate reads: any other is refused by name, so a typo
/// (`basline`) never silently falls back to a default version.
const KNOWN_KEYS: &[&str] = &[
    TOKEN_KEY, "gate", "service", "baseline", "canary", "lookback", "slo",
];

/// The status Flagger gets for each outcome (see the module doc for why these).
pub fn status_of(outcome: Outcome) -> StatusCode {
    match outcome {
        Outcome::Pass => StatusCode::OK,
        Outcome::Fail => StatusCode::PRECONDITION_FAILED,
        Outcome::Inconclusive => StatusCode::CONFLICT,
    }
}

/// `POST /api/v1/gates/flagger`. The webhook's `metadata` chooses `gate` (`canary` when the
/// service has a canary profile, else `slo`), `service` (default: the Canary's name),
/// `baseline` and `canary` versions (default: Flagger's `<name>-primary` and `<name>`, the
/// values of its `app` label: `version_preset: flagger`), `lookback`, `slo`.
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut body: FlaggerBody = parse(&body)?;
    let token = body.metadata.remove(TOKEN_KEY);
    auth::check_webhook(&state.settings.tokens, &headers, token.as_deref())?;
    drop(token);
    if let Some(unknown) = body
        .metadata
        .keys()
        .find(|k| !KNOWN_KEYS.contains(&k.as_str()))
    {
        let shown: String = unknown.chars().take(64).collect();
        return Err(ApiError::field(
            &format!("metadata.{shown}"),
            format!("unknown key; the gate reads {}", KNOWN_KEYS[1..].join(", ")),
        ));
    }
    let meta = |key: &str| body.metadata.get(key).cloned();
    let service = meta("service").unwrap_or_else(|| body.name.clone());
    let catalog = state.catalog();
    let has_profile = requests::known_service(&catalog, &service)?
        .canary
        .is_some();
    let gate = meta("gate").unwrap_or_else(|| if has_profile { "canary" } else { "slo" }.into());
    let verdict = match gate.as_str() {
        "canary" => {
            let canary = CanaryBody {
                service,
                baseline: VersionRef {
                    version: meta("baseline").unwrap_or_else(|| format!("{}-primary", body.name)),
                },
                canary: VersionRef {
                    version: meta("canary").unwrap_or_else(|| body.name.clone()),
                },
                lookback: meta("lookback"),
                window: None,
                profile: None,
                last: false,
            };
            let request = json!({"flagger": &body, "canary_request": &canary});
            run_canary(&state, &canary, request).await?
        }
        "slo" => {
            let slo = SloBody {
                service,
                slo: meta("slo"),
                at: None,
            };
            run_slo(&state, &slo).await?
        }
        other => {
            return Err(ApiError::field(
                "metadata.gate",
                format!("{other:?}: expected canary or slo"),
            ));
        }
    };
    Ok((status_of(verdict.verdict), Json(verdict)).into_response())
}

/// The payload, or a 400 whose message quotes no value of it: serde's type errors quote the
/// value they met (`invalid type: string "..."`), and the value could be the token.
fn parse(body: &[u8]) -> Result<FlaggerBody, ApiError> {
    requests::parse_json(body).map_err(|mut e| {
        e.message = redact_quoted(&e.message);
        e
    })
}

/// `text` with every double-quoted run replaced by `"…"`.
fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            if quoted {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_outcome_is_answered_with_a_status_retryablehttp_retries_or_flagger_passes() {
        for outcome in [Outcome::Pass, Outcome::Fail, Outcome::Inconclusive] {
            let status = status_of(outcome).as_u16();
            // retryablehttp retries 429 and 5xx but 501; Flagger passes 200-202 only.
            let retried = status == 429 || (status >= 500 && status != 501);
            assert!(!retried, "{outcome:?}: {status}");
            assert_eq!(
                status <= 202,
                outcome == Outcome::Pass,
                "{outcome:?}: {status}"
            );
        }
    }

    #[test]
    fn a_parse_error_quotes_no_value() {
        let err = parse(br#"{"name": "a", "namespace": "b", "metadata": "secret-token-value"}"#)
            .unwrap_err();
        let text = format!("{err:?}");
        assert!(!text.contains("secret-token-value"), "{text}");
        assert!(text.contains("expected a map"), "{text}");
    }
}
