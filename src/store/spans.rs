//! Closed span buckets, one row per bucket a replica held (`source::traces::shared` writes
//! and reads them): exact span and error counts and the bucket's reservoir of durations, so
//! the canary gate on any replica, or on a replica restarted, reads the spans every replica
//! received.
//!
//! Rows are keyed by the series (service, version, operation), the bucket start, the replica
//! (random per process start) and the bucket's incarnation in that process: two replicas never
//! write the same row, and a bucket written again (late spans arrived after its flush) replaces
//! its row whole, counts and reservoir together. A write is one transaction for the whole
//! batch. The reservoir is stored as little-endian `f64`s, bit for bit what the replica held,
//! so a gate reading the row judges on the same values as one reading the replica's memory.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::StoreError;
use super::outbox::millis;
use super::sqlite::SqliteStore;

/// One closed bucket of one series, as a replica wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanBucketRow {
    /// The replica that held the bucket: random per process start, so replicas (and a
    /// replica and its previous run) never write each other's rows.
    pub replica: String,
    /// The bucket's serial number in that replica's process: a bucket evicted from memory and
    /// made again for late spans is another bucket, whose write must not replace the first's.
    pub incarnation: u64,
    /// `service.name` of the spans.
    pub service: String,
    /// The value of the service's version attribute.
    pub version: String,
    /// The span name.
    pub operation: String,
    /// Start of the bucket, unix milliseconds.
    pub start_ms: i64,
    /// Spans that ended in the bucket, exactly.
    pub total: u64,
    /// Of which errors, exactly.
    pub errors: u64,
    /// The durations `durations` is a uniform sample of (its weight: each kept duration stands
    /// for `sampled_from / durations.len()` spans).
    pub sampled_from: u64,
    /// The reservoir, in the replica's order (empty when read without durations).
    pub durations: Vec<f64>,
}

/// Which rows a gate reads: one service and version (one operation, or all), buckets starting
/// in `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanBucketQuery<'a> {
    /// `service.name`.
    pub service: &'a str,
    /// The version.
    pub version: &'a str,
    /// One operation, or every operation of the version.
    pub operation: Option<&'a str>,
    /// First bucket start included, unix milliseconds.
    pub start_ms: i64,
    /// First bucket start excluded, unix milliseconds.
    pub end_ms: i64,
    /// Whether the reservoirs are read (latency metrics) or only the counts (error metrics:
    /// a row's durations are most of its bytes).
    pub durations: bool,
    /// Most rows returned; the read is refused past it ([`StoreError::TooManySpanBuckets`]),
    /// so one gate cannot pull an unbounded range into memory.
    pub limit: usize,
}

/// The reservoir as stored: 8 little-endian bytes a duration.
pub(super) fn encode_durations(durations: &[f64]) -> Vec<u8> {
    durations.iter().flat_map(|d| d.to_le_bytes()).collect()
}

/// The reservoir read back; a blob that is not whole `f64`s is corrupt.
pub(super) fn decode_durations(bytes: &[u8]) -> Result<Vec<f64>, String> {
    if !bytes.len().is_multiple_of(8) {
        return Err(format!(
            "{} bytes of durations are not whole 8-byte floats",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

/// How the two engines spell what the shared SQL needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dialect {
    /// The placeholder's sigil: `?` (SQLite) or `$` (PostgreSQL).
    pub placeholder: char,
    /// The binary type, to type a NULL in place of the reservoirs.
    pub blob: &'static str,
}

/// SQLite's spelling.
pub(super) const SQLITE: Dialect = Dialect {
    placeholder: '?',
    blob: "BLOB",
};

/// The columns of a row as read, numbers as the databases keep them (signed 64 bits).
pub(super) struct RawRow {
    pub service: String,
    pub version: String,
    pub operation: String,
    pub start_ms: i64,
    pub replica: String,
    pub incarnation: i64,
    pub total: i64,
    pub errors: i64,
    pub sampled_from: i64,
    pub durations: Option<Vec<u8>>,
}

impl RawRow {
    /// The row, checked: counts never negative, errors within the total, no more durations
    /// than they sample.
    pub(super) fn decode(self) -> Result<SpanBucketRow, StoreError> {
        let key = format!(
            "{}/{}/{}@{} by {}#{}",
            self.service,
            self.version,
            self.operation,
            self.start_ms,
            self.replica,
            self.incarnation
        );
        let corrupt = |reason: String| StoreError::CorruptSpans {
            key: key.clone(),
            reason,
        };
        let count = |n: i64, what: &str| {
            u64::try_from(n).map_err(|_| corrupt(format!("{what} is negative ({n})")))
        };
        let total = count(self.total, "total")?;
        let errors = count(self.errors, "errors")?;
        let sampled_from = count(self.sampled_from, "sampled_from")?;
        let incarnation = count(self.incarnation, "incarnation")?;
        let durations = match self.durations {
            Some(bytes) => decode_durations(&bytes).map_err(&corrupt)?,
            None => Vec::new(),
        };
        if errors > total || durations.len() as u64 > sampled_from {
            return Err(corrupt(format!(
                "{errors} errors of {total} spans, {} durations of {sampled_from}",
                durations.len()
            )));
        }
        Ok(SpanBucketRow {
            replica: self.replica,
            incarnation,
            service: self.service,
            version: self.version,
            operation: self.operation,
            start_ms: self.start_ms,
            total,
            errors,
            sampled_from,
            durations,
        })
    }
}

/// A count as the databases keep it (they have no unsigned 64-bit integers).
pub(super) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The SQL of a gate's read: bucket starts in `[p4, p5)` of one service and version, of
/// operation `p3` when it is not NULL, in a fixed order, at most `p6` rows (the caller asks
/// one more than its limit, to tell a read that fits from one that does not).
pub(super) fn select_sql(query: &SpanBucketQuery<'_>, dialect: Dialect) -> String {
    let durations = if query.durations {
        "durations".to_string()
    } else {
        format!("CAST(NULL AS {})", dialect.blob)
    };
    let sql = format!(
        "SELECT service, version, operation, start_ms, replica, incarnation, total, errors, \
         sampled_from, {durations} FROM span_buckets WHERE service = ?1 AND version = ?2 \
         AND (CAST(?3 AS TEXT) IS NULL OR operation = ?3) AND start_ms >= ?4 AND start_ms < ?5 \
         ORDER BY start_ms, operation, replica, incarnation LIMIT ?6"
    );
    sql.replace('?', &dialect.placeholder.to_string())
}

/// Fails a read that found more rows than its limit.
pub(super) fn within_limit(
    rows: Vec<SpanBucketRow>,
    query: &SpanBucketQuery<'_>,
) -> Result<Vec<SpanBucketRow>, StoreError> {
    if rows.len() > query.limit {
        return Err(StoreError::TooManySpanBuckets {
            service: query.service.to_string(),
            version: query.version.to_string(),
            limit: query.limit,
        });
    }
    Ok(rows)
}

/// The upsert of one row: a bucket written again replaces its row whole.
const UPSERT: &str = "INSERT INTO span_buckets (service, version, operation, start_ms, replica, \
     incarnation, total, errors, sampled_from, durations, flushed_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
     ON CONFLICT (service, version, operation, start_ms, replica, incarnation) DO UPDATE SET \
     total = excluded.total, errors = excluded.errors, sampled_from = excluded.sampled_from, \
     durations = excluded.durations, flushed_at = excluded.flushed_at";

/// [`UPSERT`] in `dialect`.
pub(super) fn upsert_sql(dialect: Dialect) -> String {
    UPSERT.replace('?', &dialect.placeholder.to_string())
}

impl SqliteStore {
    /// Writes `rows` in one transaction (each replacing the row of the same bucket, if any);
    /// returns after the commit.
    pub fn save_span_buckets(
        &self,
        rows: &[SpanBucketRow],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.check_writable("save span buckets")?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err("save span buckets"))?;
        {
            let mut insert = tx
                .prepare_cached(UPSERT)
                .map_err(self.err("save span buckets"))?;
            for row in rows {
                insert
                    .execute(params![
                        row.service,
                        row.version,
                        row.operation,
                        row.start_ms,
                        row.replica,
                        signed(row.incarnation),
                        signed(row.total),
                        signed(row.errors),
                        signed(row.sampled_from),
                        encode_durations(&row.durations),
                        millis(now),
                    ])
                    .map_err(self.err("save span buckets"))?;
            }
        }
        tx.commit().map_err(self.err("save span buckets"))
    }

    /// The rows `query` selects, by bucket start, operation, replica and incarnation.
    pub fn span_buckets(
        &self,
        query: &SpanBucketQuery<'_>,
    ) -> Result<Vec<SpanBucketRow>, StoreError> {
        let conn = self.conn();
        let mut select = conn
            .prepare_cached(&select_sql(query, SQLITE))
            .map_err(self.err("read span buckets"))?;
        let limit = i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = select
            .query_map(
                params![
                    query.service,
                    query.version,
                    query.operation,
                    query.start_ms,
                    query.end_ms,
                    limit
                ],
                |r| {
                    Ok(RawRow {
                        service: r.get(0)?,
                        version: r.get(1)?,
                        operation: r.get(2)?,
                        start_ms: r.get(3)?,
                        replica: r.get(4)?,
                        incarnation: r.get(5)?,
                        total: r.get(6)?,
                        errors: r.get(7)?,
                        sampled_from: r.get(8)?,
                        durations: r.get(9)?,
                    })
                },
            )
            .map_err(self.err("read span buckets"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read span buckets"))?;
        let rows = rows
            .into_iter()
            .map(RawRow::decode)
            .collect::<Result<Vec<_>, _>>()?;
        within_limit(rows, query)
    }

    /// Deletes the buckets that started before `cutoff`; returns how many.
    pub fn prune_span_buckets(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        self.check_writable("prune span buckets")?;
        self.conn()
            .execute(
                "DELETE FROM span_buckets WHERE start_ms < ?1",
                params![millis(cutoff)],
            )
            .map_err(self.err("prune span buckets"))
    }
}

#[cfg(test)]
#[path = "spans_tests.rs"]
mod tests;
