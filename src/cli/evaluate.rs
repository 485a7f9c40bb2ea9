//! `slogate evaluate`: how each SLO is doing now (or at a given time), from Prometheus.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, TimeZone, Utc};
use clap::{Args, ValueEnum};

use slogate::analysis::slo::{GatePolicy, SloStatus};
use slogate::evaluate::{evaluate_service, status_json};
use slogate::numfmt::short;
use slogate::source::prometheus::{PrometheusSettings, PrometheusSource};
use slogate::verdict::Outcome;

/// Evaluate SLOs against Prometheus: SLI per window, error budget, burn rates, alert tiers and
/// the error-budget gate's verdict.
///
/// Computed from the raw SLI queries, so it works before any recording rule is deployed. Exits
/// 0 when every evaluated SLO passes, 1 when any fails or is inconclusive (missing data, an
/// unreachable or slow Prometheus), 2 on bad usage.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Prometheus base URL.
    #[arg(long, env = "SLOGATE_PROMETHEUS_URL")]
    prometheus: String,
    /// SLO definitions: a directory or file.
    #[arg(long, default_value = "slo-definitions", env = "SLOGATE_SLOS")]
    slos: PathBuf,
    /// Only this service.
    #[arg(long)]
    service: Option<String>,
    /// Only this SLO (with --service).
    #[arg(long, requires = "service")]
    slo: Option<String>,
    /// Evaluation time: RFC 3339 or unix seconds (default: now).
    #[arg(long)]
    at: Option<String>,
    /// Output for people (table) or machines (json).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Seconds each query may take.
    #[arg(long, default_value_t = 4.0)]
    query_timeout: f64,
    /// Fail the gate when less than this share of the error budget remains (0..1).
    #[arg(long, default_value_t = 0.0)]
    budget_floor: f64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let at = parse_time(args.at.as_deref())?;
    if !(0.0..=1.0).contains(&args.budget_floor) {
        bail!("--budget-floor must be between 0 and 1");
    }
    let catalog = super::load_definitions(&args.slos)?;
    let services: Vec<_> = catalog
        .services
        .iter()
        .filter(|s| args.service.as_ref().is_none_or(|name| &s.service == name))
        .collect();
    if services.is_empty() {
        bail!(
            "no service {:?} in {}",
            args.service.unwrap_or_default(),
            args.slos.display()
        );
    }
    if let (Some(service), Some(slo)) = (services.first(), &args.slo)
        && !service.slos.iter().any(|s| &s.name == slo)
    {
        bail!("service {} has no SLO {slo:?}", service.service);
    }
    let source = PrometheusSource::new(PrometheusSettings {
        url: args.prometheus.clone(),
        query_timeout: Duration::from_secs_f64(args.query_timeout.max(0.1)),
        ..PrometheusSettings::default()
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let policy = GatePolicy {
        budget_floor: args.budget_floor,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let statuses: Vec<SloStatus> = runtime.block_on(async {
        let mut all = Vec::new();
        for service in &services {
            let slo = args.slo.as_deref();
            all.extend(
                evaluate_service(&source, &catalog, service, slo, at.timestamp(), &policy).await,
            );
        }
        all
    });
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&status_json(&statuses, at))?
        ),
        Output::Table => print_table(&statuses),
    }
    let all_pass = statuses.iter().all(|s| s.verdict == Outcome::Pass);
    Ok(if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FINDING)
    })
}

/// `--at`: RFC 3339 or unix seconds.
fn parse_time(text: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    let Some(text) = text else {
        return Ok(Utc::now());
    };
    if let Ok(secs) = text.parse::<i64>() {
        return Utc
            .timestamp_opt(secs, 0)
            .single()
            .with_context(|| format!("--at {text}: not a valid unix time"));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!("--at {text}: expected RFC 3339 (2026-11-22T05:00:00Z) or unix seconds")
        })
}

fn print_table(statuses: &[SloStatus]) {
    println!(
        "{:<24} {:<22} {:>9} {:>8} {:>10} {:>9} {:>9} {:<8} {:<13} REASON",
        "SERVICE", "SLO", "OBJECTIVE", "PERIOD", "SLI", "BUDGET", "BURN 1h", "ALERTS", "VERDICT"
    );
    for s in statuses {
        let sli = s.sli.iter().next_back().map_or("-".to_string(), |(_, v)| {
            format!("{}%", short((v * 1e5).round() / 1e3))
        });
        let budget = s.error_budget.map_or("-".to_string(), |b| {
            format!("{}%", short((b.remaining * 1e3).round() / 10.0))
        });
        let burn = s
            .burn_rate
            .iter()
            .find(|(w, _)| w.as_secs() == 3600)
            .map_or("-".to_string(), |(_, b)| {
                format!("{}x", short((b * 100.0).round() / 100.0))
            });
        let alerts = if s.alerts.is_empty() {
            "-".to_string()
        } else {
            s.alerts.join(",")
        };
        println!(
            "{:<24} {:<22} {:>9} {:>8} {:>10} {:>9} {:>9} {:<8} {:<13} {}",
            s.service,
            s.slo,
            format!("{}%", short(s.objective)),
            s.period,
            sli,
            budget,
            burn,
            alerts,
            s.verdict.to_string(),
            s.reason
        );
    }
}
