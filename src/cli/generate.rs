//! `slogate generate`: write rules, routing, dashboards and rollout templates from the SLOs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use slogate::generate::{self, OutputFormat};
use slogate::spec;

/// Generate Prometheus rules, Alertmanager routing, Grafana dashboards and Argo Rollouts
/// AnalysisTemplates from the SLO definitions.
///
/// Writes OUT/alert-rules/, OUT/dashboards/, OUT/alertmanager/ and OUT/rollouts/; files whose
/// content is unchanged are left alone, and generated files nothing generates any more are
/// removed. With --check, writes nothing and exits 1 when the files on disk are stale.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// SLO definitions: a directory or file.
    #[arg(long, default_value = "slo-definitions", env = "SLOGATE_SLOS")]
    slos: PathBuf,
    /// Output directory.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Plain files, Kubernetes resources (PrometheusRule, GrafanaDashboard,
    /// AlertmanagerConfig), or the same with dashboards as Grafana sidecar ConfigMaps.
    #[arg(long, value_enum, default_value_t = Format::Plain)]
    format: Format,
    /// Write nothing; exit 1 when generation would change the files on disk.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// Plain rule files and dashboard JSON.
    Plain,
    /// Kubernetes custom resources.
    K8s,
    /// Kubernetes resources, dashboards as ConfigMaps for the Grafana sidecar.
    K8sSidecar,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    if !args.slos.exists() {
        anyhow::bail!("{}: no such file or directory", args.slos.display());
    }
    let report = spec::load_paths(std::slice::from_ref(&args.slos));
    if report.has_errors() {
        for diagnostic in &report.diagnostics {
            eprintln!("{diagnostic}");
        }
        anyhow::bail!("the SLO definitions have errors; nothing was generated");
    }
    let format = match args.format {
        Format::Plain => OutputFormat::Plain,
        Format::K8s => OutputFormat::Kubernetes,
        Format::K8sSidecar => OutputFormat::KubernetesSidecar,
    };
    let files = generate::generate_all(&report.catalog, format)?;
    if args.check {
        let staleness = generate::check_tree(&args.out, &files)
            .with_context(|| format!("reading {}", args.out.display()))?;
        for path in &staleness.changed {
            println!("stale: {}", path.display());
        }
        for path in &staleness.orphaned {
            println!("orphaned: {}", path.display());
        }
        if !staleness.is_clean() {
            println!(
                "generated files are out of date: run `slogate generate` and commit the result"
            );
            return Ok(ExitCode::from(super::EXIT_FINDING));
        }
        println!("{} generated file(s) up to date", files.len());
        return Ok(ExitCode::SUCCESS);
    }
    let changes = generate::write_tree(&args.out, &files)
        .with_context(|| format!("writing under {}", args.out.display()))?;
    for path in &changes.changed {
        println!("wrote {}", path.display());
    }
    for path in &changes.orphaned {
        println!("removed {}", path.display());
    }
    println!(
        "{} file(s) generated, {} changed, {} removed",
        files.len(),
        changes.changed.len(),
        changes.orphaned.len()
    );
    Ok(ExitCode::SUCCESS)
}
