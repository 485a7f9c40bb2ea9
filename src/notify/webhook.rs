//! The HTTP transports: Slack incoming webhooks and PagerDuty Events API v2.
//!
//! A row's `target` is the webhook's or routing key's name; the secret is looked up here, at
//! send time, so it is never stored in the outbox. What an answer means:
//! - 2xx: delivered;
//! - 429: retried after `Retry-After` (seconds or an HTTP-date) when given;
//! - 5xx, 408, a timeout or a connection error: retried with backoff;
//! - another 4xx (400 invalid payload, 403, 404, 410, 413) or a 3xx: rejected, with a short
//!   excerpt of the body; a name that is not configured (any more) is rejected too.
//!
//! URLs never appear in logs or errors (a Slack webhook URL is the secret itself).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Client, StatusCode, Url};

use super::config::{NotifySettings, Secret};
use super::{Delivery, Transport, pagerduty};
use crate::store::{Channel, OutboxMessage};

/// Characters of an answer's body kept in the reason of a rejection.
const EXCERPT: usize = 200;
/// Most bytes of an answer's body read (64 KiB): more than any excerpt needs.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

fn client(timeout: Duration) -> Result<Client, reqwest::Error> {
    Client::builder()
        .timeout(timeout)
        // A webhook that redirects is misconfigured; following it could send the message
        // (and for PagerDuty the key) somewhere else.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("slogate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Posts Block Kit messages to Slack incoming webhooks.
pub struct SlackTransport {
    /// Shared connection pool.
    client: Client,
    /// Webhook URLs by name (the secrets).
    webhooks: BTreeMap<String, Secret>,
}

/// Sends events to the PagerDuty Events API v2.
pub struct PagerDutyTransport {
    /// Shared connection pool.
    client: Client,
    /// The endpoint.
    url: Url,
    /// Routing keys by name (the secrets).
    keys: BTreeMap<String, Secret>,
}

/// The Slack and PagerDuty transports for these settings.
pub fn http_transports(
    settings: &NotifySettings,
) -> Result<(SlackTransport, PagerDutyTransport), reqwest::Error> {
    let client = client(settings.timeout)?;
    Ok((
        SlackTransport {
            client: client.clone(),
            webhooks: settings.slack_webhooks.clone(),
        },
        PagerDutyTransport {
            client,
            url: settings.pagerduty_url.clone(),
            keys: settings.routing_keys.clone(),
        },
    ))
}

impl Transport for SlackTransport {
    fn channel(&self) -> Channel {
        Channel::Slack
    }

    fn deliver<'a>(&'a self, message: &'a OutboxMessage) -> BoxFuture<'a, Delivery> {
        async move {
            let Some(url) = self.webhooks.get(&message.target) else {
                return not_configured("Slack webhook", &message.target);
            };
            let Ok(url) = Url::parse(url.expose()) else {
                return Delivery::Rejected {
                    reason: format!("Slack webhook {:?} does not parse", message.target),
                };
            };
            post(&self.client, url, message.payload.clone()).await
        }
        .boxed()
    }
}

impl Transport for PagerDutyTransport {
    fn channel(&self) -> Channel {
        Channel::PagerDuty
    }

    fn deliver<'a>(&'a self, message: &'a OutboxMessage) -> BoxFuture<'a, Delivery> {
        async move {
            let Some(key) = self.keys.get(&message.target) else {
                return not_configured("PagerDuty routing key", &message.target);
            };
            let Some(body) = pagerduty::with_routing_key(&message.payload, key.expose()) else {
                return Delivery::Rejected {
                    reason: "the stored event is not a JSON object".to_string(),
                };
            };
            post(&self.client, self.url.clone(), body).await
        }
        .boxed()
    }
}

fn not_configured(what: &str, name: &str) -> Delivery {
    Delivery::Rejected {
        reason: format!("{what} {name:?} is not configured"),
    }
}

/// One POST of a JSON body, its answer classified.
async fn post(client: &Client, url: Url, body: Vec<u8>) -> Delivery {
    let answer = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(e) => {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "failed"
            };
            // without_url: the URL is a secret for Slack.
            return Delivery::Retry {
                reason: format!("the request {kind}: {}", e.without_url()),
                after: None,
            };
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let text = read_capped(response).await;
    classify(status, &headers, &text, Utc::now())
}

/// The start of an answer's body, at most [`MAX_REPLY_BYTES`]: only an excerpt is kept, and a
/// receiver (or whatever answers in its place) may send a body without end. Reading stops
/// there and the connection is dropped.
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_REPLY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_REPLY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// What an answer means for the message.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: DateTime<Utc>,
) -> Delivery {
    let excerpt = || {
        let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
        super::event::truncate(&one_line, EXCERPT)
    };
    if status.is_success() {
        Delivery::Delivered
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        let after = headers
            .get(RETRY_AFTER)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| retry_after(h, now));
        Delivery::Retry {
            reason: format!("HTTP 429: {}", excerpt()),
            after,
        }
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Delivery::Retry {
            reason: format!("HTTP {}: {}", status.as_u16(), excerpt()),
            after: None,
        }
    } else {
        Delivery::Rejected {
            reason: format!("HTTP {}: {}", status.as_u16(), excerpt()),
        }
    }
}

/// `Retry-After` as a wait: delay-seconds or an HTTP-date (a date in the past is no wait).
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reqwest::header::HeaderValue;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap()
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after("120", at()), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", at()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:00:00 GMT", at()),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", at()), None);
    }

    #[test]
    fn answers_are_delivered_retried_or_rejected_by_status() {
        let none = HeaderMap::new();
        let mut limited = HeaderMap::new();
        limited.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let class = |code: u16, h: &HeaderMap| {
            classify(
                StatusCode::from_u16(code).unwrap(),
                h,
                "invalid_payload\n",
                at(),
            )
        };
        assert_eq!(class(200, &none), Delivery::Delivered);
        assert_eq!(class(202, &none), Delivery::Delivered);
        assert_eq!(
            class(429, &limited),
            Delivery::Retry {
                reason: "HTTP 429: invalid_payload".into(),
                after: Some(Duration::from_secs(7))
            }
        );
        for code in [500, 502, 503, 408] {
            assert!(
                matches!(class(code, &none), Delivery::Retry { after: None, .. }),
                "{code}"
            );
        }
        for code in [400, 403, 404, 410, 413, 301] {
            assert!(
                matches!(class(code, &none), Delivery::Rejected { .. }),
                "{code}"
            );
        }
        let long = "y".repeat(5000);
        let Delivery::Rejected { reason } = classify(StatusCode::BAD_REQUEST, &none, &long, at())
        else {
            panic!()
        };
        assert!(reason.chars().count() < EXCERPT + 20, "{reason}");
    }

    #[tokio::test]
    async fn an_unknown_target_is_rejected_and_a_connection_error_hides_the_url() {
        let settings = NotifySettings {
            slack_webhooks: [(
                "ops".to_string(),
                Secret::new("http://127.0.0.1:1/services/SECRETPATH"),
            )]
            .into(),
            ..NotifySettings::default()
        };
        let (slack, _) = http_transports(&settings).unwrap();
        let message = |target: &str| OutboxMessage {
            id: 1,
            key: "k".into(),
            channel: Channel::Slack,
            target: target.into(),
            summary: "s".into(),
            payload: b"{}".to_vec(),
            created_at: Utc::now(),
            state: crate::store::MessageState::Pending,
            attempts: 0,
            next_attempt_at: Utc::now(),
            last_error: None,
            done_at: None,
        };
        assert!(matches!(
            slack.deliver(&message("gone")).await,
            Delivery::Rejected { .. }
        ));
        match slack.deliver(&message("ops")).await {
            Delivery::Retry { reason, .. } => {
                assert!(!reason.contains("SECRETPATH"), "{reason}");
                assert!(!reason.contains("127.0.0.1:1"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
