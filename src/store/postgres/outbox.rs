//! The outbox and the notification states on PostgreSQL (`store/outbox.rs` and
//! `store/notified.rs` document what each method does). The claim is one conditional
//! `UPDATE`: across replicas, one claimant of a row wins.

use chrono::{DateTime, Utc};
use postgres::{GenericClient, Row};

use super::{PgStore, count, rows};
use crate::store::StoreError;
use crate::store::outbox::{
    Channel, Enqueued, MessageState, NewMessage, OutboxCounts, OutboxMessage, from_millis, millis,
};
use crate::verdict::Outcome;

const COLUMNS: &str = "SELECT id, key, channel, target, summary, payload, created_at, state, \
                       attempts, next_attempt_at, last_error, done_at FROM outbox";

impl PgStore {
    pub(in crate::store) fn enqueue(
        &self,
        message: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError> {
        insert_message(&mut *self.conn("enqueue")?, message, now).map_err(self.err("enqueue"))
    }

    pub(in crate::store) fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn("due")?
            .query(
                &format!(
                    "{COLUMNS} WHERE state = 'pending' AND next_attempt_at <= $1 \
                     ORDER BY next_attempt_at, id LIMIT $2"
                ),
                &[&millis(now), &limit],
            )
            .map_err(self.err("due"))?
            .iter()
            .map(decode_row)
            .collect()
    }

    pub(in crate::store) fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = self
            .conn("next due")?
            .query_one(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'",
                &[],
            )
            .map_err(self.err("next due"))?;
        Ok(row.get::<_, Option<i64>>(0).map(from_millis))
    }

    pub(in crate::store) fn claim(
        &self,
        id: i64,
        seen: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn("claim")?
            .execute(
                "UPDATE outbox SET next_attempt_at = $3 \
                 WHERE id = $1 AND state = 'pending' AND next_attempt_at = $2",
                &[&id, &millis(seen), &millis(until)],
            )
            .map_err(self.err("claim"))?;
        Ok(changed == 1)
    }

    pub(in crate::store) fn mark_sent(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish(id, MessageState::Sent, None, now)
    }

    pub(in crate::store) fn mark_rejected(
        &self,
        id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish(id, MessageState::Rejected, Some(reason), now)
    }

    pub(in crate::store) fn mark_retry(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn("retry")?
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 \
                 WHERE id = $1 AND state = 'pending'",
                &[&id, &error, &millis(next_attempt_at)],
            )
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
        self.conn("finish")?
            .execute(
                "UPDATE outbox SET state = $2, attempts = attempts + 1, \
                 last_error = COALESCE($3, last_error), done_at = $4 \
                 WHERE id = $1 AND state = 'pending'",
                &[&id, &state.as_str(), &error, &millis(now)],
            )
            .map_err(self.err("finish"))?;
        Ok(())
    }

    pub(in crate::store) fn outbox_message(
        &self,
        id: i64,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        self.conn("outbox get")?
            .query_opt(&format!("{COLUMNS} WHERE id = $1"), &[&id])
            .map_err(self.err("outbox get"))?
            .map(|r| decode_row(&r))
            .transpose()
    }

    pub(in crate::store) fn outbox_by_key(
        &self,
        key: &str,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        self.conn("outbox get")?
            .query_opt(&format!("{COLUMNS} WHERE key = $1"), &[&key])
            .map_err(self.err("outbox get"))?
            .map(|r| decode_row(&r))
            .transpose()
    }

    pub(in crate::store) fn outbox_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // A range on the key's unique index (the `C` collation orders by code point).
        self.conn("outbox list")?
            .query(
                &format!("{COLUMNS} WHERE key >= $1 AND key < $1 || chr(1114111) ORDER BY id"),
                &[&prefix],
            )
            .map_err(self.err("outbox list"))?
            .iter()
            .map(decode_row)
            .collect()
    }

    pub(in crate::store) fn pending_count(&self) -> Result<u64, StoreError> {
        let row = self
            .conn("pending count")?
            .query_one("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", &[])
            .map_err(self.err("pending count"))?;
        Ok(count(row.get(0)))
    }

    pub(in crate::store) fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let found = self
            .conn("outbox counts")?
            .query("SELECT state, COUNT(*) FROM outbox GROUP BY state", &[])
            .map_err(self.err("outbox counts"))?;
        let mut counts = OutboxCounts::default();
        for row in found {
            let n = count(row.get(1));
            match MessageState::parse(row.get(0)) {
                Some(MessageState::Pending) => counts.pending = n,
                Some(MessageState::Sent) => counts.sent = n,
                Some(MessageState::Rejected) => counts.rejected = n,
                None => {}
            }
        }
        Ok(counts)
    }

    pub(in crate::store) fn prune_outbox(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.conn("prune outbox")?
            .execute(
                "DELETE FROM outbox WHERE state != 'pending' AND done_at < $1 \
                 AND channel != 'email' \
                 AND NOT EXISTS (SELECT 1 FROM notified n WHERE n.outcome = 'fail' \
                     AND substr(outbox.key, 1, length(n.subject) + length(n.verdict_id) + 9) \
                         = 'notify/' || n.subject || '/' || n.verdict_id || '/')",
                &[&millis(cutoff)],
            )
            .map(rows)
            .map_err(self.err("prune outbox"))
    }

    pub(in crate::store) fn last_notified(
        &self,
        subject: &str,
    ) -> Result<Option<(Outcome, String)>, StoreError> {
        let row = self
            .conn("last notified")?
            .query_opt(
                "SELECT outcome, verdict_id FROM notified WHERE subject = $1",
                &[&subject],
            )
            .map_err(self.err("last notified"))?;
        Ok(row.and_then(|r| {
            let outcome: String = r.get(0);
            serde_json::from_value(serde_json::Value::String(outcome))
                .ok()
                .map(|o| (o, r.get(1)))
        }))
    }

    pub(in crate::store) fn notify_transition(
        &self,
        subject: &str,
        outcome: Outcome,
        verdict_id: &str,
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let err = self.err("notify");
        let mut conn = self.conn("notify")?;
        let mut tx = conn.transaction().map_err(&err)?;
        tx.execute(
            "INSERT INTO notified (subject, outcome, verdict_id, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (subject) DO UPDATE SET \
             outcome = excluded.outcome, verdict_id = excluded.verdict_id, \
             updated_at = excluded.updated_at",
            &[&subject, &outcome.to_string(), &verdict_id, &millis(now)],
        )
        .map_err(&err)?;
        let results = messages
            .iter()
            .map(|m| insert_message(&mut tx, m, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(results)
    }

    #[allow(clippy::too_many_arguments)]
    pub(in crate::store) fn notify_transition_from(
        &self,
        subject: &str,
        last: Option<&(Outcome, String)>,
        outcome: Outcome,
        verdict_id: &str,
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Enqueued>>, StoreError> {
        let err = self.err("notify");
        let mut conn = self.conn("notify")?;
        let mut tx = conn.transaction().map_err(&err)?;
        let (outcome, at) = (outcome.to_string(), millis(now));
        // Of two replicas writing from the same state, the second waits on the row lock, then
        // finds the condition false (READ COMMITTED re-checks it on the committed row).
        let moved = match last {
            None => tx.execute(
                "INSERT INTO notified (subject, outcome, verdict_id, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (subject) DO NOTHING",
                &[&subject, &outcome, &verdict_id, &at],
            ),
            Some((was, was_id)) => tx.execute(
                "UPDATE notified SET outcome = $2, verdict_id = $3, updated_at = $4 \
                 WHERE subject = $1 AND outcome = $5 AND verdict_id = $6",
                &[
                    &subject,
                    &outcome,
                    &verdict_id,
                    &at,
                    &was.to_string(),
                    was_id,
                ],
            ),
        }
        .map_err(&err)?;
        if moved != 1 {
            // Dropped uncommitted: rolled back.
            return Ok(None);
        }
        let results = messages
            .iter()
            .map(|m| insert_message(&mut tx, m, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(Some(results))
    }

    pub(in crate::store) fn prune_notified(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.conn("prune notified")?
            .execute(
                "DELETE FROM notified WHERE updated_at < $1 AND outcome != 'fail'",
                &[&millis(cutoff)],
            )
            .map(rows)
            .map_err(self.err("prune notified"))
    }
}

/// Inserts `message` due at once, or finds the row that already has its key (also one
/// another replica is inserting: the insert waits for its commit, then does nothing).
fn insert_message(
    client: &mut impl GenericClient,
    message: &NewMessage,
    now: DateTime<Utc>,
) -> Result<Enqueued, postgres::Error> {
    let inserted = client.query_opt(
        "INSERT INTO outbox (key, channel, target, summary, payload, created_at, state, \
         attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $6) \
         ON CONFLICT (key) DO NOTHING RETURNING id",
        &[
            &message.key,
            &message.channel.as_str(),
            &message.target,
            &message.summary,
            &message.payload,
            &millis(now),
        ],
    )?;
    if let Some(row) = inserted {
        return Ok(Enqueued::New(row.get(0)));
    }
    client
        .query_one("SELECT id FROM outbox WHERE key = $1", &[&message.key])
        .map(|r| Enqueued::Duplicate(r.get(0)))
}

/// Reads one row; a row that does not decode is reported with its id.
fn decode_row(row: &Row) -> Result<OutboxMessage, StoreError> {
    let id: i64 = row.get(0);
    let corrupt = |reason: String| StoreError::Corrupt {
        id: format!("outbox {id}"),
        reason,
    };
    let channel: Channel = row.get::<_, &str>(2).parse().map_err(corrupt)?;
    let state: &str = row.get(7);
    let state =
        MessageState::parse(state).ok_or_else(|| corrupt(format!("unknown state {state:?}")))?;
    let attempts: i32 = row.get(8);
    Ok(OutboxMessage {
        id,
        key: row.get(1),
        channel,
        target: row.get(3),
        summary: row.get(4),
        payload: row.get(5),
        created_at: from_millis(row.get(6)),
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: from_millis(row.get(9)),
        last_error: row.get(10),
        done_at: row.get::<_, Option<i64>>(11).map(from_millis),
    })
}
