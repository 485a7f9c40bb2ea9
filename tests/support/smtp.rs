//! A real SMTP server for tests: aiosmtpd (PyPI, in the `target/pyenv` virtualenv that
//! `scripts/test` makes) writing every message it accepts into a Maildir; killed on drop.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The virtualenv's Python (absolute, so tests run from any directory).
pub fn python() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: scripts/test installs aiosmtpd there",
        path.display()
    );
    path
}

/// A running aiosmtpd; the process is killed on drop, even when the test panics.
pub struct SmtpGuard {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// The Maildir messages land in (`new/`).
    pub maildir: PathBuf,
}

impl Drop for SmtpGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpGuard {
    /// Starts aiosmtpd on `port`, its Maildir at `maildir` (which must not exist yet), and
    /// waits (bounded) until it accepts connections.
    pub fn start(port: u16, maildir: &Path) -> SmtpGuard {
        assert!(!maildir.exists(), "aiosmtpd makes the Maildir itself");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts (scripts/test installs it)");
        let guard = SmtpGuard {
            child,
            port,
            maildir: maildir.to_path_buf(),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not listen on {port} within 20s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        guard
    }

    /// The messages received so far (files of `new/`), oldest name first.
    pub fn messages(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Waits (bounded) until at least `n` messages arrived; returns them.
    pub fn wait_for(&self, n: usize, deadline: Duration) -> Vec<PathBuf> {
        let started = Instant::now();
        loop {
            let found = self.messages();
            if found.len() >= n {
                return found;
            }
            assert!(
                started.elapsed() < deadline,
                "{} of {n} messages after {deadline:?}",
                found.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received message taken apart by Python's `email` package (an independent MIME parser):
/// its subject, recipients and part tree as JSON; binary parts are written to `out` and named
/// by their path.
pub fn parse_message(message: &Path, out: &Path) -> serde_json::Value {
    const SCRIPT: &str = r#"
import json, sys, os
from email import message_from_binary_file, policy
path, out = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    msg = message_from_binary_file(f, policy=policy.default)
count = [0]
def walk(part):
    node = {"type": part.get_content_type(), "cid": part.get("Content-ID"),
            "disposition": part.get_content_disposition()}
    if part.is_multipart():
        node["parts"] = [walk(p) for p in part.iter_parts()]
    elif part.get_content_maintype() == "text":
        node["text"] = part.get_content()
    else:
        count[0] += 1
        name = os.path.join(out, "part-%d.bin" % count[0])
        with open(name, "wb") as f:
            f.write(part.get_payload(decode=True))
        node["file"] = name
    return node
print(json.dumps({"subject": str(msg["Subject"]), "to": str(msg["To"]),
                  "from": str(msg["From"]), "tree": walk(msg)}))
"#;
    let output = Command::new(python())
        .args(["-c", SCRIPT])
        .arg(message)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "parsing {}: {}",
        message.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
