//! Command-line interface: one file per subcommand, one enum arm each.

mod calibrate;
mod evaluate;
mod generate;
mod judge;
mod report;
mod serve;
mod settings;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status: a finding (invalid definitions, a failed verdict).
pub const EXIT_FINDING: u8 = 1;
/// Exit status: bad usage or unreadable input.
pub const EXIT_USAGE: u8 = 2;

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
    }
}
