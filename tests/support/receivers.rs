//! Local stand-ins for the two SaaS endpoints tests cannot reach: a Slack incoming webhook and
//! the PagerDuty Events API v2. Each binds 127.0.0.1 on a free port, checks every body it
//! receives against the published format (PagerDuty: the request schema of
//! `shared/reference/pagerduty/events-v2.openapiv3.json` plus the documented rules it cannot
//! express; Slack: Block Kit's documented limits), answers from a script, and records what it
//! received and when.
//!
//! An invalid body is answered 400 as the real service would, and its problems are recorded:
//! tests assert [`Receiver::problems`] is empty, so a payload slogate (or Alertmanager) gets
//! wrong fails the test even when the 400 would only have been retried or logged.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::serve::Served;

/// What the receiver answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The service's success answer (Slack: 200 `ok`; PagerDuty: 202 with the dedup key).
    Accept,
    /// 429 with `Retry-After: <seconds>`.
    TooManyRequests { retry_after_secs: u64 },
    /// Any status with a body (e.g. 500, or 400 `invalid_payload`).
    Status(u16, String),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// Wall-clock arrival time (to compare with times in the outbox).
    pub wall: SystemTime,
    /// The path it was posted to.
    pub path: String,
    /// The body, parsed (`Value::Null` when it was not JSON).
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

/// Which published format the receiver checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Slack incoming webhook.
    Slack,
    /// PagerDuty Events API v2 (`POST /v2/enqueue`).
    PagerDuty,
}

#[derive(Default)]
struct Log {
    script: VecDeque<Answer>,
    received: Vec<Received>,
    problems: Vec<String>,
}

struct Shared {
    kind: Kind,
    log: Mutex<Log>,
    arrived: Condvar,
    schema: Option<jsonschema::Validator>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:PORT` (post anywhere below it).
    pub url: String,
    shared: Arc<Shared>,
    _server: Served,
}

impl Receiver {
    /// A Slack incoming-webhook stand-in.
    pub fn slack() -> Receiver {
        Self::start(Kind::Slack, None)
    }

    /// A PagerDuty Events API v2 stand-in (post to `{url}/v2/enqueue`).
    pub fn pagerduty() -> Receiver {
        Self::start(Kind::PagerDuty, Some(pagerduty_validator()))
    }

    fn start(kind: Kind, schema: Option<jsonschema::Validator>) -> Receiver {
        let shared = Arc::new(Shared {
            kind,
            log: Mutex::new(Log::default()),
            arrived: Condvar::new(),
            schema,
        });
        let app = Router::new()
            .fallback(post(receive))
            .with_state(shared.clone());
        let server = Served::start(app);
        Receiver {
            url: server.url.clone(),
            shared,
            _server: server,
        }
    }

    /// Answers to give, in order, to the next requests; after the script, [`Answer::Accept`].
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.log.lock().unwrap().script.extend(answers);
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().received.clone()
    }

    /// The bodies answered with success, in arrival order.
    pub fn accepted(&self) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| r.body)
            .collect()
    }

    /// Every problem found in a received body (`request N: ...`); empty when all were valid.
    pub fn problems(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().problems.clone()
    }

    /// Waits until `n` requests have arrived, at most `deadline`; returns them all. Panics with
    /// what did arrive when the deadline passes (a bounded wait, not a sleep).
    pub fn wait_for(&self, n: usize, deadline: Duration) -> Vec<Received> {
        self.wait_until(deadline, |log| log.received.len() >= n)
            .unwrap_or_else(|got| panic!("expected {n} requests within {deadline:?}, got {got:#?}"))
    }

    /// Waits until `n` requests were answered with success, at most `deadline`.
    pub fn wait_for_accepted(&self, n: usize, deadline: Duration) -> Vec<Value> {
        let accepted = |log: &Log| {
            log.received
                .iter()
                .filter(|r| (200..300).contains(&r.status))
                .count()
        };
        self.wait_until(deadline, |log| accepted(log) >= n)
            .unwrap_or_else(|got| {
                panic!("expected {n} accepted requests within {deadline:?}, got {got:#?}")
            });
        self.accepted()
    }

    fn wait_until(
        &self,
        deadline: Duration,
        done: impl Fn(&Log) -> bool,
    ) -> Result<Vec<Received>, Vec<Received>> {
        let end = Instant::now() + deadline;
        let mut log = self.shared.log.lock().unwrap();
        loop {
            if done(&log) {
                return Ok(log.received.clone());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(log.received.clone());
            }
            log = self.shared.arrived.wait_timeout(log, left).unwrap().0;
        }
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let wall = SystemTime::now();
    let parsed: Result<Value, String> = serde_json::from_slice(&body).map_err(|e| e.to_string());
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut problems = match &parsed {
        Err(e) => vec![format!("body is not JSON: {e}")],
        Ok(body) => match shared.kind {
            Kind::Slack => slack_problems(body),
            Kind::PagerDuty => pagerduty_problems(shared.schema.as_ref(), body),
        },
    };
    if !is_json {
        problems.push(format!(
            "content-type is {:?}, not application/json",
            headers.get("content-type")
        ));
    }
    let mut log = shared.log.lock().unwrap();
    let index = log.received.len();
    let answer = if problems.is_empty() {
        log.script.pop_front().unwrap_or(Answer::Accept)
    } else {
        let message = match shared.kind {
            Kind::Slack => "invalid_blocks".to_string(),
            Kind::PagerDuty => json!({"status": "invalid event", "message": "Event object is invalid", "errors": problems}).to_string(),
        };
        Answer::Status(400, message)
    };
    log.problems.extend(
        problems
            .into_iter()
            .map(|p| format!("request {index}: {p}")),
    );
    let body = parsed.unwrap_or(Value::Null);
    let response = match &answer {
        Answer::Accept => match shared.kind {
            Kind::Slack => (StatusCode::OK, "ok").into_response(),
            Kind::PagerDuty => {
                let dedup = body.get("dedup_key").cloned().unwrap_or(json!("generated"));
                (
                    StatusCode::ACCEPTED,
                    axum::Json(json!({"status": "success", "message": "Event processed", "dedup_key": dedup})),
                )
                    .into_response()
            }
        },
        Answer::TooManyRequests { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after_secs.to_string())],
            "rate_limited",
        )
            .into_response(),
        Answer::Status(code, text) => (
            StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            text.clone(),
        )
            .into_response(),
    };
    log.received.push(Received {
        at,
        wall,
        path: uri.path().to_string(),
        body,
        status: response.status().as_u16(),
    });
    shared.arrived.notify_all();
    response
}

/// The request schema of `POST /v2/enqueue`, with the document's components beside it so its
/// `#/components/...` references resolve.
pub fn pagerduty_validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/pagerduty/events-v2.openapiv3.json"
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut schema =
        spec["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            .clone();
    schema["components"] = spec["components"].clone();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Problems of a PagerDuty event: the schema, then the rules of the Events API v2 documentation
/// that the schema leaves out (payload required to trigger, dedup_key to resolve, lengths).
pub fn pagerduty_problems(schema: Option<&jsonschema::Validator>, body: &Value) -> Vec<String> {
    let mut problems: Vec<String> = schema
        .map(|s| {
            s.iter_errors(body)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect()
        })
        .unwrap_or_default();
    let action = body["event_action"].as_str().unwrap_or("");
    if action == "trigger" && body.get("payload").is_none() {
        problems.push("a trigger event needs a payload".into());
    }
    if action != "trigger" && body["dedup_key"].as_str().is_none_or(str::is_empty) {
        problems.push(format!("a {action} event needs a dedup_key"));
    }
    if let Some(key) = body["dedup_key"].as_str()
        && key.chars().count() > 255
    {
        problems.push(format!(
            "dedup_key is {} characters (max 255)",
            key.chars().count()
        ));
    }
    if let Some(summary) = body["payload"]["summary"].as_str()
        && summary.chars().count() > 1024
    {
        problems.push(format!(
            "payload.summary is {} characters (max 1024)",
            summary.chars().count()
        ));
    }
    if body["routing_key"].as_str().is_some_and(|k| k.len() != 32) {
        problems.push("routing_key is not a 32-character integration key".into());
    }
    problems
}

/// Problems of a Slack incoming-webhook message against Block Kit's documented limits: a
/// message needs `text`, `blocks` or `attachments`; at most 50 blocks; header text plain_text
/// of at most 150 characters; section text at most 3000, at most 10 fields of at most 2000;
/// context at most 10 elements; `text` at most 40,000 characters.
pub fn slack_problems(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(message) = body.as_object() else {
        return vec!["the message is not a JSON object".into()];
    };
    let text = message.get("text").and_then(Value::as_str);
    let blocks = message.get("blocks").and_then(Value::as_array);
    let attachments = message.get("attachments").and_then(Value::as_array);
    if text.is_none_or(str::is_empty) && blocks.is_none() && attachments.is_none() {
        problems.push("no_text: a message needs text, blocks or attachments".into());
    }
    if blocks.is_some() && text.is_none_or(str::is_empty) {
        problems.push("a message with blocks needs a plain text fallback in `text`".into());
    }
    if let Some(text) = text
        && text.chars().count() > 40_000
    {
        problems.push(format!(
            "text is {} characters (max 40000)",
            text.chars().count()
        ));
    }
    let blocks = blocks.cloned().unwrap_or_default();
    if blocks.len() > 50 {
        problems.push(format!("{} blocks (max 50)", blocks.len()));
    }
    for (i, block) in blocks.iter().enumerate() {
        block_problems(i, block, &mut problems);
    }
    if let Some(attachments) = attachments
        && attachments.len() > 100
    {
        problems.push(format!("{} attachments (max 100)", attachments.len()));
    }
    problems
}

/// Checks one text object: its type (`plain_text`, or `mrkdwn` too unless `plain_only`), that
/// it is not empty, and its length.
fn check_text(problems: &mut Vec<String>, what: String, t: &Value, max: usize, plain_only: bool) {
    let kind = t["type"].as_str().unwrap_or("");
    if kind != "plain_text" && (plain_only || kind != "mrkdwn") {
        problems.push(format!("{what}: text type {kind:?} not allowed"));
    }
    let len = t["text"].as_str().map_or(0, |s| s.chars().count());
    if len == 0 {
        problems.push(format!("{what}: empty text"));
    }
    if len > max {
        problems.push(format!("{what}: {len} characters (max {max})"));
    }
}

fn block_problems(i: usize, block: &Value, problems: &mut Vec<String>) {
    let at = |what: &str| format!("blocks[{i}].{what}");
    match block["type"].as_str().unwrap_or("") {
        "header" => check_text(problems, at("text"), &block["text"], 150, true),
        "section" => {
            let fields = block["fields"].as_array();
            if block.get("text").is_none() && fields.is_none() {
                problems.push(format!("blocks[{i}]: a section needs text or fields"));
            }
            if block.get("text").is_some() {
                check_text(problems, at("text"), &block["text"], 3000, false);
            }
            if let Some(fields) = fields {
                if fields.len() > 10 {
                    problems.push(format!("blocks[{i}].fields: {} (max 10)", fields.len()));
                }
                for (j, f) in fields.iter().enumerate() {
                    check_text(problems, at(&format!("fields[{j}]")), f, 2000, false);
                }
            }
        }
        "context" => {
            let elements = block["elements"].as_array().cloned().unwrap_or_default();
            if elements.is_empty() || elements.len() > 10 {
                problems.push(format!(
                    "blocks[{i}].elements: {} (1 to 10)",
                    elements.len()
                ));
            }
            for (j, e) in elements.iter().enumerate() {
                if e["type"] != "image" {
                    check_text(problems, at(&format!("elements[{j}]")), e, 3000, false);
                }
            }
        }
        "actions" => {
            let elements = block["elements"].as_array().cloned().unwrap_or_default();
            if elements.is_empty() || elements.len() > 25 {
                problems.push(format!(
                    "blocks[{i}].elements: {} (1 to 25)",
                    elements.len()
                ));
            }
            for (j, e) in elements.iter().enumerate() {
                if e["type"] == "button" {
                    check_text(
                        problems,
                        at(&format!("elements[{j}].text")),
                        &e["text"],
                        75,
                        true,
                    );
                    if e["url"].as_str().is_some_and(|u| u.len() > 3000) {
                        problems.push(format!("blocks[{i}].elements[{j}].url: over 3000"));
                    }
                }
            }
        }
        "divider" => {}
        other => problems.push(format!("blocks[{i}]: unsupported block type {other:?}")),
    }
    if let Some(id) = block["block_id"].as_str()
        && id.len() > 255
    {
        problems.push(format!("blocks[{i}].block_id: over 255 characters"));
    }
}

/// The `notify:` section of `slogate.yaml` that sends every team's changes to `slack`'s webhook
/// (channel `#deploys`) and `pagerduty`'s Events API, the webhook URL and routing key written
/// as files in `secrets`; retries from `initial_backoff` up to 2 s.
pub fn notify_config(
    slack: &Receiver,
    pagerduty: &Receiver,
    secrets: &std::path::Path,
    initial_backoff: &str,
) -> String {
    let hook = secrets.join("slack-hook");
    std::fs::write(&hook, format!("{}/services/T0/B0/test\n", slack.url)).unwrap();
    let key = secrets.join("pagerduty-key");
    // 32 characters, as PagerDuty issues integration keys.
    std::fs::write(&key, ROUTING_KEY).unwrap();
    format!(
        "notify:\n  status_url: {STATUS_URL}\n  timeout: 5s\n  \
         backoff: {{initial: {initial_backoff}, max: 2s, give_up_after: 1h}}\n  \
         slack: {{webhooks: {{deploys: {{url_file: {hook}}}}}}}\n  \
         pagerduty: {{events_url: '{pd}/v2/enqueue', routing_keys: {{oncall: {{key_file: {key}}}}}}}\n  \
         routes:\n  - slack: {{webhook: deploys, channel: '#deploys'}}\n    \
         pagerduty: {{routing_key: oncall}}\n",
        hook = hook.display(),
        key = key.display(),
        pd = pagerduty.url,
    )
}

/// The routing key [`notify_config`] configures.
pub const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";
/// The status page URL [`notify_config`] configures (links in the messages).
pub const STATUS_URL: &str = "https://slogate.example.com";
