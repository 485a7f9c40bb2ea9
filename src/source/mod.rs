//! Sources: where slogate fetches the data it judges, and nothing more.
//!
//! A source turns a question (a PromQL query at a time, over a range) into plain values
//! ([`Sample`], [`Series`]) or a typed error ([`SourceError`]) that says which query failed and
//! whether trying again later could help. The judging itself lives in `analysis`, which never
//! imports this module: evaluators fetch here, then hand the values over.
//!
//! - [`prometheus`]: PromQL over Prometheus' HTTP API, with a timeout per query, bounded retries
//!   of transient failures and concurrent batches.
//!
//! - [`traces`]: OTLP spans as `slogate serve` receives them (decoding, bounded time windows
//!   with exact counts and reservoir-sampled durations).

pub mod prometheus;
pub mod traces;

pub use prometheus::{
    BudgetSettings, Priority, PrometheusSettings, PrometheusSource, QueryBudget, QuerySource,
    Sample, Series, SettingsError, SourceError, redact,
};
