//! The status pages' sign-in sessions: one row per signed-in browser, keyed by the SHA-256 of
//! the cookie's random id, so what the database holds cannot be replayed as a cookie.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::StoreError;
use super::outbox::millis;
use super::sqlite::SqliteStore;

impl SqliteStore {
    /// Opens a session until `expires_at`.
    pub fn open_session(
        &self,
        id_hash: &str,
        token_fingerprint: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.check_writable("open session")?;
        self.conn()
            .execute(
                "INSERT INTO sessions (id_hash, token_fingerprint, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![id_hash, token_fingerprint, millis(now), millis(expires_at)],
            )
            .map_err(self.err("open session"))?;
        Ok(())
    }

    /// The fingerprint of the token that opened the session `id_hash`, if it is open at `now`.
    pub fn session_token(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT token_fingerprint FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
                params![id_hash, millis(now)],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read session"))
    }

    /// Ends the session `id_hash` (sign-out); ending one that is not open is not an error.
    pub fn close_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.check_writable("close session")?;
        self.conn()
            .execute("DELETE FROM sessions WHERE id_hash = ?1", params![id_hash])
            .map_err(self.err("close session"))?;
        Ok(())
    }

    /// Deletes the sessions expired at `now`; returns how many.
    pub fn prune_sessions(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.check_writable("prune sessions")?;
        self.conn()
            .execute(
                "DELETE FROM sessions WHERE expires_at <= ?1",
                params![millis(now)],
            )
            .map_err(self.err("prune sessions"))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::outbox::tests::at;
    use crate::store::testing::each_backend;

    #[test]
    fn a_session_is_open_until_it_expires_or_is_closed() {
        each_backend(|store| {
            store.open_session("h1", "fp", at(0), at(60)).unwrap();
            store.open_session("h2", "fp", at(0), at(600)).unwrap();
            assert_eq!(
                store.session_token("h1", at(59)).unwrap().as_deref(),
                Some("fp")
            );
            assert_eq!(store.session_token("h1", at(60)).unwrap(), None);
            assert_eq!(store.session_token("nope", at(0)).unwrap(), None);
            store.close_session("h2").unwrap();
            assert_eq!(store.session_token("h2", at(1)).unwrap(), None);
            store.open_session("h3", "fp", at(0), at(600)).unwrap();
            assert_eq!(store.prune_sessions(at(60)).unwrap(), 1);
            assert!(store.session_token("h3", at(61)).unwrap().is_some());
        });
    }
}
