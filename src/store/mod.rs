//! The store: verdict history, notification outbox, notification and sequential state,
//! calibrations and sessions, on one of two backends behind one interface.
//!
//! - [`Store`]: the interface every caller uses. Synchronous, so the server calls it from
//!   `tokio::task::spawn_blocking`; it holds one backend and forwards each call to it.
//! - `sqlite`: the embedded default (`db: slogate.db`): one connection behind a mutex, WAL with
//!   `synchronous=FULL`; its migrations in `schema` (`PRAGMA user_version`), its SQL per topic
//!   in the topic modules below, beside the types.
//! - `postgres`: PostgreSQL for several replicas (`db: postgres://...`): a connection pool,
//!   migrations in `schema_migrations` under an advisory lock, its SQL per topic.
//! - `history`: verdicts with what they were made from ([`VerdictRecord`], [`HistoryFilter`]).
//! - `outbox`: notifications and report emails, stored before they are sent ([`NewMessage`],
//!   [`OutboxMessage`]); the rows of sent reports are the record that a week went out.
//! - `notified`: what each rollout or SLO was last told, moved together with its messages.
//! - `jobs`: leases that let one replica at a time run a background job ([`jobs::Job`]).
//! - `sequential`: the running state of sequential canary tests ([`StoredSequential`]), so a
//!   restart neither loses evidence nor resets a test.
//! - `spans`: the closed span buckets every replica flushes ([`SpanBucketRow`]), so a gate
//!   reads the spans of all replicas and of previous runs.
//!
//! What holds on both backends, also across processes and replicas: a write returns after its
//! commit; an outbox claim is a compare-and-swap, so one claimant wins; a notification state
//! moves with its messages in one transaction, and [`Store::notify_transition_from`] moves it
//! only from the state its caller read; a sequential state is saved only over the look number
//! its caller read. A write that cannot be done fails with [`StoreError::Unwritable`], and the
//! server then answers `inconclusive` rather than a `pass` nobody could look up later.

mod calibrations;
mod error;
mod history;
pub mod jobs;
mod location;
mod notified;
mod outbox;
mod postgres;
mod schema;
mod sequential;
mod sessions;
mod spans;
mod sqlite;
#[cfg(test)]
pub(crate) mod testing;

use std::path::Path;

use chrono::{DateTime, Utc};

pub use calibrations::StoredCalibration;
pub use error::StoreError;
pub use history::{
    Cursor, HistoryFilter, HistoryPage, MAX_LIST_LIMIT, StoredVerdict, VerdictRecord,
};
pub use location::{Location, is_postgres_url};
pub use outbox::{Channel, Enqueued, MessageState, NewMessage, OutboxCounts, OutboxMessage};
pub use postgres::{DEFAULT_POOL_SIZE, PostgresConfig};
pub use sequential::StoredSequential;
pub use spans::{SpanBucketQuery, SpanBucketRow};

use crate::verdict::Outcome;

/// The store: one backend, chosen at open.
#[derive(Debug)]
pub struct Store {
    /// Where the data lives; every method forwards to it.
    backend: Backend,
}

/// The two backends. Each has the same methods, with the SQL of its engine.
#[derive(Debug)]
enum Backend {
    /// The embedded SQLite file (one process).
    Sqlite(sqlite::SqliteStore),
    /// A PostgreSQL database (any number of processes).
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the SQLite database at `path`, creating the file if missing (its parent directory
    /// must exist): WAL journal, `synchronous=FULL`, `busy_timeout` 5 s, schema created or
    /// migrated. An existing file that cannot be written is opened read-only instead
    /// ([`Store::writable`] is then `false`).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        sqlite::SqliteStore::open(path).map(Store::sqlite)
    }

    /// Opens an existing SQLite database read-only: reads work, writes fail with
    /// [`StoreError::Unwritable`]. The schema must already be current.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        sqlite::SqliteStore::open_read_only(path).map(Store::sqlite)
    }

    /// A private, empty in-memory SQLite database (tests, `slogate wait`).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        sqlite::SqliteStore::open_in_memory().map(Store::sqlite)
    }

    /// Connects to PostgreSQL and brings its schema up to date (under an advisory lock, so
    /// replicas starting together migrate once).
    pub fn open_postgres(config: &PostgresConfig) -> Result<Store, StoreError> {
        postgres::PgStore::open(config).map(|pg| Store {
            backend: Backend::Postgres(pg),
        })
    }

    fn sqlite(db: sqlite::SqliteStore) -> Store {
        Store {
            backend: Backend::Sqlite(db),
        }
    }

    /// `sqlite` or `postgres`, for logs and the status page.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Whether writes can succeed (as found when the store was opened).
    pub fn writable(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(db) => db.writable(),
            Backend::Postgres(_) => true,
        }
    }

    /// Where the data is, for messages: the SQLite file (`:memory:` in memory), or the
    /// PostgreSQL database as `postgres://user@host:port/dbname` (never the password).
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite(db) => db.path().display().to_string(),
            Backend::Postgres(db) => db.target().to_string(),
        }
    }

    /// Whether the store can be written now. SQLite: the path still names the file that was
    /// opened (`Err` with [`StoreError::Unwritable`] once it was deleted or replaced).
    /// PostgreSQL: a connection answers. Readiness asks this.
    pub fn check_file(&self) -> Result<(), StoreError> {
        self.check_file_within(postgres::CONNECT_TIMEOUT)
    }

    /// As [`Store::check_file`], waiting at most about `timeout` for a PostgreSQL connection
    /// and its answer (readiness answers within its probe's timeout).
    pub fn check_file_within(&self, timeout: std::time::Duration) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => db.check_file(),
            Backend::Postgres(db) => db.ping(timeout),
        }
    }
}

/// Writes `Store`'s public methods, each forwarding to the backend's method of the same name
/// and arguments (the backends' modules document what each does).
macro_rules! forward {
    ($( $(#[$meta:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$meta])*
                pub fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match &self.backend {
                        Backend::Sqlite(db) => db.$name($($arg),*),
                        Backend::Postgres(db) => db.$name($($arg),*),
                    }
                }
            )*
        }
    };
}

forward! {
    /// Stores one verdict with its inputs; returns after the commit. A verdict id already in
    /// the history is refused ([`StoreError::Duplicate`]), never overwritten.
    fn record(&self, record: &VerdictRecord) -> Result<(), StoreError>;
    /// The verdict with this id, if recorded.
    fn get(&self, id: &str) -> Result<Option<StoredVerdict>, StoreError>;
    /// One page of history, newest first, ties by id (see `history` for the cursor).
    fn list(&self, filter: &HistoryFilter) -> Result<HistoryPage, StoreError>;
    /// Deletes the verdicts recorded before `cutoff` (to the millisecond); returns how many.
    fn prune(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError>;
    /// How many verdicts the history holds.
    fn count(&self) -> Result<u64, StoreError>;

    /// Stores a message, due at once; a key already present stores nothing and returns
    /// [`Enqueued::Duplicate`].
    fn enqueue(&self, message: &NewMessage, now: DateTime<Utc>) -> Result<Enqueued, StoreError>;
    /// Pending messages due at `now`, oldest due first, at most `limit`.
    fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxMessage>, StoreError>;
    /// When the earliest pending message is due; `None` when nothing is pending.
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Takes the attempt on a pending message by compare-and-swap of its `next_attempt_at`
    /// from `seen` to `until`; `true` for the one claimant that wins.
    fn claim(&self, id: i64, seen: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Marks a message delivered.
    fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Marks a message never to be sent, with the reason.
    fn mark_rejected(&self, id: i64, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Counts a failed attempt and makes the message due again at `next_attempt_at`.
    fn mark_retry(&self, id: i64, error: &str, next_attempt_at: DateTime<Utc>) -> Result<(), StoreError>;
    /// One message by id.
    fn outbox_message(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError>;
    /// One message by idempotency key.
    fn outbox_by_key(&self, key: &str) -> Result<Option<OutboxMessage>, StoreError>;
    /// Messages whose key starts with `prefix`, oldest first.
    fn outbox_with_prefix(&self, prefix: &str) -> Result<Vec<OutboxMessage>, StoreError>;
    /// How many messages are pending.
    fn pending_count(&self) -> Result<u64, StoreError>;
    /// How many rows are in each state.
    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
    /// Deletes finished messages before `cutoff`, except reports and the messages of a failure
    /// still open; returns how many.
    fn prune_outbox(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError>;

    /// The outcome last notified for `subject` and the verdict that carried it.
    fn last_notified(&self, subject: &str) -> Result<Option<(Outcome, String)>, StoreError>;
    /// Records the outcome notified for `subject` with the messages that tell it, in one
    /// transaction, whatever the state was.
    fn notify_transition(
        &self,
        subject: &str,
        outcome: Outcome,
        verdict_id: &str,
        messages: &[NewMessage],
        now: DateTime<Utc>
    ) -> Result<Vec<Enqueued>, StoreError>;
    /// Like [`Store::notify_transition`], but only if the state is still `last` (what the
    /// caller read with [`Store::last_notified`]): `None`, writing nothing, when another
    /// process moved it meanwhile (the caller reads again and decides again).
    fn notify_transition_from(
        &self,
        subject: &str,
        last: Option<&(Outcome, String)>,
        outcome: Outcome,
        verdict_id: &str,
        messages: &[NewMessage],
        now: DateTime<Utc>
    ) -> Result<Option<Vec<Enqueued>>, StoreError>;
    /// Forgets the subjects last told before `cutoff`, except those whose last word was
    /// `fail`; returns how many.
    fn prune_notified(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError>;

    /// The state of the sequential analysis `key`, if it has taken a look.
    fn sequential_state(&self, key: &str) -> Result<Option<StoredSequential>, StoreError>;
    /// Writes the analysis `key`'s state if the stored look number is still `expected`
    /// (`None`: no row yet); `false`, writing nothing, when another ask advanced it.
    fn save_sequential(
        &self,
        key: &str,
        service: &str,
        expected: Option<u64>,
        next: &StoredSequential,
        now: DateTime<Utc>
    ) -> Result<bool, StoreError>;
    /// Removes the states of analyses not advanced since `cutoff`.
    fn prune_sequential(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Replaces `calibration.service`'s backtest.
    fn save_calibration(&self, calibration: &StoredCalibration) -> Result<(), StoreError>;
    /// `service`'s latest backtest, if one ran.
    fn calibration(&self, service: &str) -> Result<Option<StoredCalibration>, StoreError>;
    /// Every service's latest backtest, by service name.
    fn calibrations(&self) -> Result<Vec<StoredCalibration>, StoreError>;

    /// Opens a sign-in session until `expires_at`.
    fn open_session(
        &self,
        id_hash: &str,
        token_fingerprint: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>
    ) -> Result<(), StoreError>;
    /// The fingerprint of the token that opened the session `id_hash`, if open at `now`.
    fn session_token(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError>;
    /// Ends the session `id_hash`.
    fn close_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Deletes the sessions expired at `now`; returns how many.
    fn prune_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Writes closed span buckets in one transaction, each replacing the row of the same
    /// bucket (same series, start, replica and incarnation) if there is one.
    fn save_span_buckets(&self, rows: &[SpanBucketRow], now: DateTime<Utc>) -> Result<(), StoreError>;
    /// The span buckets of every replica that `query` selects, in a fixed order (start,
    /// operation, replica, incarnation); [`StoreError::TooManySpanBuckets`] past its limit.
    fn span_buckets(&self, query: &SpanBucketQuery<'_>) -> Result<Vec<SpanBucketRow>, StoreError>;
    /// Deletes the span buckets that started before `cutoff`; returns how many.
    fn prune_span_buckets(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError>;
}
