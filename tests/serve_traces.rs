//! Canary statistics from traces: the real OpenTelemetry Python SDK exports server spans of
//! each version to `slogate serve`, and the canary gate judges them (a 30% slower canary fails
//! the latency check, an equal one passes, also asked like Argo at ten looks, 5% errors
//! against 0.1% fails). Then the receiver's conformance: the OTLP example, gzip, truncated,
//! garbage, oversized and mistyped bodies.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::examples::CHECKOUT_TRACES as DEFINITION;
use support::slogate::{ServeOptions, SlogateGuard, TOKEN};

/// The Python with the OpenTelemetry SDK (`scripts/test` makes `target/pyenv`).
fn python() -> PathBuf {
    std::env::var_os("SLOGATE_TEST_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python"),
        PathBuf::from,
    )
}

/// Spans end within the nine minutes before the anchor: nine paired minutes for the gate's
/// latency test (it judges per-minute medians), all inside the 10-minute window.
const SPREAD_SECS: i64 = 540;

/// The instant the spans end before and the gate's windows end at: a second past the last
/// whole minute (the span store buckets by clock minute), so every version's spans fall in
/// the same minutes on every machine, however long the exports take, and the last minute
/// holds only two seconds of them: the sparse minute the gate must not weigh like a full one
/// (a CI run met it by chance and failed the slow canary).
fn anchor() -> i64 {
    let now = chrono::Utc::now().timestamp();
    (now - 1).div_euclid(60) * 60 + 1
}

fn export(
    slogate: &SlogateGuard,
    version: &str,
    median_ms: f64,
    error_ratio: f64,
    seed: u32,
    end: i64,
) {
    export_over(
        slogate,
        version,
        median_ms,
        error_ratio,
        seed,
        SPREAD_SECS,
        end,
    );
}

fn export_over(
    slogate: &SlogateGuard,
    version: &str,
    median_ms: f64,
    error_ratio: f64,
    seed: u32,
    spread_secs: i64,
    end: i64,
) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/export_spans.py");
    let out = Command::new(python())
        .arg(script)
        .args([&slogate.url, TOKEN, "checkout", version, "2000"])
        .arg(median_ms.to_string())
        .arg(error_ratio.to_string())
        .arg(seed.to_string())
        .arg(spread_secs.to_string())
        .arg(end.to_string())
        .output()
        .expect("python with opentelemetry-sdk (scripts/test installs it in target/pyenv)");
    assert!(
        out.status.success(),
        "exporter failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        slogate.log()
    );
}

fn definitions() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkout.yaml");
    std::fs::write(&file, DEFINITION).unwrap();
    (dir, file)
}

/// Asks the gate about the 10 minutes up to the anchor (a second past it: windows are
/// half-open and a span may end at the anchor).
fn gate(slogate: &SlogateGuard, canary: &str, anchor: i64) -> Value {
    let end = anchor + 1;
    let body = format!(
        r#"{{"service":"checkout","baseline":{{"version":"v1"}},"canary":{{"version":"{canary}"}},
            "window":{{"start":"{}","end":"{end}"}}}}"#,
        end - 600
    );
    let (status, verdict) = slogate.post("/api/v1/gates/canary", &body);
    assert_eq!(status, 200, "{verdict:#}");
    verdict
}

fn check<'a>(verdict: &'a Value, name: &str) -> &'a Value {
    verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {verdict:#}"))
}

#[test]
fn spans_from_the_opentelemetry_sdk_decide_the_canary() {
    let (_dir, slos) = definitions();
    let mut options = ServeOptions::new("http://127.0.0.1:9");
    options.slos = slos;
    let slogate = SlogateGuard::start(&options);
    let anchor = anchor();
    export(&slogate, "v1", 100.0, 0.001, 1, anchor);
    export(&slogate, "v2-same", 100.0, 0.001, 2, anchor);
    export(&slogate, "v3-slow", 130.0, 0.001, 3, anchor);
    export(&slogate, "v4-errors", 100.0, 0.05, 4, anchor);

    let same = gate(&slogate, "v2-same", anchor);
    assert_eq!(same["verdict"], "pass", "{same:#}");
    assert_eq!(check(&same, "latency")["source"], "traces");
    assert_eq!(
        check(&same, "latency")["baseline"]["n"],
        2000,
        "every duration: {same:#}"
    );

    let slow = gate(&slogate, "v3-slow", anchor);
    assert_eq!(slow["verdict"], "fail", "{slow:#}");
    assert_eq!(check(&slow, "latency")["verdict"], "fail", "{slow:#}");
    assert_ne!(
        check(&slow, "errors")["verdict"],
        "fail",
        "same error rate: {slow:#}"
    );

    let errors = gate(&slogate, "v4-errors", anchor);
    assert_eq!(errors["verdict"], "fail", "{errors:#}");
    assert_eq!(check(&errors, "errors")["verdict"], "fail", "{errors:#}");
    assert_eq!(
        check(&errors, "errors")["canary"]["n"],
        2000,
        "counts are exact: {errors:#}"
    );

    let silent = gate(&slogate, "v9-never-deployed", anchor);
    assert_eq!(silent["verdict"], "inconclusive", "{silent:#}");
}

#[test]
fn an_equal_canary_asked_like_argo_passes_at_each_of_ten_looks() {
    let (_dir, slos) = definitions();
    let mut options = ServeOptions::new("http://127.0.0.1:9");
    options.slos = slos;
    let slogate = SlogateGuard::start(&options);
    let now = anchor();
    // Ten minutes of spans: the first ask's window holds the oldest minute of them.
    export_over(&slogate, "v1", 100.0, 0.001, 11, 600, now);
    export_over(&slogate, "v2", 100.0, 0.001, 12, 600, now);
    // Argo's asks a minute apart, each a 10-minute lookback, the first a minute into the
    // spans, given as explicit windows so the test need not wait; the tenth ask is the last.
    for look in 1..=10i64 {
        let end = now - 60 * (10 - look);
        let body = format!(
            r#"{{"service":"checkout","baseline":{{"version":"v1"}},"canary":{{"version":"v2"}},
                "window":{{"start":"{}","end":"{end}"}},"final":{}}}"#,
            end - 600,
            look == 10
        );
        let (status, verdict) = slogate.post("/api/v1/gates/canary", &body);
        assert_eq!(status, 200, "{verdict:#}");
        assert_eq!(verdict["verdict"], "pass", "look {look}: {verdict:#}");
        for name in ["latency", "errors"] {
            let evidence = &check(&verdict, name)["sequential"];
            assert_eq!(evidence["look"], look, "{verdict:#}");
            assert!(
                evidence["e_value"].as_f64().unwrap() < evidence["threshold"].as_f64().unwrap(),
                "{verdict:#}"
            );
        }
    }
}

/// The OTLP example of the specification's repository, as JSON.
fn example() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference/otlp/trace.example.json");
    std::fs::read_to_string(path).unwrap()
}

/// slogate's span counters, sorted (the exposition order is not fixed).
fn accepted_spans(slogate: &SlogateGuard) -> Vec<String> {
    let (_, metrics) = slogate.request("GET", "/metrics", None, None, &[]);
    let mut lines: Vec<String> = metrics
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("slogate_spans_total"))
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

fn post_raw(
    slogate: &SlogateGuard,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (u16, Vec<u8>, String) {
    let mut request = reqwest::blocking::Client::new()
        .post(format!("{}/v1/traces", slogate.url))
        .bearer_auth(TOKEN)
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, response.bytes().unwrap().to_vec(), content_type)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn the_receiver_answers_as_the_otlp_specification_says() {
    let (_dir, slos) = definitions();
    let mut options = ServeOptions::new("http://127.0.0.1:9");
    options.slos = slos;
    options.config = "traces: {max_body_bytes: 65536}\n".into();
    let slogate = SlogateGuard::start(&options);
    let json = [("content-type", "application/json")];
    let protobuf = [("content-type", "application/x-protobuf")];

    // The example as is: valid OTLP/JSON of a service slogate does not judge: accepted, not kept.
    let (status, body, content_type) = post_raw(&slogate, example().into_bytes(), &json);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "application/json");
    // The example as a span of `checkout`: no version attribute, and from 2018: refused, as a
    // partial success naming why.
    let ours = example().replace("my.service", "checkout");
    let (status, body, content_type) = post_raw(&slogate, ours.into_bytes(), &json);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "application/json");
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let partial = &answer["partialSuccess"];
    let rejected = &partial["rejectedSpans"];
    assert!(rejected == "1" || rejected == 1, "{answer:#}");
    assert!(
        !partial["errorMessage"].as_str().unwrap_or("").is_empty(),
        "{answer:#}"
    );

    // The same, gzipped.
    let gz = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let (status, _, _) = post_raw(&slogate, gzip(example().as_bytes()), &gz);
    assert_eq!(status, 200);

    let before = accepted_spans(&slogate);
    let cases: Vec<BadBody> = vec![
        (
            "garbage JSON",
            b"{\"resourceSpans\": [".to_vec(),
            &json,
            400,
        ),
        ("garbage protobuf", vec![0xff; 64], &protobuf, 400),
        ("truncated protobuf", truncated_protobuf(), &protobuf, 400),
        ("garbage gzip", b"not gzip at all".to_vec(), &gz, 400),
        ("oversized", vec![b' '; 100 * 1024], &json, 413),
        ("gzip bomb", gzip(&vec![b' '; 64 << 20]), &gz, 413),
        (
            "another content type",
            b"x".to_vec(),
            &[("content-type", "text/plain")],
            415,
        ),
    ];
    for (name, body, headers, status) in cases {
        let (got, answer, _) = post_raw(&slogate, body, headers);
        assert_eq!(got, status, "{name}: {}", String::from_utf8_lossy(&answer));
    }
    assert_eq!(
        accepted_spans(&slogate),
        before,
        "nothing of a refused body is stored"
    );
    let (status, _, _) = {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/v1/traces", slogate.url))
            .header("content-type", "application/json")
            .body(example())
            .send()
            .unwrap();
        (response.status().as_u16(), (), ())
    };
    assert_eq!(status, 401, "the receiver takes the API tokens too");
}

/// A refused body: name, bytes, headers, expected status.
type BadBody<'a> = (&'a str, Vec<u8>, &'a [(&'a str, &'a str)], u16);

/// A valid protobuf export cut in the middle of a field.
fn truncated_protobuf() -> Vec<u8> {
    // resourceSpans (field 1, length-delimited) announcing 200 bytes, followed by 3.
    vec![0x0a, 0xc8, 0x01, 0x0a, 0x02, 0x0a]
}

#[test]
fn an_overloaded_receiver_answers_429_with_retry_after() {
    use std::io::Read;
    let (_dir, slos) = definitions();
    let mut options = ServeOptions::new("http://127.0.0.1:9");
    options.slos = slos;
    options.config = "traces: {max_concurrent_exports: 1}\n".into();
    let slogate = SlogateGuard::start(&options);
    let body = example();
    // One export whose body arrives slowly holds the only admission.
    let address = slogate.url.trim_start_matches("http://").to_string();
    let mut slow = std::net::TcpStream::connect(&address).unwrap();
    write!(
        slow,
        "POST /v1/traces HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    slow.flush().unwrap();
    let json = [("content-type", "application/json")];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let refused = loop {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/v1/traces", slogate.url))
            .bearer_auth(TOKEN)
            .header(json[0].0, json[0].1)
            .body(body.clone())
            .send()
            .unwrap();
        if response.status().as_u16() == 429 {
            break response;
        }
        assert!(std::time::Instant::now() < deadline, "never refused");
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    // The slow export completes and is answered; then the receiver takes exports again.
    slow.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = [0u8; 12];
    slow.read_exact(&mut answer).unwrap();
    assert_eq!(
        &answer,
        b"HTTP/1.1 200",
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let (status, _, _) = post_raw(&slogate, body.into_bytes(), &json);
    assert_eq!(status, 200);
}
