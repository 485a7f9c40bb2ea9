//! `slogate calibrate SERVICE`: the canary profile backtested A/A on the service's own history.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use slogate::analysis::calibration::Noise;
use slogate::evaluate::calibrate::{
    CalibrationRequest, MAX_REACH, MetricCalibration, calibrate, calibrations_json,
};
use slogate::numfmt::sig;
use slogate::source::prometheus::{PrometheusSettings, PrometheusSource};
use slogate::spec::{self, PromDuration};

/// Backtest a service's canary profile on its own recent data: one version against itself an
/// offset earlier (A/A), rollouts replayed every 15 minutes through the gate and Argo's
/// analysis rules. Reports the false-fail and pause rates the profile would have had, the
/// noise the data show (rate CV of counts; sd and drift of values), and the smallest tolerance
/// that keeps false fails at 1% and pauses at 5%. Exits 0 when every metric meets those
/// goals at its tolerance, 1 when one does not, 2 on bad usage.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The service, as its definitions name it.
    service: String,
    /// The version label value whose history is replayed (e.g. the stable pod-template hash).
    #[arg(long)]
    version: String,
    /// Prometheus base URL.
    #[arg(long, env = "SLOGATE_PROMETHEUS_URL")]
    prometheus: String,
    /// SLO definitions: a directory or file.
    #[arg(long, default_value = "slo-definitions", env = "SLOGATE_SLOS")]
    slos: PathBuf,
    /// History replayed, ending at --end.
    #[arg(long, default_value = "24h")]
    history: String,
    /// How much earlier the A/A baseline is.
    #[arg(long, default_value = "1h")]
    offset: String,
    /// End of the history: unix seconds (default: now).
    #[arg(long)]
    end: Option<i64>,
    /// Output for people (table) or machines (json).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Table,
    Json,
}

pub fn run(args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let duration = |flag: &str, text: &str| {
        PromDuration::parse(text).map_err(|e| anyhow::anyhow!("--{flag} {text:?}: {e}"))
    };
    let history = duration("history", &args.history)?;
    let offset = duration("offset", &args.offset)?;
    if history.as_secs() < 3600 || offset.as_secs() < 60 {
        bail!("--history must be at least 1h and --offset at least 1m");
    }
    if history.as_std() + offset.as_std() > MAX_REACH {
        bail!(
            "--history plus --offset reach back more than 7d: the one-minute range query would \
             pass Prometheus' 11,000 points"
        );
    }
    let report = spec::load_paths(std::slice::from_ref(&args.slos));
    if report.has_errors() {
        for d in &report.diagnostics {
            eprintln!("{d}");
        }
        bail!("the SLO definitions have errors");
    }
    let Some(service) = report.catalog.service(&args.service) else {
        bail!("no service {:?} in {}", args.service, args.slos.display());
    };
    let Some(profile) = &service.canary else {
        bail!("service {} has no canary profile", args.service);
    };
    let source = PrometheusSource::new(PrometheusSettings {
        url: args.prometheus.clone(),
        query_timeout: Duration::from_secs(30),
        ..PrometheusSettings::default()
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let request = CalibrationRequest {
        version: args.version.clone(),
        end: args.end.unwrap_or_else(|| chrono::Utc::now().timestamp()),
        minutes: (history.as_secs() / 60) as usize,
        offset_secs: offset.as_secs() as i64,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let results = runtime.block_on(calibrate(&source, profile, &request));
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&calibrations_json(&results))?
        ),
        Output::Table => print_table(&results),
    }
    let ok = results
        .iter()
        .all(|m| m.skipped.is_some() || m.within_goals());
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FINDING)
    })
}

fn print_table(results: &[MetricCalibration]) {
    for m in results {
        if let Some(why) = &m.skipped {
            println!("{}: skipped: {why}", m.name);
            continue;
        }
        let c = &m.current;
        println!(
            "{}: tolerance {}x: {} A/A rollouts, ever failed {}%, promoted {}%, paused {}%{}",
            m.name,
            sig(m.tolerance),
            c.rollouts,
            sig(c.pct(c.ever_failed)),
            sig(c.pct(c.successful)),
            sig(c.pct(c.paused)),
            if m.within_goals() {
                ""
            } else {
                "  <- beyond the goals (1% failed, 5% paused)"
            }
        );
        match m.noise {
            Some(Noise::Counts {
                rate_cv,
                dispersion,
                minutes,
            }) => println!(
                "  noise: per-minute rate CV {} per side (log-odds variance {}, {minutes} minutes)",
                sig(rate_cv),
                sig(dispersion)
            ),
            Some(Noise::Values { sd, phi, minutes }) => println!(
                "  noise: per-minute log ratio sd {}, lag-one correlation {} ({minutes} minutes)",
                sig(sd),
                sig(phi)
            ),
            None => println!("  noise: too few minutes with data on both sides"),
        }
        match m.suggested {
            Some(t) => println!("  smallest tolerance within the goals: {}x", sig(t)),
            None => println!(
                "  no tolerance up to {}x meets the goals",
                sig(m.grid.last().map_or(0.0, |g| g.0))
            ),
        }
    }
}
