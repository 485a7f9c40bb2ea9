//! HAProxy (Debian's `haproxy`) in front of slogate replicas, configured as an operator would
//! (see deploy/README.md, "Behind a load balancer"): health checks on `/readyz` every 100 ms
//! that take a server out at the first failure and back at the first success, and retries of
//! requests that never reached a server or got no answer, on another server. The runtime API
//! on a unix socket tells the test what HAProxy sees (server states, sessions per server).
//! Killed when the guard drops.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::prometheus::free_port;

/// The HAProxy configuration the test runs, `{servers}` and paths filled in. The same as
/// deploy/README.md documents, with the test's timings.
const CONFIG: &str = "\
global
    stats socket {socket} level admin
    # Spread the health checks so three servers are not asked in the same instant.
    spread-checks 20

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    # Longer than slogate's request_deadline (8 s): slogate answers inconclusive itself first.
    timeout server 15s
    timeout check 1s
    # A request that could not be sent, or got no answer because the server went away, is
    # sent again, to another server (redispatch). Not on 5xx: a gate that answered is never
    # asked twice by the balancer.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend gates
    bind 127.0.0.1:{port}
    default_backend slogate

backend slogate
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server check inter 100ms fastinter 100ms downinter 100ms fall 1 rise 1
{servers}";

/// A running HAProxy.
pub struct HaproxyGuard {
    child: Child,
    /// `http://127.0.0.1:PORT`: the frontend.
    pub url: String,
    socket: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for HaproxyGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server's line of `show stat`.
#[derive(Debug, Clone)]
pub struct ServerStat {
    /// `r0`, `r1`, ...
    pub name: String,
    /// `UP`, `DOWN`, `MAINT`, ...
    pub status: String,
    /// Sessions open to the server now.
    pub current_sessions: u64,
    /// Requests the server answered with 2xx (`hrsp_2xx`).
    pub responses_2xx: u64,
}

impl HaproxyGuard {
    /// Starts HAProxy in front of `backends` (`host:port`, named `r0`, `r1`, ...) and waits
    /// until every server is UP.
    pub fn start(backends: &[String]) -> HaproxyGuard {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let socket = dir.path().join("admin.sock");
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, addr)| format!("    server r{i} {addr}\n"))
            .collect();
        let config = CONFIG
            .replace("{socket}", &socket.display().to_string())
            .replace("{port}", &port.to_string())
            .replace("{servers}", &servers);
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, config).unwrap();
        let log = dir.path().join("haproxy.log");
        let child = Command::new(haproxy_binary())
            .arg("-f")
            .arg(&file)
            // Foreground, no daemon: the guard owns the process.
            .arg("-db")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("haproxy is installed (scripts/test installs it)");
        let guard = HaproxyGuard {
            child,
            url: format!("http://127.0.0.1:{port}"),
            socket,
            log,
            _dir: dir,
        };
        for i in 0..backends.len() {
            guard.wait_status(i, "UP");
        }
        guard
    }

    /// The process's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A command of the runtime API; its answer. Waits (at most 30 s) for the socket, which
    /// HAProxy opens once its configuration is loaded; panics with the log if it exits.
    pub fn command(&self, command: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match UnixStream::connect(&self.socket) {
                Ok(stream) => break stream,
                Err(e) => {
                    let exited = std::process::Command::new("kill")
                        .args(["-0", &self.child.id().to_string()])
                        .status()
                        .is_ok_and(|s| !s.success());
                    assert!(
                        !exited && Instant::now() < deadline,
                        "haproxy's socket: {e}\n{}",
                        self.log()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        stream.write_all(format!("{command}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    /// Every server of the backend, as HAProxy sees it now.
    pub fn servers(&self) -> Vec<ServerStat> {
        let text = self.command("show stat");
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (px, sv, status, scur, ok) = (
            column("pxname"),
            column("svname"),
            column("status"),
            column("scur"),
            column("hrsp_2xx"),
        );
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > ok && f[px] == "slogate" && f[sv].starts_with('r'))
            .map(|f| ServerStat {
                name: f[sv].to_string(),
                status: f[status].to_string(),
                current_sessions: f[scur].parse().unwrap_or(0),
                responses_2xx: f[ok].parse().unwrap_or(0),
            })
            .collect()
    }

    /// Server `r{index}` as HAProxy sees it now.
    pub fn server(&self, index: usize) -> ServerStat {
        let name = format!("r{index}");
        self.servers()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no server {name}"))
    }

    /// Polls until server `r{index}`'s status starts with `status` (at most 30 s).
    pub fn wait_status(&self, index: usize, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.server(index);
            if seen.status.starts_with(status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "r{index} not {status} within 30 s: {seen:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `/usr/sbin/haproxy` (Debian), else `haproxy` on the PATH.
fn haproxy_binary() -> PathBuf {
    let debian = PathBuf::from("/usr/sbin/haproxy");
    if debian.is_file() {
        debian
    } else {
        PathBuf::from("haproxy")
    }
}
