//! The latest A/A backtest of each service's canary profile: one row per service, replaced
//! by each new backtest (the history of backtests is not kept; the status page shows the
//! latest, with its time and the version it replayed).

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::StoreError;
use super::sqlite::SqliteStore;

/// One service's latest backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCalibration {
    /// The service.
    pub service: String,
    /// The version label value whose history was replayed against itself.
    pub version: String,
    /// When the backtest ran (to the millisecond).
    pub computed_at: DateTime<Utc>,
    /// Per metric, as `evaluate::calibrate::calibrations_json` shapes it.
    pub results: serde_json::Value,
}

const COLUMNS: &str = "SELECT service, version, computed_at, results_json FROM calibrations";

impl SqliteStore {
    /// Replaces `calibration.service`'s backtest.
    pub fn save_calibration(&self, calibration: &StoredCalibration) -> Result<(), StoreError> {
        self.check_writable("save calibration")?;
        let text = serde_json::to_string(&calibration.results).map_err(|e| StoreError::Encode {
            id: calibration.service.clone(),
            reason: e.to_string(),
        })?;
        self.conn()
            .execute(
                "INSERT INTO calibrations (service, version, computed_at, results_json) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (service) DO UPDATE SET \
                 version = excluded.version, computed_at = excluded.computed_at, \
                 results_json = excluded.results_json",
                params![
                    calibration.service,
                    calibration.version,
                    calibration.computed_at.timestamp_millis(),
                    text
                ],
            )
            .map_err(self.err("save calibration"))?;
        Ok(())
    }

    /// `service`'s latest backtest, if one ran.
    pub fn calibration(&self, service: &str) -> Result<Option<StoredCalibration>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(&format!("{COLUMNS} WHERE service = ?1"), [service], raw)
            .optional()
            .map_err(self.err("read calibration"))?;
        row.map(decode).transpose()
    }

    /// Every service's latest backtest, by service name.
    pub fn calibrations(&self) -> Result<Vec<StoredCalibration>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("{COLUMNS} ORDER BY service"))
            .map_err(self.err("read calibrations"))?;
        let rows = stmt
            .query_map([], raw)
            .map_err(self.err("read calibrations"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read calibrations"))?;
        rows.into_iter().map(decode).collect()
    }
}

pub(super) type Raw = (String, String, i64, String);

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

pub(super) fn decode((service, version, ms, text): Raw) -> Result<StoredCalibration, StoreError> {
    let results = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        id: service.clone(),
        reason: e.to_string(),
    })?;
    Ok(StoredCalibration {
        computed_at: Utc.timestamp_millis_opt(ms).single().unwrap_or_default(),
        service,
        version,
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::each_backend;

    fn calibration(service: &str, version: &str, ms: i64) -> StoredCalibration {
        StoredCalibration {
            service: service.to_string(),
            version: version.to_string(),
            computed_at: Utc.timestamp_millis_opt(ms).unwrap(),
            results: serde_json::json!([{"metric": "errors", "tolerance": 1.2}]),
        }
    }

    #[test]
    fn a_new_backtest_replaces_the_service_s_last_and_others_stay() {
        each_backend(|store| {
            assert_eq!(store.calibration("checkout").unwrap(), None);
            store
                .save_calibration(&calibration("checkout", "v1", 1_000))
                .unwrap();
            store
                .save_calibration(&calibration("billing", "b7", 2_000))
                .unwrap();
            let newer = calibration("checkout", "v2", 3_000);
            store.save_calibration(&newer).unwrap();
            assert_eq!(store.calibration("checkout").unwrap(), Some(newer.clone()));
            let all = store.calibrations().unwrap();
            assert_eq!(
                all.iter()
                    .map(|c| (c.service.as_str(), c.version.as_str()))
                    .collect::<Vec<_>>(),
                [("billing", "b7"), ("checkout", "v2")]
            );
            assert_eq!(all[1], newer);
        });
    }
}
