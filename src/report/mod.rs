//! The weekly SLO report: per team, how each SLO did over the week and over its period, the
//! alerts that fired and the rollouts gated, with a burn-down chart, sent as one email.
//!
//! - [`collect`]: the figures, from the evaluator, Prometheus `ALERTS` and the history.
//! - [`chart`]: the burn-down PNG (plotters, embedded font).
//! - [`render`]: HTML and text from the tera templates in `templates/` (embedded).
//! - [`email`]: the MIME message (lettre), chart inline by Content-ID.
//! - [`smtp`]: the outbox transport for [`crate::store::Channel::Email`].
//! - [`schedule`]: cron ticks, the week due, enqueueing each report once.
//! - [`deliver`]: sending chosen report rows now (`slogate report`).
//! - [`config`]: `report:` in `slogate.yaml`; [`week`]: ISO weeks in a time zone.

pub mod basis;
pub mod chart;
pub mod collect;
pub mod config;
pub mod deliver;
pub mod email;
pub mod render;
pub mod schedule;
pub mod smtp;
pub mod week;

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;

pub use collect::{Sources, TeamReport};
pub use config::{ReportConfig, ReportConfigError, ReportSettings};
pub use schedule::{Reporter, TeamOutcome};
pub use week::IsoWeek;

use crate::spec::Catalog;
use crate::store::StoreError;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Gathering the figures failed.
    #[error(transparent)]
    Collect(#[from] collect::CollectError),
    /// Drawing the chart failed.
    #[error(transparent)]
    Chart(#[from] chart::ChartError),
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] render::RenderError),
    /// Building the email failed.
    #[error(transparent)]
    Email(#[from] email::EmailError),
    /// The outbox could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One team's report, made: the figures, the chart, both parts and the whole email.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The figures.
    pub report: TeamReport,
    /// The burn-down chart (PNG).
    pub chart: Vec<u8>,
    /// Subject, text and HTML (the HTML showing the chart by `cid:`).
    pub rendered: render::Rendered,
    /// The email as sent (RFC 5322).
    pub eml: Vec<u8>,
}

/// The sender used when no SMTP server is configured (a dry run).
pub const DRY_RUN_FROM: &str = "slogate <slogate@localhost>";

/// Makes `team`'s report for `week`, addressed to `to`.
pub async fn prepare(
    settings: &ReportSettings,
    sources: &Sources,
    catalog: &Arc<Catalog>,
    team: &str,
    week: IsoWeek,
    to: &[Mailbox],
    now: DateTime<Utc>,
) -> Result<Prepared, ReportError> {
    let report = collect::collect_team(sources, catalog, team, week, settings.timezone).await?;
    let lines: Vec<chart::Line> = report
        .services
        .iter()
        .flat_map(|s| {
            s.slos.iter().map(move |slo| chart::Line {
                label: format!("{} / {}", s.service, slo.name),
                points: slo.burn_down.clone(),
            })
        })
        .collect();
    let png = chart::burn_down_png(&lines, report.start, report.end, settings.timezone)?;
    let rendered = render::render(
        &report,
        &render::RenderOptions {
            chart_src: format!("cid:{}", render::CHART_CID),
            status_url: settings.status_url.clone(),
            generated_at: now,
        },
    )?;
    let from = match &settings.smtp {
        Some(smtp) => smtp.from.clone(),
        None => DRY_RUN_FROM
            .parse()
            .map_err(|e| email::EmailError::from_address(&e))?,
    };
    let to: Vec<Mailbox> = if to.is_empty() {
        vec![
            "report-preview@example.invalid"
                .parse()
                .map_err(|e| email::EmailError::from_address(&e))?,
        ]
    } else {
        to.to_vec()
    };
    let key = schedule::report_key(team, week);
    let eml = email::build(
        &rendered,
        &png,
        &from,
        &to,
        &email::message_id(&key),
        SystemTime::from(now),
    )?;
    Ok(Prepared {
        report,
        chart: png,
        rendered,
        eml,
    })
}
