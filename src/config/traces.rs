//! `traces:`: the OTLP receiver's limits and the span windows' settings, read and checked.

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, invalid};
use crate::source::traces::{CensusLimits, DecodeLimits, FlushSettings, SpanSettings};

/// `traces:`: the OTLP receiver (`POST /v1/traces`) and the memory it may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// Largest export body accepted as sent (gzip or not), in bytes.
    pub max_body_bytes: usize,
    /// Largest body once inflated, in bytes (a gzip bomb stops here).
    pub max_inflated_bytes: usize,
    /// Exports decoded at once; more are answered 429 with Retry-After.
    pub max_concurrent_exports: usize,
    /// Most spans in one export, counted before decoding (past it: 413).
    pub max_spans_per_export: usize,
    /// Most attributes in one export (every key-value pair and array element), counted before
    /// decoding (past it: 413).
    pub max_attributes_per_export: usize,
    /// Memory shared by the exports being decoded at once, in bytes: inflated bodies and the
    /// bound of their decoded requests. An export that does not fit beside the others is
    /// answered 503 with Retry-After; one that could never fit, 413.
    pub decode_budget_bytes: usize,
    /// Width of a span window (time bucket).
    pub window: String,
    /// How long spans are kept.
    pub retention: String,
    /// Span durations kept per window, service, version and operation (uniform sample).
    pub reservoir: usize,
    /// Upper bound of the memory the span windows hold, in bytes.
    pub max_bytes: usize,
    /// How often closed span windows are written to the store, for the other replicas and
    /// restarts.
    pub flush_interval: String,
    /// How long after its end a span window waits for late spans before it is first written.
    pub flush_grace: String,
}

impl Default for TracesConfig {
    fn default() -> Self {
        TracesConfig {
            max_body_bytes: 4 << 20,
            max_inflated_bytes: 32 << 20,
            max_concurrent_exports: 8,
            max_spans_per_export: 100_000,
            max_attributes_per_export: 1_000_000,
            decode_budget_bytes: 128 << 20,
            window: "1m".to_string(),
            retention: "2h".to_string(),
            reservoir: 1024,
            max_bytes: 64 << 20,
            flush_interval: "5s".to_string(),
            flush_grace: "10s".to_string(),
        }
    }
}

/// The receiver's settings, checked.
#[derive(Debug, Clone)]
pub struct TracesSettings {
    /// As [`TracesConfig::max_body_bytes`].
    pub max_body_bytes: usize,
    /// As [`TracesConfig::max_inflated_bytes`].
    pub max_inflated_bytes: usize,
    /// As [`TracesConfig::max_concurrent_exports`].
    pub max_concurrent_exports: usize,
    /// Per-export limits: inflated size, spans, attributes.
    pub decode: DecodeLimits,
    /// As [`TracesConfig::decode_budget_bytes`].
    pub decode_budget_bytes: usize,
    /// The span store's settings.
    pub spans: SpanSettings,
    /// When closed span windows are written to the store.
    pub flush: FlushSettings,
}

impl TracesConfig {
    pub(super) fn settings(
        &self,
        duration: &dyn Fn(&str, &str) -> Result<Duration, ConfigError>,
    ) -> Result<TracesSettings, ConfigError> {
        let t = self;
        let at_least = |setting: &str, value: usize, min: usize| {
            if value < min {
                Err(invalid(setting, format!("must be at least {min}")))
            } else {
                Ok(value)
            }
        };
        Ok(TracesSettings {
            max_body_bytes: at_least("traces.max_body_bytes", t.max_body_bytes, 1024)?,
            max_inflated_bytes: at_least("traces.max_inflated_bytes", t.max_inflated_bytes, 1024)?,
            max_concurrent_exports: at_least(
                "traces.max_concurrent_exports",
                t.max_concurrent_exports,
                1,
            )?,
            decode: DecodeLimits {
                max_inflated: t.max_inflated_bytes,
                census: CensusLimits {
                    max_spans: at_least("traces.max_spans_per_export", t.max_spans_per_export, 1)?,
                    max_attributes: t.max_attributes_per_export,
                },
            },
            decode_budget_bytes: at_least(
                "traces.decode_budget_bytes",
                t.decode_budget_bytes,
                t.max_inflated_bytes.max(1 << 20),
            )?,
            spans: {
                let reservoir = at_least("traces.reservoir", t.reservoir, 16)?;
                let budget = at_least("traces.max_bytes", t.max_bytes, 1 << 20)?;
                SpanSettings {
                    window: duration("traces.window", &t.window)?,
                    retention: duration("traces.retention", &t.retention)?,
                    reservoir,
                    max_buckets: SpanSettings::max_buckets_for(budget, reservoir),
                }
            },
            flush: FlushSettings {
                interval: duration("traces.flush_interval", &t.flush_interval)?,
                grace: duration("traces.flush_grace", &t.flush_grace)?,
            },
        })
    }
}
