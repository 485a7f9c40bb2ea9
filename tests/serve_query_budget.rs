//! The process-wide query budget and the status cache, on a real `slogate serve` in front of a
//! real Prometheus, with a counting proxy between them (what Prometheus sees):
//!
//! - while the overview is requested 20 times in parallel (35 services, a Prometheus slowed to
//!   20 queries at a time, a second each), a canary gate still gets its decisive verdict, and
//!   the queries in flight at Prometheus never exceed `prometheus.max_concurrent_queries`;
//! - page views within the cache's TTL share one catalog evaluation (also when they arrive at
//!   once), the API answers from the same one, and both show its age.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::counting::{CountingProxy, Slowness};
use support::prometheus::PrometheusGuard;
use support::slogate::{
    ServeOptions, SlogateGuard, TOKEN, example_scenario as scenario, with_extra_services,
};

/// Services added to the examples, so that one overview is hundreds of queries.
const EXTRA_SERVICES: usize = 30;
/// The budget the tests configure: 8 in flight, 4 kept for gates.
const LIMIT: usize = 8;
const RESERVED: usize = 4;

fn serve(prometheus: &str, slos: &Path, config: &str) -> SlogateGuard {
    let mut options = ServeOptions::new(prometheus);
    options.slos = slos.to_path_buf();
    options.config = config.to_string();
    let mut slogate = SlogateGuard::start(&options);
    slogate.wait_for("/readyz", 200);
    slogate
}

/// Polls `condition` every 20 ms until it holds; panics after `within`.
fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET /` with the token: status and body.
fn overview(client: &reqwest::blocking::Client, url: &str) -> (u16, String) {
    let answer = client
        .get(format!("{url}/"))
        .bearer_auth(TOKEN)
        .send()
        .expect("the overview answers");
    let status = answer.status().as_u16();
    (status, answer.text().unwrap_or_default())
}

/// `GET /` over a plain connection: says on `sent` once the request is written, then reads
/// the answer; its status.
fn overview_raw(url: &str, sent: &std::sync::mpsc::Sender<()>) -> u16 {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    sent.send(()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).to_string();
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {head:?}"))
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[test]
fn a_canary_gate_gets_a_decisive_verdict_while_twenty_overviews_load_and_prometheus_never_sees_more_than_the_limit()
 {
    let prometheus = PrometheusGuard::start(&scenario());
    // A busy Prometheus: 20 queries evaluated at once (its default), a second each. The 20
    // views share one catalog evaluation (280 queries, still running after the pages
    // gave up at their deadline); unbounded, those would all queue at Prometheus ahead of the
    // gate's. Tried with the limit lifted (100000, nothing reserved): the gate answers
    // inconclusive.
    let proxy = CountingProxy::start(
        &prometheus.url,
        Some(Slowness {
            delay: Duration::from_secs(1),
            max_concurrency: 20,
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let slos = with_extra_services(dir.path(), EXTRA_SERVICES);
    let config = format!(
        "prometheus: {{max_concurrent_queries: {LIMIT}, reserved_for_gates: {RESERVED}}}\n"
    );
    let slogate = serve(&proxy.url, &slos, &config);

    let (sent, requested) = std::sync::mpsc::channel();
    let pages: Vec<_> = (0..20)
        .map(|_| {
            let (url, sent) = (slogate.url.clone(), sent.clone());
            std::thread::spawn(move || overview_raw(&url, &sent))
        })
        .collect();
    // Every page view has been asked for, and they are loading: every permit they may take
    // is in use at Prometheus, and dozens of their queries went through. Only then does the
    // gate ask.
    for _ in 0..20 {
        requested.recv_timeout(Duration::from_secs(30)).unwrap();
    }
    wait_until("the overviews' queries", Duration::from_secs(30), || {
        proxy.in_flight() >= LIMIT - RESERVED && proxy.queries() >= 12
    });
    let body = r#"{"service": "financeanalyst-api", "baseline": {"version": "stable-7d9f"},
                   "canary": {"version": "good-5c8b"}, "lookback": "10m"}"#;
    let (status, verdict) = slogate.post("/api/v1/gates/canary", body);
    let in_flight_after_gate = proxy.in_flight();
    let statuses: Vec<u16> = pages.into_iter().map(|p| p.join().unwrap()).collect();

    assert_eq!(status, 200, "{verdict:#}");
    assert_eq!(
        verdict["verdict"], "pass",
        "decisive, not a deadline: {verdict:#}"
    );
    let checks = verdict["checks"].as_array().unwrap();
    assert!(
        checks.iter().all(|c| c["name"] != "deadline"),
        "{verdict:#}"
    );
    assert!(
        in_flight_after_gate > 0,
        "the gate was answered while the pages were still loading"
    );
    for status in &statuses {
        assert!(
            [200, 503].contains(status),
            "a page is either shown or refused past its deadline: {statuses:?}"
        );
    }
    assert!(
        proxy.peak() <= LIMIT,
        "Prometheus saw {} queries at once; the limit is {LIMIT}",
        proxy.peak()
    );
    assert!(
        proxy.peak() >= LIMIT - RESERVED,
        "the load did reach the budget"
    );
    eprintln!(
        "peak in flight at Prometheus: {} (limit {LIMIT}); queries: {}; pages: {statuses:?}",
        proxy.peak(),
        proxy.queries()
    );
}

#[test]
fn page_views_within_the_ttl_share_one_catalog_evaluation_and_show_its_age() {
    let prometheus = PrometheusGuard::start(&scenario());
    let proxy = CountingProxy::start(&prometheus.url, None);
    let dir = tempfile::tempdir().unwrap();
    let slos = with_extra_services(dir.path(), 5);
    let config = "status_cache_ttl: 10m\n";
    let first = serve(&proxy.url, &slos, config);
    let http = client();

    let before = proxy.queries();
    let (status, page) = overview(&http, &first.url);
    assert_eq!(status, 200, "{page}");
    let one_evaluation = proxy.queries() - before;
    assert!(
        one_evaluation >= 10,
        "one query per service and window: {one_evaluation}"
    );
    assert!(page.contains("shared for up to 600 s"), "{page}");
    // The figure docs/benchmarks.md quotes (`-- --nocapture` shows it).
    eprintln!("one catalog evaluation: {one_evaluation} queries");

    let (status, again) = overview(&http, &first.url);
    assert_eq!(status, 200);
    let (status, api) = first.get("/api/v1/slos");
    assert_eq!(status, 200, "{api:#}");
    assert_eq!(
        proxy.queries() - before,
        one_evaluation,
        "the second view and the API were served from the first evaluation"
    );
    assert!(again.contains(" s ago; shared for up to 600 s"), "{again}");
    assert!(api["age_seconds"].as_i64().unwrap() >= 0, "{api:#}");
    assert_eq!(api["cache_ttl_seconds"], 600.0);
    assert_eq!(api["slos"].as_array().unwrap().len(), 11 + 5 * 2);
    let (_, metrics) = first.request("GET", "/metrics", None, None, &[]);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains(r#"slogate_status_cache_total{result="hit"} 2"#),
        "{metrics}"
    );

    // A cold cache and ten views at once: still one evaluation (single flight).
    let second = serve(&proxy.url, &slos, config);
    let before = proxy.queries();
    let views: Vec<_> = (0..10)
        .map(|_| {
            let url = second.url.clone();
            std::thread::spawn(move || overview(&client(), &url).0)
        })
        .collect();
    let statuses: Vec<u16> = views.into_iter().map(|v| v.join().unwrap()).collect();
    assert_eq!(statuses, vec![200; 10]);
    assert_eq!(proxy.queries() - before, one_evaluation);
}

#[test]
fn a_budget_that_leaves_pages_nothing_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("slogate.yaml");
    std::fs::write(
        &config,
        "prometheus: {max_concurrent_queries: 3, reserved_for_gates: 3}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slogate"))
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("prometheus.reserved_for_gates"), "{stderr}");
}
