//! Closed span buckets on PostgreSQL (`store/spans.rs` documents the rows and each method):
//! the same SQL as SQLite's with `$n` placeholders, a batch in one transaction.

use chrono::{DateTime, Utc};

use super::{PgStore, rows};
use crate::store::StoreError;
use crate::store::outbox::millis;
use crate::store::spans::{
    Dialect, RawRow, SpanBucketQuery, SpanBucketRow, encode_durations, select_sql, signed,
    upsert_sql, within_limit,
};

/// PostgreSQL's spelling of the shared SQL.
const POSTGRES: Dialect = Dialect {
    placeholder: '$',
    blob: "BYTEA",
};

impl PgStore {
    pub(in crate::store) fn save_span_buckets(
        &self,
        rows: &[SpanBucketRow],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let err = self.err("save span buckets");
        let mut conn = self.conn("save span buckets")?;
        let mut tx = conn.transaction().map_err(&err)?;
        let insert = tx.prepare(&upsert_sql(POSTGRES)).map_err(&err)?;
        let at = millis(now);
        for row in rows {
            tx.execute(
                &insert,
                &[
                    &row.service,
                    &row.version,
                    &row.operation,
                    &row.start_ms,
                    &row.replica,
                    &signed(row.incarnation),
                    &signed(row.total),
                    &signed(row.errors),
                    &signed(row.sampled_from),
                    &encode_durations(&row.durations),
                    &at,
                ],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    pub(in crate::store) fn span_buckets(
        &self,
        query: &SpanBucketQuery<'_>,
    ) -> Result<Vec<SpanBucketRow>, StoreError> {
        let err = self.err("read span buckets");
        let limit = i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX);
        let found = self
            .conn("read span buckets")?
            .query(
                &select_sql(query, POSTGRES),
                &[
                    &query.service,
                    &query.version,
                    &query.operation,
                    &query.start_ms,
                    &query.end_ms,
                    &limit,
                ],
            )
            .map_err(&err)?;
        let rows = found
            .into_iter()
            .map(|r| {
                RawRow {
                    service: r.get(0),
                    version: r.get(1),
                    operation: r.get(2),
                    start_ms: r.get(3),
                    replica: r.get(4),
                    incarnation: r.get(5),
                    total: r.get(6),
                    errors: r.get(7),
                    sampled_from: r.get(8),
                    durations: r.get(9),
                }
                .decode()
            })
            .collect::<Result<Vec<_>, _>>()?;
        within_limit(rows, query)
    }

    pub(in crate::store) fn prune_span_buckets(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.conn("prune span buckets")?
            .execute(
                "DELETE FROM span_buckets WHERE start_ms < $1",
                &[&millis(cutoff)],
            )
            .map(rows)
            .map_err(self.err("prune span buckets"))
    }
}
