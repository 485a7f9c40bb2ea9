//! `GET /slos/{service}/{slo}`: one SLO: its status now, the SLI and error budget over the
//! period as charts, each alert condition with its windows' burn rates, and links to the
//! Grafana dashboards when `pages.grafana_url` is set.

use axum::extract::{Path, State};
use axum::response::Html;
use chrono::Utc;
use serde::Serialize;

use super::chart::line_chart;
use super::overview::{SloMeta, SloRow, row};
use super::render::{PageError, render};
use super::view::{burn_text, encode};
use crate::analysis::slo::SloStatus;
use crate::evaluate::series::{SloPoint, slo_series};
use crate::generate::grafana::{OVERVIEW_UID, dashboard_uid};
use crate::server::state::AppState;
use crate::server::status::statuses;
use crate::spec::windows::alert_windows_with;

/// Points of each chart.
pub const CHART_POINTS: usize = 120;

/// One alert condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionView {
    /// `page` or `ticket`.
    pub tier: &'static str,
    /// Long window and its burn rate.
    pub long: (String, String),
    /// Short window and its burn rate.
    pub short: (String, String),
    /// The factor both must exceed.
    pub factor: String,
    /// Share of the budget one long window at that burn spends.
    pub budget_fraction: String,
    /// Whether the condition holds now (both windows over the factor).
    pub firing: bool,
}

/// A Grafana link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// Text.
    pub label: String,
    /// URL.
    pub href: String,
}

/// The SLO page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloView {
    /// The overview row of this SLO (status, budget bar, burns).
    pub row: SloRow,
    /// The alert conditions.
    pub conditions: Vec<ConditionView>,
    /// SLI chart (SVG).
    pub sli_chart: String,
    /// Budget chart (SVG).
    pub budget_chart: String,
    /// Why the charts are empty, when the range query failed.
    pub series_error: Option<String>,
    /// Hours until the budget runs out at the current burn.
    pub exhaustion: Option<String>,
    /// Grafana dashboards.
    pub grafana: Vec<Link>,
    /// When evaluated.
    pub evaluated_at: String,
}

/// The view of one SLO's status and series.
pub fn view(
    status: &SloStatus,
    meta: &SloMeta,
    series: Result<&[SloPoint], &str>,
    grafana_url: Option<&str>,
    evaluated_at: String,
) -> SloView {
    let over = |w: &crate::spec::PromDuration| status.burn_rate.get(w).copied();
    let conditions = [
        ("page", meta.windows.page_quick),
        ("page", meta.windows.page_slow),
        ("ticket", meta.windows.ticket_quick),
        ("ticket", meta.windows.ticket_slow),
    ]
    .into_iter()
    .map(|(tier, c)| {
        let text =
            |w: &crate::spec::PromDuration| over(w).map_or_else(|| "n/a".to_string(), burn_text);
        ConditionView {
            tier,
            long: (c.long.to_string(), text(&c.long)),
            short: (c.short.to_string(), text(&c.short)),
            factor: burn_text(c.factor),
            budget_fraction: super::view::percent(c.budget_fraction, 1),
            firing: [c.long, c.short]
                .iter()
                .all(|w| over(w).is_some_and(|b| b > c.factor)),
        }
    })
    .collect();
    let points = series.unwrap_or(&[]);
    let sli: Vec<(i64, f64)> = points.iter().map(|p| (p.at, p.sli)).collect();
    let budget: Vec<(i64, f64)> = points.iter().map(|p| (p.at, p.budget_remaining)).collect();
    let objective = status.objective / 100.0;
    let grafana = grafana_url
        .map(|base| {
            vec![
                Link {
                    label: format!("{} dashboard in Grafana", status.service),
                    href: format!("{base}/d/{}", encode(&dashboard_uid(&status.service))),
                },
                Link {
                    label: "SLO overview dashboard in Grafana".to_string(),
                    href: format!("{base}/d/{OVERVIEW_UID}"),
                },
            ]
        })
        .unwrap_or_default();
    SloView {
        row: row(status, Some(meta)),
        conditions,
        sli_chart: line_chart(
            "sli",
            &format!("SLI of {} over the last {}", status.slo, status.period),
            &sli,
            Some((
                objective,
                &format!("objective {}%", crate::numfmt::short(status.objective)),
            )),
            true,
        ),
        budget_chart: line_chart(
            "budget",
            &format!(
                "Error budget left of {} over the last {}",
                status.slo, status.period
            ),
            &budget,
            Some((0.0, "budget spent")),
            true,
        ),
        series_error: series.err().map(String::from),
        exhaustion: status
            .exhaustion_hours
            .map(|h| format!("{h:.1} hours at the current burn rate")),
        grafana,
        evaluated_at,
    }
}

/// `GET /slos/{service}/{slo}`.
pub async fn page(
    State(state): State<AppState>,
    Path((service, slo)): Path<(String, String)>,
) -> Result<Html<String>, PageError> {
    let catalog = state.catalog();
    let found = catalog
        .services
        .iter()
        .find(|s| s.service == service)
        .ok_or_else(|| {
            PageError::not_found(format!(
                "there is no service {service:?} in the SLO definitions"
            ))
        })?;
    let spec = found
        .slos
        .iter()
        .find(|s| s.name == slo)
        .ok_or_else(|| PageError::not_found(format!("service {service} has no SLO {slo:?}")))?;
    let at = Utc::now();
    let deadline = state.settings.request_deadline;
    let (status, series) = tokio::join!(
        statuses(&state, std::slice::from_ref(&service), Some(&slo), at),
        tokio::time::timeout(
            deadline,
            slo_series(state.source.as_ref(), spec, at.timestamp(), CHART_POINTS)
        ),
    );
    let status = status?
        .into_iter()
        .next()
        .ok_or_else(|| PageError::not_found(format!("service {service} has no SLO {slo:?}")))?;
    let series = series.unwrap_or_else(|_| {
        Err(format!(
            "Prometheus did not answer within {}s",
            deadline.as_secs_f64()
        ))
    });
    let meta = SloMeta {
        team: found.team.clone(),
        description: spec.description.clone(),
        windows: alert_windows_with(spec.period.nominal(), &catalog.alert_windows),
    };
    let view = view(
        &status,
        &meta,
        series.as_deref().map_err(String::as_str),
        state.settings.pages.grafana_url.as_deref(),
        crate::verdict::rfc3339(at),
    );
    render("slo.html", &format!("{service} / {slo}"), &view)
}
