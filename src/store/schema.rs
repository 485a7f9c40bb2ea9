//! Connection settings and schema migrations, versioned by `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes a database from version `i` to `i + 1`; the schema version is the
//! number of migrations. New tables are new entries appended at the end;
//! an applied entry is never edited, since databases in the field already ran it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// How long a statement waits for another process's lock before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Each entry moves the schema up one version.
const MIGRATIONS: &[&str] = &[
    // 1: the verdict history. `recorded_at` is unix milliseconds (UTC). The columns beside the
    // JSON exist for filtering; `verdict_json` is the source of truth.
    "CREATE TABLE verdicts (
         id TEXT PRIMARY KEY NOT NULL,
         recorded_at INTEGER NOT NULL,
         service TEXT NOT NULL,
         kind TEXT NOT NULL,
         outcome TEXT NOT NULL,
         verdict_json TEXT NOT NULL,
         inputs_json TEXT NOT NULL
     );
     -- newest first, id breaking ties: the history order and its pagination cursor
     CREATE INDEX verdicts_by_time ON verdicts (recorded_at DESC, id);
     -- one service's history
     CREATE INDEX verdicts_by_service ON verdicts (service, recorded_at);",
    // 2: the notification outbox and what each rollout was last told. A message is a row
    // before it is sent; `key` is its idempotency key (a second enqueue of the same key is the
    // same message), so `report/<team>/<week>` rows double as the record of sent reports.
    // Times are unix milliseconds (UTC).
    "CREATE TABLE outbox (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         key TEXT NOT NULL UNIQUE,
         channel TEXT NOT NULL,
         target TEXT NOT NULL,
         summary TEXT NOT NULL,
         payload BLOB NOT NULL,
         created_at INTEGER NOT NULL,
         state TEXT NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0,
         next_attempt_at INTEGER NOT NULL,
         last_error TEXT,
         done_at INTEGER
     );
     -- the dispatcher's question: what is due now
     CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
     -- per (service, rollout) or (service, slo): the outcome last notified, so repeated asks
     -- with the same answer notify once and a pass after a fail resolves
     CREATE TABLE notified (
         subject TEXT PRIMARY KEY NOT NULL,
         outcome TEXT NOT NULL,
         verdict_id TEXT NOT NULL,
         updated_at INTEGER NOT NULL
     );",
    // 3: the running state of sequential canary tests, one row per analysis (service,
    // baseline, canary): `looks` is the look number, also the compare-and-swap guard against
    // two asks advancing the same test at once; `state_json` holds the e-processes' sufficient
    // statistics. `updated_at` is unix milliseconds (UTC).
    "CREATE TABLE sequential_tests (
         key TEXT PRIMARY KEY NOT NULL,
         service TEXT NOT NULL,
         looks INTEGER NOT NULL,
         state_json TEXT NOT NULL,
         updated_at INTEGER NOT NULL
     );
     CREATE INDEX sequential_tests_by_time ON sequential_tests (updated_at);",
    // 4: the latest A/A backtest of each service's canary profile (`slogate serve`'s
    // calibration job; the status page shows it): the version replayed, when (unix
    // milliseconds, UTC), and the per-metric results as `slogate calibrate --output json`.
    "CREATE TABLE calibrations (
         service TEXT PRIMARY KEY NOT NULL,
         version TEXT NOT NULL,
         computed_at INTEGER NOT NULL,
         results_json TEXT NOT NULL
     );",
    // 5: the status pages' sign-in sessions. The cookie holds a random id; the table holds
    // only its SHA-256 (a copy of the database opens no session), the fingerprint of the token
    // that signed in (removing that token from the settings ends its sessions) and the expiry.
    // Times are unix milliseconds (UTC).
    "CREATE TABLE sessions (
         id_hash TEXT PRIMARY KEY NOT NULL,
         token_fingerprint TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         expires_at INTEGER NOT NULL
     );
     CREATE INDEX sessions_by_expiry ON sessions (expires_at);",
    // 6: the closed span buckets each replica flushes (`source::traces::shared`), so a gate on
    // any replica, or after a restart, reads the spans every replica received. One row per
    // bucket a replica held: `replica` is random per process start and `incarnation` numbers
    // the buckets of one process, so no two buckets share a row; a bucket that gets late spans
    // is written again whole (the row replaced). `start_ms` is the bucket start in unix
    // milliseconds (UTC); `sampled_from` the durations the reservoir is a uniform sample of
    // (its weight); `durations` the reservoir as little-endian f64s.
    "CREATE TABLE span_buckets (
         service TEXT NOT NULL,
         version TEXT NOT NULL,
         operation TEXT NOT NULL,
         start_ms INTEGER NOT NULL,
         replica TEXT NOT NULL,
         incarnation INTEGER NOT NULL,
         total INTEGER NOT NULL,
         errors INTEGER NOT NULL,
         sampled_from INTEGER NOT NULL,
         durations BLOB NOT NULL,
         flushed_at INTEGER NOT NULL,
         PRIMARY KEY (service, version, operation, start_ms, replica, incarnation)
     );
     -- pruning past the retention
     CREATE INDEX span_buckets_by_start ON span_buckets (start_ms);",
];

/// The schema version this build creates and reads.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Sets the per-connection pragmas and brings the schema up to date (writable connections).
pub(super) fn configure(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |operation| move |e| StoreError::sqlite(path, operation, e);
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(err("set busy_timeout"))?;
    // WAL: readers do not block the writer. In-memory databases answer "memory", which is fine.
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .map_err(err("set journal_mode=WAL"))?;
    // FULL: the WAL is fsynced at every commit, so a verdict answered is a verdict on disk.
    // (NORMAL would be durable against a crash of slogate but not against power loss.)
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err("set synchronous=FULL"))?;
    migrate(conn, path)
}

/// Checks that a connection that cannot migrate (read-only) sees the current schema.
pub(super) fn check_current(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| StoreError::sqlite(path, "set busy_timeout", e))?;
    let found = user_version(conn, path)?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    Err(StoreError::Schema {
        path: path.to_path_buf(),
        found,
        supported: SCHEMA_VERSION,
        hint: if found < SCHEMA_VERSION {
            " (open it writable once to migrate it)"
        } else {
            " (written by a newer slogate)"
        },
    })
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    // Cheap check first: an up-to-date database needs no write lock (and no write access).
    let found = user_version(conn, path)?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    refuse_newer(found, path)?;
    // IMMEDIATE: take the write lock before reading the version again, so two processes
    // opening a new file at once do not both run the same migration.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| StoreError::sqlite(path, "migrate", e))?;
    let found = user_version(&tx, path)?;
    refuse_newer(found, path)?;
    let start = usize::try_from(found).unwrap_or(0);
    for step in MIGRATIONS.iter().skip(start) {
        tx.execute_batch(step)
            .map_err(|e| StoreError::sqlite(path, "migrate", e))?;
    }
    // user_version lives in the database header, so it commits with the tables it describes.
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| StoreError::sqlite(path, "migrate", e))?;
    tx.commit()
        .map_err(|e| StoreError::sqlite(path, "migrate", e))
}

fn refuse_newer(found: i64, path: &Path) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::Schema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
            hint: " (written by a newer slogate)",
        });
    }
    Ok(())
}

fn user_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| StoreError::sqlite(path, "read user_version", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_new_database_gets_the_current_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn, &path).unwrap(), SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_database_from_a_newer_slogate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::Schema { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );
    }

    #[test]
    fn opening_twice_does_not_migrate_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        assert!(store.writable());
        assert_eq!(store.count().unwrap(), 0);
    }

    #[test]
    fn a_read_only_open_of_an_unmigrated_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        drop(Connection::open(&path).unwrap());
        let err = Store::open_read_only(&path).unwrap_err();
        assert!(matches!(err, StoreError::Schema { found: 0, .. }), "{err}");
    }
}
