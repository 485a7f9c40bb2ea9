//! What each subject (a rollout, an SLO) was last told: notifications go out on changes of
//! state, not on every ask. The state moves in the same transaction that queues the messages
//! telling it, so neither happens without the other.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::outbox::{insert_message, millis};
use super::{Enqueued, NewMessage, Store, StoreError};
use crate::verdict::Outcome;

impl Store {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::tests::{at, message};

    #[test]
    fn a_transition_moves_the_state_and_queues_its_messages_together() {
        let store = Store::open_in_memory().unwrap();
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
    }
}
