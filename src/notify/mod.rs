//! Telling people: Slack messages, PagerDuty events and report emails, all through one durable
//! outbox.
//!
//! - [`Transport`]: sends one stored message and says what happened ([`Delivery`]); one per
//!   channel (Slack webhook, PagerDuty Events v2, SMTP).
//! - `dispatch`: the [`Dispatcher`] that takes due messages from the store's outbox, sends them
//!   with a timeout each, and records the result: delivered, retried with capped exponential
//!   backoff (honouring `Retry-After`), or rejected for good.
//!
//! - [`config`]: the `notify:` settings (routes, webhooks, routing keys; secrets from files or
//!   env).
//! - [`event`]: what a message is about ([`Judged`]: a verdict and its rollout); [`slack`] and
//!   [`pagerduty`] build the payloads from it; [`webhook`] sends them.
//! - [`gate`]: the [`GateNotifier`], which turns recorded verdicts into queued messages on
//!   changes of outcome only.
//!
//! Producers never send: they enqueue ([`crate::store::Store::enqueue`]) and wake the
//! dispatcher, so a message exists on disk before any attempt and a restart resumes it.

pub mod config;
mod dispatch;
pub mod event;
pub mod gate;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use std::time::Duration;

use futures::future::BoxFuture;

pub use config::{NotifyConfig, NotifySettings};
pub use dispatch::{Backoff, Dispatcher, DispatcherHandle, MAX_RETRY_AFTER_SECS};
pub use event::{Judged, Rollout, SloNumbers};
pub use gate::GateNotifier;

use crate::store::{Channel, OutboxMessage};

/// The result of one attempt to send a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver took it (2xx, SMTP 250).
    Delivered,
    /// Try again later: a 5xx, a 429, a timeout, a network error, a 4xx SMTP reply. `after` is
    /// the receiver's own wait (`Retry-After`), used when longer than the backoff.
    Retry {
        /// What went wrong, for the log and the row.
        reason: String,
        /// The wait the receiver asked for.
        after: Option<Duration>,
    },
    /// Never send it again: the receiver says the message itself is wrong (400, 413, a 5xx
    /// SMTP reply to the message) or the destination is not configured. Logged and counted.
    Rejected {
        /// Why, for the log and the row.
        reason: String,
    },
}

/// Sends stored messages of one channel.
pub trait Transport: Send + Sync {
    /// The channel this transport sends.
    fn channel(&self) -> Channel;

    /// One attempt to send `message` (its payload as stored, to the destination its `target`
    /// names). Never panics on a bad payload or answer: that is a [`Delivery`] too.
    fn deliver<'a>(&'a self, message: &'a OutboxMessage) -> BoxFuture<'a, Delivery>;
}
