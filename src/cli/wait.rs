//! `slogate wait`: for pipelines without Argo Rollouts or Flagger (Helm hooks, ECS traffic
//! shifts, CI jobs). Asks a gate every interval until it says pass or fail, or the time is up,
//! printing one line a person can read in a CI log per ask.
//!
//! Exit codes are what a pipeline branches on: 0 pass, 1 fail, 2 inconclusive at the timeout,
//! 3 an error (bad arguments, a refused token, a server unreachable for `--max-errors`
//! consecutive asks). Never a pass without a verdict that says pass.

mod ask;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{SecondsFormat, Utc};
use clap::{Args, ValueEnum};
use tokio::time::Instant;

use slogate::source::prometheus::{PrometheusSettings, PrometheusSource};
use slogate::spec::PromDuration;
use slogate::store::Store;
use slogate::verdict::{Outcome, Verdict};

use ask::{AskError, Asker, CanaryAsk, Gate};

/// Exit status: the gate said fail.
const EXIT_FAIL: u8 = 1;
/// Exit status: still inconclusive when the time was up.
const EXIT_UNDECIDED: u8 = 2;
/// Exit status: no verdict could be had (arguments, token, server unreachable).
pub const EXIT_ERROR: u8 = 3;

/// Wait for a gate's verdict: ask every --interval until pass or fail, or --timeout.
///
/// Asks a running `slogate serve` (--server, the token from --token-file or SLOGATE_TOKEN),
/// or judges in this process on Prometheus (--prometheus, the definitions from --slos) with
/// the same evaluation as the server's gates. Exit 0 pass, 1 fail, 2 inconclusive or timed
/// out, 3 error.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The gate: `canary` (the canary version against the baseline) or `slo` (the error
    /// budget).
    #[arg(value_enum)]
    gate: GateKind,
    /// The service, as its definitions name it.
    #[arg(long)]
    service: String,
    /// Canary gate: the baseline's version label value.
    #[arg(long)]
    baseline: Option<String>,
    /// Canary gate: the canary's version label value.
    #[arg(long)]
    canary: Option<String>,
    /// Canary gate: how far back each ask looks (default: the profile's lookback).
    #[arg(long)]
    lookback: Option<String>,
    /// SLO gate: only this SLO.
    #[arg(long)]
    slo: Option<String>,
    /// A running `slogate serve` to ask (http:// or https://).
    #[arg(long)]
    server: Option<String>,
    /// File holding the API token (first line). Or the env SLOGATE_TOKEN; there is no flag
    /// for the token itself, since arguments show in `ps` and in CI logs.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Judge in this process on this Prometheus instead of asking a server.
    #[arg(long)]
    prometheus: Option<String>,
    /// With --prometheus: the SLO definitions (directory or file).
    #[arg(long, default_value = "slo-definitions", env = "SLOGATE_SLOS")]
    slos: PathBuf,
    /// Time between asks.
    #[arg(long, default_value = "1m")]
    interval: String,
    /// Give up (exit 2) when no decisive verdict came within this long.
    #[arg(long, default_value = "15m")]
    timeout: String,
    /// Wait this long before the first ask (the canary gathering traffic); default none.
    #[arg(long)]
    initial_delay: Option<String>,
    /// Consecutive asks without an answer (unreachable, timed out, 429, 5xx) tolerated; one
    /// more is exit 3. At the defaults a server down for 4 minutes (a restart) is ridden out.
    #[arg(long, default_value_t = 5)]
    max_errors: u32,
    /// How long one ask may take.
    #[arg(long, default_value = "20s")]
    request_timeout: String,
    /// With --prometheus: the confidence of the canary tests.
    #[arg(long, default_value_t = slogate::analysis::canary::DEFAULT_CONFIDENCE)]
    confidence: f64,
    /// With --prometheus: the SLO gate fails when less than this share of the error budget
    /// remains (0..1).
    #[arg(long, default_value_t = 0.0)]
    budget_floor: f64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GateKind {
    Canary,
    Slo,
}

/// Runs `slogate wait`: every error becomes exit 3 with its reason.
pub fn run(args: WaitArgs) -> anyhow::Result<ExitCode> {
    Ok(match try_run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("slogate wait: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    })
}

/// When to ask.
struct Pacing {
    interval: Duration,
    timeout: Duration,
    initial_delay: Duration,
    max_errors: u32,
}

fn try_run(args: WaitArgs) -> anyhow::Result<ExitCode> {
    let duration = |flag: &str, text: &str| -> anyhow::Result<Duration> {
        PromDuration::parse(text)
            .map(|d| Duration::from_secs(d.as_secs()))
            .map_err(|e| anyhow::anyhow!("{flag}: {text:?}: {e}"))
    };
    let pacing = Pacing {
        interval: duration("--interval", &args.interval)?,
        timeout: duration("--timeout", &args.timeout)?,
        initial_delay: match &args.initial_delay {
            Some(text) => duration("--initial-delay", text)?,
            None => Duration::ZERO,
        },
        max_errors: args.max_errors,
    };
    if pacing.interval < Duration::from_secs(1) {
        bail!("--interval: {:?} is shorter than a second", args.interval);
    }
    if pacing.max_errors == 0 {
        bail!("--max-errors: must be at least 1");
    }
    let request_timeout = duration("--request-timeout", &args.request_timeout)?;
    let gate = gate(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let asker = runtime.block_on(asker(&args, request_timeout))?;
    Ok(ExitCode::from(
        runtime.block_on(wait(&asker, &gate, &pacing)),
    ))
}

fn gate(args: &WaitArgs) -> anyhow::Result<Gate> {
    if args.service.is_empty() {
        bail!("--service: is empty");
    }
    Ok(match args.gate {
        GateKind::Canary => {
            if args.slo.is_some() {
                bail!("--slo: only for the slo gate");
            }
            let baseline = args
                .baseline
                .clone()
                .context("--baseline: the canary gate needs it")?;
            let canary = args
                .canary
                .clone()
                .context("--canary: the canary gate needs it")?;
            if baseline.is_empty() || canary.is_empty() {
                bail!("--baseline and --canary: must not be empty");
            }
            if baseline == canary {
                bail!("--canary: names the same version as --baseline: nothing to compare");
            }
            let lookback = match &args.lookback {
                Some(text) => Some(
                    PromDuration::parse(text)
                        .map_err(|e| anyhow::anyhow!("--lookback: {text:?}: {e}"))?,
                ),
                None => None,
            };
            Gate::Canary(CanaryAsk {
                service: args.service.clone(),
                baseline,
                canary,
                lookback,
            })
        }
        GateKind::Slo => {
            for (flag, given) in [
                ("--baseline", args.baseline.is_some()),
                ("--canary", args.canary.is_some()),
                ("--lookback", args.lookback.is_some()),
            ] {
                if given {
                    bail!("{flag}: only for the canary gate");
                }
            }
            Gate::Slo {
                service: args.service.clone(),
                slo: args.slo.clone(),
            }
        }
    })
}

async fn asker(args: &WaitArgs, request_timeout: Duration) -> anyhow::Result<Asker> {
    match (&args.server, &args.prometheus) {
        (Some(url), None) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("--server: {url:?} is not an http:// or https:// URL");
            }
            Asker::server(url, token(args)?, request_timeout)
        }
        (None, Some(url)) => {
            if args.token_file.is_some() {
                bail!("--token-file: only with --server");
            }
            if !(args.confidence > 0.5 && args.confidence < 1.0) {
                bail!("--confidence: must be between 0.5 and 1");
            }
            if !(0.0..=1.0).contains(&args.budget_floor) {
                bail!("--budget-floor: must be between 0 and 1");
            }
            let catalog = super::load_definitions(&args.slos).context("--slos")?;
            let source = PrometheusSource::new(PrometheusSettings {
                url: url.clone(),
                ..PrometheusSettings::default()
            })
            .map_err(|e| anyhow::anyhow!("--prometheus: {e}"))?;
            let store = Store::open_in_memory().context("the in-memory sequential state")?;
            Ok(Asker::Direct {
                source,
                catalog: Box::new(catalog),
                store: Arc::new(store),
                confidence: args.confidence,
                budget_floor: args.budget_floor,
            })
        }
        (Some(_), Some(_)) => bail!("--server and --prometheus: give one, not both"),
        (None, None) => bail!(
            "--server or --prometheus: give --server URL (a running slogate serve) or \
             --prometheus URL (judge in this process)"
        ),
    }
}

/// The token: --token-file's first line, else SLOGATE_TOKEN, else none.
fn token(args: &WaitArgs) -> anyhow::Result<Option<String>> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--token-file: cannot read {}", path.display()))?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            bail!("--token-file: {} holds no token", path.display());
        }
        return Ok(Some(token));
    }
    Ok(std::env::var("SLOGATE_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty()))
}

/// The loop: the exit status.
async fn wait(asker: &Asker, gate: &Gate, pacing: &Pacing) -> u8 {
    let started = Instant::now();
    let deadline = started + pacing.timeout;
    if !pacing.initial_delay.is_zero() {
        println!(
            "{} waiting {} before the first ask",
            now(),
            human(pacing.initial_delay)
        );
        tokio::time::sleep(pacing.initial_delay).await;
    }
    let mut asks = 0u32;
    let mut errors = 0u32;
    let mut last_verdict: Option<Verdict> = None;
    loop {
        asks += 1;
        // The last ask that fits before the timeout tells the canary gate so.
        let last = Instant::now() + pacing.interval > deadline;
        let asked_error = match asker.ask(gate, last).await {
            Ok(verdict) => {
                errors = 0;
                println!(
                    "{} ask {asks}{}: {}: {}",
                    now(),
                    look(&verdict),
                    verdict.verdict,
                    verdict.summary
                );
                match verdict.verdict {
                    Outcome::Pass => return finish(&verdict, asks, started, 0),
                    Outcome::Fail => return finish(&verdict, asks, started, EXIT_FAIL),
                    Outcome::Inconclusive => last_verdict = Some(verdict),
                }
                false
            }
            Err(AskError::Refused(why)) => {
                eprintln!("{} ask {asks}: error: {why}", now());
                return EXIT_ERROR;
            }
            Err(AskError::Transport(why)) => {
                errors += 1;
                println!(
                    "{} ask {asks}: no answer ({errors} of {} tolerated in a row): {why}",
                    now(),
                    pacing.max_errors
                );
                if errors >= pacing.max_errors {
                    eprintln!(
                        "slogate wait: no answer {errors} times in a row; giving up (exit 3)"
                    );
                    return EXIT_ERROR;
                }
                true
            }
        };
        if last || Instant::now() + pacing.interval > deadline {
            return timed_out(last_verdict.as_ref(), asks, started, asked_error);
        }
        tokio::time::sleep(pacing.interval).await;
    }
}

/// The decisive verdict's reasons, and its exit status.
fn finish(verdict: &Verdict, asks: u32, started: Instant, code: u8) -> u8 {
    println!(
        "slogate wait: {} after {asks} ask(s) in {}: {}",
        verdict.verdict,
        human(started.elapsed()),
        verdict.summary
    );
    print_checks(verdict);
    code
}

/// Time is up: exit 2 after an inconclusive last answer, 3 when the last ask had none.
fn timed_out(last: Option<&Verdict>, asks: u32, started: Instant, no_answer: bool) -> u8 {
    let waited = human(started.elapsed());
    match last {
        Some(verdict) if !no_answer => {
            println!(
                "slogate wait: timed out after {asks} ask(s) in {waited}, still inconclusive: {}",
                verdict.summary
            );
            print_checks(verdict);
            EXIT_UNDECIDED
        }
        _ => {
            eprintln!("slogate wait: timed out after {asks} ask(s) in {waited} without an answer");
            EXIT_ERROR
        }
    }
}

fn print_checks(verdict: &Verdict) {
    for check in &verdict.checks {
        println!("  {}: {}: {}", check.name, check.verdict, check.reason);
    }
    println!("  verdict id: {}", verdict.id);
}

/// ` (look N)` when the verdict comes from a sequential test's look.
fn look(verdict: &Verdict) -> String {
    verdict
        .checks
        .iter()
        .filter_map(|c| c.sequential.as_ref().map(|s| s.look))
        .max()
        .map(|l| format!(" (look {l})"))
        .unwrap_or_default()
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn human(d: Duration) -> String {
    PromDuration::from_secs(d.as_secs()).to_string()
}
