//! `slogate judge`: one metric's canary judgement, offline, on two samples.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Args, ValueEnum};
use serde::Deserialize;

use slogate::analysis::canary::absolute;
use slogate::analysis::canary::{self, Counts, DEFAULT_CONFIDENCE, MetricData};
use slogate::evaluate::canary::canary_verdict;
use slogate::spec::yaml::split_documents;
use slogate::spec::{
    AbsoluteCriteria, CanaryMeasure, CanaryMetric, Direction, EffectMeasure, QueryTemplate,
};
use slogate::verdict::Outcome;

mod sample;

/// Judge a canary sample against a baseline sample, as the canary gate judges one metric.
///
/// Each FILE is a JSON array of numbers or one number per line (`#` starts a comment). Prints
/// the verdict (JSON, or a table), exits 0 on pass, 1 on fail or inconclusive, 2 on bad input.
#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// Baseline sample.
    #[arg(long, required_unless_present = "sequential")]
    baseline: Option<PathBuf>,
    /// Canary sample.
    #[arg(long, required_unless_present = "sequential")]
    canary: Option<PathBuf>,
    /// Replay a series of looks through the sequential (anytime-valid) test: one JSON object a
    /// line, `{"baseline": {"errors": 3, "total": 1000}, "canary": {"errors": 9, "total": 1000}}`
    /// (counts) or `{"baseline": [0.21, ...], "canary": [0.25, ...]}` (values); prints the
    /// verdict after each look as a JSON line. Exit: the last look's verdict.
    #[arg(long, conflicts_with_all = ["baseline", "canary"])]
    sequential: Option<PathBuf>,
    /// The metric's settings (YAML): direction, allowed_increase, critical_increase,
    /// allowed_decrease, critical_decrease, effect (mean|median), min_samples, confidence, name,
    /// source (prometheus|traces), kind (latency|values|errors: with errors each value is one
    /// request's outcome, 1 an error, judged as proportions), and the absolute criteria max,
    /// max_rate and max_increase_points.
    #[arg(long)]
    config: Option<PathBuf>,
    /// JSON for machines, table for people.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    output: Output,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Json,
    Table,
}

/// The judge's settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JudgeConfig {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    allowed_increase: Option<f64>,
    #[serde(default)]
    critical_increase: Option<f64>,
    #[serde(default)]
    allowed_decrease: Option<f64>,
    #[serde(default)]
    critical_decrease: Option<f64>,
    #[serde(default)]
    effect: Option<String>,
    #[serde(default)]
    min_samples: Option<u64>,
    #[serde(default)]
    confidence: Option<f64>,
    /// `prometheus` (default) or `traces`.
    #[serde(default)]
    source: Option<String>,
    /// `latency` / `values` (default: the files hold values) or `errors` (the files hold one
    /// outcome per request or span: 1 an error, 0 a success, compared as proportions).
    #[serde(default)]
    kind: Option<String>,
    /// Absolute criteria, as in a canary profile: `max` (values: the highest level), `max_rate`
    /// (errors: the highest rate, a fraction), `max_increase_points` (errors: the largest rise
    /// over the baseline, in percentage points).
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    max_rate: Option<f64>,
    #[serde(default)]
    max_increase_points: Option<f64>,
}

pub fn run(args: JudgeArgs) -> anyhow::Result<ExitCode> {
    let (metric, confidence) = match &args.config {
        Some(path) => metric_from_config(path)?,
        None => (
            metric_from(JudgeConfig::default(), Path::new("(defaults)"))?,
            DEFAULT_CONFIDENCE,
        ),
    };
    if let Some(path) = &args.sequential {
        return replay(path, &metric, confidence);
    }
    let (Some(baseline_path), Some(canary_path)) = (&args.baseline, &args.canary) else {
        bail!("give --baseline and --canary, or --sequential");
    };
    let (baseline, canary) = sample::read_pair(baseline_path, canary_path)?;
    let data = match metric.measure {
        CanaryMeasure::TraceErrors { .. } => MetricData::Events {
            baseline: outcomes(&baseline, baseline_path)?,
            canary: outcomes(&canary, canary_path)?,
        },
        _ => MetricData::Values { baseline, canary },
    };
    // The gate's fixed mode on the two files: the noise-robust test decides, the descriptive
    // judge (R's rank-sum statistics) reports the sides, the shift and its interval.
    // The files are one window; its length is not known, so the counts' rate noise is taken
    // as that of one minute (the most cautious).
    let mut judgement = slogate::analysis::sequential::judge_fixed(&metric, &data, 1.0, confidence);
    let level = absolute::Level::new(slogate::analysis::sequential::level(confidence), 1.0);
    judgement.absolute = absolute::judge_criteria(&metric, &data, level, true);
    let result = canary::judge(vec![judgement], 100.0, 0.0);
    let now = Utc::now().timestamp();
    let verdict = canary_verdict("offline", &result, now, now);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&verdict)?),
        Output::Table => {
            for c in &verdict.checks {
                println!(
                    "{}: {} ({})\n  {}",
                    c.name, c.verdict, c.classification, c.reason
                );
                if let Some(i) = c.interval {
                    println!("  shift interval [{}, {}]", i[0], i[1]);
                }
            }
            println!("verdict: {}: {}", verdict.verdict, verdict.summary);
        }
    }
    Ok(if verdict.verdict == Outcome::Pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FINDING)
    })
}

/// One look of a replay: counts or values on each side.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookLine {
    baseline: LookSide,
    canary: LookSide,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LookSide {
    Counts { errors: u64, total: u64 },
    Values(Vec<f64>),
}

/// Replays the looks of `path` through the sequential test; the fixed-horizon judge of each
/// look runs on everything so far (all counts, all values), as if the whole rollout were one
/// window.
fn replay(path: &Path, metric: &CanaryMetric, confidence: f64) -> anyhow::Result<ExitCode> {
    use slogate::analysis::sequential::{self, MetricState};
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let file = path.display();
    let alpha = sequential::level(confidence);
    let mut state: Option<MetricState> = None;
    let (mut all_b, mut all_c) = (Vec::new(), Vec::new());
    let (mut cb, mut cc) = (
        Counts {
            counted: 0,
            total: 0,
        },
        Counts {
            counted: 0,
            total: 0,
        },
    );
    let mut look = 0;
    let mut last = None;
    let mut out = std::io::stdout().lock();
    // The last look line: there, evidence that contradicts itself is inconclusive.
    let last_line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
        .map(|(i, _)| i)
        .last();
    for (i, line) in text.lines().enumerate() {
        let at = i + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let parsed: LookLine = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!(
                "{file}:{at}:{}: {}",
                e.column(),
                strip_position(&e.to_string())
            )
        })?;
        let (increment, so_far) = match (parsed.baseline, parsed.canary) {
            (
                LookSide::Counts {
                    errors: be,
                    total: bt,
                },
                LookSide::Counts {
                    errors: ce,
                    total: ct,
                },
            ) => {
                for (side, e, t) in [("baseline", be, bt), ("canary", ce, ct)] {
                    if e > t {
                        bail!("{file}:{at}: the {side} has {e} errors of only {t} events");
                    }
                }
                let b = Counts {
                    counted: be,
                    total: bt,
                };
                let c = Counts {
                    counted: ce,
                    total: ct,
                };
                cb = Counts {
                    counted: cb.counted + be,
                    total: cb.total + bt,
                };
                cc = Counts {
                    counted: cc.counted + ce,
                    total: cc.total + ct,
                };
                (
                    MetricData::Events {
                        baseline: b,
                        canary: c,
                    },
                    MetricData::Events {
                        baseline: cb,
                        canary: cc,
                    },
                )
            }
            (LookSide::Values(b), LookSide::Values(c)) => {
                if let Some(bad) = b.iter().chain(&c).find(|v| !v.is_finite()) {
                    bail!("{file}:{at}: {bad} is not a finite number");
                }
                all_b.extend_from_slice(&b);
                all_c.extend_from_slice(&c);
                (
                    MetricData::Values {
                        baseline: b,
                        canary: c,
                    },
                    MetricData::Values {
                        baseline: all_b.clone(),
                        canary: all_c.clone(),
                    },
                )
            }
            _ => bail!(
                "{file}:{at}: baseline and canary must both be counts ({{\"errors\", \"total\"}}) \
                 or both arrays of values"
            ),
        };
        look += 1;
        // A look line stands for a minute of traffic (as often as Argo asks).
        let mut s = sequential::advance(state.take(), metric, &increment, 1.0, look, alpha);
        let fixed = canary::judge_metric(metric, &so_far, confidence);
        let judging = sequential::Judging::Sequential {
            last: Some(i) == last_line,
        };
        let mut judged = sequential::decide(metric, &s, fixed, look, alpha, judging);
        // As the gate: the absolute criteria bound all the looks so far, at α spent over them,
        // with the counts' dispersion as the rate-ratio test estimates it.
        let level =
            absolute::Level::of_analysis(absolute::look_level(alpha, look), look as f64, &s);
        judged.absolute = absolute::judge_criteria(metric, &so_far, level, true);
        absolute::remember_breaches(&mut judged.absolute, &mut s.breaches, look);
        let result = canary::judge(vec![judged], 100.0, 0.0);
        let now = Utc::now().timestamp();
        let verdict = canary_verdict("offline", &result, now, now);
        use std::io::Write as _;
        writeln!(out, "{}", serde_json::to_string(&verdict)?)?;
        last = Some(verdict.verdict);
        state = Some(s);
    }
    match last {
        None => bail!("{file}: no looks (expected one JSON object a line)"),
        Some(Outcome::Pass) => Ok(ExitCode::SUCCESS),
        Some(_) => Ok(ExitCode::from(super::EXIT_FINDING)),
    }
}

/// serde_json's message without its trailing " at line L column C".
fn strip_position(message: &str) -> &str {
    message.rsplit_once(" at line ").map_or(message, |(m, _)| m)
}

/// Outcomes (1 an error, 0 a success) counted as events.
fn outcomes(values: &[f64], path: &Path) -> anyhow::Result<Counts> {
    if let Some(i) = values.iter().position(|v| *v != 0.0 && *v != 1.0) {
        bail!(
            "{}: value {} (`{}`) is not an outcome: with kind errors each value is 1 (error) or 0",
            path.display(),
            i + 1,
            values[i]
        );
    }
    Ok(Counts {
        counted: values.iter().filter(|v| **v == 1.0).count() as u64,
        total: values.len() as u64,
    })
}

fn metric_from_config(path: &Path) -> anyhow::Result<(CanaryMetric, f64)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let file = path.display();
    let docs = split_documents(&text)
        .map_err(|e| anyhow::anyhow!("{file}:{}:{}: {}", e.pos.line, e.pos.col, e.message))?;
    let config: JudgeConfig = match docs.first() {
        None => JudgeConfig::default(),
        Some(doc) => doc.decode().map_err(|e| {
            let at = e.path.map(|p| format!("{p}: ")).unwrap_or_default();
            anyhow::anyhow!("{file}:{}:{}: {at}{}", e.pos.line, e.pos.col, e.message)
        })?,
    };
    let confidence = config.confidence.unwrap_or(DEFAULT_CONFIDENCE);
    if !(confidence > 0.5 && confidence < 1.0) {
        bail!("{file}: confidence {confidence} must be between 0.5 and 1");
    }
    Ok((metric_from(config, path)?, confidence))
}

fn metric_from(config: JudgeConfig, path: &Path) -> anyhow::Result<CanaryMetric> {
    let file = path.display();
    let direction = match config.direction.as_deref() {
        None | Some("increase") => Direction::Increase,
        Some("decrease") => Direction::Decrease,
        Some("either") => Direction::Either,
        Some(other) => bail!("{file}: direction `{other}`: expected increase, decrease or either"),
    };
    let effect = match config.effect.as_deref() {
        None | Some("mean") => EffectMeasure::Mean,
        Some("median") => EffectMeasure::Median,
        Some(other) => bail!("{file}: effect `{other}`: expected mean or median"),
    };
    let up = |v: Option<f64>, field: &str| -> anyhow::Result<Option<f64>> {
        match v {
            Some(x) if !(x.is_finite() && x >= 1.0) => {
                bail!("{file}: {field} {x} must be a ratio of at least 1")
            }
            other => Ok(other),
        }
    };
    let down = |v: Option<f64>, field: &str| -> anyhow::Result<Option<f64>> {
        match v {
            Some(x) if !(x.is_finite() && x > 0.0 && x <= 1.0) => {
                bail!("{file}: {field} {x} must be a ratio above 0 and at most 1")
            }
            other => Ok(other),
        }
    };
    // Offline there is no query and no span store: the measure only says how the files are
    // read (values, or outcomes counted as events) and which source the check names.
    let measure = match (config.source.as_deref(), config.kind.as_deref()) {
        (None | Some("prometheus"), None | Some("values")) => CanaryMeasure::PrometheusValues {
            query: QueryTemplate::parse("vector(0)", false).expect("a constant query parses"),
        },
        (Some("traces"), None | Some("latency") | Some("values")) => {
            CanaryMeasure::TraceLatency { operation: None }
        }
        (Some("traces"), Some("errors")) => CanaryMeasure::TraceErrors { operation: None },
        (None | Some("prometheus"), Some("errors")) => {
            bail!("{file}: kind errors is for source traces (Prometheus counts come from queries)")
        }
        (_, Some(other)) if !["latency", "values", "errors"].contains(&other) => {
            bail!("{file}: kind `{other}`: expected latency, values or errors")
        }
        (Some(other), _) => bail!("{file}: source `{other}`: expected prometheus or traces"),
        (None, Some(kind)) => bail!("{file}: kind `{kind}` needs source traces"),
    };
    let absolute = absolute_criteria(&config, &measure, path)?;
    // The same defaults by kind as a canary profile's metric.
    let (default_up, default_down) = measure.default_tolerances();
    Ok(CanaryMetric {
        name: config.name.unwrap_or_else(|| "sample".to_string()),
        allowed_increase: up(config.allowed_increase, "allowed_increase")?.unwrap_or(default_up),
        critical_increase: up(config.critical_increase, "critical_increase")?,
        allowed_decrease: down(config.allowed_decrease, "allowed_decrease")?
            .unwrap_or(default_down),
        critical_decrease: down(config.critical_decrease, "critical_decrease")?,
        measure,
        direction,
        weight: 1.0,
        // The one metric is the whole verdict: its failure is the verdict's failure.
        critical: true,
        must_have_data: false,
        required: true,
        min_samples: config.min_samples,
        group: None,
        effect,
        absolute,
    })
}

/// The settings' absolute criteria, each checked against the files' kind and its range as a
/// canary profile's are.
fn absolute_criteria(
    config: &JudgeConfig,
    measure: &CanaryMeasure,
    path: &Path,
) -> anyhow::Result<AbsoluteCriteria> {
    let file = path.display();
    let events = measure.counts_events();
    if let Some(max) = config.max {
        if events {
            bail!(
                "{file}: max bounds values; with kind errors use max_rate or max_increase_points"
            );
        }
        if !(max.is_finite() && max > 0.0) {
            bail!("{file}: max {max} must be a positive number");
        }
    }
    for (field, value, high) in [
        ("max_rate", config.max_rate, 1.0),
        ("max_increase_points", config.max_increase_points, 100.0),
    ] {
        let Some(value) = value else { continue };
        if !events {
            bail!("{file}: {field} bounds an error rate: it needs kind errors (source traces)");
        }
        if !(value.is_finite() && value > 0.0 && value < high) {
            bail!("{file}: {field} {value} must be above 0 and below {high}");
        }
    }
    Ok(AbsoluteCriteria {
        max: config.max,
        max_rate: config.max_rate,
        max_increase_points: config.max_increase_points,
    })
}
