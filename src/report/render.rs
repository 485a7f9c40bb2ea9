//! The report as HTML and plain text, from the tera templates in `templates/` (embedded in the
//! binary). The HTML template is autoescaped: every value it prints (service and SLO names,
//! descriptions, verdict summaries) is escaped, and the template marks nothing `safe`.
//!
//! Numbers are formatted here, once, so both parts say the same: attainment with three
//! decimals (`99.952%`), budgets with one (`41.3%`), changes in percentage points (`+0.012 pp`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tera::{Context, Tera};

use super::collect::{AlertFiring, GatedRollout, ServiceReport, SloReport, TeamReport};
use crate::numfmt::short;
use crate::verdict::{Outcome, VerdictKind};

const HTML: &str = include_str!("../../templates/report.html.tera");
const TEXT: &str = include_str!("../../templates/report.txt.tera");
const HTML_NAME: &str = "report.html.tera";
const TEXT_NAME: &str = "report.txt.tera";

/// The Content-ID of the chart in the email (`cid:` in the HTML).
pub const CHART_CID: &str = "burn-down@slogate";

/// A template failed to render (a broken build, never the data's fault).
#[derive(Debug, thiserror::Error)]
#[error("rendering {template}: {message}")]
pub struct RenderError {
    /// The template.
    pub template: &'static str,
    /// tera's words.
    pub message: String,
}

/// The rendered report.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Email subject.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Where the HTML finds the chart and the status page.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The `src` of the chart: `cid:...` in an email, a file name next to a dry run's HTML.
    pub chart_src: String,
    /// Base URL of the status page, for links (none when unset).
    pub status_url: Option<String>,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
}

fn templates() -> Result<Tera, RenderError> {
    let mut tera = Tera::new();
    // Names end in `.tera`, which tera does not escape by default: escape the HTML one.
    tera.autoescape_on([".html.tera"]);
    for (name, body) in [(HTML_NAME, HTML), (TEXT_NAME, TEXT)] {
        tera.add_raw_template(name, body).map_err(|e| RenderError {
            template: name,
            message: format!("{e:?}"),
        })?;
    }
    Ok(tera)
}

/// Renders both parts.
pub fn render(report: &TeamReport, options: &RenderOptions) -> Result<Rendered, RenderError> {
    let view = View::new(report, options);
    let context = Context::from_serialize(&view).map_err(|e| RenderError {
        template: HTML_NAME,
        message: e.to_string(),
    })?;
    let tera = templates()?;
    let run = |name: &'static str| {
        tera.render(name, &context).map_err(|e| RenderError {
            template: name,
            message: format!("{e:?}"),
        })
    };
    Ok(Rendered {
        subject: format!(
            "SLO report {} for {}: {}",
            report.week, report.team, view.headline
        ),
        html: run(HTML_NAME)?,
        text: run(TEXT_NAME)?,
    })
}

/// Attainment as the report prints it: percent with three decimals.
pub fn attainment(sli: f64) -> String {
    format!("{:.3}%", sli * 100.0)
}

/// A budget share as the report prints it: percent with one decimal.
pub fn budget(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// A week-over-week change as the report prints it.
pub fn change(points: f64) -> String {
    let rounded = (points * 1000.0).round() / 1000.0;
    if rounded == 0.0 {
        "±0.000 pp".to_string()
    } else {
        format!("{rounded:+.3} pp")
    }
}

fn duration(d: std::time::Duration) -> String {
    let minutes = d.as_secs().div_ceil(60);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

#[derive(Serialize)]
struct View {
    team: String,
    week: String,
    range: String,
    timezone: String,
    generated: String,
    headline: String,
    totals: Totals,
    services: Vec<ServiceView>,
    chart_src: String,
    status_url: Option<String>,
}

#[derive(Serialize, Default)]
struct Totals {
    slos: usize,
    met: usize,
    missed: usize,
    nodata: usize,
    alerts: usize,
    pages: usize,
    rollouts: usize,
    failed: usize,
}

#[derive(Serialize)]
struct ServiceView {
    name: String,
    link: Option<String>,
    slos: Vec<SloView>,
    alerts: Vec<AlertView>,
    rollouts: Vec<RolloutView>,
    rollouts_more: usize,
}

#[derive(Serialize)]
struct SloView {
    name: String,
    description: String,
    objective: String,
    week: String,
    state: &'static str,
    mark: &'static str,
    change: String,
    trend: &'static str,
    period: String,
    period_value: String,
    period_state: &'static str,
    period_mark: &'static str,
    budget_remaining: String,
    budget_state: &'static str,
    budget_week: String,
    verdict: String,
    reason: String,
}

#[derive(Serialize)]
struct AlertView {
    alertname: String,
    slo: String,
    severity: String,
    started: String,
    duration: String,
}

#[derive(Serialize)]
struct RolloutView {
    at: String,
    kind: &'static str,
    verdict: String,
    mark: &'static str,
    summary: String,
    link: Option<String>,
}

/// `(state for CSS, mark with its word)`: the word carries the meaning, colour only repeats it.
fn state(met: Option<bool>) -> (&'static str, &'static str) {
    match met {
        Some(true) => ("good", "✔ met"),
        Some(false) => ("bad", "✘ missed"),
        None => ("none", "– no data"),
    }
}

fn outcome_mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "✔",
        Outcome::Fail => "✘",
        Outcome::Inconclusive => "?",
    }
}

impl View {
    fn new(report: &TeamReport, options: &RenderOptions) -> View {
        let tz = report.timezone;
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%a %d %b %H:%M").to_string();
        let last_day = report.end - chrono::Duration::seconds(1);
        let range = format!(
            "{} to {} ({})",
            report.start.with_timezone(&tz).format("Monday %d %B %Y"),
            last_day.with_timezone(&tz).format("Sunday %d %B %Y"),
            tz
        );
        let mut totals = Totals::default();
        let services: Vec<ServiceView> = report
            .services
            .iter()
            .map(|s| service_view(s, options, &local, &mut totals))
            .collect();
        let headline = headline(&totals);
        View {
            team: report.team.clone(),
            week: report.week.to_string(),
            range,
            timezone: tz.to_string(),
            generated: options
                .generated_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
            headline,
            totals,
            services,
            chart_src: options.chart_src.clone(),
            status_url: options.status_url.clone(),
        }
    }
}

fn headline(t: &Totals) -> String {
    let slos = if t.missed == 0 && t.nodata == 0 {
        format!("all {} SLOs met their objective", t.slos)
    } else {
        let mut parts = vec![format!("{} of {} SLOs met their objective", t.met, t.slos)];
        if t.missed > 0 {
            parts.push(format!("{} missed", t.missed));
        }
        if t.nodata > 0 {
            parts.push(format!("{} without data", t.nodata));
        }
        parts.join(", ")
    };
    let alerts = match t.alerts {
        0 => "no alert fired".to_string(),
        1 => "1 alert fired".to_string(),
        n => format!("{n} alerts fired"),
    };
    format!("{slos}; {alerts}")
}

fn service_view(
    s: &ServiceReport,
    options: &RenderOptions,
    local: &dyn Fn(DateTime<Utc>) -> String,
    totals: &mut Totals,
) -> ServiceView {
    let slos: Vec<SloView> = s.slos.iter().map(slo_view).collect();
    for slo in &s.slos {
        totals.slos += 1;
        match slo.week_met() {
            Some(true) => totals.met += 1,
            Some(false) => totals.missed += 1,
            None => totals.nodata += 1,
        }
    }
    totals.alerts += s.alerts.len();
    totals.pages += s.alerts.iter().filter(|a| a.severity == "page").count();
    totals.rollouts += s.rollouts_total;
    totals.failed += s
        .rollouts
        .iter()
        .filter(|r| r.verdict == Outcome::Fail)
        .count();
    let link = |path: String| options.status_url.as_ref().map(|u| format!("{u}{path}"));
    ServiceView {
        name: s.service.clone(),
        link: link(String::from("/")),
        slos,
        alerts: s.alerts.iter().map(|a| alert_view(a, local)).collect(),
        rollouts: s
            .rollouts
            .iter()
            .map(|r| rollout_view(r, local, &link))
            .collect(),
        rollouts_more: s.rollouts_total.saturating_sub(s.rollouts.len()),
    }
}

fn slo_view(slo: &SloReport) -> SloView {
    let (state_, mark) = state(slo.week_met());
    let (period_state, period_mark) = state(slo.period_met());
    let points = slo.change_points();
    let none = || "–".to_string();
    SloView {
        name: slo.name.clone(),
        description: slo.description.clone().unwrap_or_default(),
        objective: format!("{}%", short(slo.objective)),
        week: slo.week_sli.map_or_else(none, attainment),
        state: state_,
        mark,
        change: points.map_or_else(none, change),
        trend: match points.map(|p| (p * 1000.0).round()) {
            Some(p) if p > 0.0 => "better",
            Some(p) if p < 0.0 => "worse",
            Some(_) => "same",
            None => "",
        },
        period: slo.period.clone(),
        period_value: slo.period_sli.map_or_else(none, attainment),
        period_state,
        period_mark,
        budget_remaining: slo.budget_remaining.map_or_else(none, budget),
        budget_state: match slo.budget_remaining {
            Some(b) if b < 0.0 => "bad",
            Some(b) if b < 0.25 => "warn",
            Some(_) => "good",
            None => "none",
        },
        budget_week: slo.budget_consumed_week.map_or_else(none, budget),
        verdict: slo.verdict.to_string(),
        reason: slo.reason.clone(),
    }
}

fn alert_view(a: &AlertFiring, local: &dyn Fn(DateTime<Utc>) -> String) -> AlertView {
    AlertView {
        alertname: a.alertname.clone(),
        slo: a.slo.clone(),
        severity: a.severity.clone(),
        started: local(a.started),
        duration: duration(a.duration),
    }
}

fn rollout_view(
    r: &GatedRollout,
    local: &dyn Fn(DateTime<Utc>) -> String,
    link: &dyn Fn(String) -> Option<String>,
) -> RolloutView {
    RolloutView {
        at: local(r.at),
        kind: match r.kind {
            VerdictKind::Canary => "canary",
            VerdictKind::Slo => "error budget",
        },
        verdict: r.verdict.to_string(),
        mark: outcome_mark(r.verdict),
        summary: r.summary.clone(),
        // The verdict's page: a browser opens it with the sign-in cookie; the JSON API would
        // ask for a bearer token the reader's mail client cannot send.
        link: link(format!("/verdicts/{}", r.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::week::IsoWeek;

    fn report(description: &str, service: &str) -> TeamReport {
        let week: IsoWeek = "2026-W07".parse().unwrap();
        let (start, end) = week.bounds(chrono_tz::Tz::UTC);
        TeamReport {
            team: "payments".into(),
            week,
            start,
            end,
            timezone: chrono_tz::Tz::UTC,
            services: vec![ServiceReport {
                service: service.into(),
                slos: vec![SloReport {
                    name: "availability".into(),
                    description: Some(description.into()),
                    objective: 99.9,
                    period: "30d".into(),
                    week_sli: Some(0.99952),
                    previous_week_sli: Some(0.9999),
                    period_sli: Some(0.9994),
                    budget_remaining: Some(0.4),
                    budget_consumed_week: Some(0.12),
                    verdict: Outcome::Pass,
                    reason: "healthy & fine".into(),
                    burn_down: vec![],
                }],
                alerts: vec![],
                rollouts: vec![GatedRollout {
                    id: "v1".into(),
                    at: start,
                    kind: VerdictKind::Canary,
                    verdict: Outcome::Fail,
                    summary: "canary <b>fail</b>".into(),
                }],
                rollouts_total: 1,
            }],
        }
    }

    fn options() -> RenderOptions {
        RenderOptions {
            chart_src: format!("cid:{CHART_CID}"),
            status_url: Some("https://slogate.example".into()),
            generated_at: Utc::now(),
        }
    }

    #[test]
    fn user_text_is_escaped_in_the_html_and_kept_in_the_text() {
        let r = render(
            &report("<script>alert(1)</script> & more", "pay&<i>ments</i>"),
            &options(),
        )
        .unwrap();
        for raw in [
            "<script>",
            "<i>ments",
            "<b>fail</b>",
            "& more",
            "healthy & fine",
        ] {
            assert!(!r.html.contains(raw), "{raw} unescaped in the HTML");
        }
        assert!(r.html.contains("&lt;script&gt;"), "{}", r.html);
        assert!(r.text.contains("<script>alert(1)</script> & more"));
    }

    #[test]
    fn figures_are_printed_the_same_in_both_parts() {
        let r = render(&report("d", "checkout"), &options()).unwrap();
        for figure in ["99.952%", "99.940%", "40.0%", "12.0%", "-0.038 pp", "99.9%"] {
            assert!(r.html.contains(figure), "{figure} not in the HTML");
            assert!(r.text.contains(figure), "{figure} not in the text");
        }
        assert!(r.subject.contains("2026-W07"), "{}", r.subject);
        assert!(r.html.contains("cid:burn-down@slogate"));
    }

    #[test]
    fn a_rollout_links_to_its_verdict_page_not_the_json_api() {
        let r = render(&report("d", "checkout"), &options()).unwrap();
        assert!(
            r.html.contains("https://slogate.example/verdicts/v1"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("/api/v1/verdicts"), "{}", r.html);
    }

    #[test]
    fn changes_have_a_sign_and_durations_read_as_time() {
        assert_eq!(change(0.0123), "+0.012 pp");
        assert_eq!(change(-0.0001), "±0.000 pp");
        assert_eq!(
            duration(std::time::Duration::from_secs(65 * 60)),
            "1 h 05 min"
        );
        assert_eq!(duration(std::time::Duration::from_secs(120)), "2 min");
    }
}
