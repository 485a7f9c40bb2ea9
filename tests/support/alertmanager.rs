//! The real Alertmanager 0.25 tools on generated configurations: `amtool check-config`,
//! `amtool config routes test`, `amtool template render`, and a `prometheus-alertmanager`
//! process on a free loopback port, killed when its guard drops.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn run(command: &mut Command) -> (Output, String) {
    let out = command
        .output()
        .expect("amtool is installed (Debian prometheus-alertmanager; scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// Runs `amtool check-config FILE`; panics with amtool's output when the file is refused.
pub fn check_config(config: &Path) -> String {
    let (out, text) = run(Command::new("amtool").arg("check-config").arg(config));
    assert!(out.status.success(), "amtool check-config failed:\n{text}");
    assert!(text.contains("SUCCESS"), "{text}");
    text
}

/// Runs `amtool config routes test --verify.receivers=RECEIVER` on an alert with `labels`;
/// panics, naming the receiver amtool found, when the alert reaches another receiver.
pub fn assert_routes_to(config: &Path, labels: &[(String, String)], receiver: &str) {
    let mut command = Command::new("amtool");
    command
        .args(["config", "routes", "test"])
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--verify.receivers={receiver}"));
    for (name, value) in labels {
        // Quoted, as a matcher: values with `-` or spaces stay one value.
        command.arg(format!("{name}={}", quote(value)));
    }
    let (out, text) = run(&mut command);
    assert!(
        out.status.success(),
        "an alert with {labels:?} should reach {receiver}; amtool says:\n{text}"
    );
}

/// Renders `template` with `amtool template render` on `data` (a notification as
/// Alertmanager's templates see it: status, alerts, common labels and annotations).
pub fn render_template(dir: &Path, template: &str, data: &Value) -> String {
    // amtool insists on a template file; an empty definition will do.
    let glob = dir.join("empty.tmpl");
    std::fs::write(&glob, "{{ define \"slogate.empty\" }}{{ end }}").unwrap();
    let data_file = dir.join("template-data.json");
    std::fs::write(&data_file, serde_json::to_string(data).unwrap()).unwrap();
    let (out, text) = run(Command::new("amtool")
        .args(["template", "render"])
        .arg(format!("--template.glob={}", glob.display()))
        .arg(format!("--template.data={}", data_file.display()))
        .arg(format!("--template.text={template}")));
    assert!(
        out.status.success(),
        "amtool template render failed:\n{text}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A running `prometheus-alertmanager` in a temp dir; killed (and waited for) on drop.
pub struct Alertmanager {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts Alertmanager on `config` with clustering off and waits (bounded) until it
    /// answers `/-/ready`. A port taken between choosing and binding is retried on another.
    pub fn start(config: &Path) -> Alertmanager {
        let mut last_log = String::new();
        for _ in 0..3 {
            let mut am = Self::spawn(config);
            match am.wait_ready(Duration::from_secs(15)) {
                Ok(()) => return am,
                Err(log) if log.contains("address already in use") => last_log = log,
                Err(log) => panic!("alertmanager did not become ready:\n{log}"),
            }
        }
        panic!("alertmanager found no free port:\n{last_log}");
    }

    fn spawn(config: &Path) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let addr = free_port();
        let log = dir.path().join("alertmanager.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            // Empty: no gossip port, no peers; this instance is alone.
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("prometheus-alertmanager is installed (scripts/test installs it)");
        Alertmanager {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    /// Polls `/-/ready` until it answers 200, the process exits, or `timeout` passes.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok((200, _)) = http(self.addr, "GET", "/-/ready", None) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after {timeout:?}:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process's output so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GETs an API path and parses the JSON answer; panics on a non-200 status.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = http(self.addr, "GET", path, None).expect("alertmanager answers");
        assert_eq!(status, 200, "GET {path}: {body}\n{}", self.log());
        serde_json::from_str(&body).expect("JSON from alertmanager")
    }

    /// POSTs alerts (`/api/v2/alerts` objects) to Alertmanager.
    pub fn post_alerts(&self, alerts: &Value) {
        let body = serde_json::to_string(alerts).unwrap();
        let (status, answer) =
            http(self.addr, "POST", "/api/v2/alerts", Some(&body)).expect("alertmanager answers");
        assert_eq!(status, 200, "POST /api/v2/alerts: {answer}\n{}", self.log());
    }

    /// Polls `path` until `done` holds for its JSON or `timeout` passes; returns the last
    /// answer either way, so the caller's assertion shows what was seen.
    pub fn poll_json(&self, path: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.get_json(path);
            if done(&value) || Instant::now() > deadline {
                return value;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address with a port free a moment ago.
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A minimal HTTP/1.0 exchange (the server closes the connection after one answer, so the
/// body is everything after the headers). Enough for Alertmanager's small JSON API, without
/// an HTTP client dependency.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer}")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
