//! slogate: the SLO gatekeeper for progressive delivery.
//!
//! Layout (see DESIGN.md in the project's shared notes):
//! - [`spec`]: SLO definitions (slogate's format, Sloth, OpenSLO) read into one validated model,
//!   with located errors.
//! - [`generate`]: pure generators from the model (Prometheus rules, Alertmanager routing,
//!   Grafana dashboards, Argo Rollouts templates) and the writer of generated files.
//! - [`source`]: fetching data (the Prometheus client).
//! - [`analysis`]: pure computation on fetched data (SLO status and the error-budget gate).
//! - [`evaluate`]: runs an evaluation: plan, fetch, analyse (shared by the CLI and the server).
//! - [`verdict`]: the verdict every gate answers with.
//! - [`conventions`], [`numfmt`]: the names slogate gives to what it generates; number format.
//! - [`causes`]: an error in words with its causes.
//!
//! - [`server`]: `slogate serve`, the HTTP gates, history and status API, the status pages
//!   (`server::pages`) ([`config`] its settings, [`connections`] its read timeouts and shutdown
//!   grace, [`store`] the SQLite verdict history, [`telemetry`] its own logs, spans, metrics).
//!
//! - [`notify`]: Slack, PagerDuty and email delivery through the durable outbox in [`store`].
//!
//! - [`report`]: the weekly SLO email (figures from [`evaluate`], sent through the outbox).

pub mod analysis;
pub mod causes;
pub mod config;
pub mod connections;
pub mod conventions;
pub mod evaluate;
pub mod generate;
pub mod notify;
pub mod numfmt;
pub mod report;
pub mod server;
pub mod source;
pub mod spec;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod verdict;
