//! PostgreSQL migrations, versioned in `schema_migrations` (one row per applied version).
//!
//! `MIGRATIONS[i]` takes the database from version `i` to `i + 1`, like the SQLite list but
//! numbered on its own (PostgreSQL started with the whole schema at version 1). Applied
//! entries are never edited. All of it runs in one transaction holding an advisory lock, so
//! replicas starting together migrate once: the second waits, then finds nothing left to do.
//!
//! Column types mirror SQLite's so both backends answer alike: times are unix milliseconds
//! (`BIGINT`), JSON is `TEXT` (the store does not query inside it), and the keys that order
//! results (verdict ids, outbox keys, services) use the `C` collation, so ties sort by bytes as
//! in SQLite and a key-prefix range is a prefix whatever the database's locale.

use std::path::PathBuf;

use super::PgStore;
use crate::store::StoreError;

/// The advisory lock key of migrations (`slogate` in ASCII): any value other tools are
/// unlikely to take.
const MIGRATION_LOCK: i64 = 0x0073_6c6f_6761_7465;

/// Each entry moves the schema up one version.
const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite's versions 1 to 5 hold (see `store/schema.rs` for each column).
    r#"CREATE TABLE verdicts (
         id TEXT COLLATE "C" PRIMARY KEY,
         recorded_at BIGINT NOT NULL,
         service TEXT NOT NULL,
         kind TEXT NOT NULL,
         outcome TEXT NOT NULL,
         verdict_json TEXT NOT NULL,
         inputs_json TEXT NOT NULL
     );
     CREATE INDEX verdicts_by_time ON verdicts (recorded_at DESC, id);
     CREATE INDEX verdicts_by_service ON verdicts (service, recorded_at);
     CREATE TABLE outbox (
         id BIGSERIAL PRIMARY KEY,
         key TEXT COLLATE "C" NOT NULL UNIQUE,
         channel TEXT NOT NULL,
         target TEXT NOT NULL,
         summary TEXT NOT NULL,
         payload BYTEA NOT NULL,
         created_at BIGINT NOT NULL,
         state TEXT NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0,
         next_attempt_at BIGINT NOT NULL,
         last_error TEXT,
         done_at BIGINT
     );
     CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
     CREATE TABLE notified (
         subject TEXT COLLATE "C" PRIMARY KEY,
         outcome TEXT NOT NULL,
         verdict_id TEXT NOT NULL,
         updated_at BIGINT NOT NULL
     );
     CREATE TABLE sequential_tests (
         key TEXT COLLATE "C" PRIMARY KEY,
         service TEXT NOT NULL,
         looks BIGINT NOT NULL,
         state_json TEXT NOT NULL,
         updated_at BIGINT NOT NULL
     );
     CREATE INDEX sequential_tests_by_time ON sequential_tests (updated_at);
     CREATE TABLE calibrations (
         service TEXT COLLATE "C" PRIMARY KEY,
         version TEXT NOT NULL,
         computed_at BIGINT NOT NULL,
         results_json TEXT NOT NULL
     );
     CREATE TABLE sessions (
         id_hash TEXT COLLATE "C" PRIMARY KEY,
         token_fingerprint TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         expires_at BIGINT NOT NULL
     );
     CREATE INDEX sessions_by_expiry ON sessions (expires_at);"#,
    // 2: SQLite's version 6, the closed span buckets of every replica (see `store/schema.rs`).
    r#"CREATE TABLE span_buckets (
         service TEXT COLLATE "C" NOT NULL,
         version TEXT COLLATE "C" NOT NULL,
         operation TEXT COLLATE "C" NOT NULL,
         start_ms BIGINT NOT NULL,
         replica TEXT COLLATE "C" NOT NULL,
         incarnation BIGINT NOT NULL,
         total BIGINT NOT NULL,
         errors BIGINT NOT NULL,
         sampled_from BIGINT NOT NULL,
         durations BYTEA NOT NULL,
         flushed_at BIGINT NOT NULL,
         PRIMARY KEY (service, version, operation, start_ms, replica, incarnation)
     );
     CREATE INDEX span_buckets_by_start ON span_buckets (start_ms);"#,
];

/// The schema version this build creates and reads.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to date, in one transaction under the migration lock.
pub(super) fn migrate(store: &PgStore) -> Result<(), StoreError> {
    let err = store.err("migrate");
    let mut conn = store.conn("migrate")?;
    let mut tx = conn.transaction().map_err(&err)?;
    // Held until the transaction ends: another replica's migration waits here.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(&err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .map_err(&err)?;
    let found: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(&err)?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::Schema {
            path: PathBuf::from(store.target()),
            found,
            supported: SCHEMA_VERSION,
            hint: " (written by a newer slogate)",
        });
    }
    for (version, step) in (1_i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(step).map_err(&err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .map_err(&err)?;
    }
    tx.commit().map_err(&err)
}

/// The versions applied, in order (tests).
#[cfg(test)]
pub(super) fn applied(store: &PgStore) -> Vec<i64> {
    let mut conn = store.conn("read versions").unwrap();
    conn.query(
        "SELECT version FROM schema_migrations ORDER BY version",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[cfg(test)]
mod tests {
    use crate::store::testing::postgres_config;
    use crate::store::{Store, StoreError};

    #[test]
    fn opening_again_migrates_nothing_and_a_newer_schema_is_refused() {
        let config = postgres_config();
        drop(Store::open_postgres(&config).unwrap());
        let store = Store::open_postgres(&config).unwrap();
        let crate::store::Backend::Postgres(pg) = &store.backend else {
            panic!("not postgres")
        };
        assert_eq!(super::applied(pg), [1, 2]);
        pg.conn("test")
            .unwrap()
            .batch_execute("INSERT INTO schema_migrations (version) VALUES (99)")
            .unwrap();
        let err = Store::open_postgres(&config).unwrap_err();
        assert!(matches!(err, StoreError::Schema { found: 99, .. }), "{err}");
    }
}
