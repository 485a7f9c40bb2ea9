//! The notification outbox: every Slack message, PagerDuty event and report email is a row here
//! before it is sent, so a crash or a restart loses none and a retry sends the same bytes.
//!
//! A row is `pending` until its transport delivers it (`sent`) or refuses it for good
//! (`rejected`: a payload the receiver calls invalid, or a message past its retry age). Its
//! `key` is the idempotency key: enqueueing a key that is already there returns the existing
//! row and stores nothing, which is how a report is never sent twice and a verdict asked about
//! again does not page again.
//!

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::StoreError;
use super::sqlite::SqliteStore;

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A Slack incoming webhook (Block Kit JSON).
    Slack,
    /// PagerDuty Events API v2 (event JSON).
    PagerDuty,
    /// An email over SMTP (the whole RFC 5322 message).
    Email,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::PagerDuty => "pagerduty",
            Channel::Email => "email",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Channel, String> {
        match s {
            "slack" => Ok(Channel::Slack),
            "pagerduty" => Ok(Channel::PagerDuty),
            "email" => Ok(Channel::Email),
            other => Err(format!("unknown channel {other:?}")),
        }
    }
}

/// Where a row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    /// Waiting for its first or next attempt.
    Pending,
    /// Delivered (the receiver answered 2xx).
    Sent,
    /// Never to be sent: refused as invalid, or given up on; `last_error` says which.
    Rejected,
}

impl MessageState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            MessageState::Pending => "pending",
            MessageState::Sent => "sent",
            MessageState::Rejected => "rejected",
        }
    }

    pub(super) fn parse(s: &str) -> Option<MessageState> {
        match s {
            "pending" => Some(MessageState::Pending),
            "sent" => Some(MessageState::Sent),
            "rejected" => Some(MessageState::Rejected),
            _ => None,
        }
    }
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Idempotency key: one row per key, ever (e.g. `pagerduty/<verdict id>/<routing name>`,
    /// `report/<team>/<ISO week>`).
    pub key: String,
    /// The transport that sends it.
    pub channel: Channel,
    /// The destination's name in the configuration (a route or recipient list), never a
    /// secret: the transport looks the secret up by this name when it sends.
    pub target: String,
    /// One line for logs and the status page ("checkout canary fail -> #payments").
    pub summary: String,
    /// The exact bytes the transport sends.
    pub payload: Vec<u8>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Row id (assigned in enqueue order).
    pub id: i64,
    /// As enqueued.
    pub key: String,
    /// As enqueued.
    pub channel: Channel,
    /// As enqueued.
    pub target: String,
    /// As enqueued.
    pub summary: String,
    /// As enqueued.
    pub payload: Vec<u8>,
    /// When it was enqueued (to the millisecond).
    pub created_at: DateTime<Utc>,
    /// Where it stands.
    pub state: MessageState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (pending rows).
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed, or why it was rejected.
    pub last_error: Option<String>,
    /// When it was sent or rejected.
    pub done_at: Option<DateTime<Utc>>,
}

/// What [`Store::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new row, with its id.
    New(i64),
    /// The key was already there (in any state): nothing stored; the existing row's id.
    Duplicate(i64),
}

/// Rows per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Waiting to be sent.
    pub pending: u64,
    /// Delivered.
    pub sent: u64,
    /// Refused or given up on.
    pub rejected: u64,
}

const COLUMNS: &str = "SELECT id, key, channel, target, summary, payload, created_at, state, \
                       attempts, next_attempt_at, last_error, done_at FROM outbox";

pub(super) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl SqliteStore {
    /// Stores a message, due at once, and returns after the commit is on disk. A key already
    /// present stores nothing and returns [`Enqueued::Duplicate`].
    pub fn enqueue(
        &self,
        message: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError> {
        self.check_writable("enqueue")?;
        insert_message(&self.conn(), message, now).map_err(self.err("enqueue"))
    }

    /// Pending messages due at `now`, oldest due first, at most `limit`.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{COLUMNS} WHERE state = 'pending' AND next_attempt_at <= ?1 \
                 ORDER BY next_attempt_at, id LIMIT ?2"
            ))
            .map_err(self.err("due"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![millis(now), limit], decode_row)
            .map_err(self.err("due"))?;
        rows.map(|r| r.map_err(self.err("due"))?).collect()
    }

    /// When the earliest pending message is due; `None` when nothing is pending.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        let ms: Option<i64> = conn
            .query_row(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .map_err(self.err("next due"))?;
        Ok(ms.map(from_millis))
    }

    /// Takes the attempt on a pending message: moves its `next_attempt_at` from the value the
    /// caller read (`seen`) to `until`, and says whether it did. Only one process wins the
    /// compare-and-swap, so the dispatcher of `serve` and a `slogate report` never send the same
    /// row at once; a process that dies mid-attempt leaves the row due again at `until`.
    pub fn claim(
        &self,
        id: i64,
        seen: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.check_writable("claim")?;
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE outbox SET next_attempt_at = ?3 \
                 WHERE id = ?1 AND state = 'pending' AND next_attempt_at = ?2",
            )
            .and_then(|mut stmt| stmt.execute(params![id, millis(seen), millis(until)]))
            .map_err(self.err("claim"))?;
        Ok(changed == 1)
    }

    /// Marks a message delivered.
    pub fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.finish(id, MessageState::Sent, None, now)
    }

    /// Marks a message never to be sent, with the reason.
    pub fn mark_rejected(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish(id, MessageState::Rejected, Some(reason), now)
    }

    /// Counts a failed attempt and makes the message due again at `next_attempt_at`.
    pub fn mark_retry(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.check_writable("retry")?;
        self.conn()
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 \
                 WHERE id = ?1 AND state = 'pending'",
            )
            .and_then(|mut stmt| stmt.execute(params![id, error, millis(next_attempt_at)]))
            .map_err(self.err("retry"))?;
        Ok(())
    }

    fn finish(
        &self,
        id: i64,
        state: MessageState,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.check_writable("finish")?;
        self.conn()
            .prepare_cached(
                "UPDATE outbox SET state = ?2, attempts = attempts + 1, \
                 last_error = COALESCE(?3, last_error), done_at = ?4 \
                 WHERE id = ?1 AND state = 'pending'",
            )
            .and_then(|mut stmt| stmt.execute(params![id, state.as_str(), error, millis(now)]))
            .map_err(self.err("finish"))?;
        Ok(())
    }

    /// One message by id.
    pub fn outbox_message(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError> {
        let conn = self.conn();
        conn.query_row(&format!("{COLUMNS} WHERE id = ?1"), [id], decode_row)
            .optional()
            .map_err(self.err("outbox get"))?
            .transpose()
    }

    /// One message by idempotency key.
    pub fn outbox_by_key(&self, key: &str) -> Result<Option<OutboxMessage>, StoreError> {
        let conn = self.conn();
        conn.query_row(&format!("{COLUMNS} WHERE key = ?1"), [key], decode_row)
            .optional()
            .map_err(self.err("outbox get"))?
            .transpose()
    }

    /// Messages whose key starts with `prefix`, oldest first (e.g. `report/` for the reports).
    pub fn outbox_with_prefix(&self, prefix: &str) -> Result<Vec<OutboxMessage>, StoreError> {
        let conn = self.conn();
        // A range on the key's unique index: every key that starts with the prefix sorts at or
        // after it and before it followed by the highest code point.
        let mut stmt = conn
            .prepare_cached(&format!(
                "{COLUMNS} WHERE key >= ?1 AND key < ?1 || char(1114111) ORDER BY id"
            ))
            .map_err(self.err("outbox list"))?;
        let rows = stmt
            .query_map(params![prefix], decode_row)
            .map_err(self.err("outbox list"))?;
        rows.map(|r| r.map_err(self.err("outbox list"))?).collect()
    }

    /// How many messages are pending (an index range count: cheap however many sent rows
    /// the table holds).
    pub fn pending_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let n: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .map_err(self.err("pending count"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// How many rows are in each state.
    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state")
            .map_err(self.err("outbox counts"))?;
        let mut counts = OutboxCounts::default();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.err("outbox counts"))?;
        for row in rows {
            let (state, n) = row.map_err(self.err("outbox counts"))?;
            let n = u64::try_from(n).unwrap_or(0);
            match MessageState::parse(&state) {
                Some(MessageState::Pending) => counts.pending = n,
                Some(MessageState::Sent) => counts.sent = n,
                Some(MessageState::Rejected) => counts.rejected = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// Deletes sent and rejected messages finished before `cutoff`, except reports (their rows
    /// are the record that a week's report went out) and the messages of a failure still open
    /// (`notified` says `fail`): its recovery is sent wherever they went, so they are kept until
    /// it passes again. Those rows' keys start `notify/<subject>/<verdict id>/`. Returns how
    /// many were deleted.
    pub fn prune_outbox(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.check_writable("prune outbox")?;
        self.conn()
            .execute(
                "DELETE FROM outbox WHERE state != 'pending' AND done_at < ?1 \
                 AND channel != 'email' \
                 AND NOT EXISTS (SELECT 1 FROM notified n WHERE n.outcome = 'fail' \
                     AND substr(outbox.key, 1, length(n.subject) + length(n.verdict_id) + 9) \
                         = 'notify/' || n.subject || '/' || n.verdict_id || '/')",
                [millis(cutoff)],
            )
            .map_err(self.err("prune outbox"))
    }
}

/// Inserts `message` due at once, or finds the row that already has its key.
pub(super) fn insert_message(
    conn: &Connection,
    message: &NewMessage,
    now: DateTime<Utc>,
) -> rusqlite::Result<Enqueued> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO outbox (key, channel, target, summary, payload, created_at, state, \
             attempts, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?6) \
             ON CONFLICT (key) DO NOTHING",
        )?
        .execute(params![
            message.key,
            message.channel.as_str(),
            message.target,
            message.summary,
            message.payload,
            millis(now),
        ])?;
    if inserted == 1 {
        return Ok(Enqueued::New(conn.last_insert_rowid()));
    }
    conn.query_row(
        "SELECT id FROM outbox WHERE key = ?1",
        [&message.key],
        |r| r.get(0),
    )
    .map(Enqueued::Duplicate)
}

/// Reads one row; a row that does not decode is reported with its id.
fn decode_row(row: &Row<'_>) -> rusqlite::Result<Result<OutboxMessage, StoreError>> {
    let id: i64 = row.get(0)?;
    let channel: String = row.get(2)?;
    let state: String = row.get(7)?;
    let corrupt = |reason: String| StoreError::Corrupt {
        id: format!("outbox {id}"),
        reason,
    };
    let channel = match channel.parse() {
        Ok(c) => c,
        Err(e) => return Ok(Err(corrupt(e))),
    };
    let Some(state) = MessageState::parse(&state) else {
        return Ok(Err(corrupt(format!("unknown state {state:?}"))));
    };
    Ok(Ok(OutboxMessage {
        id,
        key: row.get(1)?,
        channel,
        target: row.get(3)?,
        summary: row.get(4)?,
        payload: row.get(5)?,
        created_at: from_millis(row.get(6)?),
        state,
        attempts: row.get(8)?,
        next_attempt_at: from_millis(row.get(9)?),
        last_error: row.get(10)?,
        done_at: row.get::<_, Option<i64>>(11)?.map(from_millis),
    }))
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
pub(super) mod tests;
