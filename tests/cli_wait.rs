//! `slogate wait` as a pipeline runs it (the real binary), against a real `slogate serve` and
//! directly against a real Prometheus: exit 0 on pass, 1 on fail, 2 inconclusive at the
//! timeout (its last ask marked `final`), 3 on errors (a refused token, an unreachable
//! server past `--max-errors`, bad arguments), with one progress line per ask.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::prometheus::{PrometheusGuard, free_port};
use support::slogate::{ServeOptions, SlogateGuard, TOKEN, example_scenario};

/// Runs `slogate wait ARGS` (bounded by its own --timeout) with `env`.
fn wait(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slogate"));
    command
        .arg("wait")
        .args(args)
        .env_remove("SLOGATE_TOKEN")
        .env_remove("SLOGATE_SLOS");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Lines of stdout that report an ask.
fn asks(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.contains(" ask "))
        .map(String::from)
        .collect()
}

/// `output` reports `count` asks, the last saying `last_says`.
fn assert_asks(output: &Output, count: usize, last_says: &str) {
    let lines = asks(output);
    assert_eq!(lines.len(), count, "{}", text(output));
    assert!(lines[count - 1].contains(last_says), "{}", text(output));
}

fn canary(version: &str) -> Vec<String> {
    [
        "canary",
        "--service",
        "financeanalyst-api",
        "--baseline",
        "stable-7d9f",
        "--canary",
        version,
        "--lookback",
        "10m",
        "--interval",
        "1s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn with(base: &[String], more: &[&str]) -> Vec<String> {
    base.iter()
        .cloned()
        .chain(more.iter().map(|s| s.to_string()))
        .collect()
}

fn run(args: &[String], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    wait(&args, env)
}

fn token_file(dir: &Path, token: &str) -> String {
    let path = dir.join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path.display().to_string()
}

#[test]
fn against_a_running_serve_pass_is_0_fail_is_1_undecided_is_2_and_a_bad_token_is_3() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let mut slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    slogate.wait_for("/readyz", 200);
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(dir.path(), TOKEN);
    let server = ["--server", slogate.url.as_str(), "--timeout", "30s"];

    let good = run(
        &with(&canary("good-5c8b"), &server),
        &[("SLOGATE_TOKEN", TOKEN)],
    );
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    assert_asks(
        &good,
        1,
        "ask 1 (look 1): pass: financeanalyst-api: canary as good as baseline",
    );
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(
        stdout.contains("slogate wait: pass after 1 ask(s)"),
        "{stdout}"
    );

    let bad = run(
        &with(
            &canary("bad-6f1a"),
            &[&server[..], &["--token-file", &file]].concat(),
        ),
        &[],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains("slogate wait: fail after 1 ask(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error-rate: fail: canary error rate (error-rate) exceeds baseline"),
        "{stdout}"
    );

    // A canary with no traffic stays inconclusive: asked until the timeout, the last ask
    // marked final, then exit 2.
    let started = std::time::Instant::now();
    let silent = run(
        &with(
            &canary("none-0000"),
            &[
                "--server",
                &slogate.url,
                "--timeout",
                "3s",
                "--token-file",
                &file,
            ],
        ),
        &[],
    );
    assert_eq!(silent.status.code(), Some(2), "{}", text(&silent));
    let lines = asks(&silent);
    assert!((2..=4).contains(&lines.len()), "{}", text(&silent));
    assert!(
        lines.iter().all(|l| l.contains("inconclusive")),
        "{}",
        text(&silent)
    );
    assert!(started.elapsed().as_secs() < 20, "{}", text(&silent));
    let (_, page) = slogate.get("/api/v1/verdicts?service=financeanalyst-api&outcome=inconclusive");
    let newest = page["verdicts"][0]["id"].as_str().unwrap().to_string();
    let (_, detail) = slogate.get(&format!("/api/v1/verdicts/{newest}"));
    assert_eq!(detail["inputs"]["request"]["final"], true, "{detail:#}");
    let verdicts = page["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), lines.len(), "one verdict per ask: {page:#}");

    // A token the server refuses: exit 3 at once, the token never printed.
    let refused = run(
        &with(&canary("good-5c8b"), &server),
        &[("SLOGATE_TOKEN", "not-the-right-token-at-all")],
    );
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    let all = text(&refused);
    assert!(
        all.contains("refused the token") && !all.contains("not-the-right-token"),
        "{all}"
    );
}

#[test]
fn directly_against_prometheus_the_canary_and_slo_gates_decide_without_a_server() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let slos = concat!(env!("CARGO_MANIFEST_DIR"), "/slo-definitions");
    let direct = [
        "--prometheus",
        prometheus.url.as_str(),
        "--slos",
        slos,
        "--timeout",
        "30s",
    ];

    let good = run(&with(&canary("good-5c8b"), &direct), &[]);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    let bad = run(&with(&canary("bad-6f1a"), &direct), &[]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stdout).contains("exceeds baseline"),
        "{}",
        text(&bad)
    );

    let slo = |service: &str| {
        run(
            &with(
                &[
                    "slo".into(),
                    "--service".into(),
                    service.into(),
                    "--interval".into(),
                    "1s".into(),
                ],
                &direct,
            ),
            &[],
        )
    };
    let healthy = slo("reconciliation-backend");
    assert_eq!(healthy.status.code(), Some(0), "{}", text(&healthy));
    let burning = slo("mita-backend");
    assert_eq!(burning.status.code(), Some(1), "{}", text(&burning));
}

#[test]
fn errors_exit_3_naming_the_flag_and_an_unreachable_server_is_tolerated_max_errors_times() {
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let down = run(
        &with(
            &canary("good-5c8b"),
            &["--server", &nowhere, "--max-errors", "3", "--timeout", "1m"],
        ),
        &[],
    );
    assert_eq!(down.status.code(), Some(3), "{}", text(&down));
    assert_asks(&down, 3, "no answer (3 of 3 tolerated in a row)");

    for (args, flag) in [
        ("canary --service s --server http://x", "--baseline"),
        (
            "canary --service s --baseline a --canary a --server http://x",
            "--canary",
        ),
        ("slo --service s", "--server or --prometheus"),
        ("slo --service s --server ftp://x", "--server"),
        (
            "slo --service s --server http://x --interval soon",
            "--interval",
        ),
        (
            "slo --service s --server http://x --lookback 5m",
            "--lookback",
        ),
        ("slo", "--service"),
    ] {
        let args: Vec<&str> = args.split_whitespace().collect();
        let output = wait(&args, &[]);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(flag),
            "{args:?}: {}",
            text(&output)
        );
    }
}

#[test]
fn a_server_that_is_down_and_comes_back_is_ridden_out_and_its_verdict_decides() {
    // As during a slogate restart: the first asks find nothing listening, the server comes
    // up on the same address, and the next ask decides.
    let prometheus = PrometheusGuard::start(&example_scenario());
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stdout");
    let args = with(
        &canary("bad-6f1a"),
        &[
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "--max-errors",
            "60",
            "--timeout",
            "2m",
        ],
    );
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_slogate"))
            .arg("wait")
            .args(&args)
            .env("SLOGATE_TOKEN", TOKEN)
            .stdout(std::fs::File::create(&out).unwrap())
            .spawn()
            .unwrap(),
    );
    let printed = || std::fs::read_to_string(&out).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !printed().contains("no answer (2 of 60") {
        assert!(Instant::now() < deadline, "{}", printed());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut options = ServeOptions::new(&prometheus.url);
    options.port = Some(port);
    let _slogate = SlogateGuard::start(&options);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            panic!("slogate wait did not finish: {}", printed());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1), "{}", printed());
    let text = printed();
    assert!(text.contains("slogate wait: fail after"), "{text}");
    let unanswered = text.lines().filter(|l| l.contains("no answer")).count();
    assert!(unanswered >= 2, "{text}");
}

/// The `slogate wait` process, killed if the test ends first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
