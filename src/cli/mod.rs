//! Command-line interface: one file per subcommand, one enum arm each.

mod calibrate;
mod evaluate;
mod generate;
mod judge;
mod report;
mod serve;
mod settings;
mod validate;
mod wait;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status: a finding (invalid definitions, a failed verdict).
pub const EXIT_FINDING: u8 = 1;
/// Exit status: bad usage or unreadable input.
pub const EXIT_USAGE: u8 = 2;
/// `slogate wait`'s exit status for bad usage (its 2 means "inconclusive", for pipelines).
pub use wait::EXIT_ERROR as EXIT_WAIT_USAGE;

/// Whether the command line runs `slogate wait` (its usage errors exit 3, not clap's 2).
pub fn is_wait(args: &[std::ffi::OsString]) -> bool {
    args.get(1).is_some_and(|a| a == "wait")
}

/// slogate: the SLO gatekeeper for progressive delivery.
///
/// Reads SLO definitions (slogate's own format, Sloth and OpenSLO), generates Prometheus
/// rules, Alertmanager routing, Grafana dashboards and Argo Rollouts templates, and returns
/// pass / fail / inconclusive verdicts that rollouts wait on.
#[derive(Debug, Parser)]
#[command(name = "slogate", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(validate::ValidateArgs),
    Generate(generate::GenerateArgs),
    Evaluate(evaluate::EvaluateArgs),
    Judge(judge::JudgeArgs),
    Calibrate(calibrate::CalibrateArgs),
    Serve(serve::ServeArgs),
    Report(report::ReportArgs),
    Wait(wait::WaitArgs),
}

/// The SLO definitions at `path`, every diagnostic printed to stderr when any is an error.
pub fn load_definitions(path: &std::path::Path) -> anyhow::Result<slogate::spec::Catalog> {
    let report = slogate::spec::load_paths(&[path.to_path_buf()]);
    if report.has_errors() {
        for d in &report.diagnostics {
            eprintln!("{d}");
        }
        anyhow::bail!("the SLO definitions in {} have errors", path.display());
    }
    Ok(report.catalog)
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Judge(args) => judge::run(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Report(args) => report::run(args),
        Command::Wait(args) => wait::run(args),
    }
}
