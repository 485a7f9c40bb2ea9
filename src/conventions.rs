//! Names slogate puts on what it generates: metric names, label keys, rule-group names.
//! One place, so generators, evaluators and docs agree.

/// Label carrying the service name on every generated series and alert.
pub const LABEL_SERVICE: &str = "slo_service";
/// Label carrying the SLO name.
pub const LABEL_SLO: &str = "slo_name";
/// Label carrying the window of a recorded SLI or burn rate.
pub const LABEL_WINDOW: &str = "slo_window";
/// Label carrying the alert tier (`page` or `ticket`).
pub const LABEL_SEVERITY: &str = "slo_severity";
/// Label carrying the owning team.
pub const LABEL_TEAM: &str = "team";

/// Labels that slogate sets itself; a user label of the same name would be overwritten.
pub const RESERVED_LABELS: &[&str] = &[LABEL_SERVICE, LABEL_SLO, LABEL_WINDOW, LABEL_SEVERITY];
