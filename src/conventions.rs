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

/// Recorded error ratio of an SLI over a window (`slo_window` label): `..._rate5m`, ...
pub fn sli_error_ratio_metric(window: &str) -> String {
    format!("slogate:sli_error:ratio_rate{window}")
}

/// Recorded per-second rate of all events of an SLI over a window.
pub fn sli_total_rate_metric(window: &str) -> String {
    format!("slogate:sli_total:rate{window}")
}

/// Recorded per-second rate of bad events of an SLI over a window (shortest window only: it
/// feeds the traffic-weighted period ratio).
pub fn sli_error_rate_metric(window: &str) -> String {
    format!("slogate:sli_errors:rate{window}")
}

/// The SLO's objective as a ratio (0.999).
pub const METRIC_OBJECTIVE: &str = "slogate:objective:ratio";
/// The error budget as a ratio (0.001).
pub const METRIC_ERROR_BUDGET: &str = "slogate:error_budget:ratio";
/// The period in days.
pub const METRIC_PERIOD_DAYS: &str = "slogate:time_period:days";
/// Burn rate over the shortest alert window.
pub const METRIC_CURRENT_BURN_RATE: &str = "slogate:current_burn_rate:ratio";
/// Burn rate over the whole period.
pub const METRIC_PERIOD_BURN_RATE: &str = "slogate:period_burn_rate:ratio";
/// Share of the period's error budget left (1 - period burn rate; negative when overspent).
pub const METRIC_BUDGET_REMAINING: &str = "slogate:period_error_budget_remaining:ratio";

/// Alert name when the SLO names none.
pub const DEFAULT_ALERT_NAME: &str = "SLOErrorBudgetBurn";
/// Alert that fires when an SLI's metrics are absent.
pub const ALERT_SLI_ABSENT: &str = "SLOMetricsAbsent";

/// Rule group of an SLO's SLI recordings.
pub fn group_sli(service: &str, slo: &str) -> String {
    format!("slogate-sli-{service}-{slo}")
}

/// Rule group of an SLO's metadata recordings.
pub fn group_meta(service: &str, slo: &str) -> String {
    format!("slogate-meta-{service}-{slo}")
}

/// Rule group of an SLO's alerts.
pub fn group_alerts(service: &str, slo: &str) -> String {
    format!("slogate-alerts-{service}-{slo}")
}

/// Label carrying a plain alert's own severity name (`critical`, `P2`): the label most
/// Alertmanager setups and runbooks already route and silence on.
pub const LABEL_ALERT_SEVERITY: &str = "severity";

/// Rule group of a service's plain (threshold) alerts.
pub fn group_service_alerts(service: &str) -> String {
    format!("slogate-service-alerts-{service}")
}
