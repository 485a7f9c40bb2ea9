use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::*;
use crate::source::traces::testkit::{
    NOW, by_service_version, failed, int, request, resource, server_span, text, with,
};

/// Spans that ended within the last two hours and up to five minutes ahead.
fn accepting() -> Accepting {
    let now = NOW as u64 * 1_000_000_000;
    Accepting {
        oldest_ns: now - 7200 * 1_000_000_000,
        newest_ns: now + 300 * 1_000_000_000,
    }
}

fn extract_all(request: &ExportTraceServiceRequest) -> Extracted<'_> {
    extract(request, &by_service_version, accepting())
}

#[test]
fn a_server_span_gives_its_service_version_operation_duration_and_end() {
    let sent = request("checkout", "v1", vec![server_span("GET /cart", 30.0, 0.25)]);
    let out = extract_all(&sent);
    assert_eq!((out.rejected, out.ignored), (0, 0));
    let facts = &out.spans[0];
    assert_eq!(
        (facts.service, facts.version.as_ref(), facts.operation),
        ("checkout", "v1", "GET /cart")
    );
    assert!((facts.seconds - 0.25).abs() < 1e-9, "{}", facts.seconds);
    assert_eq!(facts.end_ns, (NOW as u64 - 30) * 1_000_000_000);
    assert!(!facts.error);
}

#[test]
fn the_version_comes_from_the_span_first_then_from_the_resource() {
    let hash = "k8s.pod.label.rollouts-pod-template-hash";
    let on_span = with(server_span("a", 1.0, 0.1), vec![text(hash, "6d8f")]);
    let on_resource = server_span("b", 1.0, 0.1);
    let as_integer = with(server_span("c", 1.0, 0.1), vec![int(hash, 42)]);
    let sent = ExportTraceServiceRequest {
        resource_spans: vec![resource(
            vec![text("service.name", "checkout"), text(hash, "77c4")],
            vec![on_span, on_resource, as_integer],
        )],
    };
    let out = extract(&sent, &|_| Some(hash.to_string()), accepting());
    let versions: Vec<_> = out.spans.iter().map(|f| f.version.as_ref()).collect();
    assert_eq!(versions, ["6d8f", "77c4", "42"]);
}

#[test]
fn errors_are_status_error_or_an_http_status_of_500_and_above() {
    let spans = vec![
        failed(server_span("status", 1.0, 0.1)),
        with(
            server_span("new", 1.0, 0.1),
            vec![int("http.response.status_code", 503)],
        ),
        with(
            server_span("old", 1.0, 0.1),
            vec![text("http.status_code", "500")],
        ),
        with(
            server_span("client error", 1.0, 0.1),
            vec![int("http.response.status_code", 404)],
        ),
        with(
            server_span("ok", 1.0, 0.1),
            vec![int("http.response.status_code", 200)],
        ),
        with(
            server_span("junk", 1.0, 0.1),
            vec![text("http.status_code", "oops")],
        ),
    ];
    let sent = request("checkout", "v1", spans);
    let errors: Vec<_> = extract_all(&sent).spans.iter().map(|f| f.error).collect();
    assert_eq!(errors, [true, true, true, false, false, false]);
}

#[test]
fn only_server_spans_of_judged_services_are_kept_and_the_rest_ignored() {
    let mut client = server_span("call", 1.0, 0.1);
    client.kind = SpanKind::Client as i32;
    let mut unspecified = server_span("unspecified", 1.0, 0.1);
    unspecified.kind = SpanKind::Unspecified as i32;
    let sent = request(
        "checkout",
        "v1",
        vec![client, unspecified, server_span("s", 1.0, 0.1)],
    );
    let out = extract_all(&sent);
    assert_eq!((out.spans.len(), out.ignored, out.rejected), (1, 2, 0));
    let out = extract(&sent, &|_| None, accepting());
    assert_eq!((out.spans.len(), out.ignored, out.rejected), (0, 3, 0));
}

#[test]
fn each_refused_span_is_counted_and_the_first_reason_names_it() {
    let mut backwards = server_span("backwards", 1.0, 0.1);
    backwards.start_time_unix_nano = backwards.end_time_unix_nano + 1;
    let mut no_start = server_span("no start", 1.0, 0.1);
    no_start.start_time_unix_nano = 0;
    let cases = [
        (backwards, "ends before it starts"),
        (no_start, "no start time"),
        (server_span("old", 7201.0, 0.1), "before the retention"),
        (server_span("ahead", -301.0, 0.1), "in the future"),
        (
            server_span(&"x".repeat(257), 1.0, 0.1),
            "name is longer than 256 bytes",
        ),
    ];
    for (span, reason) in cases {
        let sent = request("checkout", "v1", vec![span, server_span("fine", 1.0, 0.1)]);
        let out = extract_all(&sent);
        assert_eq!((out.spans.len(), out.rejected), (1, 1), "{reason}");
        let message = out.first_error.unwrap_or_default();
        assert!(message.contains(reason), "{message}");
        assert!(message.contains("of service \"checkout\""), "{message}");
        assert!(
            message.contains("trace 01010101010101010101010101010101"),
            "{message}"
        );
    }
    // Right at the edges: accepted.
    let sent = request(
        "checkout",
        "v1",
        vec![
            server_span("oldest", 7200.0, 0.1),
            server_span("newest", -300.0, 0.1),
        ],
    );
    assert_eq!(extract_all(&sent).spans.len(), 2);
}

#[test]
fn spans_without_a_service_name_or_version_are_refused_and_the_first_reason_kept() {
    let nameless = ExportTraceServiceRequest {
        resource_spans: vec![
            resource(
                vec![],
                vec![server_span("a", 1.0, 0.1), server_span("b", 1.0, 0.1)],
            ),
            resource(
                vec![text("service.name", "checkout")],
                vec![server_span("c", 1.0, 0.1)],
            ),
        ],
    };
    let out = extract_all(&nameless);
    assert_eq!((out.spans.len(), out.rejected), (0, 3));
    let message = out.first_error.unwrap_or_default();
    assert!(message.starts_with("span \"a\""), "{message}");
    assert!(message.contains("no service.name"), "{message}");
    let versionless = ExportTraceServiceRequest {
        resource_spans: nameless.resource_spans[1..].to_vec(),
    };
    let out = extract(&versionless, &by_service_version, accepting());
    let message = out.first_error.unwrap_or_default();
    assert!(message.contains("\"service.version\""), "{message}");
}
