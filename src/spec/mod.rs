//! SLO definitions: one canonical model ([`model`]) read from slogate's own format
//! ([`native`]), Sloth specs ([`sloth`]) and OpenSLO documents ([`openslo`]).
//!
//! Reading goes file -> YAML documents with a path index ([`yaml`]) -> a format's serde types
//! -> the model, with small shared checks ([`check`]) recording problems by field path; the
//! loader ([`load`]) places each problem in its file as `FILE:LINE:COL`.

pub mod alert;
pub mod alert_windows;
pub mod check;
pub mod dashboard;
pub mod diagnostic;
pub mod duration;
pub mod load;
mod load_alerts;
pub mod model;
pub mod native;
pub mod openslo;
pub mod pacing;
pub mod query;
pub mod routing;
pub mod sloth;
pub mod windows;
pub mod yaml;

pub use dashboard::{DashboardSpec, HistogramRef, TRAFFIC_WINDOW, Traffic};
pub use diagnostic::{Diagnostic, Severity};
pub use duration::PromDuration;
pub use load::{Catalog, LoadReport, load_paths, load_texts};
pub use model::*;
pub use pacing::Pacing;
pub use query::QueryTemplate;
pub use routing::{AlertRouting, InhibitSpec, KubernetesMetadata, Smtp, TeamRouting};
