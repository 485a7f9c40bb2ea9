//! The verdict history on PostgreSQL: the same rows, order and cursor as SQLite's
//! (`store/history.rs` documents them).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use postgres::Row;
use postgres::error::SqlState;
use postgres::types::ToSql;

use super::{PgStore, count, rows};
use crate::store::StoreError;
use crate::store::history::{
    Cursor, HistoryFilter, HistoryPage, MAX_LIST_LIMIT, StoredVerdict, VerdictRecord,
    decode_columns, encode, kind_name, outcome_name,
};

const COLUMNS: &str = "SELECT id, recorded_at, verdict_json, inputs_json FROM verdicts";

impl PgStore {
    pub(in crate::store) fn record(&self, record: &VerdictRecord) -> Result<(), StoreError> {
        let id = &record.verdict.id;
        let (verdict_json, inputs_json) = encode(record)?;
        let inserted = self.conn("record")?.execute(
            "INSERT INTO verdicts \
             (id, recorded_at, service, kind, outcome, verdict_json, inputs_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                id,
                &record.recorded_at.timestamp_millis(),
                &record.verdict.service,
                &kind_name(record.verdict.kind),
                &outcome_name(record.verdict.verdict),
                &verdict_json,
                &inputs_json,
            ],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(StoreError::Duplicate { id: id.clone() })
            }
            Err(e) => Err(self.err("record")(e)),
        }
    }

    pub(in crate::store) fn get(&self, id: &str) -> Result<Option<StoredVerdict>, StoreError> {
        self.conn("get")?
            .query_opt(&format!("{COLUMNS} WHERE id = $1"), &[&id])
            .map_err(self.err("get"))?
            .map(|row| decode(&row))
            .transpose()
    }

    pub(in crate::store) fn list(&self, filter: &HistoryFilter) -> Result<HistoryPage, StoreError> {
        let limit = filter.limit.min(MAX_LIST_LIMIT);
        let cursor = filter.before.as_deref().map(Cursor::from_str).transpose()?;
        let outcome = filter.outcome.map(outcome_name);
        let kind = filter.kind.map(kind_name);
        let cursor_ms = cursor.as_ref().map(|c| c.recorded_at_ms);
        let cursor_id = cursor.as_ref().map(|c| c.id.as_str());
        let limit_param = i64::try_from(limit).unwrap_or(i64::MAX);
        // PostgreSQL types every parameter from the SQL, so only those in use are bound.
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        let mut clauses = Vec::new();
        if let Some(service) = &filter.service {
            params.push(service);
            clauses.push(format!("service = ${}", params.len()));
        }
        if let Some(outcome) = &outcome {
            params.push(outcome);
            clauses.push(format!("outcome = ${}", params.len()));
        }
        if let Some(kind) = &kind {
            params.push(kind);
            clauses.push(format!("kind = ${}", params.len()));
        }
        if let (Some(ms), Some(id)) = (&cursor_ms, &cursor_id) {
            params.push(ms);
            params.push(id);
            let (m, i) = (params.len() - 1, params.len());
            clauses.push(format!(
                "(recorded_at < ${m} OR (recorded_at = ${m} AND id > ${i}))"
            ));
        }
        let mut sql = String::from(COLUMNS);
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        params.push(&limit_param);
        sql.push_str(&format!(
            " ORDER BY recorded_at DESC, id ASC LIMIT ${}",
            params.len()
        ));
        let found = self
            .conn("list")?
            .query(&sql, &params)
            .map_err(self.err("list"))?;
        let verdicts = found.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let next = match verdicts.last() {
            Some(last) if limit > 0 && verdicts.len() == limit => {
                Some(Cursor::after(last).to_string())
            }
            _ => None,
        };
        Ok(HistoryPage { verdicts, next })
    }

    pub(in crate::store) fn prune(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.conn("prune")?
            .execute(
                "DELETE FROM verdicts WHERE recorded_at < $1",
                &[&cutoff.timestamp_millis()],
            )
            .map(rows)
            .map_err(self.err("prune"))
    }

    pub(in crate::store) fn count(&self) -> Result<u64, StoreError> {
        let row = self
            .conn("count")?
            .query_one("SELECT count(*) FROM verdicts", &[])
            .map_err(self.err("count"))?;
        Ok(count(row.get(0)))
    }
}

/// Reads a row of [`COLUMNS`].
fn decode(row: &Row) -> Result<StoredVerdict, StoreError> {
    let id: String = row.get(0);
    let corrupt = |column: &str, e: postgres::Error| StoreError::Corrupt {
        id: id.clone(),
        reason: format!("{column}: {e}"),
    };
    let ms: i64 = row.try_get(1).map_err(|e| corrupt("recorded_at", e))?;
    let verdict_json: String = row.try_get(2).map_err(|e| corrupt("verdict_json", e))?;
    let inputs_json: String = row.try_get(3).map_err(|e| corrupt("inputs_json", e))?;
    decode_columns(id.clone(), ms, &verdict_json, &inputs_json)
}
