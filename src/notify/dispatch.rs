//! The dispatcher: takes due messages from the outbox, sends each once with a timeout, and
//! writes down what happened before it looks at the next batch.
//!
//! - Delivered: the row is marked `sent`.
//! - Retry (5xx, 429, timeout, network): the row is due again after the backoff for its
//!   attempt number (`initial * 2^(attempts-1)`, capped at `max`), or after the receiver's
//!   `Retry-After` when that is longer. Past `give_up_after` since it was enqueued, it is
//!   rejected as expired instead.
//! - Rejected (the receiver calls the payload invalid): marked `rejected`, logged, counted;
//!   never sent again.
//!
//! Every attempt first claims its row (a compare-and-swap on `next_attempt_at` that leases it
//! for the timeout plus a margin), so two processes on one database never send a row at once.
//! Every outcome is committed to the store before the next attempt, so a restart resumes each
//! message where it stood. The one window left is a crash after the receiver accepted and before
//! the `sent` commit: that message is sent again on restart (at least once); PagerDuty collapses
//! it by its `dedup_key`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::Notify;

use super::{Delivery, Transport};
use crate::store::{Channel, OutboxMessage, Store, StoreError};
use crate::telemetry::names;

/// Messages taken from the store at once.
const BATCH: usize = 32;
/// Messages of one batch in flight at once (a slow receiver does not hold up the others).
const CONCURRENCY: usize = 4;
/// How long past its timeout an attempt holds its row: a process that dies mid-attempt leaves
/// the row due again after this.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How long the dispatcher sleeps at most when nothing is due: the store is looked at again,
/// so a message enqueued by another process (the `report` command) is picked up too.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// The longest `Retry-After` honoured, in seconds (a day): longer asks wait this long.
pub const MAX_RETRY_AFTER_SECS: i64 = 24 * 3600;

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Wait after the first failed attempt.
    pub initial: Duration,
    /// Longest wait between attempts (Retry-After may ask for more and is honoured).
    pub max: Duration,
    /// Age after which a message that still fails is given up on (rejected as expired).
    pub give_up_after: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 5 min; given up after a day.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl Backoff {
    /// The wait after `attempts` failed attempts (1 for the first).
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// The wait before the next attempt: the backoff, or the receiver's `Retry-After` when
    /// that is longer, but never past [`Backoff::give_up_after`] nor [`MAX_RETRY_AFTER_SECS`]:
    /// a receiver (or whoever answers in its place) cannot park a message for ever, nor ask
    /// for a time past the calendar's end.
    pub fn retry_wait(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let longest = self
            .give_up_after
            .min(Duration::from_secs(MAX_RETRY_AFTER_SECS as u64));
        let asked = retry_after.unwrap_or_default().min(longest);
        self.delay(attempts).max(asked)
    }
}

/// Wakes the dispatcher when something was enqueued; cheap to clone.
#[derive(Debug, Clone)]
pub struct DispatcherHandle {
    wake: Arc<Notify>,
}

impl DispatcherHandle {
    /// Asks the dispatcher to look at the outbox now. A wake before the dispatcher waits is
    /// kept, so none is lost.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Sends what the outbox holds. Built once; [`Dispatcher::run`] owns it until shutdown.
pub struct Dispatcher {
    /// Where the messages are.
    store: Arc<Store>,
    /// One transport per channel; a message of a channel without one waits (backing off).
    transports: HashMap<Channel, Arc<dyn Transport>>,
    /// Retry policy.
    backoff: Backoff,
    /// Longest one attempt may take; past it the attempt is a retry.
    timeout: Duration,
    /// Set by [`DispatcherHandle::wake`].
    wake: Arc<Notify>,
}

impl Dispatcher {
    /// A dispatcher over `store` with these transports, and the handle that wakes it.
    pub fn new(
        store: Arc<Store>,
        transports: Vec<Arc<dyn Transport>>,
        backoff: Backoff,
        timeout: Duration,
    ) -> (Dispatcher, DispatcherHandle) {
        let wake = Arc::new(Notify::new());
        let transports = transports.into_iter().map(|t| (t.channel(), t)).collect();
        let dispatcher = Dispatcher {
            store,
            transports,
            backoff,
            timeout,
            wake: wake.clone(),
        };
        (dispatcher, DispatcherHandle { wake })
    }

    /// Sends due messages until `shutdown` resolves. An attempt in flight is finished and
    /// recorded first; what is still pending stays in the store for the next start.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wait = match self.run_once(Utc::now()).await {
                Ok(0) => self.idle_wait().await,
                // A full batch may have more behind it: look again at once.
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::warn!(error = %e, "the outbox could not be read; trying again");
                    IDLE_POLL
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends every message due at `now` (one batch), records each result, and returns how many
    /// attempts were made.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let store = self.store.clone();
        let due = blocking(move || store.due(now, BATCH)).await?;
        let results: Vec<Result<bool, StoreError>> = futures::stream::iter(due)
            .map(|message| self.send(message))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let store = self.store.clone();
        if let Ok(pending) = blocking(move || store.pending_count()).await {
            metrics::gauge!(names::OUTBOX_PENDING).set(pending as f64);
        }
        let mut attempts = 0;
        for sent in results {
            attempts += usize::from(sent?);
        }
        Ok(attempts)
    }

    /// One attempt on `message` (as read from the store), recorded: claimed first, so that no
    /// other process attempts it at the same time. Returns `false`, attempting nothing, when
    /// the row changed since it was read (another process took it, or it is finished).
    pub async fn send(&self, message: OutboxMessage) -> Result<bool, StoreError> {
        let lease = chrono::Duration::from_std(self.timeout + LEASE_MARGIN).unwrap_or_default();
        let (store, id, seen) = (self.store.clone(), message.id, message.next_attempt_at);
        if !blocking(move || store.claim(id, seen, Utc::now() + lease)).await? {
            return Ok(false);
        }
        let delivery = self.attempt(&message).await;
        self.record(message, delivery).await?;
        Ok(true)
    }

    /// The wait until the next message is due, at most [`IDLE_POLL`].
    async fn idle_wait(&self) -> Duration {
        let store = self.store.clone();
        match blocking(move || store.next_due()).await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(IDLE_POLL)
                // Never spin on a row due "now" that the clock has not quite reached.
                .max(Duration::from_millis(10)),
            _ => IDLE_POLL,
        }
    }

    async fn attempt(&self, message: &OutboxMessage) -> Delivery {
        let Some(transport) = self.transports.get(&message.channel) else {
            return Delivery::Retry {
                reason: format!("no {} transport is configured", message.channel),
                after: None,
            };
        };
        match tokio::time::timeout(self.timeout, transport.deliver(message)).await {
            Ok(delivery) => delivery,
            Err(_) => Delivery::Retry {
                reason: format!("no answer within {:?}", self.timeout),
                after: None,
            },
        }
    }

    async fn record(&self, message: OutboxMessage, delivery: Delivery) -> Result<(), StoreError> {
        let now = Utc::now();
        let channel = message.channel.as_str();
        let (id, key) = (message.id, message.key.clone());
        let store = self.store.clone();
        let result = match delivery {
            Delivery::Delivered => {
                tracing::info!(%key, channel, summary = %message.summary, "notification delivered");
                blocking(move || store.mark_sent(id, now)).await?;
                "delivered"
            }
            Delivery::Rejected { reason } => {
                tracing::error!(%key, channel, %reason, "notification rejected; it will not be sent again");
                blocking(move || store.mark_rejected(id, &reason, now)).await?;
                "rejected"
            }
            Delivery::Retry { reason, after } => {
                let attempts = message.attempts + 1;
                let age = (now - message.created_at).to_std().unwrap_or_default();
                if age >= self.backoff.give_up_after {
                    let reason = format!(
                        "given up after {attempts} attempts over {}s; last: {reason}",
                        age.as_secs()
                    );
                    tracing::error!(%key, channel, %reason, "notification expired");
                    blocking(move || store.mark_rejected(id, &reason, now)).await?;
                    "expired"
                } else {
                    let wait = self.backoff.retry_wait(attempts, after);
                    let next = chrono::Duration::from_std(wait)
                        .ok()
                        .and_then(|wait| now.checked_add_signed(wait))
                        .unwrap_or(now + chrono::Duration::seconds(MAX_RETRY_AFTER_SECS));
                    tracing::warn!(%key, channel, %reason, attempts, retry_in = ?wait,
                        "notification not delivered; retrying");
                    blocking(move || store.mark_retry(id, &reason, next)).await?;
                    "retry"
                }
            }
        };
        metrics::counter!(names::NOTIFICATIONS, "channel" => channel, "result" => result)
            .increment(1);
        Ok(())
    }
}

/// Runs a store call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(StoreError::Unwritable {
            path: "outbox".into(),
            operation: "dispatch",
            reason: format!("the store task stopped: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::FutureExt;

    use super::*;
    use crate::store::{Enqueued, MessageState, NewMessage};

    /// Answers from a script, one answer per attempt, and remembers the payloads it saw.
    struct Scripted {
        answers: Mutex<Vec<Delivery>>,
        seen: Mutex<Vec<Vec<u8>>>,
    }

    impl Transport for Scripted {
        fn channel(&self) -> Channel {
            Channel::Slack
        }
        fn deliver<'a>(
            &'a self,
            message: &'a OutboxMessage,
        ) -> futures::future::BoxFuture<'a, Delivery> {
            self.seen.lock().unwrap().push(message.payload.clone());
            let next = self.answers.lock().unwrap().remove(0);
            async move { next }.boxed()
        }
    }

    fn setup(answers: Vec<Delivery>, backoff: Backoff) -> (Dispatcher, Arc<Scripted>, i64) {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let message = NewMessage {
            key: "k".into(),
            channel: Channel::Slack,
            target: "#alerts".into(),
            summary: "s".into(),
            payload: b"{}".to_vec(),
        };
        let Enqueued::New(id) = store.enqueue(&message, Utc::now()).unwrap() else {
            panic!()
        };
        let transport = Arc::new(Scripted {
            answers: Mutex::new(answers),
            seen: Mutex::new(Vec::new()),
        });
        let (d, _) = Dispatcher::new(
            store,
            vec![transport.clone()],
            backoff,
            Duration::from_secs(5),
        );
        (d, transport, id)
    }

    /// Delivers, but only once `release` is notified: holds an attempt open.
    struct Held {
        release: Arc<Notify>,
        delivered: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Transport for Held {
        fn channel(&self) -> Channel {
            Channel::Slack
        }
        fn deliver<'a>(&'a self, _: &'a OutboxMessage) -> futures::future::BoxFuture<'a, Delivery> {
            async move {
                self.release.notified().await;
                self.delivered
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Delivery::Delivered
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn two_dispatchers_on_one_database_send_a_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let (a, b) = (
            Arc::new(Store::open(&path).unwrap()),
            Arc::new(Store::open(&path).unwrap()),
        );
        let message = NewMessage {
            key: "report/payments/2026-W48".into(),
            channel: Channel::Slack,
            target: "t".into(),
            summary: "s".into(),
            payload: b"{}".to_vec(),
        };
        a.enqueue(&message, Utc::now()).unwrap();
        // Both processes have read the row as due.
        let row = a.due(Utc::now(), 1).unwrap().remove(0);
        assert_eq!(b.due(Utc::now(), 1).unwrap()[0], row);
        // The first's attempt stays open until the second has tried; the second's goes through
        // at once (its permit is stored), so neither can wait on the other.
        let release = Arc::new(Notify::new());
        let at_once = Arc::new(Notify::new());
        at_once.notify_one();
        let delivered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let dispatcher = |store, release: &Arc<Notify>| {
            let held = Arc::new(Held {
                release: release.clone(),
                delivered: delivered.clone(),
            });
            let timeout = Duration::from_secs(5);
            Dispatcher::new(store, vec![held], Backoff::default(), timeout).0
        };
        let first = dispatcher(a.clone(), &release);
        let second = dispatcher(b, &at_once);
        let (one, other) = tokio::join!(first.send(row.clone()), async {
            let sent = second.send(row.clone()).await;
            // Let the first's attempt (if it holds the row) finish.
            release.notify_one();
            sent
        });
        let (one, other) = (one.unwrap(), other.unwrap());
        assert!(one != other, "exactly one of them attempts: {one} {other}");
        assert_eq!(delivered.load(std::sync::atomic::Ordering::SeqCst), 1);
        let row = a.outbox_message(row.id).unwrap().unwrap();
        assert_eq!((row.state, row.attempts), (MessageState::Sent, 1));
    }

    #[test]
    fn backoff_doubles_from_initial_and_stops_at_max() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            give_up_after: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=6).map(|a| b.delay(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_retry_waits_for_retry_after_when_it_is_longer_than_the_backoff() {
        let retry = Delivery::Retry {
            reason: "HTTP 429".into(),
            after: Some(Duration::from_secs(120)),
        };
        let (d, _, id) = setup(vec![retry], Backoff::default());
        let before = Utc::now();
        assert_eq!(d.run_once(Utc::now()).await.unwrap(), 1);
        let row = d.store.outbox_message(id).unwrap().unwrap();
        assert_eq!(row.state, MessageState::Pending);
        assert_eq!(row.attempts, 1);
        let wait = (row.next_attempt_at - before).num_seconds();
        assert!((119..=121).contains(&wait), "{wait}");
        // Not due yet: nothing is attempted.
        assert_eq!(d.run_once(Utc::now()).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn delivered_and_rejected_rows_are_final() {
        let (d, seen, id) = setup(
            vec![
                Delivery::Retry {
                    reason: "HTTP 500".into(),
                    after: None,
                },
                Delivery::Delivered,
            ],
            Backoff::default(),
        );
        d.run_once(Utc::now()).await.unwrap();
        let later = Utc::now() + chrono::Duration::seconds(2);
        assert_eq!(d.run_once(later).await.unwrap(), 1);
        let row = d.store.outbox_message(id).unwrap().unwrap();
        assert_eq!((row.state, row.attempts), (MessageState::Sent, 2));
        assert_eq!(seen.seen.lock().unwrap().len(), 2);
        assert_eq!(
            d.run_once(later + chrono::Duration::hours(1))
                .await
                .unwrap(),
            0
        );

        let (d, _, id) = setup(
            vec![Delivery::Rejected {
                reason: "HTTP 400: invalid_payload".into(),
            }],
            Backoff::default(),
        );
        d.run_once(Utc::now()).await.unwrap();
        let row = d.store.outbox_message(id).unwrap().unwrap();
        assert_eq!(row.state, MessageState::Rejected);
        assert_eq!(row.last_error.as_deref(), Some("HTTP 400: invalid_payload"));
    }

    #[tokio::test]
    async fn a_message_failing_past_the_retry_age_expires() {
        let backoff = Backoff {
            give_up_after: Duration::ZERO,
            ..Backoff::default()
        };
        let retry = Delivery::Retry {
            reason: "connection refused".into(),
            after: None,
        };
        let (d, _, id) = setup(vec![retry], backoff);
        d.run_once(Utc::now()).await.unwrap();
        let row = d.store.outbox_message(id).unwrap().unwrap();
        assert_eq!(row.state, MessageState::Rejected);
        let error = row.last_error.unwrap();
        assert!(error.starts_with("given up after 1 attempts"), "{error}");
        assert!(error.ends_with("connection refused"), "{error}");
    }
}
