//! `slogate serve` when things break: Prometheus killed or slower than the deadline, a broken
//! definition file, a kill -9 in the middle of a burst. Each must behave as documented and
//! never answer `pass` without evidence.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::prometheus::PrometheusGuard;
use support::proxy::{Fault, FaultyProxy};
use support::slogate::{ServeOptions, SlogateGuard, copy_definitions, example_scenario};

const CANARY: &str = r#"{"service":"financeanalyst-api","baseline":{"version":"stable-7d9f"},"canary":{"version":"good-5c8b"},"lookback":"10m"}"#;
const SLO: &str = r#"{"service":"reconciliation-backend"}"#;

fn reason_of(verdict: &Value) -> String {
    verdict["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["reason"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

#[test]
fn a_dead_or_slow_prometheus_gives_inconclusive_with_the_reason() {
    let mut prometheus = PrometheusGuard::start(&example_scenario());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let slow = runtime.block_on(FaultyProxy::start(
        &prometheus.url,
        Fault::Delay(Duration::from_secs(5)),
    ));
    // Slower than the deadline: every attempt may take 1.5 s, and two attempts do not fit in 2 s.
    let mut options = ServeOptions::new(&slow.url);
    options.config =
        "request_deadline: 2s\nprometheus: {query_timeout: 1500ms, retries: 1}\n".into();
    let behind_proxy = SlogateGuard::start(&options);
    let (status, verdict) = behind_proxy.post("/api/v1/gates/canary", CANARY);
    assert_eq!(status, 200, "{verdict:#}");
    assert_eq!(verdict["verdict"], "inconclusive", "{verdict:#}");
    assert!(
        reason_of(&verdict).contains("deadline of 2s"),
        "{verdict:#}"
    );
    let (status, stored) = behind_proxy.get(&format!(
        "/api/v1/verdicts/{}",
        verdict["id"].as_str().unwrap()
    ));
    assert_eq!(
        status, 200,
        "the inconclusive verdict is in the history: {stored:#}"
    );

    let mut direct = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    direct.wait_for("/readyz", 200);
    let (_, before) = direct.post("/api/v1/gates/canary", CANARY);
    assert_eq!(before["verdict"], "pass", "{before:#}");
    prometheus.stop();
    for (path, body) in [("/api/v1/gates/canary", CANARY), ("/api/v1/gates/slo", SLO)] {
        let (status, verdict) = direct.post(path, body);
        assert_eq!(status, 200, "{verdict:#}");
        assert_eq!(verdict["verdict"], "inconclusive", "{path}: {verdict:#}");
        assert!(
            reason_of(&verdict).contains("unreachable"),
            "{path}: {verdict:#}"
        );
    }

    // Never ready before Prometheus has answered.
    let unready = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    let (status, ready) = unready.request("GET", "/readyz", None, None, &[]);
    assert_eq!(status, 503, "{ready:#}");
    drop(slow);
}

#[test]
fn a_broken_definition_file_is_refused_and_the_last_good_set_stays() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let dir = tempfile::tempdir().unwrap();
    let slos = copy_definitions(dir.path());
    let mut options = ServeOptions::new(&prometheus.url);
    options.slos = slos.clone();
    options.config = "reload_interval: 1h\n".into();
    let slogate = SlogateGuard::start(&options);
    let file = slos.join("financeanalyst-api.yaml");
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, good.replacen("objective: ", "objective: 150 #", 1)).unwrap();

    let (status, outcome) = slogate.post("/api/v1/reload", "");
    assert_eq!(status, 422, "{outcome:#}");
    assert_eq!(outcome["applied"], false);
    let errors = outcome["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.as_str().unwrap().contains("financeanalyst-api.yaml:")),
        "the error names the file: {outcome:#}"
    );
    let (status, verdict) = slogate.post("/api/v1/gates/canary", CANARY);
    assert_eq!(
        (status, verdict["verdict"].as_str()),
        (200, Some("pass")),
        "{verdict:#}"
    );

    // SIGHUP reloads too: the refusal is counted and logged.
    slogate.signal("HUP");
    let metric = r#"slogate_definition_reloads_total{result="error"} 2"#;
    wait_until(|| {
        let (_, m) = slogate.request("GET", "/metrics", None, None, &[]);
        m.as_str().unwrap_or("").contains(metric)
    });
    assert!(
        slogate.log().contains("previous set stays in force"),
        "{}",
        slogate.log()
    );

    // A fixed file is taken.
    std::fs::write(&file, good).unwrap();
    let (status, outcome) = slogate.post("/api/v1/reload", "");
    assert_eq!(status, 200, "{outcome:#}");
    assert_eq!(outcome["applied"], true);
}

#[test]
fn an_edit_on_disk_is_picked_up_without_a_signal() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let dir = tempfile::tempdir().unwrap();
    let slos = copy_definitions(dir.path());
    let mut options = ServeOptions::new(&prometheus.url);
    options.slos = slos.clone();
    options.config = "reload_interval: 1s\n".into();
    let slogate = SlogateGuard::start(&options);
    // A new service appears in a new file; the poll notices and loads it.
    let copy = std::fs::read_to_string(slos.join("reconciliation-backend.yaml")).unwrap();
    let renamed = copy.replace("service: reconciliation-backend", "service: ledger");
    std::fs::write(slos.join("ledger.yaml"), renamed).unwrap();
    wait_until(|| {
        let (_, m) = slogate.request("GET", "/metrics", None, None, &[]);
        m.as_str()
            .unwrap_or("")
            .contains(r#"slogate_definition_reloads_total{result="ok"} 1"#)
    });
    let (status, verdict) = slogate.post("/api/v1/gates/slo", r#"{"service":"ledger"}"#);
    assert_eq!(status, 200, "the new service is known: {verdict:#}");
}

#[test]
fn kill_9_during_a_burst_loses_no_answered_verdict() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let options = ServeOptions::new(&prometheus.url);
    let mut slogate = SlogateGuard::start(&options);
    slogate.wait_for("/readyz", 200);
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let url = slogate.url.clone();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let answered = answered.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                loop {
                    let sent = client
                        .post(format!("{url}/api/v1/gates/slo"))
                        .bearer_auth(support::slogate::TOKEN)
                        .header("Content-Type", "application/json")
                        .body(SLO)
                        .send();
                    // Only a complete answer counts as answered.
                    let Ok(response) = sent else { return };
                    let Ok(verdict) = response.json::<Value>() else {
                        return;
                    };
                    if let Some(id) = verdict["id"].as_str() {
                        answered.lock().unwrap().push(id.to_string());
                    }
                }
            })
        })
        .collect();
    wait_until(|| answered.lock().unwrap().len() >= 40);
    slogate.signal("KILL");
    for worker in workers {
        worker.join().unwrap();
    }
    let ids = answered.lock().unwrap().clone();
    let dir = slogate.into_dir();
    let restarted = SlogateGuard::start_in(dir, &options);
    for id in &ids {
        let (status, stored) = restarted.get(&format!("/api/v1/verdicts/{id}"));
        assert_eq!(status, 200, "answered verdict {id} lost: {stored:#}");
    }
    eprintln!(
        "{} answered verdicts, all in the history after kill -9",
        ids.len()
    );
}

#[test]
fn a_read_only_history_still_answers_but_never_with_an_unrecorded_pass() {
    use std::os::unix::fs::PermissionsExt;
    let prometheus = PrometheusGuard::start(&example_scenario());
    let options = ServeOptions::new(&prometheus.url);
    // A first run creates the database and stores one verdict; SIGTERM closes it cleanly.
    let mut first = SlogateGuard::start(&options);
    let (_, kept) = first.post("/api/v1/gates/slo", SLO);
    first.signal("TERM");
    assert!(first.wait_exit().success());
    let dir = first.into_dir();
    let db = dir.path().join("history.db");
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    // Read-only file in a read-only directory; slogate runs as nobody when the tests run as
    // root, so the permissions bind. The directory stays traversable for nobody.
    mode(&db, 0o444);
    mode(dir.path(), 0o555);
    let mut read_only = options.clone();
    read_only.unprivileged = true;
    read_only.db = Some(db.clone());
    let restore = Restore(dir.path().to_path_buf());
    let slogate = SlogateGuard::start(&read_only);
    assert!(slogate.log().contains("read-only"), "{}", slogate.log());

    let (status, pass) = slogate.post("/api/v1/gates/canary", CANARY);
    assert_eq!(status, 200, "{pass:#}");
    assert_eq!(
        pass["verdict"], "inconclusive",
        "a pass nobody can look up: {pass:#}"
    );
    assert!(
        pass["summary"]
            .as_str()
            .unwrap()
            .contains("not written to the history"),
        "{pass:#}"
    );
    let bad = CANARY.replace("good-5c8b", "bad-6f1a");
    let (_, fail) = slogate.post("/api/v1/gates/canary", &bad);
    assert_eq!(fail["verdict"], "fail", "a fail stays a fail: {fail:#}");
    // The history written before is still readable.
    let (status, stored) = slogate.get(&format!(
        "/api/v1/verdicts/{}",
        kept["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200, "{stored:#}");
    let (_, metrics) = slogate.request("GET", "/metrics", None, None, &[]);
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains(r#"slogate_history_writes_total{result="error"} 2"#),
        "{metrics}"
    );
    drop(slogate);
    drop(restore);
}

/// Makes a directory writable again when the test ends, so the temp dir can be removed.
struct Restore(std::path::PathBuf);

impl Drop for Restore {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

/// Polls `condition` until it holds (at most 30 s).
fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_partial_answer_is_never_judged() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let thanos = support::counting::CountingProxy::partial(
        &prometheus.url,
        "partial response: store eu-west-1 did not answer",
    );
    let slogate = SlogateGuard::start(&ServeOptions::new(&thanos.url));
    let (status, verdict) = slogate.post("/api/v1/gates/slo", SLO);
    assert_eq!(status, 200, "{verdict:#}");
    assert_eq!(verdict["verdict"], "inconclusive", "{verdict:#}");
    let reason = reason_of(&verdict);
    assert!(
        reason.contains("only in part") && reason.contains("store eu-west-1"),
        "{reason}"
    );
    // The same data, whole, passes: the warning alone made the difference.
    let whole = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    let (_, verdict) = whole.post("/api/v1/gates/slo", SLO);
    assert_eq!(verdict["verdict"], "pass", "{verdict:#}");
}
