//! The overview dashboard: every SLO in one table, and the SLO alerts firing now.
//!
//! The table joins five instant queries by `slo_service` and `slo_name` (Grafana's `merge`
//! transformation). Every query aggregates to exactly those two labels, so the join keys are
//! the same whatever labels a service adds, and an SLO's cells always land on one row.

use serde_json::json;

use super::model::{Current, GridItem, PROMETHEUS, Panel, QueryVariable, Variable};
use super::panels::{Field, Layout, base, column_thresholds, from, table, table_target};
use super::percent_decimals;
use crate::conventions as names;

/// Column names of the SLO table, in display order after service and SLO.
const OBJECTIVE: &str = "Objective (%)";
const SLI: &str = "SLI over period (%)";
const BUDGET: &str = "Budget remaining (%)";
const BURN: &str = "Burn rate (x)";
const FIRING: &str = "Alerts firing";

/// Team filter: every `team` label on the recorded objectives. "All" is `.*`, so SLOs of
/// services without a team stay visible.
pub(super) fn team_variable() -> Variable {
    query_variable(
        names::LABEL_TEAM,
        "Team",
        format!(
            "label_values({}, {})",
            names::METRIC_OBJECTIVE,
            names::LABEL_TEAM
        ),
        Some(".*"),
    )
}

/// Service filter, narrowed by the team filter. "All" is the list of the team's services
/// (no custom all value), so alerts, which carry no team label, follow the team filter too.
pub(super) fn service_variable() -> Variable {
    query_variable(
        "service",
        "Service",
        format!(
            "label_values({}{{{}=~\"$team\"}}, {})",
            names::METRIC_OBJECTIVE,
            names::LABEL_TEAM,
            names::LABEL_SERVICE
        ),
        None,
    )
}

fn query_variable(
    name: &'static str,
    label: &'static str,
    query: String,
    all_value: Option<&'static str>,
) -> Variable {
    Variable::Query(QueryVariable {
        all_value,
        current: Current {
            selected: true,
            text: ["All"],
            value: ["$__all"],
        },
        datasource: PROMETHEUS,
        definition: query.clone(),
        hide: 0,
        include_all: true,
        label,
        multi: true,
        name,
        options: [],
        query,
        refresh: 2,
        regex: "",
        skip_url_sync: false,
        sort: 1,
        kind: "query",
    })
}

/// The overview's panels: the SLO table, then the firing alerts.
pub(super) fn panels(catalog: &crate::spec::Catalog) -> Vec<GridItem> {
    let slos: Vec<_> = catalog.services.iter().flat_map(|s| &s.slos).collect();
    // Fine enough for the most precise objective (99.95 -> 3 decimals); one setting for the
    // whole table, as the reference schema allows no per-column decimals.
    let decimals = slos
        .iter()
        .map(|s| percent_decimals(s.objective))
        .max()
        .unwrap_or(2)
        .max(2);
    let height = (slos.len() as u32 + 4).clamp(6, 30);
    let mut layout = Layout::default();
    layout.line(height, [(24, slo_table(decimals))]);
    layout.line(8, [(24, alerts_table())]);
    layout.finish()
}

fn slo_table(decimals: u32) -> Panel {
    let (svc, slo) = (names::LABEL_SERVICE, names::LABEL_SLO);
    let by = format!("by ({svc}, {slo})");
    let filter = format!("{{{}=~\"$team\", {svc}=~\"$service\"}}", names::LABEL_TEAM);
    let targets = vec![
        table_target(
            "A",
            format!("100 * max {by} ({}{filter})", names::METRIC_OBJECTIVE),
        ),
        // The period's error ratio has the period in its metric name, which differs between
        // SLOs; burn rate x budget gives it back under one name.
        table_target(
            "B",
            format!(
                "100 * (1 - (max {by} ({}{filter}) * on ({svc}, {slo}) max {by} ({}{filter})))",
                names::METRIC_PERIOD_BURN_RATE,
                names::METRIC_ERROR_BUDGET
            ),
        ),
        table_target(
            "C",
            format!(
                "100 * min {by} ({}{filter})",
                names::METRIC_BUDGET_REMAINING
            ),
        ),
        table_target(
            "D",
            format!("max {by} ({}{filter})", names::METRIC_CURRENT_BURN_RATE),
        ),
        // Zero for SLOs with nothing firing, so the column is never blank.
        table_target(
            "E",
            format!(
                "count {by} (ALERTS{{alertstate=\"firing\", {svc}=~\"$service\", {slo}!=\"\"}})\nor\n0 * max {by} ({}{filter})",
                names::METRIC_OBJECTIVE
            ),
        ),
    ];
    let columns = [
        ("Value #A", OBJECTIVE),
        ("Value #B", SLI),
        ("Value #C", BUDGET),
        ("Value #D", BURN),
        ("Value #E", FIRING),
    ];
    let mut rename = serde_json::Map::new();
    let mut index = serde_json::Map::new();
    rename.insert(svc.into(), json!("Service"));
    rename.insert(slo.into(), json!("SLO"));
    index.insert(svc.into(), json!(0));
    index.insert(slo.into(), json!(1));
    for (i, (field, name)) in columns.iter().enumerate() {
        rename.insert((*field).into(), json!(name));
        index.insert((*field).into(), json!(i + 2));
    }
    let transformations = vec![
        json!({"id": "merge", "options": {}}),
        json!({"id": "organize", "options": {
            "excludeByName": {"Time": true},
            "indexByName": index,
            "renameByName": rename,
        }}),
    ];
    let overrides = vec![
        column_thresholds(
            &[BUDGET],
            &[base("red"), from(0.0, "yellow"), from(25.0, "green")],
        ),
        column_thresholds(&[BURN], &[base("green"), from(1.0, "yellow")]),
        column_thresholds(&[FIRING], &[base("green"), from(1.0, "red")]),
    ];
    table(
        "SLOs",
        "One row per SLO: objective, SLI and error budget left over the SLO's period, burn rate over the shortest alert window (1x spends exactly the budget), and alerts firing now. Worst budget first."
            .to_string(),
        targets,
        transformations,
        &Field {
            decimals: Some(decimals),
            steps: vec![base("text")],
            ..Field::new("none")
        },
        overrides,
        Some((BUDGET, false)),
    )
}

fn alerts_table() -> Panel {
    let (svc, slo, sev) = (
        names::LABEL_SERVICE,
        names::LABEL_SLO,
        names::LABEL_SEVERITY,
    );
    let target = table_target(
        "A",
        format!(
            "sum by (alertname, {svc}, {slo}, {sev}) (ALERTS{{alertstate=\"firing\", {svc}=~\"$service\", {slo}!=\"\"}})"
        ),
    );
    let mut rename = serde_json::Map::new();
    for (label, name) in [
        ("alertname", "Alert"),
        (svc, "Service"),
        (slo, "SLO"),
        (sev, "Severity"),
    ] {
        rename.insert(label.into(), json!(name));
    }
    let transformations = vec![json!({"id": "organize", "options": {
        "excludeByName": {"Time": true, "Value": true},
        "indexByName": {},
        "renameByName": rename,
    }})];
    table(
        "SLO alerts firing",
        "Burn-rate and missing-data alerts firing now, by service, SLO and severity (page wakes someone, ticket can wait for working hours)."
            .to_string(),
        vec![target],
        transformations,
        &Field {
            no_value: Some("No SLO alert is firing".to_string()),
            steps: vec![base("text")],
            ..Field::new("none")
        },
        vec![],
        Some(("Severity", false)),
    )
}
