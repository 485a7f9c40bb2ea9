//! What can go wrong with the store, on either backend.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// What went wrong with the database, with the path and the operation it happened in.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be written: read-only file or directory, no permission, disk full,
    /// or the store was opened read-only. Reads may still work.
    #[error("history {} could not be written ({operation}): {reason}", path.display())]
    Unwritable {
        /// The database file.
        path: PathBuf,
        /// What was being done (`record`, `prune`, `open`, ...).
        operation: &'static str,
        /// SQLite's or slogate's words.
        reason: String,
    },
    /// Any other SQLite failure.
    #[error("history {} ({operation}): {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A verdict with this id is already recorded: history is never overwritten.
    #[error("verdict {id} is already in the history; history is never overwritten")]
    Duplicate {
        /// The verdict id.
        id: String,
    },
    /// Any other PostgreSQL failure (connection, pool, statement).
    #[error("store {target} ({operation}): {reason}")]
    Postgres {
        /// The database as `postgres://user@host:port/dbname`: never the password.
        target: String,
        /// What was being done.
        operation: &'static str,
        /// The driver's or the pool's words (they never hold the password).
        reason: String,
    },
    /// A write that lost its compare-and-swap to other writers too many times in a row.
    #[error("{operation} {key}: other replicas kept changing it; try again")]
    Contended {
        /// What was being done.
        operation: &'static str,
        /// The row fought over.
        key: String,
    },
    /// A stored row that does not decode.
    #[error("stored verdict {id} does not decode: {reason}")]
    Corrupt {
        /// The row's id.
        id: String,
        /// What does not decode.
        reason: String,
    },
    /// A stored span bucket that does not decode (a reservoir that is not whole floats,
    /// negative counts, more errors than spans).
    #[error("stored span bucket {key} does not decode: {reason}")]
    CorruptSpans {
        /// The bucket: series, start, replica and incarnation.
        key: String,
        /// What does not decode.
        reason: String,
    },
    /// A read of span buckets that would hold more rows than its limit.
    #[error(
        "the spans of {service} {version} fill more than {limit} stored buckets in this range; \
         ask about a shorter window or one operation"
    )]
    TooManySpanBuckets {
        /// The service read.
        service: String,
        /// The version read.
        version: String,
        /// The most rows one read takes.
        limit: usize,
    },
    /// A verdict whose JSON would not read back (e.g. a non-finite score), refused before
    /// writing so the history holds only rows that decode.
    #[error("verdict {id} cannot be stored: {reason}")]
    Encode {
        /// The verdict id.
        id: String,
        /// Why its JSON does not round-trip.
        reason: String,
    },
    /// A `before` cursor that is not one this store handed out (a client error).
    #[error("invalid history cursor {cursor:?}: {reason}")]
    BadCursor {
        /// The cursor as given.
        cursor: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database was written by a newer slogate (or needs a migration it cannot write).
    #[error("history {} has schema version {found}; this slogate reads version {supported}{hint}",
        path.display())]
    Schema {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The version this build creates and reads.
        supported: i64,
        /// What to do about it, in words (may be empty).
        hint: &'static str,
    },
}

impl StoreError {
    /// Sorts a SQLite error: the failures that mean "cannot write here" become
    /// [`StoreError::Unwritable`] so the server can say so; the rest stay [`StoreError::Sqlite`].
    pub(super) fn sqlite(
        path: &Path,
        operation: &'static str,
        source: rusqlite::Error,
    ) -> StoreError {
        match source.sqlite_error_code() {
            Some(
                ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied
                | ErrorCode::DiskFull,
            ) => StoreError::Unwritable {
                path: path.to_path_buf(),
                operation,
                reason: source.to_string(),
            },
            _ => StoreError::Sqlite {
                path: path.to_path_buf(),
                operation,
                source,
            },
        }
    }
}
