//! The embedded SQLite backend: one connection behind a mutex, the file's identity, the
//! read-only fallback. Its SQL for each topic is in the topic's module (`history`, `outbox`,
//! ...), beside the types; the PostgreSQL backend's is in `postgres/`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OpenFlags};

use super::{StoreError, schema};

/// The database: one connection, serialized by a mutex.
#[derive(Debug)]
pub(super) struct SqliteStore {
    /// One connection is enough: every write is an fsynced commit, which serializes writers
    /// anyway, and reads are short indexed lookups. The mutex makes `Store` `Sync` so the
    /// server shares it in an `Arc`.
    conn: Mutex<Connection>,
    /// For error messages (`:memory:` for an in-memory store).
    path: PathBuf,
    /// Whether writes can succeed, as found at open; when false they fail fast with
    /// [`StoreError::Unwritable`] without touching the file.
    writable: bool,
    /// Device and inode of the file at open (`None` in memory). SQLite keeps writing to an
    /// open file after its path was deleted or replaced, so those writes "succeed" into a file
    /// no restart will find: every write first checks that the path still names this file.
    identity: Option<FileIdentity>,
}

/// What tells one file from another on a Unix file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    /// `st_dev`.
    dev: u64,
    /// `st_ino`.
    ino: u64,
}

impl FileIdentity {
    /// The identity of the file `path` names now; `None` when there is none.
    fn of(path: &Path) -> Option<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| FileIdentity {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file if missing (its parent directory must
    /// exist): WAL journal, `synchronous=FULL`, `busy_timeout` 5 s, schema created or migrated.
    ///
    /// An existing file that cannot be written (read-only file or directory) is opened
    /// read-only instead: history stays viewable, [`Store::writable`] is `false`, and writes
    /// fail with [`StoreError::Unwritable`].
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        match Self::open_read_write(path) {
            Err(StoreError::Unwritable { .. }) if path.is_file() => Self::open_read_only(path),
            other => other,
        }
    }

    /// Opens an existing database read-only (`SQLITE_OPEN_READ_ONLY`): reads work, writes fail
    /// with [`StoreError::Unwritable`]. The schema must already be current, since it cannot be
    /// migrated.
    ///
    /// A WAL database whose directory cannot be written, and that has no `-shm` file beside it,
    /// cannot be read the usual way (SQLite must create the `-shm`), so it is opened as
    /// `immutable`: the history as it was at open, without changes made later by another
    /// process.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = |name: &Path, flags| {
            Connection::open_with_flags(name, flags)
                .map_err(|e| StoreError::sqlite(path, "open read-only", e))
        };
        let mut conn = open(path, flags)?;
        // The first read is where a missing, uncreatable `-shm` shows.
        let first_read = conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
        if let Err(e) = first_read {
            let cannot_create_shm = e
                .sqlite_error()
                .is_some_and(|f| f.extended_code == rusqlite::ffi::SQLITE_READONLY_DIRECTORY);
            match immutable_uri(path) {
                Some(uri) if cannot_create_shm => {
                    drop(conn);
                    conn = open(Path::new(&uri), flags | OpenFlags::SQLITE_OPEN_URI)?;
                }
                _ => return Err(StoreError::sqlite(path, "open read-only", e)),
            }
        }
        schema::check_current(&conn, path)?;
        Ok(Self::new(conn, path, false))
    }

    /// A private, empty in-memory database (tests).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let path = Path::new(":memory:");
        let mut conn =
            Connection::open_in_memory().map_err(|e| StoreError::sqlite(path, "open", e))?;
        schema::configure(&mut conn, path)?;
        Ok(Self::new(conn, path, true))
    }

    /// Whether writes can succeed (as found when the store was opened).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The database file (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_read_write(path: &Path) -> Result<SqliteStore, StoreError> {
        // No SQLITE_OPEN_URI: the path is a file name, never a `file:` URI with options.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::sqlite(path, "open", e))?;
        // SQLite silently falls back to read-only when the file's permissions forbid writing.
        let read_only = conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(|e| StoreError::sqlite(path, "open", e))?;
        if read_only {
            return Err(StoreError::Unwritable {
                path: path.to_path_buf(),
                operation: "open",
                reason: "the file is read-only".to_string(),
            });
        }
        schema::configure(&mut conn, path)?;
        Ok(Self::new(conn, path, true))
    }

    fn new(conn: Connection, path: &Path, writable: bool) -> SqliteStore {
        // Room for every `list` filter combination plus the fixed statements.
        conn.set_prepared_statement_cache_capacity(32);
        let in_memory = path == Path::new(":memory:");
        SqliteStore {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            writable,
            identity: if in_memory {
                None
            } else {
                FileIdentity::of(path)
            },
        }
    }

    /// Whether the path still names the file that was opened: `Err` with
    /// [`StoreError::Unwritable`] once it was deleted, moved away or replaced. Readiness asks
    /// this, and every write does before it writes.
    pub fn check_file(&self) -> Result<(), StoreError> {
        let Some(opened) = self.identity else {
            return Ok(());
        };
        let reason = match FileIdentity::of(&self.path) {
            Some(now) if now == opened => return Ok(()),
            Some(_) => "the file was replaced by another one while slogate ran",
            None => "the file was deleted or moved away while slogate ran",
        };
        Err(StoreError::Unwritable {
            path: self.path.clone(),
            operation: "check the file",
            reason: format!(
                "{reason}; writes are refused, since no restart would find them (restart slogate \
                 to open the database at this path)"
            ),
        })
    }

    /// The connection. A panic while it was held leaves it usable (an open transaction rolls
    /// back when dropped during unwinding), so a poisoned lock is taken over, not propagated.
    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fails fast when the store is known not to be writable, or its file is gone.
    pub(super) fn check_writable(&self, operation: &'static str) -> Result<(), StoreError> {
        if !self.writable {
            return Err(StoreError::Unwritable {
                path: self.path.clone(),
                operation,
                reason: "the database is open read-only".to_string(),
            });
        }
        self.check_file().map_err(|e| match e {
            StoreError::Unwritable { path, reason, .. } => StoreError::Unwritable {
                path,
                operation,
                reason,
            },
            other => other,
        })
    }

    pub(super) fn err(
        &self,
        operation: &'static str,
    ) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::sqlite(&self.path, operation, e)
    }
}

/// `file:<path>?immutable=1`, with the characters a URI path cannot hold escaped; `None` for a
/// path that is not UTF-8.
fn immutable_uri(path: &Path) -> Option<String> {
    let mut uri = String::from("file:");
    for c in path.to_str()?.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    Some(uri)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::store::history::tests::{record, verdict};
    use crate::store::testing::each_backend;
    use crate::store::{HistoryFilter, Store, StoredVerdict, VerdictRecord};
    use crate::verdict::{Outcome, VerdictKind};

    #[test]
    fn record_then_get_returns_the_same_verdict_inputs_and_time() {
        each_backend(|store| {
            let rec = record(
                verdict("id-1", "checkout", VerdictKind::Canary, Outcome::Fail),
                1_767_225_600_123,
            );
            store.record(&rec).unwrap();
            let want = StoredVerdict {
                verdict: rec.verdict,
                inputs: rec.inputs,
                recorded_at: rec.recorded_at,
            };
            assert_eq!(store.get("id-1").unwrap(), Some(want));
            assert_eq!(store.get("id-2").unwrap(), None);
            assert_eq!(store.count().unwrap(), 1);
        });
    }

    #[test]
    fn recording_the_same_id_twice_is_refused_and_keeps_the_first() {
        each_backend(|store| {
            let first = record(
                verdict("same", "checkout", VerdictKind::Slo, Outcome::Pass),
                1,
            );
            let second = record(
                verdict("same", "payments", VerdictKind::Slo, Outcome::Fail),
                2,
            );
            store.record(&first).unwrap();
            let err = store.record(&second).unwrap_err();
            assert!(
                matches!(&err, StoreError::Duplicate { id } if id == "same"),
                "{err}"
            );
            assert_eq!(store.get("same").unwrap().unwrap().verdict, first.verdict);
        });
    }

    #[test]
    fn a_verdict_whose_json_would_not_read_back_is_refused() {
        each_backend(|store| {
            let mut v = verdict("nan", "checkout", VerdictKind::Canary, Outcome::Pass);
            v.score = f64::NAN;
            let err = store.record(&record(v, 1)).unwrap_err();
            assert!(matches!(err, StoreError::Encode { .. }), "{err}");
            assert_eq!(store.count().unwrap(), 0);
        });
    }

    #[test]
    fn a_row_that_does_not_decode_is_reported_corrupt_with_its_id() {
        let store = SqliteStore::open_in_memory().unwrap();
        let sql = "INSERT INTO verdicts VALUES ('bad', 1, 's', 'slo', 'pass', '{not json', '{}')";
        store.conn().execute(sql, []).unwrap();
        let err = store.get("bad").unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { id, .. } if id == "bad"),
            "{err}"
        );
        let listed = store.list(&HistoryFilter::default());
        assert!(
            matches!(listed, Err(StoreError::Corrupt { .. })),
            "{listed:?}"
        );
    }

    #[test]
    fn everything_recorded_is_there_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let records: Vec<VerdictRecord> = (0..5)
            .map(|i| {
                record(
                    verdict(
                        &format!("v{i}"),
                        "checkout",
                        VerdictKind::Slo,
                        Outcome::Pass,
                    ),
                    1000 + i,
                )
            })
            .collect();
        let store = Store::open(&path).unwrap();
        for r in &records {
            store.record(r).unwrap();
        }
        // Forgotten, not dropped: no clean close and no checkpoint, as after `kill -9`. What a
        // new connection reads can only come from the files.
        std::mem::forget(store);
        let reopened = Store::open(&path).unwrap();
        assert!(reopened.writable());
        assert_eq!(reopened.count().unwrap(), 5);
        for r in &records {
            assert_eq!(
                reopened.get(&r.verdict.id).unwrap().unwrap().inputs,
                r.inputs
            );
        }
        drop(reopened);
        assert_eq!(Store::open(&path).unwrap().count().unwrap(), 5);
    }

    /// Makes the file 0444 and its directory 0555; restores both on drop so the temporary
    /// directory can be removed.
    struct ReadOnly<'a>(&'a Path, &'a Path);

    impl Drop for ReadOnly<'_> {
        fn drop(&mut self) {
            let _ = fs::set_permissions(self.0, fs::Permissions::from_mode(0o755));
            let _ = fs::set_permissions(self.1, fs::Permissions::from_mode(0o644));
        }
    }

    #[test]
    fn a_read_only_database_stays_readable_and_refuses_writes_as_unwritable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let kept = record(
            verdict("kept", "checkout", VerdictKind::Canary, Outcome::Fail),
            1000,
        );
        Store::open(&path).unwrap().record(&kept).unwrap();

        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
        let _restore = ReadOnly(dir.path(), &path);
        // Root ignores permission bits: then the read-only open is exercised directly.
        let probe = dir.path().join("probe");
        let privileged = fs::File::create(&probe).is_ok();
        let store = if privileged {
            fs::remove_file(&probe).unwrap();
            Store::open_read_only(&path).unwrap()
        } else {
            Store::open(&path).unwrap()
        };

        assert!(!store.writable());
        assert_eq!(store.get("kept").unwrap().unwrap().verdict, kept.verdict);
        assert_eq!(
            store
                .list(&HistoryFilter::default())
                .unwrap()
                .verdicts
                .len(),
            1
        );
        assert_eq!(store.count().unwrap(), 1);
        let other = record(
            verdict("new", "checkout", VerdictKind::Canary, Outcome::Pass),
            2000,
        );
        let err = store.record(&other).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Unwritable {
                    operation: "record",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("could not be written"), "{err}");
        let err = store.prune(chrono::Utc::now()).unwrap_err();
        assert!(matches!(err, StoreError::Unwritable { .. }), "{err}");
    }

    #[test]
    fn a_write_refused_by_sqlite_itself_is_unwritable() {
        // Bypasses the store's own `writable` check: SQLite's SQLITE_READONLY must map the same.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        drop(Store::open(&path).unwrap());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY;
        let conn = Connection::open_with_flags(&path, flags).unwrap();
        let e = conn.execute("DELETE FROM verdicts", []).unwrap_err();
        let err = StoreError::sqlite(&path, "prune", e);
        assert!(matches!(err, StoreError::Unwritable { .. }), "{err}");
    }

    #[test]
    fn a_database_file_deleted_or_replaced_while_open_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let write = |store: &Store, id: &str| {
            store.record(&record(
                verdict(id, "checkout", VerdictKind::Slo, Outcome::Pass),
                1000,
            ))
        };
        let store = Store::open(&path).unwrap();
        write(&store, "before").unwrap();
        store.check_file().unwrap();

        fs::remove_file(&path).unwrap();
        let err = write(&store, "after delete").unwrap_err();
        let StoreError::Unwritable { operation, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*operation, "record");
        assert!(err.to_string().contains("deleted"), "{err}");
        assert!(store.check_file().is_err());
        let err = store.prune(chrono::Utc::now()).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Unwritable {
                    operation: "prune",
                    ..
                }
            ),
            "{err}"
        );

        // A new file at the path is another file: still refused.
        drop(Store::open(&path).unwrap());
        let err = write(&store, "after replace").unwrap_err();
        assert!(err.to_string().contains("replaced"), "{err}");
        assert_eq!(Store::open(&path).unwrap().count().unwrap(), 0);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("history.db");
        let err = Store::open(&path).unwrap_err();
        assert!(err.to_string().contains("missing/history.db"), "{err}");
    }
}
