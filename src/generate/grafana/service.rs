//! The panels of one service's dashboard: a row per SLO.
//!
//! Each row answers, top to bottom: are we meeting the objective and how much budget is left
//! (stats), how fast is the budget burning in each alert window and which alerts fire, and
//! what traffic the SLI sees.

use std::borrow::Cow;

use super::model::{Annotation, GridItem, PROMETHEUS, Panel, QueryAnnotation};
use super::panels::{
    Field, Layout, StatLook, ThresholdLines, base, from, instant_target, range_target, stat,
    timeseries,
};
use super::{clean, percent_decimals};
use crate::conventions as names;
use crate::generate::rules::{escape_label_value, number};
use crate::generate::windows::{AlertWindows, alert_windows_with};
use crate::spec::{AlertWindowsSpec, CalendarUnit, Period, ServiceLevels, Sli, Slo};

/// Share of the period's budget left below which the budget panel turns yellow: the usual
/// point at which an error-budget policy asks for caution with risky changes. Below zero the
/// budget is spent (red), when the policy freezes them.
const BUDGET_WARNING: f64 = 0.25;

/// Panel titles.
mod titles {
    /// SLI over the period (stat).
    pub const SLI_STAT: &str = "SLI over the period";
    /// Error budget remaining (stat).
    pub const BUDGET: &str = "Error budget remaining";
    /// Burn rate over the shortest window (stat).
    pub const CURRENT_BURN: &str = "Current burn rate";
    /// Firing alerts of the SLO (stat).
    pub const ALERTS: &str = "Alerts firing";
    /// SLI against the objective (time series).
    pub const SLI: &str = "SLI";
    /// Burn rate per alert window (time series).
    pub const BURN: &str = "Burn rate per alert window";
    /// Request and error rates, for SLIs that count events (time series).
    pub const TRAFFIC: &str = "Requests and errors";
    /// Error ratio, for SLIs given as a ratio (time series).
    pub const ERROR_RATIO: &str = "Error ratio";
}

/// What every panel of one SLO needs.
struct SloView<'a> {
    /// The service name, for matchers on `ALERTS` (whose labels are set by the rules).
    service: &'a str,
    /// The SLO shown.
    slo: &'a Slo,
    /// The burn-rate windows the rules alert on, custom ones included.
    windows: AlertWindows,
    /// The shortest recorded window: the "now" of the SLI (5m, or longer for long periods).
    shortest: String,
    /// The period as it appears in recorded metric names (`30d`, `1w`).
    period: String,
    /// Matchers selecting this SLO's recorded series.
    selector: String,
    /// Error budget as a PromQL literal.
    budget: String,
    /// Objective as a ratio.
    objective: f64,
    /// Decimals for SLI percentages.
    decimals: u32,
}

impl<'a> SloView<'a> {
    fn new(service: &'a ServiceLevels, slo: &'a Slo, custom: &[AlertWindowsSpec]) -> Self {
        let period = slo.period.nominal();
        let windows = alert_windows_with(period, custom);
        let shortest = windows.distinct_windows()[0].to_string();
        SloView {
            service: &service.service,
            slo,
            windows,
            shortest,
            period: period.to_string(),
            selector: selector(&service.service, &slo.name),
            budget: number(slo.error_budget()),
            objective: clean(slo.objective / 100.0),
            decimals: percent_decimals(slo.objective),
        }
    }

    fn recorded(&self, metric: &str) -> String {
        format!("{metric}{}", self.selector)
    }

    fn error_ratio(&self, window: &str) -> String {
        self.recorded(&names::sli_error_ratio_metric(window))
    }

    fn alert_name(&self) -> String {
        self.slo
            .alerting
            .name
            .clone()
            .unwrap_or_else(|| names::DEFAULT_ALERT_NAME.to_string())
    }

    fn alerts_enabled(&self) -> bool {
        self.slo.alerting.page.enabled || self.slo.alerting.ticket.enabled
    }
}

/// `{slo_service="...", slo_name="..."}`: the two labels that identify an SLO's series.
fn selector(service: &str, slo: &str) -> String {
    format!(
        "{{{}=\"{}\", {}=\"{}\"}}",
        names::LABEL_SERVICE,
        escape_label_value(service),
        names::LABEL_SLO,
        escape_label_value(slo)
    )
}

/// The service's dashboard panels: a row and its panels per SLO.
pub(super) fn panels(service: &ServiceLevels, custom: &[AlertWindowsSpec]) -> Vec<GridItem> {
    let mut layout = Layout::default();
    super::traffic::row(service, &mut layout);
    for slo in &service.slos {
        let view = SloView::new(service, slo, custom);
        layout.row(row_title(slo));
        layout.line(
            5,
            [
                (6, sli_stat(&view)),
                (6, budget_stat(&view)),
                (6, current_burn_stat(&view)),
                (6, alerts_stat(&view)),
            ],
        );
        layout.line(9, [(12, sli_series(&view)), (12, burn_series(&view))]);
        layout.line(8, [(24, traffic_series(&view))]);
    }
    layout.finish()
}

/// `availability: 99.9% over 30d`.
fn row_title(slo: &Slo) -> String {
    format!(
        "{}: {}% over {}",
        slo.name,
        number(slo.objective),
        period_label(&slo.period)
    )
}

fn period_label(period: &Period) -> String {
    match period {
        Period::Rolling(d) => d.to_string(),
        Period::Calendar(c) => {
            let unit = match c.unit {
                CalendarUnit::Minute => "minute",
                CalendarUnit::Hour => "hour",
                CalendarUnit::Day => "day",
                CalendarUnit::Week => "week",
                CalendarUnit::Month => "month",
                CalendarUnit::Quarter => "quarter",
                CalendarUnit::Year => "year",
            };
            let plural = if c.count == 1 { "" } else { "s" };
            format!("{} calendar {unit}{plural}", c.count)
        }
    }
}

fn describe(view: &SloView, what: &str) -> String {
    match &view.slo.description {
        Some(d) => format!("{what} SLO: {d}"),
        None => what.to_string(),
    }
}

fn sli_field(view: &SloView) -> Field {
    Field {
        decimals: Some(view.decimals),
        steps: vec![base("red"), from(view.objective, "green")],
        ..Field::new("percentunit")
    }
}

fn sli_stat(view: &SloView) -> Panel {
    let expr = format!("1 - {}", view.error_ratio(&view.period));
    stat(
        titles::SLI_STAT,
        describe(
            view,
            &format!(
                "Share of good events over the last {} (green from the objective, {}%).",
                view.period,
                number(view.slo.objective)
            ),
        ),
        vec![range_target("A", expr, "SLI")],
        &sli_field(view),
        StatLook::ValueWithTrend,
    )
}

fn budget_stat(view: &SloView) -> Panel {
    // Red once spent, yellow under the warning share, green above.
    let steps = vec![
        base("red"),
        from(0.0, "yellow"),
        from(BUDGET_WARNING, "green"),
    ];
    stat(
        titles::BUDGET,
        format!(
            "Share of the {} error budget ({}% of events) not yet spent; negative once overspent.",
            view.period,
            number(clean(view.slo.error_budget() * 100.0))
        ),
        vec![range_target(
            "A",
            view.recorded(names::METRIC_BUDGET_REMAINING),
            "budget remaining",
        )],
        &Field {
            decimals: Some(1),
            steps,
            ..Field::new("percentunit")
        },
        StatLook::ValueWithTrend,
    )
}

fn current_burn_stat(view: &SloView) -> Panel {
    stat(
        titles::CURRENT_BURN,
        format!(
            "Error budget burn over the last {} as a multiple of the sustainable rate (1x spends exactly the budget over the period). Red from {}x, the fast page's factor.",
            view.shortest,
            number(clean(view.windows.page_quick.factor))
        ),
        vec![range_target(
            "A",
            view.recorded(names::METRIC_CURRENT_BURN_RATE),
            "burn rate",
        )],
        &Field {
            decimals: Some(2),
            steps: vec![
                base("green"),
                from(1.0, "yellow"),
                from(clean(view.windows.page_quick.factor), "red"),
            ],
            ..Field::new("suffix:x")
        },
        StatLook::ValueWithTrend,
    )
}

fn alerts_stat(view: &SloView) -> Panel {
    let labels = format!(
        "{}=\"{}\", {}=\"{}\", alertstate=\"firing\"",
        names::LABEL_SERVICE,
        escape_label_value(view.service),
        names::LABEL_SLO,
        escape_label_value(&view.slo.name),
    );
    let mut targets = Vec::new();
    if view.alerts_enabled() {
        targets.push(instant_target(
            "A",
            format!(
                "sum by ({}) (ALERTS{{alertname=\"{}\", {labels}}})",
                names::LABEL_SEVERITY,
                escape_label_value(&view.alert_name())
            ),
            format!("{{{{{}}}}}", names::LABEL_SEVERITY),
        ));
    }
    targets.push(instant_target(
        "B",
        format!(
            "sum(ALERTS{{alertname=\"{}\", {labels}}})",
            names::ALERT_SLI_ABSENT
        ),
        "no data",
    ));
    stat(
        titles::ALERTS,
        format!(
            "Burn-rate alerts ({}) firing now, by severity (page, ticket), and {} when the SLI has no data.",
            view.alert_name(),
            names::ALERT_SLI_ABSENT
        ),
        targets,
        &Field {
            decimals: Some(0),
            steps: vec![base("green"), from(1.0, "red")],
            no_value: Some("none firing".to_string()),
            ..Field::new("none")
        },
        StatLook::State,
    )
}

fn sli_series(view: &SloView) -> Panel {
    let targets = vec![
        range_target(
            "A",
            format!("1 - {}", view.error_ratio(&view.shortest)),
            format!("SLI over {}", view.shortest),
        ),
        range_target(
            "B",
            format!("1 - {}", view.error_ratio(&view.period)),
            format!("SLI over {}", view.period),
        ),
    ];
    timeseries(
        titles::SLI,
        describe(
            view,
            &format!(
                "Share of good events over {} (how it is now) and over the {} period (what the objective judges); the dashed line is the objective, {}%.",
                view.shortest,
                view.period,
                number(view.slo.objective)
            ),
        ),
        targets,
        &Field {
            max: Some(1.0),
            ..sli_field(view)
        },
        ThresholdLines::Dashed,
        "",
    )
}

/// Burn factors of the enabled tiers with their colors: the thresholds of the burn panel.
fn burn_factor_steps(view: &SloView) -> Vec<(f64, &'static str)> {
    let (slo, windows) = (view.slo, &view.windows);
    let mut steps = Vec::new();
    if slo.alerting.ticket.enabled {
        steps.push((clean(windows.ticket_quick.factor), "orange"));
        steps.push((clean(windows.ticket_slow.factor), "orange"));
    }
    if slo.alerting.page.enabled {
        steps.push((clean(windows.page_quick.factor), "red"));
        steps.push((clean(windows.page_slow.factor), "red"));
    }
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Two tiers sharing a factor keep the more severe color.
    let mut merged: Vec<(f64, &'static str)> = Vec::new();
    for (factor, color) in steps {
        match merged.last_mut() {
            Some(last) if last.0 == factor => {
                if color == "red" {
                    last.1 = color;
                }
            }
            _ => merged.push((factor, color)),
        }
    }
    merged
}

fn burn_series(view: &SloView) -> Panel {
    let targets = view
        .windows
        .distinct_windows()
        .iter()
        .zip(ref_ids())
        .map(|(w, id)| {
            let w = w.to_string();
            range_target(id, format!("{} / {}", view.error_ratio(&w), view.budget), w)
        })
        .collect();
    let mut steps = vec![base("green")];
    steps.extend(burn_factor_steps(view).into_iter().map(|(f, c)| from(f, c)));
    timeseries(
        titles::BURN,
        format!(
            "Error ratio over each alert window divided by the error budget ({}): 1x spends the budget exactly over the period. Dashed lines: the factors at which a tier fires when both its long and short window exceed it (orange: ticket, red: page).",
            view.budget
        ),
        targets,
        &Field {
            decimals: Some(2),
            min: Some(0.0),
            steps,
            ..Field::new("suffix:x")
        },
        ThresholdLines::Dashed,
        "burn rate",
    )
}

fn traffic_series(view: &SloView) -> Panel {
    let (bad, noun) = match &view.slo.sli {
        Sli::Latency(l) => (
            format!("slower than {}", l.threshold),
            "requests slower than the threshold",
        ),
        _ => ("errors".to_string(), "errors"),
    };
    if view.slo.sli.total_rate().is_some() {
        let targets = vec![
            range_target(
                "A",
                view.recorded(&names::sli_total_rate_metric(&view.shortest)),
                "requests",
            ),
            range_target(
                "B",
                view.recorded(&names::sli_error_rate_metric(&view.shortest)),
                bad,
            ),
        ];
        timeseries(
            titles::TRAFFIC,
            format!(
                "Events per second the SLI counts, and {noun} among them (error ratio x total), over {}.",
                view.shortest
            ),
            targets,
            &Field::new("short"),
            ThresholdLines::Off,
            "per second",
        )
    } else {
        // A raw error-ratio SLI records no event counts: its ratio against the budget is all
        // there is to show.
        timeseries(
            titles::ERROR_RATIO,
            format!(
                "The SLI's error ratio over {} (it counts no events, so there are no request rates); the dashed line is the error budget, {}.",
                view.shortest, view.budget
            ),
            vec![range_target(
                "A",
                view.error_ratio(&view.shortest),
                format!("error ratio over {}", view.shortest),
            )],
            &Field {
                decimals: Some(view.decimals + 1),
                min: Some(0.0),
                steps: vec![base("green"), from(clean(view.slo.error_budget()), "red")],
                ..Field::new("percentunit")
            },
            ThresholdLines::Dashed,
            "",
        )
    }
}

/// `A`, `B`, ... `Z`, `AA`, ...: Grafana's target ids, the first 26 borrowed (no allocation).
fn ref_ids() -> impl Iterator<Item = Cow<'static, str>> {
    const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..).map(|mut i: usize| {
        if i < 26 {
            return Cow::Borrowed(&LETTERS[i..=i]);
        }
        let mut id = String::new();
        loop {
            id.insert(0, (b'A' + (i % 26) as u8) as char);
            if i < 26 {
                break Cow::Owned(id);
            }
            i = i / 26 - 1;
        }
    })
}

/// A Prometheus annotation marking when this service's SLO alerts fired.
pub(super) fn alert_annotation(service: &ServiceLevels) -> Annotation {
    Annotation::Query(QueryAnnotation {
        datasource: PROMETHEUS,
        enable: true,
        expr: format!(
            "ALERTS{{{}=\"{}\", alertstate=\"firing\"}}",
            names::LABEL_SERVICE,
            escape_label_value(&service.service)
        ),
        hide: false,
        icon_color: "red",
        name: "SLO alerts",
        step: "1m",
        tag_keys: format!("{},{}", names::LABEL_SLO, names::LABEL_SEVERITY),
        text_format: format!("{{{{{}}}}}", names::LABEL_SLO),
        title_format: format!("{{{{alertname}}}} ({{{{{}}}}})", names::LABEL_SEVERITY),
        use_value_for_time: false,
    })
}

#[cfg(test)]
mod tests {
    use super::ref_ids;

    #[test]
    fn ref_ids_count_like_spreadsheet_columns() {
        let ids: Vec<String> = ref_ids().take(28).map(String::from).collect();
        assert_eq!((ids[0].as_str(), ids[25].as_str()), ("A", "Z"));
        assert_eq!((ids[26].as_str(), ids[27].as_str()), ("AA", "AB"));
    }
}
