//! Test helpers: run a store test on both backends, and a PostgreSQL database per test.

#[path = "../../tests/support/postgres.rs"]
#[allow(dead_code)]
pub(crate) mod cluster;

use super::{PostgresConfig, Store};

/// Runs `test` on an in-memory SQLite store, then on a fresh PostgreSQL database.
pub(crate) fn each_backend(test: impl Fn(&Store)) {
    eprintln!("backend: sqlite");
    test(&Store::open_in_memory().unwrap());
    eprintln!("backend: postgres");
    test(&postgres_store());
}

/// A store on a new, empty database of the test binary's cluster.
pub(crate) fn postgres_store() -> Store {
    Store::open_postgres(&postgres_config()).unwrap()
}

/// The configuration of a new, empty database of the test binary's cluster.
pub(crate) fn postgres_config() -> PostgresConfig {
    PostgresConfig::new(cluster::Cluster::shared().database())
}
