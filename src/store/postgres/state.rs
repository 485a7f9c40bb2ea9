//! Sequential test states, calibrations and sessions on PostgreSQL (`store/sequential.rs`,
//! `store/calibrations.rs` and `store/sessions.rs` document each method). A sequential state
//! is saved by compare-and-swap of its look number, so of two replicas that took the same look
//! one saves and the other is told it lost.

use chrono::{DateTime, Utc};

use super::{PgStore, rows};
use crate::store::StoreError;
use crate::store::calibrations::{StoredCalibration, decode as decode_calibration};
use crate::store::outbox::millis;
use crate::store::sequential::StoredSequential;

impl PgStore {
    pub(in crate::store) fn sequential_state(
        &self,
        key: &str,
    ) -> Result<Option<StoredSequential>, StoreError> {
        let row = self
            .conn("read sequential state")?
            .query_opt(
                "SELECT looks, state_json FROM sequential_tests WHERE key = $1",
                &[&key],
            )
            .map_err(self.err("read sequential state"))?;
        row.map(|r| {
            let looks: i64 = r.get(0);
            let text: &str = r.get(1);
            let state = serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
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

    pub(in crate::store) fn save_sequential(
        &self,
        key: &str,
        service: &str,
        expected: Option<u64>,
        next: &StoredSequential,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let text = serde_json::to_string(&next.state).map_err(|e| StoreError::Encode {
            id: key.to_string(),
            reason: e.to_string(),
        })?;
        let looks = i64::try_from(next.looks).unwrap_or(i64::MAX);
        let at = millis(now);
        let mut conn = self.conn("save sequential state")?;
        let changed = match expected {
            None => conn.execute(
                "INSERT INTO sequential_tests (key, service, looks, state_json, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
                &[&key, &service, &looks, &text, &at],
            ),
            Some(before) => conn.execute(
                "UPDATE sequential_tests SET looks = $2, state_json = $3, updated_at = $4 \
                 WHERE key = $1 AND looks = $5",
                &[
                    &key,
                    &looks,
                    &text,
                    &at,
                    &i64::try_from(before).unwrap_or(i64::MAX),
                ],
            ),
        }
        .map_err(self.err("save sequential state"))?;
        Ok(changed == 1)
    }

    pub(in crate::store) fn prune_sequential(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.conn("prune sequential states")?
            .execute(
                "DELETE FROM sequential_tests WHERE updated_at < $1",
                &[&millis(cutoff)],
            )
            .map(rows)
            .map_err(self.err("prune sequential states"))
    }

    pub(in crate::store) fn save_calibration(
        &self,
        calibration: &StoredCalibration,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(&calibration.results).map_err(|e| StoreError::Encode {
            id: calibration.service.clone(),
            reason: e.to_string(),
        })?;
        self.conn("save calibration")?
            .execute(
                "INSERT INTO calibrations (service, version, computed_at, results_json) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (service) DO UPDATE SET \
                 version = excluded.version, computed_at = excluded.computed_at, \
                 results_json = excluded.results_json",
                &[
                    &calibration.service,
                    &calibration.version,
                    &millis(calibration.computed_at),
                    &text,
                ],
            )
            .map_err(self.err("save calibration"))?;
        Ok(())
    }

    pub(in crate::store) fn calibration(
        &self,
        service: &str,
    ) -> Result<Option<StoredCalibration>, StoreError> {
        self.conn("read calibration")?
            .query_opt(
                "SELECT service, version, computed_at, results_json FROM calibrations \
                 WHERE service = $1",
                &[&service],
            )
            .map_err(self.err("read calibration"))?
            .map(|r| decode_calibration((r.get(0), r.get(1), r.get(2), r.get(3))))
            .transpose()
    }

    pub(in crate::store) fn calibrations(&self) -> Result<Vec<StoredCalibration>, StoreError> {
        self.conn("read calibrations")?
            .query(
                "SELECT service, version, computed_at, results_json FROM calibrations \
                 ORDER BY service",
                &[],
            )
            .map_err(self.err("read calibrations"))?
            .iter()
            .map(|r| decode_calibration((r.get(0), r.get(1), r.get(2), r.get(3))))
            .collect()
    }

    pub(in crate::store) fn open_session(
        &self,
        id_hash: &str,
        token_fingerprint: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn("open session")?
            .execute(
                "INSERT INTO sessions (id_hash, token_fingerprint, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    &id_hash,
                    &token_fingerprint,
                    &millis(now),
                    &millis(expires_at),
                ],
            )
            .map_err(self.err("open session"))?;
        Ok(())
    }

    pub(in crate::store) fn session_token(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn("read session")?
            .query_opt(
                "SELECT token_fingerprint FROM sessions WHERE id_hash = $1 AND expires_at > $2",
                &[&id_hash, &millis(now)],
            )
            .map_err(self.err("read session"))?
            .map(|r| r.get(0)))
    }

    pub(in crate::store) fn close_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.conn("close session")?
            .execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
            .map_err(self.err("close session"))?;
        Ok(())
    }

    pub(in crate::store) fn prune_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.conn("prune sessions")?
            .execute(
                "DELETE FROM sessions WHERE expires_at <= $1",
                &[&millis(now)],
            )
            .map(rows)
            .map_err(self.err("prune sessions"))
    }
}
