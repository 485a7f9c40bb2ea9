//! Sloth's `AlertWindows` documents (`sloth.slok.dev/v1`): custom burn-rate windows for SLOs of
//! one period, read as Sloth reads them so teams keep their tuned windows when they move.

use serde::Deserialize;

use super::check;
use super::diagnostic::Issues;
use super::model::{AlertWindowsSpec, BurnWindowSpec};

/// `kind` of the document.
pub const KIND: &str = "AlertWindows";

/// An `AlertWindows` document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlertWindowsDoc {
    #[allow(dead_code)] // read by the loader's header
    api_version: String,
    #[allow(dead_code)] // read by the loader's header
    kind: String,
    spec: Spec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Spec {
    slo_period: String,
    page: Tier,
    ticket: Tier,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tier {
    quick: Window,
    slow: Window,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Window {
    error_budget_percent: f64,
    short_window: String,
    long_window: String,
}

/// Maps the document into the model, checking every window.
pub fn load(doc: AlertWindowsDoc, issues: &mut Issues) -> Option<AlertWindowsSpec> {
    let period = check::duration(issues, "spec.sloPeriod", "sloPeriod", &doc.spec.slo_period);
    let mut window = |tier: &str, speed: &str, w: &Window| {
        let path = format!("spec.{tier}.{speed}");
        let short = check::duration(
            issues,
            &format!("{path}.shortWindow"),
            "shortWindow",
            &w.short_window,
        );
        let long = check::duration(
            issues,
            &format!("{path}.longWindow"),
            "longWindow",
            &w.long_window,
        );
        let percent = w.error_budget_percent;
        if !(percent.is_finite() && percent > 0.0 && percent <= 100.0) {
            issues.error(
                format!("{path}.errorBudgetPercent"),
                format!("errorBudgetPercent {percent} is out of range: above 0 and at most 100"),
            );
            return None;
        }
        let (short, long) = (short?, long?);
        if short >= long {
            issues.error(
                format!("{path}.shortWindow"),
                format!("the short window ({short}) must be shorter than the long window ({long})"),
            );
            return None;
        }
        if period.is_some_and(|p| long > p) {
            issues.error(
                format!("{path}.longWindow"),
                "the long window is longer than the SLO period",
            );
            return None;
        }
        Some(BurnWindowSpec {
            budget_percent: percent,
            short,
            long,
        })
    };
    let page_quick = window("page", "quick", &doc.spec.page.quick);
    let page_slow = window("page", "slow", &doc.spec.page.slow);
    let ticket_quick = window("ticket", "quick", &doc.spec.ticket.quick);
    let ticket_slow = window("ticket", "slow", &doc.spec.ticket.slow);
    Some(AlertWindowsSpec {
        period: period?,
        page_quick: page_quick?,
        page_slow: page_slow?,
        ticket_quick: ticket_quick?,
        ticket_slow: ticket_slow?,
    })
}
