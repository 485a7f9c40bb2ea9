//! The running state of sequential canary tests: one row per analysis, replaced at each look.
//!
//! The store does not read the state (it is the analysis's JSON); it keeps the look number
//! beside it so that two asks that advanced the same test at once cannot both write: the
//! second [`Store::save_sequential`] finds the look number moved and returns `false`.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::StoreError;
use super::sqlite::SqliteStore;

/// One analysis's state as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSequential {
    /// Looks taken so far.
    pub looks: u64,
    /// The analysis's state (`analysis::sequential::AnalysisState` as JSON).
    pub state: serde_json::Value,
}

impl SqliteStore {
    /// The state of the analysis `key`, if it has taken a look.
    pub fn sequential_state(&self, key: &str) -> Result<Option<StoredSequential>, StoreError> {
        let conn = self.conn();
        let row: Option<(i64, String)> = conn
            .query_row(
                "SELECT looks, state_json FROM sequential_tests WHERE key = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err("read sequential state"))?;
        row.map(|(looks, text)| {
            let state = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                id: key.to_string(),
                reason: e.to_string(),
            })?;
            Ok(StoredSequential {
                looks: u64::try_from(looks).unwrap_or(0),
                state,
            })
        })
        .transpose()
    }

    /// Writes the analysis `key`'s state after a look, if the stored look number is still
    /// `expected` (`None`: no row yet). Returns `false`, writing nothing, when another ask
    /// advanced the test meanwhile.
    pub fn save_sequential(
        &self,
        key: &str,
        service: &str,
        expected: Option<u64>,
        next: &StoredSequential,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.check_writable("save sequential state")?;
        let text = serde_json::to_string(&next.state).map_err(|e| StoreError::Encode {
            id: key.to_string(),
            reason: e.to_string(),
        })?;
        let looks = i64::try_from(next.looks).unwrap_or(i64::MAX);
        let at = now.timestamp_millis();
        let conn = self.conn();
        let changed = match expected {
            None => conn.execute(
                "INSERT INTO sequential_tests (key, service, looks, state_json, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO NOTHING",
                params![key, service, looks, text, at],
            ),
            Some(before) => conn.execute(
                "UPDATE sequential_tests SET looks = ?2, state_json = ?3, updated_at = ?4
                 WHERE key = ?1 AND looks = ?5",
                params![
                    key,
                    looks,
                    text,
                    at,
                    i64::try_from(before).unwrap_or(i64::MAX)
                ],
            ),
        }
        .map_err(self.err("save sequential state"))?;
        Ok(changed == 1)
    }

    /// Removes the states of analyses not advanced since `cutoff` (finished rollouts).
    pub fn prune_sequential(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.check_writable("prune sequential states")?;
        self.conn()
            .execute(
                "DELETE FROM sequential_tests WHERE updated_at < ?1",
                params![cutoff.timestamp_millis()],
            )
            .map_err(self.err("prune sequential states"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::testing::each_backend;
    use serde_json::json;

    fn state(looks: u64) -> StoredSequential {
        StoredSequential {
            looks,
            state: json!({"looks": looks, "metrics": []}),
        }
    }

    #[test]
    fn a_saved_state_reads_back_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.sequential_state("s/a..b").unwrap(), None);
        assert!(
            store
                .save_sequential("s/a..b", "s", None, &state(1), Utc::now())
                .unwrap()
        );
        assert!(
            store
                .save_sequential("s/a..b", "s", Some(1), &state(2), Utc::now())
                .unwrap()
        );
        std::mem::forget(store);
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.sequential_state("s/a..b").unwrap(), Some(state(2)));
    }

    #[test]
    fn a_save_from_a_stale_look_is_refused_and_keeps_the_newer_state() {
        each_backend(|store| {
            assert!(
                store
                    .save_sequential("k", "s", None, &state(1), Utc::now())
                    .unwrap()
            );
            assert!(
                !store
                    .save_sequential("k", "s", None, &state(1), Utc::now())
                    .unwrap()
            );
            assert!(
                store
                    .save_sequential("k", "s", Some(1), &state(2), Utc::now())
                    .unwrap()
            );
            assert!(
                !store
                    .save_sequential("k", "s", Some(1), &state(2), Utc::now())
                    .unwrap()
            );
            assert_eq!(store.sequential_state("k").unwrap(), Some(state(2)));
        });
    }

    #[test]
    fn pruning_removes_only_states_not_advanced_since_the_cutoff() {
        each_backend(|store| {
            let old = Utc::now() - chrono::Duration::days(100);
            store
                .save_sequential("old", "s", None, &state(1), old)
                .unwrap();
            store
                .save_sequential("new", "s", None, &state(1), Utc::now())
                .unwrap();
            let cutoff = Utc::now() - chrono::Duration::days(90);
            assert_eq!(store.prune_sequential(cutoff).unwrap(), 1);
            assert!(store.sequential_state("new").unwrap().is_some());
        });
    }
}
