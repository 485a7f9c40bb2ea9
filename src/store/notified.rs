//! What each subject (a rollout, an SLO) was last told: notifications go out on changes of
//! state, not on every ask. The state moves in the same transaction that queues the messages
//! telling it, so neither happens without the other.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::outbox::{insert_message, millis};
use super::sqlite::SqliteStore;
use super::{Enqueued, NewMessage, StoreError};
use crate::verdict::Outcome;

impl SqliteStore {
    /// The outcome last notified for `subject` and the verdict that carried it.
    pub fn last_notified(&self, subject: &str) -> Result<Option<(Outcome, String)>, StoreError> {
        let conn = self.conn();
        let row: Option<(String, String)> = conn
            .query_row(
                "SELECT outcome, verdict_id FROM notified WHERE subject = ?1",
                [subject],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err("last notified"))?;
        Ok(row.and_then(|(outcome, id)| {
            serde_json::from_value(serde_json::Value::String(outcome))
                .ok()
                .map(|o| (o, id))
        }))
    }

    /// Records the outcome notified for `subject` together with the messages that tell it, in
    /// one transaction: either the state moves and the messages are queued, or neither.
    pub fn notify_transition(
        &self,
        subject: &str,
        outcome: Outcome,
        verdict_id: &str,
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.check_writable("notify")?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err("notify"))?;
        tx.execute(
            "INSERT INTO notified (subject, outcome, verdict_id, updated_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (subject) DO UPDATE SET \
             outcome = excluded.outcome, verdict_id = excluded.verdict_id, \
             updated_at = excluded.updated_at",
            params![subject, outcome.to_string(), verdict_id, millis(now)],
        )
        .map_err(self.err("notify"))?;
        let results = messages
            .iter()
            .map(|m| insert_message(&tx, m, now))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err("notify"))?;
        tx.commit().map_err(self.err("notify"))?;
        Ok(results)
    }

    /// [`super::Store::notify_transition_from`]: the state moves only from `last`.
    pub fn notify_transition_from(
        &self,
        subject: &str,
        last: Option<&(Outcome, String)>,
        outcome: Outcome,
        verdict_id: &str,
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Enqueued>>, StoreError> {
        self.check_writable("notify")?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err("notify"))?;
        let moved = match last {
            None => tx.execute(
                "INSERT INTO notified (subject, outcome, verdict_id, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (subject) DO NOTHING",
                params![subject, outcome.to_string(), verdict_id, millis(now)],
            ),
            Some((was, was_id)) => tx.execute(
                "UPDATE notified SET outcome = ?2, verdict_id = ?3, updated_at = ?4 \
                 WHERE subject = ?1 AND outcome = ?5 AND verdict_id = ?6",
                params![
                    subject,
                    outcome.to_string(),
                    verdict_id,
                    millis(now),
                    was.to_string(),
                    was_id
                ],
            ),
        }
        .map_err(self.err("notify"))?;
        if moved != 1 {
            // Dropping the transaction rolls it back: nothing was written.
            return Ok(None);
        }
        let results = messages
            .iter()
            .map(|m| insert_message(&tx, m, now))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err("notify"))?;
        tx.commit().map_err(self.err("notify"))?;
        Ok(Some(results))
    }
}

impl SqliteStore {
    /// Forgets the subjects last told before `cutoff` (compared to the millisecond), except
    /// those whose last word was `fail`: their resolve is still owed (a PagerDuty incident stays
    /// open until the subject passes), and the outbox keeps their messages for it. Returns how
    /// many. Without it every rollout ever asked about would keep its row for ever.
    pub fn prune_notified(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.check_writable("prune notified")?;
        self.conn()
            .execute(
                "DELETE FROM notified WHERE updated_at < ?1 AND outcome != 'fail'",
                params![millis(cutoff)],
            )
            .map_err(self.err("prune notified"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::tests::{at, message};
    use crate::store::testing::each_backend;

    #[test]
    fn a_transition_moves_the_state_and_queues_its_messages_together() {
        each_backend(|store| {
            assert_eq!(store.last_notified("checkout/abc").unwrap(), None);
            let queued = store
                .notify_transition(
                    "checkout/abc",
                    Outcome::Fail,
                    "v1",
                    &[message("p1"), message("s1")],
                    at(0),
                )
                .unwrap();
            assert!(matches!(queued[..], [Enqueued::New(_), Enqueued::New(_)]));
            assert_eq!(
                store.last_notified("checkout/abc").unwrap(),
                Some((Outcome::Fail, "v1".to_string()))
            );
            store
                .notify_transition("checkout/abc", Outcome::Pass, "v2", &[], at(1))
                .unwrap();
            assert_eq!(
                store.last_notified("checkout/abc").unwrap(),
                Some((Outcome::Pass, "v2".to_string()))
            );
        });
    }

    #[test]
    fn a_transition_from_a_stale_state_writes_nothing_and_says_so() {
        each_backend(|store| {
            let fail = (Outcome::Fail, "v1".to_string());
            let first = store
                .notify_transition_from("s", None, Outcome::Fail, "v1", &[message("a")], at(0))
                .unwrap();
            assert!(matches!(first.as_deref(), Some([Enqueued::New(_)])));
            // A second writer that also read "nothing told" loses, and queues nothing.
            let stale = store
                .notify_transition_from("s", None, Outcome::Fail, "v2", &[message("b")], at(0))
                .unwrap();
            assert_eq!(stale, None);
            assert_eq!(store.outbox_by_key("b").unwrap(), None);
            let moved = store
                .notify_transition_from("s", Some(&fail), Outcome::Pass, "v3", &[], at(1))
                .unwrap();
            assert_eq!(moved, Some(vec![]));
            let stale = store
                .notify_transition_from("s", Some(&fail), Outcome::Pass, "v4", &[], at(1))
                .unwrap();
            assert_eq!(stale, None);
            assert_eq!(
                store.last_notified("s").unwrap(),
                Some((Outcome::Pass, "v3".to_string()))
            );
        });
    }

    #[test]
    fn pruning_forgets_idle_subjects_but_keeps_an_unresolved_fail() {
        each_backend(|store| {
            for (subject, outcome, t) in [
                ("old-pass", Outcome::Pass, 0),
                ("old-inconclusive", Outcome::Inconclusive, 0),
                ("old-fail", Outcome::Fail, 0),
                ("recent-pass", Outcome::Pass, 10),
            ] {
                store
                    .notify_transition(subject, outcome, "v", &[], at(t))
                    .unwrap();
            }
            assert_eq!(store.prune_notified(at(5)).unwrap(), 2);
            assert_eq!(store.last_notified("old-pass").unwrap(), None);
            assert_eq!(store.last_notified("old-inconclusive").unwrap(), None);
            assert!(store.last_notified("old-fail").unwrap().is_some());
            assert!(store.last_notified("recent-pass").unwrap().is_some());
        });
    }
}
