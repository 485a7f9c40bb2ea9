//! `slogate validate`: check SLO definitions and print every problem as `FILE:LINE:COL: ...`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use slogate::spec::{self, Severity};

/// Check SLO definitions (slogate, Sloth and OpenSLO formats) and report every problem.
///
/// Prints each error and warning as FILE:LINE:COL: FIELD: MESSAGE, then a summary. Exits 0 when
/// every definition is valid (warnings allowed), 1 when any is not, 2 when a path cannot be read.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files or directories to check (directories recursively: *.yaml, *.yml).
    #[arg(default_value = "slo-definitions")]
    paths: Vec<PathBuf>,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    for path in &args.paths {
        if !path.exists() {
            bail!("{}: no such file or directory", path.display());
        }
    }
    let report = spec::load_paths(&args.paths);
    for diagnostic in &report.diagnostics {
        println!("{diagnostic}");
    }
    let errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = report.diagnostics.len() - errors;
    let slos: usize = report.catalog.services.iter().map(|s| s.slos.len()).sum();
    println!(
        "{} file(s): {} service(s), {} SLO(s) valid; {} error(s), {} warning(s)",
        report.files,
        report.catalog.services.len(),
        slos,
        errors,
        warnings
    );
    Ok(if report.has_errors() {
        ExitCode::from(super::EXIT_FINDING)
    } else {
        ExitCode::SUCCESS
    })
}
