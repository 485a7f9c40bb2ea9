//! Where the store is: the `db:` setting (or `SLOGATE_DB`, or `--db`) read as a SQLite file or
//! a PostgreSQL DSN, with the password kept out of everything printed.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{PostgresConfig, Store, StoreError};

/// A SQLite file, or a PostgreSQL database.
#[derive(Clone)]
pub enum Location {
    /// The embedded database file (the default, `slogate.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`db: postgres://...` or `postgresql://...`).
    Postgres(PostgresConfig),
}

impl Location {
    /// Reads the `db:` setting: a `postgres://` or `postgresql://` URL is PostgreSQL, anything
    /// else a SQLite file. `password` (from `db_password_file` or `PGPASSWORD`) overrides one
    /// in the URL; `pool_size` is PostgreSQL's most connections.
    pub fn from_setting(db: &Path, password: Option<String>, pool_size: u32) -> Location {
        match db.to_str() {
            Some(text) if is_postgres_url(text) => Location::Postgres(PostgresConfig {
                dsn: text.to_string(),
                password,
                pool_size,
            }),
            _ => Location::Sqlite(db.to_path_buf()),
        }
    }

    /// The password in `file` (a mounted Secret), without the trailing newline; `None` without
    /// a file. The error names the file, never its content.
    pub fn read_password(file: Option<&Path>) -> Result<Option<String>, std::io::Error> {
        let Some(file) = file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(file).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read {}: {e}", file.display()))
        })?;
        Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
    }

    /// Opens the store for reading and writing (SQLite falls back to read-only when the file
    /// cannot be written).
    pub fn open(&self) -> Result<Store, StoreError> {
        match self {
            Location::Sqlite(path) => Store::open(path),
            Location::Postgres(config) => Store::open_postgres(config),
        }
    }

    /// Opens the store only to read, when there is one: an existing SQLite file read-only
    /// (`None` when there is no file), or the PostgreSQL database (always there).
    pub fn open_existing_read_only(&self) -> Result<Option<Store>, StoreError> {
        match self {
            Location::Sqlite(path) if !path.exists() => Ok(None),
            Location::Sqlite(path) => Store::open_read_only(path).map(Some),
            Location::Postgres(config) => Store::open_postgres(config).map(Some),
        }
    }
}

/// Whether the setting names a PostgreSQL database.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

impl fmt::Display for Location {
    /// The file, or `postgres://user@host:port/dbname` without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(config) => f.write_str(&config.target()),
        }
    }
}

impl fmt::Debug for Location {
    /// As [`fmt::Display`], with the PostgreSQL settings (the password redacted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Location::Postgres(config) => f.debug_tuple("Postgres").field(config).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_is_postgres_and_anything_else_a_file() {
        for (db, sqlite) in [
            ("slogate.db", true),
            ("/var/lib/slogate/history.db", true),
            ("postgres://slogate@db/slogate", false),
            (
                "postgresql://slogate@db:5433/slogate?sslmode=disable",
                false,
            ),
        ] {
            let location = Location::from_setting(Path::new(db), None, 8);
            assert_eq!(
                matches!(location, Location::Sqlite(_)),
                sqlite,
                "{db}: {location:?}"
            );
        }
    }

    #[test]
    fn the_password_is_shown_nowhere() {
        let secret = "hunter2-9f8e";
        let in_url = Location::from_setting(
            Path::new(&format!("postgres://slogate:{secret}@db:5432/slogate")),
            None,
            8,
        );
        let from_file = Location::from_setting(
            Path::new("postgres://slogate@db/slogate"),
            Some(secret.to_string()),
            8,
        );
        for location in [in_url, from_file] {
            let shown = format!("{location} {location:?}");
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains("postgres://slogate@db"), "{shown}");
        }
    }
}
