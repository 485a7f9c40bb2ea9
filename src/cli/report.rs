//! `slogate report`: the weekly SLO report for one week, written to files or sent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Args;

use super::settings::SettingsArgs;

use slogate::analysis::slo::GatePolicy;
use slogate::evaluate::catalog::StatusCache;
use slogate::notify::Backoff;
use slogate::report::collect::teams;
use slogate::report::render::{self, RenderOptions};
use slogate::report::schedule::report_key;
use slogate::report::smtp::SmtpTransport;
use slogate::report::{IsoWeek, Reporter, Sources, TeamOutcome, deliver, prepare};
use slogate::source::{PrometheusSource, QuerySource};
use slogate::store::MessageState;

/// Make the weekly SLO report of every team for one week, and send it (or, with --dry-run,
/// write it to files).
///
/// Reads the same settings as `serve` (config file, then SLOGATE_* env, then flags). Sending
/// enqueues each team's report in the outbox under `report/<team>/<week>` (never twice) and
/// tries it once now over `report.smtp`; a report that is not delivered stays in the outbox
/// for `slogate serve` to retry, and the command exits 1 with the reason.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    settings: SettingsArgs,
    /// Write `<team>-<week>.eml`, `.html` and `.png` into DIR instead of sending.
    #[arg(long, value_name = "DIR")]
    dry_run: Option<PathBuf>,
    /// The week, as YYYY-Www (default: the last full week in report.timezone).
    #[arg(long)]
    week: Option<String>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let config = args.settings.load()?;
    let env_tokens = std::env::var("SLOGATE_API_TOKENS").ok();
    let settings = config.settings(env_tokens.as_deref())?;
    let report = settings.report.clone();
    let now = Utc::now();
    let week = match &args.week {
        Some(text) => text
            .parse::<IsoWeek>()
            .map_err(|e| anyhow::anyhow!("--week: {e}"))?,
        None => IsoWeek::last_full_before(now, report.timezone),
    };
    let (_, end) = week.bounds(report.timezone);
    if end > now {
        bail!("--week {week}: the week is not over yet (it ends {end})");
    }
    let catalog = Arc::new(super::load_definitions(&settings.slos)?);
    // One cache for the run: every team's report shares the catalog's evaluation at the
    // week's end.
    let status_cache = Arc::new(StatusCache::new(
        settings.status_cache_ttl,
        settings.evaluation,
    ));
    let prometheus: Arc<dyn QuerySource> = Arc::new(
        PrometheusSource::new(settings.prometheus.clone())
            .map_err(|e| anyhow::anyhow!("prometheus.url: {e}"))?,
    );
    let policy = GatePolicy {
        budget_floor: settings.gate.budget_floor,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    if let Some(dir) = &args.dry_run {
        // The history is only read: open it if it is there, report no rollouts otherwise.
        let store = settings
            .db
            .open_existing_read_only()
            .with_context(|| format!("opening the history {}", settings.db))?
            .map(Arc::new);
        let sources = Sources {
            prometheus,
            store,
            policy,
            status_cache,
            basis: Default::default(),
        };
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        return runtime.block_on(async {
            for team in teams(&catalog).keys() {
                let to = report.recipients(team).to_vec();
                let made = prepare(&report, &sources, &catalog, team, week, &to, now)
                    .await
                    .with_context(|| format!("team {team}"))?;
                let stem = format!("{}-{week}", file_stem(team));
                let png = format!("{stem}.png");
                let preview = render::render(
                    &made.report,
                    &RenderOptions {
                        chart_src: png.clone(),
                        status_url: report.status_url.clone(),
                        generated_at: now,
                    },
                )?;
                write(dir, &format!("{stem}.eml"), &made.eml)?;
                write(dir, &format!("{stem}.html"), preview.html.as_bytes())?;
                write(dir, &png, &made.chart)?;
                println!("{team}: {}", dir.join(&stem).display());
            }
            Ok(ExitCode::SUCCESS)
        });
    }

    let Some(smtp) = report.smtp.clone() else {
        bail!("report.smtp is not configured: set it to send, or use --dry-run DIR");
    };
    let store = Arc::new(
        settings
            .db
            .open()
            .with_context(|| format!("opening the outbox {}", settings.db))?,
    );
    let reporter = Reporter {
        settings: report.clone(),
        sources: Sources {
            prometheus,
            store: Some(store.clone()),
            policy,
            status_cache,
            basis: Default::default(),
        },
        store: store.clone(),
    };
    runtime.block_on(async {
        // lettre's connection pool lives on the runtime: build (and drop) it inside.
        let transport = SmtpTransport::new(&smtp)?;
        let outcomes = reporter.enqueue_week(&catalog, week, now).await;
        let mut problems = Vec::new();
        let mut keys = Vec::new();
        for (team, outcome) in &outcomes {
            match outcome {
                TeamOutcome::Enqueued { .. } | TeamOutcome::AlreadyQueued { .. } => {
                    keys.push(report_key(team, week))
                }
                TeamOutcome::NoRecipients => problems.push(format!(
                    "{team}: no recipient (report.recipients.teams.{team} or report.recipients.default)"
                )),
                TeamOutcome::Failed(reason) => problems.push(format!("{team}: {reason}")),
            }
        }
        let rows = deliver::send_now(
            store.clone(),
            Arc::new(transport),
            &keys,
            Backoff::default(),
            smtp.timeout,
        )
        .await?;
        for row in rows {
            match row.state {
                MessageState::Sent => println!("{}: sent to {}", row.key, row.target),
                MessageState::Pending => problems.push(format!(
                    "{}: not delivered, left in the outbox for the next try: {}",
                    row.key,
                    row.last_error.unwrap_or_default()
                )),
                MessageState::Rejected => problems.push(format!(
                    "{}: rejected: {}",
                    row.key,
                    row.last_error.unwrap_or_default()
                )),
            }
        }
        if problems.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        for p in &problems {
            eprintln!("slogate: {p}");
        }
        Ok(ExitCode::from(super::EXIT_FINDING))
    })
}

/// A team name as a file name: letters, digits, `-`, `_` and `.` kept, the rest `_`.
fn file_stem(team: &str) -> String {
    team.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}
