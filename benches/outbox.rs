//! The notification outbox's own cost: what storing a message before sending it, and recording
//! the result after, adds per message on a real file (WAL, `synchronous=FULL`: every commit is
//! an fsync), with a transport that answers at once so only slogate's side is timed; and how
//! the dispatcher's "what is due" query holds up when the table keeps many sent rows.
//!
//! Run: `cargo bench --bench outbox`. Figures go in docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use futures::future::BoxFuture;
use slogate::notify::{Backoff, Delivery, Dispatcher, Transport};
use slogate::store::{Channel, Enqueued, NewMessage, OutboxMessage, Store};

/// Messages per timed run.
const MESSAGES: usize = 2_000;
/// Timed runs; the median is reported.
const RUNS: usize = 5;
/// Sent rows kept in the table for the "due" query measurement.
const HISTORY_ROWS: usize = 100_000;

/// Takes every message at once.
struct Instant200;

impl Transport for Instant200 {
    fn channel(&self) -> Channel {
        Channel::Slack
    }
    fn deliver<'a>(&'a self, _message: &'a OutboxMessage) -> BoxFuture<'a, Delivery> {
        async { Delivery::Delivered }.boxed()
    }
}

fn message(i: usize) -> NewMessage {
    NewMessage {
        key: format!("slack/verdict-{i:08}/payments"),
        channel: Channel::Slack,
        target: "payments".to_string(),
        summary: format!("checkout canary fail #{i}"),
        // About the size of a Block Kit verdict message.
        payload: vec![b'x'; 2_500],
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut enqueue_ms = Vec::new();
    let mut dispatch_ms = Vec::new();
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("bench.db")).unwrap());
        let started = Instant::now();
        for i in 0..MESSAGES {
            let queued = store.enqueue(&message(i), Utc::now()).unwrap();
            assert!(matches!(queued, Enqueued::New(_)));
        }
        enqueue_ms.push(started.elapsed().as_secs_f64() * 1e3 / MESSAGES as f64);

        let (dispatcher, _) = Dispatcher::new(
            store.clone(),
            vec![Arc::new(Instant200)],
            Backoff::default(),
            Duration::from_secs(5),
        );
        let started = Instant::now();
        let mut sent = 0;
        while sent < MESSAGES {
            sent += runtime.block_on(dispatcher.run_once(Utc::now())).unwrap();
        }
        dispatch_ms.push(started.elapsed().as_secs_f64() * 1e3 / MESSAGES as f64);
        assert_eq!(store.outbox_counts().unwrap().sent, MESSAGES as u64);
    }

    // A table that has kept a long history of sent rows, and a few pending ones.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("history.db")).unwrap();
    let fill = Instant::now();
    for i in 0..HISTORY_ROWS {
        if let Enqueued::New(id) = store.enqueue(&message(i), Utc::now()).unwrap()
            && i >= 100
        {
            store.mark_sent(id, Utc::now()).unwrap();
        }
    }
    let fill_s = fill.elapsed().as_secs_f64();
    let mut due_us = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let due = store.due(Utc::now(), 32).unwrap();
        due_us.push(started.elapsed().as_secs_f64() * 1e6);
        assert_eq!(due.len(), 32);
    }
    let mut pending_us = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        assert_eq!(store.pending_count().unwrap(), 100);
        pending_us.push(started.elapsed().as_secs_f64() * 1e6);
    }

    println!(
        "outbox/enqueue: {:.3} ms per message (median of {RUNS} runs of {MESSAGES}; one fsynced commit each)",
        median(enqueue_ms)
    );
    println!(
        "outbox/dispatch: {:.3} ms per message (due query + fsynced claim + instant transport + fsynced result commit)",
        median(dispatch_ms)
    );
    println!(
        "outbox/due with {HISTORY_ROWS} rows (100 pending): {:.0} us per batch of 32; pending count {:.0} us (table filled in {fill_s:.1} s)",
        median(due_us),
        median(pending_us)
    );
}
