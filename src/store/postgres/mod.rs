//! The PostgreSQL backend, for several replicas on one database.
//!
//! Crate choice: `postgres` (the blocking client over `tokio-postgres`) with an `r2d2` pool
//! (`r2d2_postgres`). The store's interface is synchronous and the server already calls it
//! from `spawn_blocking`, so the blocking client keeps one interface for both backends without
//! making every caller async; the pool lets concurrent gate requests use several connections.
//!
//! Semantics across processes, as on SQLite within one: every statement outside an explicit
//! transaction commits on its own; the compare-and-swap writes (outbox claims, sequential
//! looks, notification states) are single `UPDATE ... WHERE <what was read>` or
//! `INSERT ... ON CONFLICT DO NOTHING` statements, which PostgreSQL's row locks make atomic at
//! READ COMMITTED: of two writers of the same row, the second re-checks its condition on the
//! row the first committed, and changes nothing.
//!
//! The password (in the DSN, from `PGPASSWORD`, or from a file) is never printed: errors and
//! `Debug` name the database as `postgres://user@host:port/dbname`.

mod history;
mod locks;
mod outbox;
mod schema;
mod spans;
mod state;

#[cfg(test)]
mod replicas;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use postgres::NoTls;
use postgres::config::Host;
use postgres::error::SqlState;
use r2d2::PooledConnection;
use r2d2_postgres::PostgresConnectionManager;

pub(crate) use locks::LockHolder;

use super::StoreError;

/// Connections in the pool when the settings say nothing: a few gate requests and the
/// dispatcher at once, small beside PostgreSQL's default `max_connections` of 100.
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// How long getting a connection may take (a new one, or a free one from a full pool).
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach the database.
#[derive(Clone)]
pub struct PostgresConfig {
    /// A libpq connection string: `postgres://user[:password]@host[:port]/dbname[?...]` or
    /// `host=... user=... dbname=...`. A secret when it holds a password.
    pub dsn: String,
    /// The password when it is not in the DSN (from `db_password_file` or `PGPASSWORD`); it
    /// overrides one in the DSN.
    pub password: Option<String>,
    /// Most connections open at once.
    pub pool_size: u32,
}

impl PostgresConfig {
    /// `dsn` with no separate password and the default pool size.
    pub fn new(dsn: impl Into<String>) -> PostgresConfig {
        PostgresConfig {
            dsn: dsn.into(),
            password: None,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }

    /// The database as `postgres://user@host:port/dbname`, without the password: what logs and
    /// errors show.
    pub fn target(&self) -> String {
        match postgres::Config::from_str(&self.dsn) {
            Ok(config) => target(&config),
            Err(_) => "postgres://(a DSN that does not parse)".to_string(),
        }
    }

    fn client_config(&self) -> Result<postgres::Config, StoreError> {
        let mut config =
            postgres::Config::from_str(&self.dsn).map_err(|e| StoreError::Postgres {
                target: self.target(),
                operation: "read the DSN",
                // The parser's words name the option, never its value.
                reason: e.to_string(),
            })?;
        if let Some(password) = &self.password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("slogate");
        }
        Ok(config)
    }
}

impl fmt::Debug for PostgresConfig {
    /// Written by hand: the DSN may hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("target", &self.target())
            .field(
                "password",
                &match (&self.password, self.dsn_has_password()) {
                    (Some(_), _) => "<redacted>",
                    (None, true) => "<redacted, in the DSN>",
                    (None, false) => "<none>",
                },
            )
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl PostgresConfig {
    fn dsn_has_password(&self) -> bool {
        postgres::Config::from_str(&self.dsn).is_ok_and(|c| c.get_password().is_some())
    }
}

/// `postgres://user@host:port/dbname` of a parsed configuration.
fn target(config: &postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    let port = if ports.is_empty() {
        String::new()
    } else {
        format!(":{}", ports.join(","))
    };
    format!(
        "postgres://{}@{}{port}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

type Manager = PostgresConnectionManager<NoTls>;

/// A pool of connections to one database.
pub(super) struct PgStore {
    /// Connections, opened on demand up to the pool size. An `Option` only so that `drop`
    /// can move it to another thread; `Some` until then.
    pool: Option<r2d2::Pool<Manager>>,
    /// For messages: the database without the password.
    target: String,
    /// How to connect, for the connections opened outside the pool (job locks).
    client_config: postgres::Config,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("pool", &self.pool.as_ref().map(r2d2::Pool::state))
            .finish()
    }
}

impl PgStore {
    /// Connects (one connection at first, so a wrong DSN fails here) and migrates.
    pub(super) fn open(config: &PostgresConfig) -> Result<PgStore, StoreError> {
        let target = config.target();
        let client_config = config.client_config()?;
        let manager = PostgresConnectionManager::new(client_config.clone(), NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            // r2d2 logs connection errors itself; they are returned to the caller instead.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(manager)
            .map_err(|e| StoreError::Postgres {
                target: target.clone(),
                operation: "connect",
                reason: e.to_string(),
            })?;
        let store = PgStore {
            pool: Some(pool),
            target,
            client_config,
        };
        schema::migrate(&store)?;
        Ok(store)
    }

    /// The database without the password.
    pub(super) fn target(&self) -> &str {
        &self.target
    }

    /// A connection answers, both within about `timeout`: the wait for a connection is
    /// bounded by it, and the query by a `statement_timeout` of the same length.
    pub(super) fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let pool = self.pool.as_ref().ok_or_else(|| StoreError::Postgres {
            target: self.target.clone(),
            operation: "ping",
            reason: "the store is closing".to_string(),
        })?;
        let mut conn = pool
            .get_timeout(timeout)
            .map_err(|e| StoreError::Postgres {
                target: self.target.clone(),
                operation: "ping",
                reason: e.to_string(),
            })?;
        let millis = timeout.as_millis().max(1);
        // SET LOCAL: the timeout ends with the transaction, so the pooled connection goes back
        // with the server's default.
        conn.batch_execute(&format!(
            "BEGIN; SET LOCAL statement_timeout = {millis}; SELECT 1; COMMIT"
        ))
        .map_err(self.err("ping"))
    }

    /// A connection from the pool.
    fn conn(&self, operation: &'static str) -> Result<PooledConnection<Manager>, StoreError> {
        let pool = self.pool.as_ref().ok_or_else(|| StoreError::Postgres {
            target: self.target.clone(),
            operation,
            reason: "the store is closing".to_string(),
        })?;
        pool.get().map_err(|e| StoreError::Postgres {
            target: self.target.clone(),
            operation,
            reason: e.to_string(),
        })
    }

    /// Sorts a driver error: a read-only server or a full disk is
    /// [`StoreError::Unwritable`], the rest [`StoreError::Postgres`].
    fn err(&self, operation: &'static str) -> impl Fn(postgres::Error) -> StoreError + '_ {
        move |e| {
            let code = e.code();
            if code == Some(&SqlState::READ_ONLY_SQL_TRANSACTION)
                || code == Some(&SqlState::DISK_FULL)
            {
                StoreError::Unwritable {
                    path: self.target.clone().into(),
                    operation,
                    reason: e.to_string(),
                }
            } else {
                StoreError::Postgres {
                    target: self.target.clone(),
                    operation,
                    reason: e.to_string(),
                }
            }
        }
    }
}

impl Drop for PgStore {
    /// Closing a connection blocks on the client's own runtime, which panics on a thread that
    /// drives async tasks (the server drops its store there at shutdown): the pool is dropped
    /// on a thread of its own.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// A count from the database as `u64` (never negative).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A row count from `execute` as `usize`.
fn rows(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_in_no_debug_output_and_no_error() {
        let secret = "s3cr3t-Pa55";
        let config = PostgresConfig::new(format!(
            "postgres://slogate:{secret}@db.example:5433/slogate"
        ));
        let shown = format!("{config:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(
            shown.contains("postgres://slogate@db.example:5433/slogate"),
            "{shown}"
        );
        assert!(shown.contains("<redacted, in the DSN>"), "{shown}");

        let separate = PostgresConfig {
            password: Some(secret.to_string()),
            ..PostgresConfig::new("host=db.example user=slogate dbname=slogate")
        };
        let shown = format!("{separate:?}");
        assert!(!shown.contains(secret), "{shown}");

        // Nothing listens on port 1: the connection error names the target, not the password.
        let unreachable = PostgresConfig::new(format!(
            "postgres://slogate:{secret}@127.0.0.1:1/slogate?connect_timeout=2"
        ));
        let err = crate::store::Store::open_postgres(&unreachable).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains(secret), "{text}");
        assert!(
            text.contains("postgres://slogate@127.0.0.1:1/slogate"),
            "{text}"
        );

        let bad = PostgresConfig::new(format!("postgres://slogate:{secret}@host:notaport/db"));
        let err = crate::store::Store::open_postgres(&bad).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains(secret), "{text}");
    }
}
