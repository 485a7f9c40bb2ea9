//! slogate: the SLO gatekeeper for progressive delivery.
//!
//! Layout (see DESIGN.md in the project's shared notes):
//! - [`spec`]: SLO definitions (slogate's format, Sloth, OpenSLO) read into one validated model,
//!   with located errors.
//! - [`conventions`]: the names slogate gives to what it generates.
//!
//! Still to come, each in its own module: `generate` (rules, Alertmanager, Grafana, Argo),
//! `source` (Prometheus, traces), `analysis` (SLO and canary statistics), `verdict`, `store`,
//! `notify`, `report`, `server`.

pub mod analysis;
pub mod conventions;
pub mod evaluate;
pub mod generate;
pub mod numfmt;
pub mod source;
pub mod spec;
pub mod verdict;
