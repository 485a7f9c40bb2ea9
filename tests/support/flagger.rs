//! A caller that behaves as Flagger's webhook client does, learnt from reading (not copying)
//! fluxcd/flagger `pkg/controller/webhook.go` (`callWebhook`, `CallWebhook`),
//! `pkg/controller/scheduler.go` (`runAnalysis`) and hashicorp/go-retryablehttp `client.go`
//! (`Do`, `baseRetryPolicy`):
//!
//! - the payload is `{name, namespace, phase, checksum, metadata}` (metadata a map of strings,
//!   left out when empty), POSTed with `Content-Type: application/json` and no other header;
//! - connection errors, 429 and every 5xx but 501 are retried up to the webhook's `retries`;
//!   giving up on such a status discards the body ("giving up after N attempt(s)");
//! - otherwise a status above 202 fails the check with the body as the error, which Flagger
//!   logs as "Halt NAME.NAMESPACE advancement external check HOOK failed BODY".
//!
//! The waits between retries are left out: they change when, not how often, it asks.

use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{Value, json};

/// What one webhook call came to.
#[derive(Debug)]
pub struct FlaggerCall {
    /// Requests sent (1 + retries taken).
    pub attempts: u32,
    /// The last status received, if any.
    pub status: Option<u16>,
    /// `Ok` when Flagger counts the check as passed; `Err` with the error it logs.
    pub result: Result<(), String>,
}

impl FlaggerCall {
    /// Flagger's log line (and Kubernetes event) for a rollout webhook that did not pass.
    pub fn log_line(&self, name: &str, namespace: &str, hook: &str) -> Option<String> {
        let error = self.result.as_ref().err()?;
        Some(format!(
            "Halt {name}.{namespace} advancement external check {hook} failed {error}"
        ))
    }
}

/// Flagger's webhook payload for the Canary `name` in `namespace`.
pub fn payload(name: &str, namespace: &str, metadata: Value) -> String {
    let mut body = json!({
        "name": name,
        "namespace": namespace,
        "phase": "Progressing",
        "checksum": "6c8d4f9b7",
    });
    if metadata.as_object().is_some_and(|m| !m.is_empty()) {
        body["metadata"] = metadata;
    }
    body.to_string()
}

/// Calls `url` as Flagger calls a webhook with `retries` retries (the Canary's
/// `webhooks[].retries`, 0 by default) and a 10 s timeout (its default).
pub fn call(url: &str, body: &str, retries: u32) -> FlaggerCall {
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let remain = retries + 1 - attempts;
        let response = client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send();
        let response = match response {
            Ok(r) => r,
            Err(e) if remain == 0 => {
                return FlaggerCall {
                    attempts,
                    status: None,
                    result: Err(format!(
                        "POST {url} giving up after {attempts} attempt(s): {e}"
                    )),
                };
            }
            Err(_) => continue,
        };
        let status = response.status().as_u16();
        let retryable = status == 429 || (status >= 500 && status != 501);
        if retryable {
            // The body is drained and dropped either way.
            let _ = response.bytes();
            if remain == 0 {
                return FlaggerCall {
                    attempts,
                    status: Some(status),
                    result: Err(format!("POST {url} giving up after {attempts} attempt(s)")),
                };
            }
            continue;
        }
        let text = response.text().unwrap_or_default();
        return FlaggerCall {
            attempts,
            status: Some(status),
            result: if status > 202 { Err(text) } else { Ok(()) },
        };
    }
}
