"""Exports server spans to slogate with the real OpenTelemetry Python SDK (tests/serve_traces.rs).

One run is one version of one service: COUNT server spans whose durations are log-normal
around MEDIAN_MS (seeded, so a run is reproducible), a share ERROR_RATIO of them with status
ERROR, ending within the SPREAD_S seconds (default 240) before END_S (unix seconds; default now: a
test that gives it has the same minutes on every machine, however long the exports take). The SDK's own OTLP/HTTP protobuf exporter sends them
in batches, exactly as an instrumented service would.

usage: export_spans.py ENDPOINT TOKEN SERVICE VERSION COUNT MEDIAN_MS ERROR_RATIO SEED [SPREAD_S [END_S]]
"""

import random
import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def main() -> None:
    endpoint, token, service, version = sys.argv[1:5]
    count, median_ms = int(sys.argv[5]), float(sys.argv[6])
    error_ratio, seed = float(sys.argv[7]), int(sys.argv[8])
    spread = int(sys.argv[9]) if len(sys.argv) > 9 else 240
    rng = random.Random(seed)
    resource = Resource.create({"service.name": service, "service.version": version})
    exporter = OTLPSpanExporter(
        endpoint=f"{endpoint}/v1/traces",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512))
    tracer = provider.get_tracer("slogate-test")
    now = int(sys.argv[10]) * 1_000_000_000 if len(sys.argv) > 10 else time.time_ns()
    for i in range(count):
        duration_ns = int(rng.lognormvariate(0.0, 0.4) * median_ms * 1e6)
        end = now - rng.randrange(0, spread) * 1_000_000_000
        span = tracer.start_span(
            "GET /api/v1/orders",
            kind=SpanKind.SERVER,
            start_time=end - duration_ns,
            attributes={"http.request.method": "GET", "http.route": "/api/v1/orders"},
        )
        if rng.random() < error_ratio:
            span.set_attribute("http.response.status_code", 500)
            span.set_status(Status(StatusCode.ERROR))
        else:
            span.set_attribute("http.response.status_code", 200)
        span.end(end_time=end)
    if not provider.force_flush(timeout_millis=30_000):
        sys.exit("the spans were not all exported within 30 s")
    provider.shutdown()


if __name__ == "__main__":
    main()
