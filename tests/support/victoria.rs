//! A real VictoriaMetrics (Debian `victoria-metrics`) holding a scenario's series, imported
//! through its Prometheus text import (`/api/v1/import/prometheus`, millisecond timestamps) and
//! flushed so queries see them at once. It answers Prometheus' query API, as Thanos and Mimir
//! do: the second engine slogate's evaluation is checked against.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::prometheus::free_port;
use super::scenario::Scenario;

/// A running VictoriaMetrics; killed when dropped.
pub struct VictoriaGuard {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for VictoriaGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl VictoriaGuard {
    /// Starts VictoriaMetrics with `scenario`'s series in it.
    pub fn start(scenario: &Scenario) -> VictoriaGuard {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("victoria-metrics")
            .arg(format!(
                "-storageDataPath={}",
                dir.path().join("data").display()
            ))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-retentionPeriod=100y")
            // The scenario's samples are a minute apart and end in the past: no dedup, no
            // search latency offset, so the newest samples are answered as Prometheus does.
            .arg("-search.latencyOffset=0s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("victoria-metrics is installed (scripts/test installs it)");
        let guard = VictoriaGuard {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client
            .get(format!("{}/health", guard.url))
            .send()
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(Instant::now() < deadline, "victoria-metrics did not start");
            std::thread::park_timeout(Duration::from_millis(50));
        }
        let body = to_import_text(&scenario.to_openmetrics());
        let status = client
            .post(format!("{}/api/v1/import/prometheus", guard.url))
            .body(body)
            .send()
            .unwrap()
            .status();
        assert!(status.is_success(), "import: {status}");
        let flushed = client
            .get(format!("{}/internal/force_flush", guard.url))
            .send()
            .unwrap()
            .status();
        assert!(flushed.is_success(), "flush: {flushed}");
        guard
    }
}

/// OpenMetrics (seconds, `# EOF`, `_total` families) as the Prometheus text format
/// VictoriaMetrics imports: sample lines only, timestamps in milliseconds.
fn to_import_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len() + openmetrics.len() / 8);
    for line in openmetrics.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (sample, ts) = line.rsplit_once(' ').expect("a sample with a timestamp");
        let seconds: f64 = ts.parse().expect("a timestamp in seconds");
        out.push_str(sample);
        out.push(' ');
        out.push_str(&((seconds * 1000.0).round() as i64).to_string());
        out.push('\n');
    }
    out
}
