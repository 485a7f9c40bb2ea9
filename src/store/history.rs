//! The verdict history: every verdict answered, with what it was made from.
//!
//! Order: newest first (`recorded_at` descending), ties broken by id ascending, so the order is
//! total and a page boundary is never ambiguous. Pagination is by keyset: a page's
//! [`HistoryPage::next`] is the [`Cursor`] of its last row, and passing it as
//! [`HistoryFilter::before`] returns the rows strictly after that row in this order. Rows
//! recorded meanwhile do not shift later pages (unlike `OFFSET`).
//!
//! Times are stored as unix milliseconds: `recorded_at` reads back truncated to the
//! millisecond.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::{Row, params};
use serde::Serialize;

use super::StoreError;
use super::sqlite::SqliteStore;
use crate::verdict::{Outcome, Verdict, VerdictKind};

/// The largest page [`Store::list`] returns, whatever the filter asks.
pub const MAX_LIST_LIMIT: usize = 1000;

/// One verdict to store.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictRecord {
    /// The verdict as answered.
    pub verdict: Verdict,
    /// What the verdict was made from, so a failed rollout can be explained later: the request
    /// as received, the queries sent, the windows, sample sizes, the Prometheus URL (never
    /// credentials), the definitions' source files. Free-form JSON chosen by the server.
    pub inputs: serde_json::Value,
    /// When it was recorded (stored to the millisecond); orders the history and drives pruning.
    pub recorded_at: DateTime<Utc>,
}

/// One verdict read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredVerdict {
    /// The verdict as answered.
    pub verdict: Verdict,
    /// What it was made from (see [`VerdictRecord::inputs`]).
    pub inputs: serde_json::Value,
    /// When it was recorded, to the millisecond.
    pub recorded_at: DateTime<Utc>,
}

/// Which verdicts [`Store::list`] returns. Every filter is optional; they combine with AND.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryFilter {
    /// Only this service.
    pub service: Option<String>,
    /// Only this outcome.
    pub outcome: Option<Outcome>,
    /// Only this kind.
    pub kind: Option<VerdictKind>,
    /// Page size, capped at [`MAX_LIST_LIMIT`]; 0 returns an empty page.
    pub limit: usize,
    /// The [`HistoryPage::next`] of the previous page (a [`Cursor`] in text form); `None` for
    /// the first page.
    pub before: Option<String>,
}

impl Default for HistoryFilter {
    /// No filter, the first 50 rows.
    fn default() -> Self {
        HistoryFilter {
            service: None,
            outcome: None,
            kind: None,
            limit: 50,
            before: None,
        }
    }
}

/// One page of history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// Newest first.
    pub verdicts: Vec<StoredVerdict>,
    /// The cursor for the next page: set when the page is full (there may be more rows), `None`
    /// when this page is the last.
    pub next: Option<String>,
}

/// A position in the history: the `recorded_at` (unix ms) and id of a row. Its text form,
/// `<unix ms>.<id>` (e.g. `1767225600000.9b2f...`), is what clients pass back; they should
/// treat it as opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// `recorded_at` of the row, unix milliseconds.
    pub recorded_at_ms: i64,
    /// Id of the row.
    pub id: String,
}

impl Cursor {
    /// The cursor just past `row`: the next page starts after it.
    pub fn after(row: &StoredVerdict) -> Cursor {
        Cursor {
            recorded_at_ms: row.recorded_at.timestamp_millis(),
            id: row.verdict.id.clone(),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.recorded_at_ms, self.id)
    }
}

impl FromStr for Cursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Cursor, StoreError> {
        let bad = |reason: &str| StoreError::BadCursor {
            cursor: s.to_string(),
            reason: reason.to_string(),
        };
        // The time has no dot, the id may have any character: split at the first dot.
        let (ms, id) = s
            .split_once('.')
            .ok_or_else(|| bad("expected <unix ms>.<id>"))?;
        let recorded_at_ms = ms
            .parse()
            .map_err(|_| bad("the part before the dot is not a time"))?;
        if id.is_empty() {
            return Err(bad("the id is empty"));
        }
        Ok(Cursor {
            recorded_at_ms,
            id: id.to_string(),
        })
    }
}

/// The stored name of an outcome: its serde name, so the column matches the JSON.
pub(super) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Inconclusive => "inconclusive",
    }
}

/// The stored name of a kind: its serde name.
pub(super) fn kind_name(kind: VerdictKind) -> &'static str {
    match kind {
        VerdictKind::Canary => "canary",
        VerdictKind::Slo => "slo",
    }
}

const COLUMNS: &str = "SELECT id, recorded_at, verdict_json, inputs_json FROM verdicts";

impl SqliteStore {
    /// Stores one verdict with its inputs; returns only after the commit is on disk. A verdict
    /// id already in the history is refused ([`StoreError::Duplicate`]), never overwritten.
    pub fn record(&self, record: &VerdictRecord) -> Result<(), StoreError> {
        self.check_writable("record")?;
        let id = &record.verdict.id;
        let (verdict_json, inputs_json) = encode(record)?;
        let conn = self.conn();
        // One INSERT in autocommit mode is its own transaction: when `execute` returns, the
        // commit is done and (synchronous=FULL) fsynced.
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO verdicts \
                 (id, recorded_at, service, kind, outcome, verdict_json, inputs_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(self.err("record"))?;
        let inserted = stmt.execute(params![
            id,
            record.recorded_at.timestamp_millis(),
            record.verdict.service,
            kind_name(record.verdict.kind),
            outcome_name(record.verdict.verdict),
            verdict_json,
            inputs_json,
        ]);
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_primary_key_violation(&e) => Err(StoreError::Duplicate { id: id.clone() }),
            Err(e) => Err(StoreError::sqlite(self.path(), "record", e)),
        }
    }

    /// The verdict with this id, if recorded.
    pub fn get(&self, id: &str) -> Result<Option<StoredVerdict>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))
            .map_err(self.err("get"))?;
        let mut rows = stmt.query([id]).map_err(self.err("get"))?;
        match rows.next().map_err(self.err("get"))? {
            Some(row) => self.decode(row).map(Some),
            None => Ok(None),
        }
    }

    /// One page of history, newest first (see the module doc for the order and the cursor).
    pub fn list(&self, filter: &HistoryFilter) -> Result<HistoryPage, StoreError> {
        let limit = filter.limit.min(MAX_LIST_LIMIT);
        let cursor = filter.before.as_deref().map(Cursor::from_str).transpose()?;
        // Only the clauses in use are in the SQL, so each filter combination gets a plan that
        // uses its index; every combination is its own cached statement. Parameters keep fixed
        // numbers (?6, the limit, always appears), so one binding serves every variant.
        let mut clauses = Vec::new();
        if filter.service.is_some() {
            clauses.push("service = ?1");
        }
        if filter.outcome.is_some() {
            clauses.push("outcome = ?2");
        }
        if filter.kind.is_some() {
            clauses.push("kind = ?3");
        }
        if cursor.is_some() {
            clauses.push("(recorded_at < ?4 OR (recorded_at = ?4 AND id > ?5))");
        }
        let mut sql = String::from(COLUMNS);
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY recorded_at DESC, id ASC LIMIT ?6");

        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(self.err("list"))?;
        let mut rows = stmt
            .query(params![
                filter.service,
                filter.outcome.map(outcome_name),
                filter.kind.map(kind_name),
                cursor.as_ref().map(|c| c.recorded_at_ms),
                cursor.as_ref().map(|c| c.id.as_str()),
                i64::try_from(limit).unwrap_or(i64::MAX),
            ])
            .map_err(self.err("list"))?;
        let mut verdicts = Vec::new();
        while let Some(row) = rows.next().map_err(self.err("list"))? {
            verdicts.push(self.decode(row)?);
        }
        let next = match verdicts.last() {
            Some(last) if limit > 0 && verdicts.len() == limit => {
                Some(Cursor::after(last).to_string())
            }
            _ => None,
        };
        Ok(HistoryPage { verdicts, next })
    }

    /// Deletes the verdicts recorded before `cutoff` (compared to the millisecond); returns
    /// how many.
    pub fn prune(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.check_writable("prune")?;
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("DELETE FROM verdicts WHERE recorded_at < ?1")
            .map_err(self.err("prune"))?;
        stmt.execute([cutoff.timestamp_millis()])
            .map_err(self.err("prune"))
    }

    /// How many verdicts the history holds.
    pub fn count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT count(*) FROM verdicts")
            .map_err(self.err("count"))?;
        let n: i64 = stmt
            .query_row([], |r| r.get(0))
            .map_err(self.err("count"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Reads a row of [`COLUMNS`]; a row that does not decode is [`StoreError::Corrupt`].
    fn decode(&self, row: &Row<'_>) -> Result<StoredVerdict, StoreError> {
        let id: String = row.get(0).map_err(self.err("read row"))?;
        let corrupt = |column: &str, e: rusqlite::Error| StoreError::Corrupt {
            id: id.clone(),
            reason: format!("{column}: {e}"),
        };
        let ms: i64 = row.get(1).map_err(|e| corrupt("recorded_at", e))?;
        let verdict_json: String = row.get(2).map_err(|e| corrupt("verdict_json", e))?;
        let inputs_json: String = row.get(3).map_err(|e| corrupt("inputs_json", e))?;
        decode_columns(id, ms, &verdict_json, &inputs_json)
    }
}

/// The verdict's and the inputs' JSON, refused when the verdict's would not read back.
pub(super) fn encode(record: &VerdictRecord) -> Result<(String, String), StoreError> {
    let encode = |reason: String| StoreError::Encode {
        id: record.verdict.id.clone(),
        reason,
    };
    let verdict_json = serde_json::to_string(&record.verdict).map_err(|e| encode(e.to_string()))?;
    // serde_json writes NaN and infinities as `null`, which then does not read back as an
    // f64: refuse here rather than store a row that `get` could never return.
    serde_json::from_str::<Verdict>(&verdict_json)
        .map_err(|e| encode(format!("its JSON does not read back: {e}")))?;
    let inputs_json = serde_json::to_string(&record.inputs).map_err(|e| encode(e.to_string()))?;
    Ok((verdict_json, inputs_json))
}

/// Decodes a stored row's columns; a row that does not decode is [`StoreError::Corrupt`].
pub(super) fn decode_columns(
    id: String,
    ms: i64,
    verdict_json: &str,
    inputs_json: &str,
) -> Result<StoredVerdict, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        id: id.clone(),
        reason,
    };
    let recorded_at = DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| corrupt(format!("recorded_at {ms} is out of range")))?;
    let verdict: Verdict =
        serde_json::from_str(verdict_json).map_err(|e| corrupt(format!("verdict_json: {e}")))?;
    if verdict.id != id {
        return Err(corrupt(format!("verdict_json holds id {:?}", verdict.id)));
    }
    let inputs =
        serde_json::from_str(inputs_json).map_err(|e| corrupt(format!("inputs_json: {e}")))?;
    Ok(StoredVerdict {
        verdict,
        inputs,
        recorded_at,
    })
}

fn is_primary_key_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_error()
        .is_some_and(|f| f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

#[cfg(test)]
#[path = "history_tests.rs"]
pub(super) mod tests;
