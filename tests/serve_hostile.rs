//! `slogate serve` tried as an attacker would (issue 16): made-up methods, a password full of
//! quotes, a login that wants to leave the site, errors answered outside the JSON shape,
//! connections that never finish a request, a database deleted under it. Each
//! test runs against the real binary on a loopback port and fails on the weakness it names.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, TOKEN};

/// A Prometheus that refuses every connection: these tests need none.
const NO_PROMETHEUS: &str = "http://127.0.0.1:1";

/// `host:port` of a server URL.
fn address(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Sends `request` as raw bytes and reads the answer until the server closes.
fn raw(url: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address(url)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn made_up_methods_add_no_series_to_metrics() {
    let slogate = SlogateGuard::start(&ServeOptions::new(NO_PROMETHEUS));
    let long = "X".repeat(8 * 1024);
    let mut methods: Vec<String> = (0..20).map(|i| format!("MADEUP{i}")).collect();
    methods.push(long.clone());
    for method in &methods {
        let answer = raw(
            &slogate.url,
            format!("{method} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert!(answer.starts_with("HTTP/1.1 "), "{method:.20}: {answer:?}");
    }
    let (status, metrics) = slogate.request("GET", "/metrics", None, None, &[]);
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    assert!(!metrics.contains("MADEUP"), "{metrics}");
    assert!(
        !metrics.contains(&long[..64]),
        "the 8 KiB method is a label"
    );
    assert!(
        metrics.contains(r#"method="other""#),
        "made-up methods are counted as `other`: {metrics}"
    );
}

#[test]
fn a_prometheus_password_full_of_quotes_reaches_no_log_and_no_verdict() {
    // Each piece is something the old redaction stopped at, leaving the rest on show.
    let url = "http://slogate:it's)a\"long pass@127.0.0.1:1";
    let secret_pieces = ["it's", "a\"long", "long pass", "pass@"];
    let slogate = SlogateGuard::start(&ServeOptions::new(url));
    let (status, verdict) = slogate.post(
        "/api/v1/gates/slo",
        r#"{"service":"reconciliation-backend"}"#,
    );
    assert_eq!(status, 200, "{verdict:#}");
    assert_eq!(verdict["verdict"], "inconclusive", "{verdict:#}");
    let id = verdict["id"].as_str().unwrap();
    let (status, stored) = slogate.get(&format!("/api/v1/verdicts/{id}"));
    assert_eq!(status, 200, "{stored:#}");
    assert_eq!(
        stored["inputs"]["prometheus"], "http://***@127.0.0.1:1",
        "{stored:#}"
    );
    let log = slogate.log();
    assert!(log.contains("***@127.0.0.1:1"), "{log}");
    for shown in [verdict.to_string(), stored.to_string(), log] {
        for piece in secret_pieces {
            assert!(!shown.contains(piece), "{piece:?} shown in:\n{shown}");
        }
    }
}

#[test]
fn the_login_never_sends_a_browser_to_another_site() {
    let slogate = SlogateGuard::start(&ServeOptions::new(NO_PROMETHEUS));
    let client = no_redirects();
    // Percent-encoded form values: TAB, LF and a backslash, each of which a browser drops or
    // reads as `/`, turning the path into `//evil.example/x`.
    for next in [
        "%2F%09%2Fevil.example%2Fx",
        "%2F%0A%2Fevil.example%2Fx",
        "%2F%5Cevil.example%2Fx",
    ] {
        let response = client
            .post(format!("{}/login", slogate.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={TOKEN}&next={next}"))
            .send()
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "{next}: {}",
            response.status()
        );
        assert_eq!(response.headers()["location"], "/", "{next}");
    }
    let response = client
        .post(format!("{}/login", slogate.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}&next=%2Fverdicts%3Fservice%3Da"))
        .send()
        .unwrap();
    assert_eq!(response.headers()["location"], "/verdicts?service=a");
}

/// The documented error shape: `{"error": {"code", "message"}}` as `application/json`.
fn assert_json_error(response: reqwest::blocking::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let text = response.text().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], code, "{body:#}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body:#}"
    );
}

/// `method path` on the API with the test token, and a JSON body when given.
fn api(
    slogate: &SlogateGuard,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> reqwest::blocking::Response {
    let mut request = no_redirects()
        .request(method, format!("{}{path}", slogate.url))
        .header("Authorization", format!("Bearer {TOKEN}"));
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    request.send().unwrap()
}

#[test]
fn every_api_error_answers_the_documented_json() {
    use reqwest::Method;
    let slogate = SlogateGuard::start(&ServeOptions::new(NO_PROMETHEUS));
    // Past `max_body_bytes` (64 KiB by default).
    let big = format!(r#"{{"service":"{}"}}"#, "a".repeat(100 * 1024));
    for path in [
        "/api/v1/gates/canary",
        "/api/v1/gates/slo",
        "/api/v1/gates/flagger",
    ] {
        let response = api(&slogate, Method::POST, path, Some(&big));
        assert_json_error(response, 413, "payload_too_large");
    }
    for path in [
        "/api/v1/verdicts?limit=many",
        "/api/v1/gates/slo?service=a&unknown=1",
        "/api/v1/gates/slo?slo=availability",
    ] {
        let response = api(&slogate, Method::GET, path, None);
        assert_json_error(response, 400, "bad_request");
    }
    let response = api(&slogate, Method::DELETE, "/api/v1/verdicts", None);
    assert!(
        response.headers().contains_key("allow"),
        "405 keeps its Allow header"
    );
    assert_json_error(response, 405, "method_not_allowed");
}

/// Reads until the server closes the connection (or 30 s pass); whether it closed, and what it
/// sent before.
fn read_until_closed(stream: &mut TcpStream) -> (bool, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return (true, String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (true, String::from_utf8_lossy(&answer).into_owned());
            }
            Err(_) => return (false, String::from_utf8_lossy(&answer).into_owned()),
        }
    }
}

#[test]
fn a_client_that_never_finishes_its_headers_or_body_is_cut_off() {
    let mut options = ServeOptions::new(NO_PROMETHEUS);
    options.config = "connections: {header_read_timeout: 1s, body_read_timeout: 1s}\n".into();
    let slogate = SlogateGuard::start(&options);

    let mut headers = TcpStream::connect(address(&slogate.url)).unwrap();
    headers
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let (closed, _) = read_until_closed(&mut headers);
    assert!(closed, "a connection with half-sent headers stays open");

    let mut body = TcpStream::connect(address(&slogate.url)).unwrap();
    body.write_all(
        format!(
            "POST /api/v1/gates/slo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"service\":"
        )
        .as_bytes(),
    )
    .unwrap();
    let (_, answer) = read_until_closed(&mut body);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer:?}");
    assert!(answer.contains("application/json"), "{answer:?}");
}

#[test]
fn sigterm_does_not_wait_for_connections_that_never_sent_a_request() {
    let mut options = ServeOptions::new(NO_PROMETHEUS);
    // Neither timeout would end these connections before the test's own bound.
    options.config = "connections: {header_read_timeout: 5m, shutdown_grace: 5m}\n".into();
    let mut slogate = SlogateGuard::start(&options);
    let mut half_open: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect(address(&slogate.url)).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // A request answered on the same server: the half-open ones have been accepted by then
    // as surely as this one (one accept loop, in order).
    let (status, _) = slogate.request("GET", "/healthz", None, None, &[]);
    assert_eq!(status, 200);
    slogate.signal("TERM");
    let exit = slogate.wait_exit();
    assert!(exit.success(), "{exit}\n{}", slogate.log());
    assert!(
        slogate
            .log()
            .contains("every request in flight was answered"),
        "{}",
        slogate.log()
    );
    for stream in &mut half_open {
        let (closed, _) = read_until_closed(stream);
        assert!(closed);
    }
}

#[test]
fn a_database_deleted_while_serving_fails_writes_and_readiness() {
    let prometheus = PrometheusGuard::start_live("global: {}\nscrape_configs: []\n", &[]);
    let mut slogate = SlogateGuard::start(&ServeOptions::new(&prometheus.url));
    slogate.wait_for("/readyz", 200);
    let gate = r#"{"service":"reconciliation-backend"}"#;
    let (status, verdict) = slogate.post("/api/v1/gates/slo", gate);
    assert_eq!(status, 200, "{verdict:#}");
    let id = verdict["id"].as_str().unwrap().to_string();
    assert_eq!(slogate.get(&format!("/api/v1/verdicts/{id}")).0, 200);

    std::fs::remove_file(&slogate.db).unwrap();
    slogate.wait_for("/readyz", 503);
    let (_, ready) = slogate.request("GET", "/readyz", None, None, &[]);
    assert_eq!(
        ready["history"], "the database file was deleted or replaced",
        "{ready:#}"
    );
    assert!(
        !ready.to_string().contains(".db"),
        "no path on an open endpoint: {ready:#}"
    );

    let (status, verdict) = slogate.post("/api/v1/gates/slo", gate);
    assert_eq!(status, 200, "{verdict:#}");
    assert_ne!(verdict["verdict"], "pass", "{verdict:#}");
    let (_, metrics) = slogate.request("GET", "/metrics", None, None, &[]);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains(r#"slogate_history_writes_total{result="error"} 1"#),
        "{metrics}"
    );
    assert!(
        slogate.log().contains("deleted or moved away"),
        "{}",
        slogate.log()
    );
}

#[test]
fn without_a_token_a_browser_s_simple_posts_and_rebound_hosts_are_refused() {
    let mut options = ServeOptions::new(NO_PROMETHEUS);
    options.tokens = Vec::new();
    let slogate = SlogateGuard::start(&options);
    let gate = format!("{}/api/v1/gates/slo", slogate.url);
    let body = r#"{"service":"financy-api"}"#;
    // What a page on another site can post without a preflight: a form, or text/plain.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = no_redirects()
            .post(&gate)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .unwrap();
        assert_json_error(response, 415, "unsupported_media_type");
    }
    let response = no_redirects().post(&gate).body(body).send().unwrap();
    assert_json_error(response, 415, "unsupported_media_type");
    // DNS rebinding: the page's own hostile name, resolved to 127.0.0.1.
    let response = no_redirects()
        .get(format!("{}/api/v1/verdicts", slogate.url))
        .header("Host", "rebind.evil.example:8080")
        .send()
        .unwrap();
    assert_json_error(response, 421, "not_loopback_host");
    // The developer's own calls: JSON to localhost or 127.0.0.1.
    let response = no_redirects()
        .post(&gate)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().unwrap()
    );
    let response = no_redirects()
        .get(format!("{}/api/v1/verdicts", slogate.url))
        .header("Host", "localhost")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[test]
fn a_token_opens_only_the_routes_of_its_scopes() {
    let secrets = tempfile::tempdir().unwrap();
    let file = |name: &str, token: &str| {
        let path = secrets.path().join(name);
        std::fs::write(&path, format!("{token}\n")).unwrap();
        path.display().to_string()
    };
    let (otel, argo, viewer) = (
        "otel-exporter-token-0001",
        "argo-rollouts-token-0001",
        "dashboard-viewer-token-01",
    );
    let mut options = ServeOptions::new(NO_PROMETHEUS);
    options.config = format!(
        "auth:\n  scoped_tokens:\n  - {{file: {}, scopes: [ingest]}}\n  \
         - {{file: {}, scopes: [gate]}}\n  - {{file: {}, scopes: [read]}}\n",
        file("otel", otel),
        file("argo", argo),
        file("viewer", viewer)
    );
    let slogate = SlogateGuard::start(&options);
    let status = |token: &str, method: &str, path: &str, body: Option<&str>| {
        slogate.request(method, path, body, Some(token), &[]).0
    };
    let gate = r#"{"service":"financy-api"}"#;
    let spans = r#"{"resourceSpans":[]}"#;
    // (token, ingest, gate, read, admin): 403 for a valid token without the scope.
    for (token, expected) in [
        (otel, [200, 403, 403, 403]),
        (argo, [403, 200, 403, 403]),
        (viewer, [403, 403, 200, 403]),
        (TOKEN, [200, 200, 200, 200]),
    ] {
        let seen = [
            status(token, "POST", "/v1/traces", Some(spans)),
            status(token, "POST", "/api/v1/gates/slo", Some(gate)),
            status(token, "GET", "/api/v1/verdicts", None),
            status(token, "POST", "/api/v1/reload", Some("{}")),
        ];
        assert_eq!(seen, expected, "{token}: {}", slogate.log());
    }
    let response = no_redirects()
        .post(format!("{}/api/v1/reload", slogate.url))
        .header("Authorization", format!("Bearer {argo}"))
        .send()
        .unwrap();
    assert_json_error(response, 403, "forbidden");
    // The pages need read: a gate token does not sign in, a viewer's does.
    let login = |token: &str| {
        no_redirects()
            .post(format!("{}/login", slogate.url))
            .form(&[("token", token), ("next", "/")])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(login(argo), 401);
    assert_eq!(login(viewer), 303);
}

#[test]
fn a_write_locked_database_does_not_hold_the_answer_past_the_deadline() {
    let prometheus = PrometheusGuard::start(&support::slogate::example_scenario());
    let mut options = ServeOptions::new(&prometheus.url);
    options.config = "request_deadline: 2s\nprometheus: {query_timeout: 1s}\n".to_string();
    let slogate = SlogateGuard::start(&options);
    let ask = |client: &Client| {
        client
            .post(format!("{}/api/v1/gates/slo", slogate.url))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/json")
            .body(r#"{"service": "reconciliation-backend"}"#)
            .send()
    };
    let free: Value = ask(&no_redirects()).unwrap().json().unwrap();
    assert_eq!(free["verdict"], "pass", "{free:#}");

    // Another process holds the write lock; SQLite's own busy wait is 5 s. Argo gives up at
    // 10 s; this client at 5 s, so only an answer bounded by the 2 s deadline arrives.
    let lock = rusqlite::Connection::open(&slogate.db).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let impatient = Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let locked: Value = ask(&impatient)
        .expect("answered within Argo's patience")
        .json()
        .unwrap();
    lock.execute_batch("ROLLBACK").unwrap();
    assert_eq!(locked["verdict"], "inconclusive", "{locked:#}");
    let summary = locked["summary"].as_str().unwrap();
    assert!(
        summary.contains("not written to the history") && summary.contains("deadline"),
        "{summary}"
    );
}

#[test]
fn past_max_connections_a_new_connection_is_answered_503_and_a_freed_slot_serves_again() {
    let mut options = ServeOptions::new(NO_PROMETHEUS);
    options.config = "connections: {max_connections: 3}\n".to_string();
    let slogate = SlogateGuard::start(&options);
    // Three clients that never finish their headers hold every slot.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(address(&slogate.url)).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    let probe = || {
        raw(
            &slogate.url,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    };
    let refused = probe();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too_many_connections"), "{refused}");
    drop(held);
    // The slots come back as the server sees the connections close.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answer = probe();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer}");
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

#[test]
fn a_token_past_its_rate_is_answered_429_with_retry_after() {
    let mut options = ServeOptions::new(NO_PROMETHEUS);
    // One request a second on average, three at once: asked ten times in a row (far under a
    // second), the first three pass and the rest wait.
    options.config = "rate_limit: {per_second: 1, burst: 3}\n".to_string();
    let slogate = SlogateGuard::start(&options);
    let answers: Vec<reqwest::blocking::Response> = (0..10)
        .map(|_| api(&slogate, reqwest::Method::GET, "/api/v1/verdicts", None))
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    let refused = answers
        .into_iter()
        .find(|r| r.status().as_u16() == 429)
        .unwrap_or_else(|| panic!("no request refused: {statuses:?}"));
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, 1);
    assert_json_error(refused, 429, "rate_limited");
    // Spans are bounded by the receiver's own limits, not by the token's rate.
    let (status, body) = slogate.request(
        "POST",
        "/v1/traces",
        Some(r#"{"resourceSpans":[]}"#),
        Some(TOKEN),
        &[],
    );
    assert_eq!(status, 200, "{body}");
}
