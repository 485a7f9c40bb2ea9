//! slogate's own telemetry: logs (text or JSON on stderr), spans exported over OTLP/HTTP, and
//! the Prometheus metrics served on `GET /metrics`.
//!
//! [`init`] installs the process-wide pieces once, at start; the returned [`Telemetry`] renders
//! the metrics and flushes the spans on shutdown. Metric names live in [`names`], so every
//! caller and every dashboard agrees on them.

use std::fmt;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use metrics::Unit;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

use crate::source::redact;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The metric names slogate exports about itself, with their label keys.
///
/// Each is described (unit, help text) once, in [`init`]; callers only record.
pub mod names {
    /// Counter of HTTP requests answered. Labels: `route` (the matched route template, never
    /// the raw path, to bound cardinality), `method`, `status`.
    pub const HTTP_REQUESTS: &str = "slogate_http_requests_total";
    /// Histogram of HTTP request durations, in seconds. Labels: `route`.
    pub const HTTP_DURATION: &str = "slogate_http_request_duration_seconds";
    /// Counter of verdicts given. Labels: `kind` (`canary` | `slo`), `verdict` (`pass` | `fail`
    /// | `inconclusive`).
    pub const VERDICTS: &str = "slogate_verdicts_total";
    /// Histogram of Prometheus query durations, in seconds, retries included. Labels: `outcome`
    /// (`ok` | `error`).
    pub const PROMETHEUS_QUERY_DURATION: &str = "slogate_prometheus_query_duration_seconds";
    /// Counter of errors. Labels: `kind` (`prometheus` | `store` | `definitions` | `auth` |
    /// `request`).
    pub const ERRORS: &str = "slogate_errors_total";
    /// Counter of SLO definition reloads. Labels: `result` (`ok` | `error`).
    pub const DEFINITION_RELOADS: &str = "slogate_definition_reloads_total";
    /// Gauge of the SLOs in the definitions in force.
    pub const DEFINITIONS_LOADED: &str = "slogate_definitions_loaded_slos";
    /// Counter of verdict-history writes. Labels: `result` (`ok` | `error`).
    pub const HISTORY_WRITES: &str = "slogate_history_writes_total";
    /// Counter of spans received on `/v1/traces`. Labels: `result` (`accepted` | `rejected` |
    /// `ignored`: valid, but not of a service judged from traces).
    pub const SPANS: &str = "slogate_spans_total";
    /// Counter of span buckets written to the store (a bucket written again after late spans
    /// counts again); a flush that fails counts in `slogate_errors_total{kind="store"}`.
    pub const SPAN_BUCKETS_FLUSHED: &str = "slogate_span_buckets_flushed_total";
    /// Counter of notification attempts. Labels: `channel` (`slack` | `pagerduty` | `email`),
    /// `result` (`delivered` | `retry` | `rejected`: refused as invalid | `expired`: given up
    /// after the retry age).
    pub const NOTIFICATIONS: &str = "slogate_notifications_total";
    /// Gauge of messages waiting in the outbox.
    pub const OUTBOX_PENDING: &str = "slogate_outbox_pending";
    /// Gauge of Prometheus queries holding a permit of the query budget (at most
    /// `prometheus.max_concurrent_queries`).
    pub const PROMETHEUS_IN_FLIGHT: &str = "slogate_prometheus_queries_in_flight";
    /// Counter of catalog status lookups. Labels: `result` (`hit`: a cached or running
    /// evaluation served it | `miss`: a new evaluation | `off`: no cache configured).
    pub const STATUS_CACHE: &str = "slogate_status_cache_total";
}

/// Histogram buckets, in seconds: request and query latencies from 1 ms to 10 s. The gates'
/// deadline (8 s by default) and Argo's 10 s timeout sit inside the range, so a slow answer
/// still lands in a bucket that tells it apart from a fast one.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into buckets between scrapes: without it, an
/// unscraped slogate would hold every sample in memory.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// How long shutdown waits for the last spans to reach the collector, inside the pod's
/// termination grace period.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The environment variable that overrides `telemetry.log_filter`, as everywhere in Rust.
const LOG_ENV: &str = "RUST_LOG";

/// How slogate writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (a terminal).
    #[default]
    Text,
    /// One JSON object a line (a log pipeline).
    Json,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

impl FromStr for LogFormat {
    type Err = String;

    /// Parses `text` or `json` (the `--log-format` flag and `SLOGATE_LOG_FORMAT`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected text or json"
            )),
        }
    }
}

/// `telemetry:` in `slogate.yaml`.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// Log format: `text` or `json`.
    pub log_format: LogFormat,
    /// Which logs and spans to keep (tracing-subscriber's `EnvFilter` syntax); `RUST_LOG`, when
    /// set, wins, so a debugging session needs no config change.
    pub log_filter: String,
    /// Base URL of an OTLP/HTTP collector (e.g. `http://collector:4318`); spans go to
    /// `{endpoint}/v1/traces` as protobuf. None: no span export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            log_format: LogFormat::Text,
            log_filter: "info,slogate=info".to_string(),
            otlp_endpoint: None,
            service_name: "slogate".to_string(),
        }
    }
}

impl fmt::Debug for TelemetrySettings {
    /// Written by hand so that the settings in the start-up log never show credentials written
    /// into the collector's URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetrySettings")
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("otlp_endpoint", &self.otlp_endpoint.as_deref().map(redact))
            .field("service_name", &self.service_name)
            .finish()
    }
}

/// The installed telemetry: renders the metrics and owns span export until shutdown.
pub struct Telemetry {
    /// Reads the global recorder: `/metrics` renders through it.
    metrics: PrometheusHandle,
    /// Span export, when an endpoint is set; kept to flush it on shutdown, since the tracing
    /// layer holds it for the life of the process and would never flush on its own.
    tracer_provider: Option<SdkTracerProvider>,
    /// Drop guard of the upkeep thread: dropping it disconnects the channel, which stops the
    /// thread.
    _upkeep: mpsc::Sender<()>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("span_export", &self.tracer_provider.is_some())
            .finish_non_exhaustive()
    }
}

/// Installs the global tracing subscriber (logs in the configured format on stderr, filtered by
/// `log_filter` or `RUST_LOG`, plus OpenTelemetry span export when `otlp_endpoint` is set) and
/// the global `metrics` recorder, and describes every metric in [`names`].
///
/// Call once per process. Errors name the setting at fault: an invalid filter, an invalid
/// endpoint URL, or a recorder or subscriber installed already.
pub fn init(settings: &TelemetrySettings) -> anyhow::Result<Telemetry> {
    // Everything that can fail on the settings is built before anything global is installed,
    // so a bad setting leaves the process as it was.
    let rust_log = std::env::var(LOG_ENV).ok();
    let filter = log_filter(settings, rust_log.as_deref())?;
    let tracer_provider = match &settings.otlp_endpoint {
        Some(endpoint) => Some(tracer_provider(endpoint, &settings.service_name)?),
        None => None,
    };
    let recorder = metrics_builder()?.build_recorder();
    let handle = recorder.handle();

    metrics::set_global_recorder(recorder)
        .map_err(|_| anyhow!("telemetry: a metrics recorder is already installed"))?;
    describe_metrics();

    let otel_layer = tracer_provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("slogate")));
    let (text, json) = match settings.log_format {
        LogFormat::Text => (
            Some(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(otel_layer)
        .try_init()
        .context("telemetry: a tracing subscriber is already installed")?;

    Ok(Telemetry {
        metrics: handle.clone(),
        tracer_provider,
        _upkeep: spawn_upkeep(handle)?,
    })
}

impl Telemetry {
    /// The Prometheus text exposition of slogate's own metrics (served on `GET /metrics`).
    pub fn render(&self) -> String {
        self.metrics.render()
    }

    /// Flushes and shuts down span export (called on graceful shutdown). A failure is logged:
    /// there is nothing left to do about it while stopping.
    pub fn shutdown(&self) {
        if let Some(provider) = &self.tracer_provider
            && let Err(error) = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT)
        {
            tracing::warn!(%error, "telemetry: span export did not shut down cleanly");
        }
    }
}

/// The log filter: `RUST_LOG` when set and not blank, else `telemetry.log_filter`.
fn log_filter(settings: &TelemetrySettings, rust_log: Option<&str>) -> anyhow::Result<EnvFilter> {
    let (setting, directives) = match rust_log.filter(|v| !v.trim().is_empty()) {
        Some(v) => (LOG_ENV, v),
        None => ("telemetry.log_filter", settings.log_filter.as_str()),
    };
    EnvFilter::try_new(directives)
        .with_context(|| format!("{setting}: invalid filter {directives:?}"))
}

/// The OTLP/HTTP traces URL for a collector's base URL: `{endpoint}/v1/traces`, unless the
/// endpoint already names that path.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    const SETTING: &str = "telemetry.otlp_endpoint";
    let url = reqwest::Url::parse(endpoint.trim())
        .with_context(|| format!("{SETTING}: invalid URL {:?}", redact(endpoint)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(anyhow!(
            "{SETTING}: {:?} is not an http(s) URL with a host (e.g. http://collector:4318)",
            redact(endpoint)
        ));
    }
    let base = url.as_str().trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        Ok(base.to_string())
    } else {
        Ok(format!("{base}/v1/traces"))
    }
}

/// Span export to `endpoint` through a batch processor, which exports from its own thread so
/// request handling never waits on the collector.
fn tracer_provider(endpoint: &str, service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    let url = traces_url(endpoint)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .context("telemetry.otlp_endpoint: cannot build the OTLP span exporter")?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_string())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The Prometheus recorder's settings, shared by [`init`] and the tests.
fn metrics_builder() -> anyhow::Result<PrometheusBuilder> {
    PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)
        .context("telemetry: invalid histogram buckets")
}

/// Describes every metric in [`names`] to the recorder in force (units and help text).
fn describe_metrics() {
    metrics::describe_counter!(
        names::HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests answered, by route template, method and status."
    );
    metrics::describe_histogram!(
        names::HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by route template."
    );
    metrics::describe_counter!(
        names::VERDICTS,
        Unit::Count,
        "Verdicts given, by kind (canary, slo) and verdict (pass, fail, inconclusive)."
    );
    metrics::describe_histogram!(
        names::PROMETHEUS_QUERY_DURATION,
        Unit::Seconds,
        "Time a Prometheus query took, retries included, by outcome (ok, error)."
    );
    metrics::describe_counter!(
        names::ERRORS,
        Unit::Count,
        "Errors, by kind (prometheus, store, definitions, auth, request)."
    );
    metrics::describe_counter!(
        names::DEFINITION_RELOADS,
        Unit::Count,
        "SLO definition reloads, by result (ok, error); a failed reload keeps the previous set."
    );
    metrics::describe_gauge!(
        names::DEFINITIONS_LOADED,
        Unit::Count,
        "SLOs in the definitions in force."
    );
    metrics::describe_counter!(
        names::HISTORY_WRITES,
        Unit::Count,
        "Verdict-history writes, by result (ok, error)."
    );
    metrics::describe_counter!(
        names::SPANS,
        Unit::Count,
        "Spans received on /v1/traces, by result (accepted or rejected)."
    );
    metrics::describe_counter!(
        names::SPAN_BUCKETS_FLUSHED,
        Unit::Count,
        "Span buckets written to the store for the other replicas and restarts."
    );
    metrics::describe_counter!(
        names::NOTIFICATIONS,
        Unit::Count,
        "Notification attempts, by channel and result (delivered, retry, rejected, expired)."
    );
    metrics::describe_gauge!(
        names::OUTBOX_PENDING,
        Unit::Count,
        "Messages waiting in the notification outbox."
    );
    metrics::describe_gauge!(
        names::PROMETHEUS_IN_FLIGHT,
        Unit::Count,
        "Prometheus queries in flight (holding a permit of the query budget)."
    );
    metrics::describe_counter!(
        names::STATUS_CACHE,
        Unit::Count,
        "Catalog status lookups, by result (hit, miss, off)."
    );
}

/// Starts the thread that runs the recorder's upkeep; it stops when the returned sender drops.
fn spawn_upkeep(handle: PrometheusHandle) -> anyhow::Result<mpsc::Sender<()>> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("slogate-metrics-upkeep".to_string())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(UPKEEP_INTERVAL) {
                handle.run_upkeep();
            }
        })
        .context("telemetry: cannot start the metrics upkeep thread")?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_recorder_renders_the_described_metrics_under_their_names() {
        let recorder = metrics_builder().expect("valid buckets").build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe_metrics();
            metrics::counter!(names::VERDICTS, "kind" => "canary", "verdict" => "pass")
                .increment(2);
            metrics::counter!(names::ERRORS, "kind" => "prometheus").increment(1);
            metrics::gauge!(names::DEFINITIONS_LOADED).set(7.0);
            metrics::histogram!(names::HTTP_DURATION, "route" => "/api/v1/gates/canary")
                .record(0.003);
        });
        let text = handle.render();
        assert!(
            text.contains(r#"slogate_verdicts_total{kind="canary",verdict="pass"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"slogate_errors_total{kind="prometheus"} 1"#),
            "{text}"
        );
        assert!(text.contains("slogate_definitions_loaded_slos 7"), "{text}");
        assert!(
            text.contains("# HELP slogate_verdicts_total Verdicts given"),
            "{text}"
        );
        // Buckets, not a summary: the 3 ms request falls in the 5 ms bucket and above.
        assert!(
            text.contains(
                r#"slogate_http_request_duration_seconds_bucket{route="/api/v1/gates/canary",le="0.005"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"slogate_http_request_duration_seconds_bucket{route="/api/v1/gates/canary",le="0.0025"} 0"#
            ),
            "{text}"
        );
    }

    #[test]
    fn settings_default_every_key_and_refuse_unknown_ones() {
        let settings: TelemetrySettings =
            serde_saphyr::from_str("log_format: json\n").expect("parses");
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(settings.log_filter, "info,slogate=info");
        assert_eq!(settings.service_name, "slogate");
        assert_eq!(settings.otlp_endpoint, None);
        assert!(serde_saphyr::from_str::<TelemetrySettings>("log_fromat: json\n").is_err());
        assert!(serde_saphyr::from_str::<TelemetrySettings>("log_format: xml\n").is_err());
    }

    #[test]
    fn log_format_parses_from_flags_and_env() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("Text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
        assert_eq!(LogFormat::Json.to_string(), "json");
    }

    #[test]
    fn traces_go_to_v1_traces_under_the_endpoint() {
        let url = |e: &str| traces_url(e).expect("valid");
        assert_eq!(
            url("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            url("https://otel.example.com/otlp/v1/traces"),
            "https://otel.example.com/otlp/v1/traces"
        );
    }

    #[test]
    fn a_bad_endpoint_names_the_setting() {
        for bad in [
            "collector:4318",
            "not a url",
            "ftp://collector:4318",
            "http://",
        ] {
            let error = traces_url(bad).expect_err(bad).to_string();
            assert!(
                error.starts_with("telemetry.otlp_endpoint:"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn credentials_in_the_collector_url_are_never_shown() {
        let settings = TelemetrySettings {
            otlp_endpoint: Some("http://otel:it's a (secret)@collector:4318".into()),
            ..TelemetrySettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("***@collector:4318"), "{shown}");
        let error = traces_url("ftp://otel:it's a (secret)@collector")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn a_bad_filter_names_the_setting_or_rust_log() {
        let bad = TelemetrySettings {
            log_filter: "slogate=loud".to_string(),
            ..TelemetrySettings::default()
        };
        let error = log_filter(&bad, None).expect_err("invalid").to_string();
        assert!(error.starts_with("telemetry.log_filter:"), "{error}");
        let error = log_filter(&TelemetrySettings::default(), Some("slogate=loud"))
            .expect_err("invalid")
            .to_string();
        assert!(error.starts_with("RUST_LOG:"), "{error}");
        // A blank RUST_LOG is no override.
        assert!(log_filter(&TelemetrySettings::default(), Some("  ")).is_ok());
    }

    /// The only test that installs globals: a second `init` in the same process must fail and
    /// say why rather than panic.
    #[test]
    fn init_installs_once_and_a_second_init_names_the_recorder() {
        let telemetry = init(&TelemetrySettings::default()).expect("first init");
        metrics::counter!(names::HISTORY_WRITES, "result" => "ok").increment(1);
        assert!(
            telemetry
                .render()
                .contains(r#"slogate_history_writes_total{result="ok"} 1"#)
        );
        let error = init(&TelemetrySettings::default())
            .expect_err("second init")
            .to_string();
        assert!(
            error.contains("metrics recorder is already installed"),
            "{error}"
        );
        telemetry.shutdown();
    }
}
