//! The notification dispatcher against a receiver that answers as an attacker (or a broken
//! proxy) would (issue 16): the real dispatcher, the real Slack transport and an outbox on a real
//! SQLite file, sending to the local Slack stand-in.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;

use chrono::Utc;
use slogate::notify::config::Secret;
use slogate::notify::webhook::http_transports;
use slogate::notify::{Backoff, Dispatcher, MAX_RETRY_AFTER_SECS, NotifySettings, Transport};
use slogate::store::{Channel, MessageState, NewMessage, Store};
use support::receivers::{Answer, Receiver};
use support::serve::Served;

/// An outbox on a real SQLite file with the real dispatcher and Slack transport over it.
struct Outbox {
    /// Holds the database file; removed on drop.
    _dir: tempfile::TempDir,
    /// The outbox, to look at the message's row after each attempt.
    store: Arc<Store>,
    /// Sends what the outbox holds.
    dispatcher: Dispatcher,
    /// The key of the one message queued.
    key: String,
}

/// An [`Outbox`] holding one Slack message for the webhook at `base`.
fn outbox_to(base: &str) -> Outbox {
    let settings = NotifySettings {
        slack_webhooks: [(
            "deploys".to_string(),
            Secret::new(format!("{base}/services/T0/B0/test")),
        )]
        .into(),
        ..NotifySettings::default()
    };
    let (transport, _) = http_transports(&settings).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("outbox.db")).unwrap());
    let message = NewMessage {
        key: "slack/hostile/deploys".into(),
        channel: Channel::Slack,
        target: "deploys".into(),
        summary: "a message the receiver pushes back".into(),
        payload: br#"{"text": "checkout canary fail"}"#.to_vec(),
    };
    store.enqueue(&message, Utc::now()).unwrap();
    let transports: Vec<Arc<dyn Transport>> = vec![Arc::new(transport)];
    let (dispatcher, _) = Dispatcher::new(
        store.clone(),
        transports,
        Backoff::default(),
        Duration::from_secs(5),
    );
    Outbox {
        _dir: dir,
        store,
        dispatcher,
        key: message.key,
    }
}

#[test]
fn a_retry_after_past_the_end_of_the_calendar_is_capped_and_the_message_still_goes_out() {
    let slack = Receiver::slack();
    // 317,000 years: `now + Retry-After` is past the last date chrono can hold.
    slack.script([Answer::TooManyRequests {
        retry_after_secs: 9_999_999_999_999,
    }]);
    // Bound whole: the temp dir must outlive the open database.
    let outbox = outbox_to(&slack.url);
    let (store, dispatcher, key) = (&outbox.store, &outbox.dispatcher, &outbox.key);
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let before = Utc::now();
    assert_eq!(runtime.block_on(dispatcher.run_once(before)).unwrap(), 1);
    let row = store.outbox_by_key(key).unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (MessageState::Pending, 1));
    let wait = (row.next_attempt_at - before).num_seconds();
    assert!(
        (MAX_RETRY_AFTER_SECS - 5..=MAX_RETRY_AFTER_SECS + 5).contains(&wait),
        "the wait is capped at {MAX_RETRY_AFTER_SECS}s, not {wait}s"
    );

    // The dispatcher lives on: once the capped wait is over, the message is delivered.
    let later = row.next_attempt_at + chrono::Duration::seconds(1);
    assert_eq!(runtime.block_on(dispatcher.run_once(later)).unwrap(), 1);
    let row = store.outbox_by_key(key).unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (MessageState::Sent, 2));
    let statuses: Vec<u16> = slack.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert_eq!(slack.problems(), Vec::<String>::new());
}

#[test]
fn a_reply_without_end_is_read_only_as_far_as_the_excerpt() {
    // A receiver (or a proxy in its place) answering 500 with a body that never ends.
    let endless = axum::Router::new().fallback(|| async {
        let chunk = Bytes::from(vec![b'x'; 16 * 1024]);
        let stream = futures::stream::repeat_with(move || Ok::<_, Infallible>(chunk.clone()));
        (StatusCode::INTERNAL_SERVER_ERROR, Body::from_stream(stream))
    });
    let receiver = Served::start(endless);
    // Bound whole: the temp dir must outlive the open database.
    let outbox = outbox_to(&receiver.url);
    let (store, dispatcher, key) = (&outbox.store, &outbox.dispatcher, &outbox.key);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(
        runtime.block_on(dispatcher.run_once(Utc::now())).unwrap(),
        1
    );
    let row = store.outbox_by_key(key).unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (MessageState::Pending, 1));
    let reason = row.last_error.unwrap_or_default();
    assert!(reason.starts_with("HTTP 500: xxxxxxxx"), "{reason}");
}
