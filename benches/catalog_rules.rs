//! The catalog at 1,000 services x 10 SLOs (10,000 SLOs), read from the generated recording
//! rules (`evaluation: auto`) and from raw queries (`evaluation: raw`): server time of the
//! overview (`GET /`) and of `GET /api/v1/slos`, Prometheus queries per view, and the most
//! queries in flight at Prometheus (a counting proxy in front of it, one per mode).
//!
//! A real Prometheus holds the example scenario (three hours of traffic) and, for the 10,000
//! SLOs, the series their generated recording rules record: slogate's own rule generator names
//! them and labels them, with constant values (the values do not change the cost). They are
//! backfilled as OpenMetrics rather than by `promtool tsdb create-blocks-from rules`: that
//! evaluates every rule as range queries, some 170,000 rules here, an hour on this machine;
//! `tests/evaluate_rules.rs` backfills real rules with promtool and holds the two roads equal.
//! Every view is uncached (`status_cache_ttl: 0s`), so each one is a whole evaluation.
//!
//! Run: `cargo bench --bench catalog_rules`. Environment: `CATALOG_SERVICES` (default 1000),
//! `CATALOG_VIEWS` per mode (default 5), `CATALOG_MODES` (default `auto,raw`). Figures go in
//! docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use slogate::generate::rules::{Rule, service_rules};
use slogate::report::week::IsoWeek;
use support::counting::CountingProxy;
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, TOKEN, copy_definitions, example_scenario};

const SLOS_PER_SERVICE: usize = 10;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map_or(default, |v| v.trim().parse().expect("a number"))
}

/// `services` services of ten SLOs each (reconciliation-backend's availability SLI under ten
/// names and objectives), in 100 teams, beside the examples.
fn definitions(dir: &Path, services: usize) -> std::path::PathBuf {
    let slos = copy_definitions(dir);
    for i in 0..services {
        let mut text = format!(
            "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: load-{i:04}\nteam: team-{:02}\nslos:\n",
            i % 100
        );
        for j in 0..SLOS_PER_SERVICE {
            write!(
                text,
                "  - name: slo-{j}\n    objective: 99.{j}\n    period: 7d\n    sli:\n      events:\n        \
                 errors: sum(rate(http_requests_total{{service=\"reconciliation-backend\",code=~\"5..\"}}[{{{{window}}}}]))\n        \
                 total: sum(rate(http_requests_total{{service=\"reconciliation-backend\"}}[{{{{window}}}}]))\n"
            )
            .unwrap();
        }
        std::fs::write(slos.join(format!("load-{i:04}.yaml")), text).unwrap();
    }
    slos
}

/// The recorded series of every service's rules (the examples' too, as when the generated
/// rules are deployed for the whole catalog), as OpenMetrics families (no `# EOF`):
/// one sample a minute over the last `minutes` before each of `ends` (in time order).
fn recordings(slos: &Path, ends: &[i64], minutes: i64) -> String {
    let report = slogate::spec::load_paths(&[slos.to_path_buf()]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let catalog = report.catalog;
    let mut families: std::collections::BTreeMap<String, String> = Default::default();
    for service in &catalog.services {
        for group in service_rules(service, &catalog.alert_windows).groups {
            for rule in group.rules {
                let Rule::Record {
                    record,
                    expr,
                    labels,
                } = rule
                else {
                    continue;
                };
                let value = match expr.strip_prefix("vector(") {
                    Some(rest) => rest.trim_end_matches(')').to_string(),
                    None if record.contains(":sli_total:") => "20".to_string(),
                    None => "0.0001".to_string(),
                };
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap()))
                    .collect();
                let family = families.entry(record.clone()).or_default();
                for end in ends {
                    for m in (0..minutes).rev() {
                        writeln!(
                            family,
                            "{}{{{}}} {value} {}",
                            record,
                            labels.join(","),
                            end - m * 60
                        )
                        .unwrap();
                    }
                }
            }
        }
    }
    families
        .into_iter()
        .map(|(name, samples)| format!("# TYPE {} gauge\n{samples}", name))
        .collect()
}

/// How many distinct windows the catalog's SLOs read (their SLI windows and alert windows).
fn distinct_windows(slos: &Path) -> usize {
    let report = slogate::spec::load_paths(&[slos.to_path_buf()]);
    let catalog = report.catalog;
    let mut windows = std::collections::BTreeSet::new();
    for service in &catalog.services {
        for (slo, alert) in slogate::analysis::slo::selected(service, None, &catalog.alert_windows)
        {
            windows.extend(slogate::analysis::slo::needed_windows(slo, &alert));
            windows.extend(alert.distinct_windows());
        }
    }
    windows.len()
}

/// Median time of `views` sequential GETs of `path` (after one warm-up), and queries per view.
fn measure(
    slogate: &SlogateGuard,
    proxy: &CountingProxy,
    path: &str,
    views: usize,
) -> (Duration, f64) {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let view = || {
        let answer = http
            .get(format!("{}{path}", slogate.url))
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{}", slogate.log());
        answer.text().unwrap()
    };
    view();
    let before = proxy.queries();
    let mut times: Vec<Duration> = (0..views)
        .map(|_| {
            let t = Instant::now();
            view();
            t.elapsed()
        })
        .collect();
    times.sort();
    let queries = (proxy.queries() - before) as f64 / views as f64;
    (times[times.len() / 2], queries)
}

fn main() {
    let services = env_number("CATALOG_SERVICES", 1000);
    let views = env_number("CATALOG_VIEWS", 5);
    let dir = tempfile::tempdir().unwrap();
    let slos = definitions(dir.path(), services);
    // The examples' traffic, carried on 40 minutes past now so that every view of the run
    // (raw mode takes minutes) finds current data; blocks may hold future samples, Prometheus
    // answers each query from those at or before its time.
    let mut scenario = example_scenario();
    for workload in &mut scenario.workloads {
        for segment in &mut workload.segments {
            segment.seconds += 40 * 60;
        }
    }
    let t = Instant::now();
    let mut prometheus = PrometheusGuard::start(&scenario);
    // Recordings from 40 minutes ago to 40 from now (the pages) and over 80 minutes before the
    // ends of the last full week and the one before (the report), so the week's means read few
    // samples (a real week holds
    // 10,080 a series; Prometheus' share of the report is understated, slogate's is not).
    let utc = chrono_tz::UTC;
    let week = IsoWeek::last_full_before(chrono::Utc::now(), utc);
    let (week_start, week_end) = week.bounds(utc);
    let extra = recordings(
        &slos,
        &[week_start.timestamp(), week_end.timestamp(), scenario.end()],
        80,
    );
    let file = dir.path().join("recordings.om");
    std::fs::write(&file, format!("{extra}# EOF\n")).unwrap();
    let blocks = dir.path().join("blocks");
    let out = std::process::Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
        .arg(&file)
        .arg(&blocks)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    prometheus.add_blocks(&blocks);
    eprintln!(
        "backfilled {} SLOs' recordings in {:.1} s",
        services * SLOS_PER_SERVICE,
        t.elapsed().as_secs_f64()
    );
    println!(
        "distinct windows the catalog's SLOs need: {} (the rules read asks at most 2 a window, \
         plus 2 meta queries)",
        distinct_windows(&slos)
    );
    println!(
        "| evaluation | path | median per view | Prometheus queries per view | peak in flight at Prometheus |"
    );
    println!("|---|---|---|---|---|");
    let modes = std::env::var("CATALOG_MODES").unwrap_or_else(|_| "auto,raw".to_string());
    for mode in modes.split(',').map(str::trim) {
        let proxy = CountingProxy::start(&prometheus.url, None);
        let mut options = ServeOptions::new(&proxy.url);
        options.slos = slos.clone();
        options.config =
            format!("status_cache_ttl: 0s\nrequest_deadline: 300s\nevaluation: {mode}\n");
        let mut slogate = SlogateGuard::start(&options);
        slogate.wait_for("/readyz", 200);
        for path in ["/", "/api/v1/slos"] {
            let (median, queries) = measure(&slogate, &proxy, path, views);
            println!(
                "| {mode} | `{path}` | {:.0} ms | {queries:.0} | {} |",
                median.as_secs_f64() * 1000.0,
                proxy.peak()
            );
        }
        drop(slogate);
        let (elapsed, queries, teams) = report(dir.path(), &slos, &proxy, mode, week);
        println!(
            "| {mode} | `slogate report --dry-run` ({teams} teams) | {:.0} ms | {queries} | {} |",
            elapsed.as_secs_f64() * 1000.0,
            proxy.peak()
        );
    }
}

/// Runs `slogate report --dry-run` for `week` in `mode`: its time, the queries Prometheus saw,
/// and the number of teams reported.
fn report(
    dir: &Path,
    slos: &Path,
    proxy: &CountingProxy,
    mode: &str,
    week: IsoWeek,
) -> (Duration, usize, usize) {
    let config = dir.join(format!("report-{mode}.yaml"));
    std::fs::write(
        &config,
        format!("evaluation: {mode}\nrequest_deadline: 300s\n"),
    )
    .unwrap();
    let out_dir = dir.join(format!("report-{mode}"));
    let before = proxy.queries();
    let t = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slogate"))
        .arg("report")
        .arg("--config")
        .arg(&config)
        .arg("--prometheus")
        .arg(&proxy.url)
        .arg("--slos")
        .arg(slos)
        .arg("--db")
        .arg(dir.join("absent.db"))
        .arg("--week")
        .arg(week.to_string())
        .arg("--dry-run")
        .arg(&out_dir)
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let teams = String::from_utf8_lossy(&out.stdout).lines().count();
    (elapsed, proxy.queries() - before, teams)
}
