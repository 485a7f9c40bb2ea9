//! A throwaway PostgreSQL cluster for tests: `initdb` in a temporary directory, run as an
//! unprivileged user (PostgreSQL refuses to run as root; tests run as root in CI), listening
//! only on a unix socket in that directory, one database per test.
//!
//! Shared by the integration tests (`mod support`) and the library's unit tests (included
//! with `#[path]`), so it uses only std, `tempfile` and the `postgres` client.
//!
//! Lifetime: a small shell owns the server. It starts it with `pg_ctl start -w` (which returns
//! once the server accepts connections), prints `ready`, then blocks reading its stdin, a pipe
//! from this process. When the [`Cluster`] is dropped (also while unwinding from a panic) or
//! this process ends in any way, the pipe closes, the read returns, and the shell stops the
//! server and removes the directory. So a cluster kept in a `static` for the whole test binary
//! is stopped too, although statics are never dropped. No sleeps: readiness is the `ready`
//! line, and the end is the pipe's EOF.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The superuser `initdb` creates; trust authentication on the socket (tests only).
pub const USER: &str = "slogate";

/// A running cluster.
pub struct Cluster {
    /// The shell that owns the server; it stops the server when its stdin closes.
    keeper: Child,
    /// Its stdin: dropping it is the signal to stop.
    stop: Option<ChildStdin>,
    /// The directory with the data and the socket (removed by the keeper).
    dir: PathBuf,
    /// Numbers the databases [`Cluster::database`] creates.
    databases: AtomicUsize,
}

impl Cluster {
    /// One cluster for the whole test binary, started on first use.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    /// Starts a new cluster for tests: no fsync (a crash of the test machine loses nothing
    /// worth keeping). Panics with the server's log when it does not start.
    pub fn start() -> Cluster {
        Cluster::start_with(false)
    }

    /// Starts a new cluster; `durable`: PostgreSQL's default fsync and synchronous commit, as
    /// in production (benches), else none.
    pub fn start_with(durable: bool) -> Cluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("slogate-pg-")
            .tempdir()
            .expect("a temporary directory for PostgreSQL")
            .keep();
        let unprivileged = as_root();
        if unprivileged {
            let status = Command::new("chown")
                .args(["nobody:nogroup"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown nobody:nogroup {}", dir.display());
        }
        let data = dir.join("data");
        let out = unprivileged_command(&bin.join("initdb"), unprivileged)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Written by this process (root may write the unprivileged user's file).
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .expect("postgresql.conf");
        writeln!(
            conf,
            "listen_addresses = ''\nunix_socket_directories = '{}'\nmax_connections = 300",
            dir.display()
        )
        .expect("write postgresql.conf");
        if !durable {
            writeln!(
                conf,
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off"
            )
            .expect("write postgresql.conf");
        }
        drop(conf);

        let script = r#"
            "$1/pg_ctl" -D "$2/data" -l "$2/log" -w -t 60 start >/dev/null || { cat "$2/log" >&2; exit 1; }
            echo ready
            read -r _ignored
            "$1/pg_ctl" -D "$2/data" -m immediate -w stop >/dev/null
            rm -rf "$2"
        "#;
        let mut keeper = unprivileged_command(Path::new("sh"), unprivileged)
            .args(["-c", script, "sh"])
            .arg(&bin)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the PostgreSQL keeper shell starts");
        let stop = keeper.stdin.take();
        let mut line = String::new();
        BufReader::new(keeper.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the keeper's stdout");
        if line.trim() != "ready" {
            let out = keeper.wait_with_output().expect("keeper output");
            panic!(
                "PostgreSQL did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Cluster {
            keeper,
            stop,
            dir,
            databases: AtomicUsize::new(0),
        }
    }

    /// The socket directory (the `host` of a DSN).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A DSN for the database `name` (which may not exist).
    pub fn dsn(&self, name: &str) -> String {
        format!(
            "host={} port=5432 user={USER} dbname={name}",
            self.dir.display()
        )
    }

    /// Creates a new, empty database and returns its DSN: one per test, so tests run in
    /// parallel without seeing each other's rows.
    pub fn database(&self) -> String {
        let name = self.create_database();
        self.dsn(&name)
    }

    /// Creates a new, empty database and returns its URL, as `db:` takes it
    /// (`postgres:///NAME?host=SOCKET_DIR&...`).
    pub fn database_url(&self) -> String {
        let name = self.create_database();
        format!(
            "postgres:///{name}?host={}&port=5432&user={USER}",
            self.dir.display()
        )
    }

    fn create_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        let mut admin =
            postgres::Client::connect(&self.dsn("postgres"), postgres::NoTls).expect("connect");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        name
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        drop(self.stop.take());
        let _ = self.keeper.wait();
    }
}

/// Whether this process runs as root (then PostgreSQL must run as `nobody`).
fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program`, as `nobody` when `unprivileged`.
fn unprivileged_command(program: &Path, unprivileged: bool) -> Command {
    if unprivileged {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Where `initdb` and `pg_ctl` are: `SLOGATE_PG_BIN`, else Debian's newest
/// `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SLOGATE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let version: u32 = e.file_name().to_str()?.parse().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").is_file().then_some((version, bin))
                })
                .max_by_key(|(v, _)| *v)
                .map(|(_, bin)| bin)
        });
    if let Some(bin) = debian {
        return bin;
    }
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin, no pg_config): scripts/test installs the Debian package postgresql");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
