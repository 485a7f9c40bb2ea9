//! slogate's own telemetry: spans exported over OTLP/HTTP to the configured endpoint (here a
//! local receiver that records what arrives), and its metrics on `/metrics`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, example_scenario};

/// One HTTP request as received: request line, content type, body length.
#[derive(Debug)]
struct Received {
    line: String,
    content_type: String,
    body: usize,
}

/// A minimal OTLP/HTTP receiver: answers every request 200 with an empty protobuf
/// (`ExportTraceServiceResponse` with no partial success) and reports it on the channel.
fn receiver() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut length, mut content_type) = (0usize, String::new());
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (k, v) = header.split_once(':').unwrap();
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => length = v.trim().parse().unwrap(),
                            "content-type" => content_type = v.trim().to_string(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    writer
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                        .unwrap();
                    let _ = tx.send(Received {
                        line: line.trim_end().to_string(),
                        content_type,
                        body: length,
                    });
                }
            });
        }
    });
    (url, rx)
}

#[test]
fn spans_reach_the_configured_otlp_endpoint_and_metrics_count_requests() {
    let prometheus = PrometheusGuard::start(&example_scenario());
    let (collector, received) = receiver();
    let mut options = ServeOptions::new(&prometheus.url);
    options.config = format!("telemetry:\n  otlp_endpoint: {collector}\n  log_format: json\n");
    let mut slogate = SlogateGuard::start(&options);
    let (status, verdict) = slogate.post(
        "/api/v1/gates/slo",
        r#"{"service":"reconciliation-backend"}"#,
    );
    assert_eq!(status, 200, "{verdict:#}");
    let (_, metrics) = slogate.request("GET", "/metrics", None, None, &[]);
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains(
            r#"slogate_http_requests_total{route="/api/v1/gates/slo",method="POST",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("slogate_prometheus_query_duration_seconds_bucket"),
        "{metrics}"
    );
    // SIGTERM flushes the spans still batched.
    slogate.signal("TERM");
    assert!(slogate.wait_exit().success(), "{}", slogate.log());
    let export = received
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no span export arrived:\n{}", slogate.log()));
    assert_eq!(export.line, "POST /v1/traces HTTP/1.1", "{export:?}");
    assert_eq!(export.content_type, "application/x-protobuf", "{export:?}");
    assert!(export.body > 0, "{export:?}");
    // JSON logs: every line is an object.
    let log = slogate.log();
    let first = log.lines().next().unwrap_or("");
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "{log}"
    );
}
