//! The catalog loader's part for alerting beyond SLOs: the one AlertRouting document (read
//! before any service, since services name its severities and teams) and the check that no
//! plain alert is defined twice in a service, with the place of the first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::diagnostic::Issues;
use super::load::{LoadReport, decode, locate};
use super::model::ServiceLevels;
use super::native;
use super::yaml::{Document, Pos, join_key};

/// Reads the AlertRouting documents into `report.catalog.routing`; every one after the first
/// is an error naming where the first is.
pub(super) fn read_routing<'a>(
    documents: impl Iterator<Item = (&'a PathBuf, &'a Document)>,
    report: &mut LoadReport,
) {
    let mut first: Option<(PathBuf, Pos)> = None;
    for (file, document) in documents {
        let mut issues = Issues::default();
        if let Some((first_file, pos)) = &first {
            issues.error(
                "kind",
                format!(
                    "the AlertRouting document is already defined at {}:{}:{}; keep one",
                    first_file.display(),
                    pos.line,
                    pos.col
                ),
            );
        } else if let Some(doc) = decode(file, document, report)
            && let Some(routing) = native::routing::load(doc, &mut issues)
        {
            report.catalog.routing = routing;
            first = Some((file.clone(), document.index.report_pos("kind")));
        }
        report
            .diagnostics
            .extend(locate(file, document, issues.into_vec()));
    }
}

/// Checks that no alert is defined twice in a service (same name and severity: one name at
/// two severities, `warning` at 80% and `critical` at 90%, is the usual pattern); false, with
/// an error at the second one naming where the first is, when one is.
pub(super) fn unique_alert_names(
    loaded: &ServiceLevels,
    file: &Path,
    document: &Document,
    base: &str,
    issues: &mut Issues,
) -> bool {
    let mut seen: HashMap<(&str, &str), Pos> = HashMap::new();
    let mut clean = true;
    for (i, alert) in loaded.alerts.iter().enumerate() {
        let path = join_key(&format!("{}[{i}]", join_key(base, "alerts")), "name");
        let pos = document.index.report_pos(&path);
        let severity = alert.severity.as_deref().unwrap_or(alert.tier.as_str());
        if let Some(first) = seen.get(&(alert.name.as_str(), severity)) {
            issues.error(
                path,
                format!(
                    "duplicate alert `{}` with severity `{severity}` in service `{}`; first defined at {}:{}:{}",
                    alert.name,
                    loaded.service,
                    file.display(),
                    first.line,
                    first.col
                ),
            );
            clean = false;
        } else {
            seen.insert((&alert.name, severity), pos);
        }
    }
    clean
}
