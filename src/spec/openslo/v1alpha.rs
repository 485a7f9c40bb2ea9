//! `openslo/v1alpha`, the form Sloth reads: ratio objectives with `{{.window}}` queries.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{CalendarDoc, Metadata, OpenSloSlo, default_alerting};
use crate::spec::check;
use crate::spec::diagnostic::Issues;
use crate::spec::duration::PromDuration;
use crate::spec::model::{Budgeting, Period, Sli, Slo};
use crate::spec::yaml::{join_index, join_key};

/// An `openslo/v1alpha` `SLO` document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SloV1AlphaDoc {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: Metadata,
    spec: SloV1AlphaSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SloV1AlphaSpec {
    service: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    budgeting_method: Option<String>,
    objectives: Vec<ObjectiveV1Alpha>,
    #[serde(default)]
    time_windows: Vec<TimeWindowV1Alpha>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ObjectiveV1Alpha {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    ratio_metrics: Option<RatioMetricsV1Alpha>,
    target: f64,
    /// Threshold fields of the v1alpha schema; Sloth ignores them for ratio metrics.
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    op: Option<IgnoredAny>,
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    value: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RatioMetricsV1Alpha {
    good: QueryV1Alpha,
    total: QueryV1Alpha,
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    incremental: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct QueryV1Alpha {
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    source: Option<IgnoredAny>,
    #[allow(dead_code)] // in the schema: accepted, not used
    #[serde(default)]
    query_type: Option<IgnoredAny>,
    query: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TimeWindowV1Alpha {
    count: u32,
    unit: String,
    #[serde(default)]
    is_rolling: Option<bool>,
    #[serde(default)]
    calendar: Option<CalendarDoc>,
}

/// Maps an `openslo/v1alpha` SLO as Sloth does: ratio objectives only, one SLO per objective
/// named `<metadata.name>-<index>`, a rolling window (30 days when none is given).
pub fn load_v1alpha(doc: SloV1AlphaDoc, issues: &mut Issues) -> Vec<OpenSloSlo> {
    let spec = doc.spec;
    check::name(issues, "spec.service", "service", &spec.service);
    check::name(issues, "metadata.name", "SLO name", &doc.metadata.name);
    if let Some(m) = spec
        .budgeting_method
        .as_deref()
        .filter(|m| *m != "Occurrences")
    {
        issues.error("spec.budgetingMethod", format!("openslo/v1alpha is read as Sloth reads it, with Occurrences budgeting only, not `{m}`"));
    }
    let period = match spec.time_windows.as_slice() {
        [] => Some(Period::Rolling(crate::spec::native::DEFAULT_PERIOD)),
        [w] => {
            let unit = match w.unit.to_ascii_lowercase().as_str() {
                "second" => Some(1),
                "minute" => Some(60),
                "hour" => Some(3_600),
                "day" => Some(86_400),
                "week" => Some(7 * 86_400),
                _ => None,
            };
            if w.is_rolling == Some(false) || w.calendar.is_some() {
                issues.error(
                    "spec.timeWindows[0]",
                    "openslo/v1alpha windows are read as Sloth reads them: rolling only",
                );
            }
            match unit {
                Some(secs) if w.count > 0 => Some(Period::Rolling(PromDuration::from_secs(
                    secs * w.count as u64,
                ))),
                _ => {
                    issues.error("spec.timeWindows[0].unit", format!("`{} {}` is not a rolling window slogate can measure (units: Second, Minute, Hour, Day, Week)", w.count, w.unit));
                    None
                }
            }
        }
        _ => {
            issues.error("spec.timeWindows", "give at most one time window");
            None
        }
    };
    let mut out = Vec::new();
    for (i, objective) in spec.objectives.iter().enumerate() {
        let path = join_index("spec.objectives", i);
        let at = |field: &str| join_key(&path, field);
        let target = check::objective_ratio(issues, &at("target"), objective.target);
        let Some(ratio) = &objective.ratio_metrics else {
            issues.error(
                &path,
                "slogate reads openslo/v1alpha objectives with `ratioMetrics` only",
            );
            continue;
        };
        let good_path = join_key(&at("ratioMetrics"), "good.query");
        let good = check::query(issues, &good_path, &ratio.good.query, true);
        let total = check::query(
            issues,
            &join_key(&at("ratioMetrics"), "total.query"),
            &ratio.total.query,
            true,
        );
        let (Some(good), Some(total), Some(target), Some(period)) =
            (good, total, target, period.clone())
        else {
            continue;
        };
        check::distinct_from_total(issues, &good_path, "good", &good, &total);
        out.push(OpenSloSlo {
            service: spec.service.clone(),
            slo: Slo {
                name: format!("{}-{i}", doc.metadata.name),
                description: spec
                    .description
                    .clone()
                    .or_else(|| objective.display_name.clone()),
                objective: target,
                period,
                budgeting: Budgeting::Occurrences,
                sli: Sli::GoodEvents { good, total },
                labels: BTreeMap::new(),
                alerting: default_alerting(),
            },
            path,
        });
    }
    if issues.has_errors() { Vec::new() } else { out }
}
