//! A real Prometheus on a free loopback port, backfilled from a scenario with
//! `promtool tsdb create-blocks-from openmetrics`, killed when the guard drops.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::scenario::Scenario;

/// A running Prometheus; the process is killed and its directory removed on drop, even when
/// the test panics.
pub struct PrometheusGuard {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Keeps the data directory alive as long as the server.
    _dir: tempfile::TempDir,
    /// Where the server's output goes (read when it fails to start).
    log: PathBuf,
}

impl Drop for PrometheusGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PrometheusGuard {
    /// Backfills `scenario` and starts Prometheus on it; waits (bounded) until it is ready.
    pub fn start(scenario: &Scenario) -> PrometheusGuard {
        PrometheusGuard::start_inner(scenario, "", None)
    }

    /// As [`PrometheusGuard::start`], the versions in `version_label` (Flagger's `app`).
    pub fn start_labelled(scenario: &Scenario, version_label: &str) -> PrometheusGuard {
        PrometheusGuard::backfill(scenario.to_openmetrics_labelled(version_label), None)
    }

    /// As [`PrometheusGuard::start`], with `extra` OpenMetrics families (each with its
    /// `# TYPE` line, samples in time order, no `# EOF`) backfilled too, e.g. `ALERTS`. Blocks
    /// are cut at 31 days instead of promtool's 2 h: backfilling three weeks then takes half a
    /// second instead of half a minute.
    pub fn start_with(scenario: &Scenario, extra: &str) -> PrometheusGuard {
        PrometheusGuard::start_inner(scenario, extra, Some("744h"))
    }

    fn start_inner(scenario: &Scenario, extra: &str, max_block: Option<&str>) -> PrometheusGuard {
        let mut text = scenario.to_openmetrics();
        if !extra.is_empty() {
            let body = text
                .strip_suffix("# EOF\n")
                .expect("the scenario ends with # EOF");
            text = format!("{body}{extra}# EOF\n");
        }
        Self::backfill(text, max_block)
    }

    fn backfill(text: String, max_block: Option<&str>) -> PrometheusGuard {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let input = dir.path().join("scenario.om");
        std::fs::write(&input, text).unwrap();
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .args(max_block.map(|d| format!("--max-block-duration={d}")))
            .arg(&input)
            .arg(&data)
            .output()
            .expect("promtool is installed (scripts/test installs it)");
        assert!(
            out.status.success(),
            "backfill failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(&input).unwrap();
        let config = "global:\n  scrape_interval: 1m\nscrape_configs: []\n";
        Self::spawn(dir, config)
    }

    /// Starts an empty Prometheus that runs `config` (scrape targets, `rule_files`, alerting)
    /// live; `files` are written beside the config first, so `rule_files` can name them
    /// relatively.
    pub fn start_live(config: &str, files: &[(&str, &str)]) -> PrometheusGuard {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Self::spawn(dir, config)
    }

    fn spawn(dir: tempfile::TempDir, config_text: &str) -> PrometheusGuard {
        let data = dir.path().join("data");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, config_text).unwrap();
        let port = free_port();
        let log = dir.path().join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            // Longer than any scenario, so the backfilled blocks are not deleted at start.
            .arg("--storage.tsdb.retention.time=400d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("prometheus is installed (scripts/test installs it)");
        let guard = PrometheusGuard {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
            log,
        };
        guard.wait_ready(Duration::from_secs(30));
        guard
    }

    /// The server's output so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/-/ready` until it answers 200 or the deadline passes (then panics with the log).
    fn wait_ready(&self, deadline: Duration) {
        let started = Instant::now();
        while started.elapsed() < deadline {
            if http_get_status(&self.url, "/-/ready") == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "prometheus not ready after {deadline:?}:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// Moves the TSDB blocks under `blocks` (as `promtool tsdb create-blocks-from` writes them)
    /// into the server's storage and restarts it on the same port, since Prometheus reads
    /// blocks at start. Overlapping blocks are merged (Prometheus 2.39 and later).
    pub fn add_blocks(&mut self, blocks: &std::path::Path) {
        self.stop();
        let data = self._dir.path().join("data");
        for entry in std::fs::read_dir(blocks).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                std::fs::rename(entry.path(), data.join(entry.file_name())).unwrap();
            }
        }
        let port = self.url.rsplit(':').next().unwrap().to_string();
        self.child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                self._dir.path().join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--storage.tsdb.retention.time=400d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&self.log).unwrap())
            .spawn()
            .unwrap();
        self.wait_ready(Duration::from_secs(30));
    }

    /// Stops the server now (for tests of an unreachable Prometheus).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.0 GET, returning the status code (readiness checks need nothing more).
pub fn http_get_status(base: &str, path: &str) -> Option<u16> {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}
