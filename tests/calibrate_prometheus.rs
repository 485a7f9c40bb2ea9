//! `slogate calibrate` against a real Prometheus backfilled with a known dispersion: a version
//! whose per-minute error rate swings by a gamma factor with a CV of 0.5, and one whose errors
//! are plain Poisson. The backtest recovers each CV and replays A/A rollouts through the gate
//! and Argo's rules; `slogate serve` backtests the stable version a canary analysis names and
//! shows it on the status page and the API.

mod support;

use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;
use support::noise::Rng;
use support::prometheus::PrometheusGuard;
use support::scenario::Scenario;
use support::slogate::{ServeOptions, SlogateGuard};

const DEFINITION: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: shop
canary:
  version_label: version
  metrics:
    - name: error-rate
      errors: sum(increase(calib_errors_total{service="shop"}[{{window}}]))
      total: sum(increase(calib_requests_total{service="shop"}[{{window}}]))
      critical: true
"#;

/// Minutes of history backfilled: the 4 hours replayed, the 1-hour offset and a rollout.
const MINUTES: i64 = 6 * 60;
/// Requests a minute (100/s) and the mean error rate.
const REQUESTS: f64 = 6000.0;
const ERROR_RATE: f64 = 0.01;

/// Counters sampled every 15 s; each minute's errors drawn from Poisson(requests × rate × G)
/// with G a gamma factor of mean 1 and CV `cv`, spread evenly over the minute's four samples
/// (so `increase(...[1m])` at a minute's end is that minute's count).
fn families(start: i64, versions: &[(&str, f64)], rng: &mut Rng) -> String {
    let (mut requests, mut errors) = (String::new(), String::new());
    writeln!(requests, "# TYPE calib_requests counter").unwrap();
    writeln!(errors, "# TYPE calib_errors counter").unwrap();
    for (version, cv) in versions {
        let labels = format!("{{service=\"shop\",version=\"{version}\"}}");
        let (mut r, mut e) = (0.0, 0.0);
        let mut rows = (String::new(), String::new());
        for minute in 0..MINUTES {
            let factor = rng.gamma_unit(*cv);
            let count = rng.poisson(REQUESTS * ERROR_RATE * factor) as f64;
            for quarter in 1..=4 {
                r += REQUESTS / 4.0;
                e += count / 4.0;
                let t = start + minute * 60 + quarter * 15;
                writeln!(rows.0, "calib_requests_total{labels} {r} {t}").unwrap();
                writeln!(rows.1, "calib_errors_total{labels} {e} {t}").unwrap();
            }
        }
        requests.push_str(&rows.0);
        errors.push_str(&rows.1);
    }
    requests + &errors
}

/// A Prometheus holding [`MINUTES`] up to `end` of a version with errors of CV 0.5 ("noisy")
/// and one of plain Poisson errors ("calm"), drawn from `seed`; and the definitions' directory.
fn backfilled(end: i64, seed: u64) -> (PrometheusGuard, tempfile::TempDir) {
    let start = end - MINUTES * 60;
    let scenario = Scenario {
        start,
        step: 15,
        workloads: Vec::new(),
    };
    let mut rng = Rng(seed);
    let extra = families(start, &[("noisy", 0.5), ("calm", 0.0)], &mut rng);
    let prometheus = PrometheusGuard::start_with(&scenario, &extra);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.yaml"), DEFINITION).unwrap();
    (prometheus, dir)
}

fn calibrate(prometheus: &str, slos: &std::path::Path, version: &str, end: i64) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_slogate"))
        .args([
            "calibrate",
            "shop",
            "--version",
            version,
            "--prometheus",
            prometheus,
        ])
        .arg("--slos")
        .arg(slos)
        .args(["--history", "4h", "--offset", "1h", "--output", "json"])
        .args(["--end", &end.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_backtest_recovers_a_known_dispersion_and_replays_aa_rollouts() {
    let end = (chrono::Utc::now().timestamp() - 2 * 3600) / 60 * 60;
    let (prometheus, dir) = backfilled(end, 0xca1_1b2a7e);

    let noisy = calibrate(&prometheus.url, dir.path(), "noisy", end);
    let metric = &noisy[0];
    assert_eq!(metric["metric"], "error-rate", "{noisy:#}");
    let cv = metric["noise"]["rate_cv"].as_f64().unwrap();
    assert!((0.4..=0.6).contains(&cv), "rate CV {cv}: {metric:#}");
    assert!(
        metric["noise"]["minutes"].as_u64().unwrap() >= 200,
        "{metric:#}"
    );
    let replays = &metric["current"];
    // Four hours, a rollout starting every 15 minutes (the last one ending at --end).
    assert_eq!(replays["rollouts"], 17, "{metric:#}");
    assert_eq!(metric["tolerance"], 1.2);
    assert!(
        metric["suggested_tolerance"].as_f64().is_some(),
        "{metric:#}"
    );
    // Looser tolerances never fail more A/A rollouts than tighter ones.
    let fails: Vec<u64> = metric["grid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["replays"]["ever_failed"].as_u64().unwrap())
        .collect();
    assert!(fails.windows(2).all(|w| w[0] >= w[1]), "{fails:?}");

    let calm = calibrate(&prometheus.url, dir.path(), "calm", end);
    let cv = calm[0]["noise"]["rate_cv"].as_f64().unwrap();
    assert!(cv < 0.15, "rate CV {cv}: {calm:#}");
    assert_eq!(calm[0]["current"]["ever_failed"], 0, "{calm:#}");
    assert_eq!(calm[0]["within_goals"], true, "{calm:#}");
}

#[test]
fn serve_backtests_the_stable_version_a_canary_analysis_names_and_the_page_shows_it() {
    // The data end two minutes ago: the calibration job replays up to now.
    let end = chrono::Utc::now().timestamp() / 60 * 60 - 120;
    let (prometheus, dir) = backfilled(end, 0x5e7e_ca1b);
    let mut options = ServeOptions::new(&prometheus.url);
    options.slos = dir.path().to_path_buf();
    options.config = "calibration: {history: 4h, offset: 1h}\n".to_string();
    let slogate = SlogateGuard::start(&options);

    let (status, before) = slogate.get("/api/v1/calibrations");
    assert_eq!(status, 200, "{before:#}");
    assert_eq!(before["services"][0]["service"], "shop", "{before:#}");
    assert!(
        before["services"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("latest canary analysis")),
        "a profile no analysis named a version for says why: {before:#}"
    );

    let ask = |baseline: &str, canary: &str| {
        let body = format!(
            r#"{{"service":"shop","baseline":{{"version":"{baseline}"}},"canary":{{"version":"{canary}"}},
                "window":{{"start":"{}","end":"{end}"}}}}"#,
            end - 600
        );
        let (status, verdict) = slogate.post("/api/v1/gates/canary", &body);
        assert_eq!(status, 200, "{verdict:#}");
    };
    ask("noisy", "calm");
    let noisy = slogate.backtest_of("noisy");
    let metric = &noisy["metrics"][0];
    let cv = metric["noise"]["rate_cv"].as_f64().unwrap();
    assert!((0.4..=0.6).contains(&cv), "rate CV {cv}: {noisy:#}");
    assert_eq!(metric["current"]["rollouts"], 17, "{noisy:#}");

    let page = slogate.request(
        "GET",
        "/calibration",
        None,
        Some(support::slogate::TOKEN),
        &[],
    );
    assert_eq!(page.0, 200);
    let html = page.1.as_str().unwrap();
    assert!(html.contains("<code>noisy</code>"), "{html}");
    let noise = format!("per-minute rate CV {}", slogate::numfmt::sig(cv));
    assert!(html.contains(&noise), "{html}");

    // A new stable version is backtested at once, without waiting a day.
    ask("calm", "noisy");
    let calm = slogate.backtest_of("calm");
    let cv = calm["metrics"][0]["noise"]["rate_cv"].as_f64().unwrap();
    assert!(cv < 0.15, "rate CV {cv}: {calm:#}");
    assert_eq!(calm["metrics"][0]["within_goals"], true, "{calm:#}");
}
