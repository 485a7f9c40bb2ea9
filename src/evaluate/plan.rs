//! The SLO query plan: the PromQL that evaluates a service's SLOs, one query per distinct
//! window returning every SLO that needs it, each row tagged with its SLO and part through
//! `label_replace`. PromQL is built here, in evaluation, so that `analysis` stays pure
//! arithmetic on fetched values.

use std::collections::BTreeMap;

use crate::analysis::slo::needed_windows;
use crate::generate::rules::escape_label_value;
use crate::spec::windows::AlertWindows;
use crate::spec::{PromDuration, Slo};

/// Label that tells which SLO a row of a combined query belongs to.
pub const LABEL_SLO: &str = "slogate_slo";
/// Label that tells whether a row is the error ratio or the event rate.
pub const LABEL_PART: &str = "slogate_part";

/// The queries that evaluate a service: one per distinct window, each returning the error
/// ratio (and, for SLIs that count events, the event rate) of every SLO that needs that window.
/// The number of round trips is the number of distinct windows, whatever the number of SLOs.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    /// `(window, query)` pairs, shortest window first.
    pub queries: Vec<(PromDuration, String)>,
}

/// Builds the combined queries for the selected SLOs.
pub fn plan(slos: &[(&Slo, AlertWindows)]) -> ServicePlan {
    let mut by_window: BTreeMap<PromDuration, Vec<String>> = BTreeMap::new();
    for (slo, windows) in slos {
        for window in needed_windows(slo, windows) {
            let w = window.to_string();
            let tag = |expr: String, part: &str| {
                format!(
                    "label_replace(label_replace(({expr}), \"{LABEL_SLO}\", \"{}\", \"\", \"\"), \"{LABEL_PART}\", \"{part}\", \"\", \"\")",
                    escape_label_value(&slo.name)
                )
            };
            let parts = by_window.entry(window).or_default();
            parts.push(tag(slo.sli.error_ratio().render(&w), "ratio"));
            if let Some(total) = slo.sli.total_rate() {
                parts.push(tag(total.render(&w), "rate"));
            }
        }
    }
    ServicePlan {
        queries: by_window
            .into_iter()
            .map(|(w, parts)| (w, parts.join("\nor\n")))
            .collect(),
    }
}
