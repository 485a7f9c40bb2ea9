//! `slogate serve` as a real process on a free loopback port, with its own temp directory
//! (history database, config), killed when the guard drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde_json::Value;

use chrono::Utc;

use super::prometheus::free_port;
use super::scenario::{Scenario, Segment, Workload};

/// A token long enough for slogate's check.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// How a test server is started.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Prometheus base URL.
    pub prometheus: String,
    /// SLO definitions (directory or file).
    pub slos: PathBuf,
    /// Accepted tokens (`SLOGATE_API_TOKENS`); none: unauthenticated loopback.
    pub tokens: Vec<String>,
    /// Extra lines of `slogate.yaml`.
    pub config: String,
    /// History database; default: `history.db` in the server's temp directory.
    pub db: Option<PathBuf>,
    /// The port to listen on; default: a free one (a test that starts a client first, as a
    /// pipeline that asks while slogate restarts, names it).
    pub port: Option<u16>,
    /// Run as user `nobody` when the tests run as root, so that file permissions bind
    /// (root writes to read-only files).
    pub unprivileged: bool,
}

impl ServeOptions {
    /// The project's own definitions, one token, default settings.
    pub fn new(prometheus: &str) -> Self {
        ServeOptions {
            prometheus: prometheus.to_string(),
            slos: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slo-definitions"),
            tokens: vec![TOKEN.to_string()],
            config: String::new(),
            db: None,
            port: None,
            unprivileged: false,
        }
    }
}

/// A running `slogate serve`.
pub struct SlogateGuard {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The history database.
    pub db: PathBuf,
    /// Temp directory (config, log, default database).
    pub dir: tempfile::TempDir,
    log: PathBuf,
    client: Client,
}

impl Drop for SlogateGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl SlogateGuard {
    /// Starts slogate and waits (bounded) until it answers `/healthz`; panics with its log
    /// when it exits or never answers.
    pub fn start(options: &ServeOptions) -> SlogateGuard {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, options)
    }

    /// Starts slogate keeping `dir` (a restart on the same database).
    pub fn start_in(dir: tempfile::TempDir, options: &ServeOptions) -> SlogateGuard {
        let port = options.port.unwrap_or_else(free_port);
        if options.unprivileged {
            // nobody must read the config in this (root-owned, 0700) directory.
            use std::os::unix::fs::PermissionsExt;
            let open = std::fs::Permissions::from_mode(0o755);
            std::fs::set_permissions(dir.path(), open).unwrap();
        }
        let config = dir.path().join("slogate.yaml");
        // Unless a test sets `calibration:` itself, its canary analyses start from the default
        // noise prior: otherwise the calibration job, woken by the first canary verdict, would
        // give the analyses that start after it finishes a measured prior, and which ones those
        // are would depend on timing (tests/canary_time_to_fail.rs tests the measured prior).
        let text = if options.config.contains("calibration:") {
            options.config.clone()
        } else {
            format!(
                "{}\ncalibration: {{measured_prior: false}}\n",
                options.config
            )
        };
        std::fs::write(&config, text).unwrap();
        let db = options
            .db
            .clone()
            .unwrap_or_else(|| dir.path().join("history.db"));
        let log = dir.path().join(format!("slogate-{port}.log"));
        let binary = env!("CARGO_BIN_EXE_slogate");
        let mut command = if options.unprivileged && running_as_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", binary]);
            c
        } else {
            Command::new(binary)
        };
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--prometheus")
            .arg(&options.prometheus)
            .arg("--slos")
            .arg(&options.slos)
            .arg("--db")
            .arg(&db)
            .env_remove("SLOGATE_API_TOKENS")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if !options.tokens.is_empty() {
            command.env("SLOGATE_API_TOKENS", options.tokens.join(","));
        }
        let child = command.spawn().expect("slogate binary");
        let mut guard = SlogateGuard {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            db,
            dir,
            log,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        guard.wait_for("/healthz", 200);
        guard
    }

    /// Polls `path` until it answers `status` (at most 30 s); panics with the log otherwise.
    pub fn wait_for(&mut self, path: &str, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(exit)) = child.try_wait()
            {
                panic!("slogate exited ({exit}):\n{}", self.log());
            }
            let answered = self
                .client
                .get(format!("{}{path}", self.url))
                .timeout(Duration::from_secs(2))
                .send();
            if answered.is_ok_and(|r| r.status().as_u16() == status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "slogate did not answer {status} on {path} within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sends a signal (`HUP`, `TERM`, `KILL`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to end (after a signal); bounded.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "slogate did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the process and hands back its directory (to restart on the same database).
    pub fn into_dir(mut self) -> tempfile::TempDir {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// POSTs a JSON text with the test token.
    pub fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.request("POST", path, Some(body), Some(TOKEN), &[])
    }

    /// GETs with the test token.
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, None, Some(TOKEN), &[])
    }

    /// The calibration job's backtest of `version` (of the catalog's first service), polled
    /// from the API until it is there: the job runs after the canary verdict that names the
    /// version. At most 60 s.
    pub fn backtest_of(&self, version: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = self.get("/api/v1/calibrations");
            assert_eq!(status, 200, "{body:#}");
            let first = &body["services"][0];
            if first["version"] == version {
                return first.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no backtest of {version} within 60 s: {body:#}\n{}",
                self.log()
            );
            std::thread::park_timeout(Duration::from_millis(200));
        }
    }

    /// Any request; the body of the answer as JSON (or a JSON string of the text).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
        headers: &[(String, String)],
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            request = request.header(k, v);
        }
        if let Some(body) = body {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                request = request.header("Content-Type", "application/json");
            }
            request = request.body(body.to_string());
        }
        let response: Response = request.send().unwrap_or_else(|e| {
            panic!("{method} {path}: {e}\n{}", self.log());
        });
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }
}

/// Whether this process runs as root (uid 0), from /proc.
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A copy of the project's definitions in a temp directory (to edit in a test).
pub fn copy_definitions(into: &Path) -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slo-definitions");
    let target = into.join("slo-definitions");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
    target
}

/// The example definitions plus `extra` services with reconciliation-backend's SLOs (its
/// real series: real work for Prometheus) under other names.
pub fn with_extra_services(dir: &Path, extra: usize) -> PathBuf {
    let slos = copy_definitions(dir);
    let text = std::fs::read_to_string(slos.join("reconciliation-backend.yaml")).unwrap();
    // The SLOs only: the plain alerts after them have names of their own.
    let (objectives, _alerts) = text.split_once("\nalerts:").unwrap();
    for i in 0..extra {
        let renamed = objectives.replace(
            "service: reconciliation-backend\nteam: reconciliation\n",
            &format!("service: load-{i:02}\nteam: load-{}\n", i % 5),
        );
        assert_ne!(renamed, objectives);
        std::fs::write(slos.join(format!("load-{i:02}.yaml")), renamed).unwrap();
    }
    slos
}

const SPAN: u64 = 3 * 3600;

fn workload(service: &str, version: Option<&str>, error_ratio: f64, slow_ratio: f64) -> Workload {
    Workload {
        service: service.into(),
        version: version.map(String::from),
        segments: vec![Segment {
            seconds: SPAN,
            rps: 20.0,
            error_ratio,
            slow_ratio,
        }],
    }
}

/// Three versions of financeanalyst-api (stable, an equal canary, a worse canary), a healthy
/// reconciliation-backend and a mita-backend burning its budget; data up to 15 s ago, so
/// the templates' `lookback: 10m` sees it.
pub fn example_scenario() -> Scenario {
    let end = (Utc::now().timestamp() - 15) / 15 * 15;
    Scenario {
        start: end - SPAN as i64,
        // Scraped every 15 s, as in a cluster: the profile's `rate(...[1m])` needs two samples
        // a minute.
        step: 15,
        workloads: vec![
            workload("financeanalyst-api", Some("stable-7d9f"), 0.001, 0.01),
            workload("financeanalyst-api", Some("good-5c8b"), 0.001, 0.01),
            workload("financeanalyst-api", Some("bad-6f1a"), 0.05, 0.30),
            workload("reconciliation-backend", None, 0.0001, 0.001),
            workload("mita-backend", None, 0.2, 0.5),
        ],
    }
}
