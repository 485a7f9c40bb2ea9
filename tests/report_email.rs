//! The weekly report end to end: a real Prometheus backfilled with three weeks of traffic and
//! `ALERTS`, a real SMTP server (aiosmtpd), the `slogate report` binary. The report arrives as
//! multipart/alternative with the chart inline by Content-ID, its figures equal the
//! evaluator's (and the closed-form truth of the scenario), user text is escaped in the HTML,
//! and a failing SMTP server leaves the report in the outbox until the next try delivers it.
//! Headless Chromium renders the received HTML to `target/test-artifacts/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use slogate::analysis::slo::{GatePolicy, SloStatus};
use slogate::evaluate::catalog::StatusCache;
use slogate::evaluate::evaluate_service;
use slogate::notify::{Backoff, Dispatcher, Transport};
use slogate::report::collect::collect_team;
use slogate::report::schedule::{due_week, report_key};
use slogate::report::smtp::SmtpTransport;
use slogate::report::{IsoWeek, ReportConfig, Reporter, Sources, TeamOutcome};
use slogate::source::{PrometheusSettings, PrometheusSource};
use slogate::spec::{Catalog, Period, PromDuration, ServiceLevels, load_texts};
use slogate::store::{MessageState, Store, VerdictRecord};
use slogate::verdict::{Outcome, Verdict, VerdictKind, Window, rfc3339};
use support::prometheus::{PrometheusGuard, free_port};
use support::scenario::{Scenario, Segment, Workload};
use support::slogate::{ServeOptions, SlogateGuard};
use support::smtp::{SmtpGuard, parse_message};

const STEP: i64 = 120;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const ZONE: &str = "Europe/Berlin";

/// Checkout errs 0.05% of the time, 5% during a two-hour burst in the reported week; ledger
/// errs 0.2% (it misses its 99.9%). Ledger's description is hostile user text.
const DEFINITIONS: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: checkout
team: payments
slos:
  - name: availability
    description: Checkout requests served without a server error.
    objective: 99.9
    period: 14d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="checkout",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="checkout"}[{{window}}]))
  - name: latency
    description: Checkout answers within 500 ms.
    objective: 95
    period: 7d
    sli:
      latency:
        histogram: http_request_duration_seconds
        selector: '{service="checkout"}'
        threshold: 500ms
---
apiVersion: slogate/v1
kind: ServiceLevels
service: ledger
team: payments
slos:
  - name: availability
    description: "Ledger writes <script>alert('x')</script> & reads succeed"
    objective: 99.9
    period: 7d
    sli:
      events:
        errors: sum(rate(http_requests_total{service="ledger",code="500"}[{{window}}]))
        total: sum(rate(http_requests_total{service="ledger"}[{{window}}]))
"#;

/// The scenario, the reported week and where things happen in it.
struct Setup {
    scenario: Scenario,
    alerts: String,
    week: IsoWeek,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    burst_at: i64,
}

fn seg(seconds: i64, rps: f64, error_ratio: f64) -> Segment {
    Segment {
        seconds: seconds as u64,
        rps,
        error_ratio,
        slow_ratio: 0.01,
    }
}

fn setup() -> Setup {
    let tz: Tz = ZONE.parse().unwrap();
    // Backfilled data must end in the past: two hours ago, and the week is the last full one
    // before that.
    let data_end = (Utc::now().timestamp() - 2 * HOUR) / STEP * STEP;
    let week = IsoWeek::last_full_before(Utc.timestamp_opt(data_end, 0).unwrap(), tz);
    let (start, end) = week.bounds(tz);
    let (prev_start, _) = week.previous().bounds(tz);
    let first_needed = prev_start.timestamp().min(end.timestamp() - 14 * DAY);
    let data_start = (first_needed - 2 * HOUR) / STEP * STEP;
    // Wednesday 10:00 of the reported week, local time.
    let burst_at = start.timestamp() + 2 * DAY + 10 * HOUR;
    let span = data_end - data_start;
    let before = burst_at - data_start;
    let scenario = Scenario {
        start: data_start,
        step: STEP as u64,
        workloads: vec![
            Workload {
                service: "checkout".into(),
                version: None,
                segments: vec![
                    seg(before, 10.0, 0.0005),
                    seg(2 * HOUR, 10.0, 0.05),
                    seg(span - before - 2 * HOUR, 10.0, 0.0005),
                ],
            },
            Workload {
                service: "ledger".into(),
                version: None,
                segments: vec![seg(span, 5.0, 0.002)],
            },
        ],
    };
    let mut alerts = String::from("# TYPE ALERTS gauge\n");
    let series = |name: &str, service: &str, severity: &str| {
        format!(
            "ALERTS{{alertname=\"{name}\",alertstate=\"firing\",slo_name=\"availability\",slo_service=\"{service}\",slo_severity=\"{severity}\"}}"
        )
    };
    let page = series("SLOErrorBudgetBurn", "checkout", "page");
    for t in (burst_at + 300..=burst_at + HOUR).step_by(60) {
        alerts.push_str(&format!("{page} 1 {t}\n"));
    }
    let ticket = series("SLOErrorBudgetBurn", "ledger", "ticket");
    let friday = start.timestamp() + 4 * DAY + 14 * HOUR;
    for t in (friday..=friday + 3 * HOUR).step_by(60) {
        alerts.push_str(&format!("{ticket} 1 {t}\n"));
    }
    // A firing before the week must not be reported.
    let old = series("SLOErrorBudgetBurn", "ledger", "page");
    for t in (start.timestamp() - DAY..=start.timestamp() - DAY + HOUR).step_by(60) {
        alerts.push_str(&format!("{old} 1 {t}\n"));
    }
    Setup {
        scenario,
        alerts,
        week,
        start,
        end,
        burst_at,
    }
}

fn catalog() -> Catalog {
    let loaded = load_texts(&[(PathBuf::from("defs.yaml"), DEFINITIONS.to_string())]);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    loaded.catalog
}

/// A temp dir with the definitions, a history holding this week's rollouts (and an older
/// one), and a config pointing at `prometheus` and an SMTP server on `smtp_port`.
fn workspace(setup: &Setup, prometheus: &str, smtp_port: u16) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slos.yaml"), DEFINITIONS).unwrap();
    let store = Store::open(&dir.path().join("slogate.db")).unwrap();
    let rollout = |id: &str, at: i64, outcome: Outcome, summary: &str| {
        let at = Utc.timestamp_opt(at, 0).unwrap();
        VerdictRecord {
            verdict: Verdict {
                id: id.into(),
                kind: VerdictKind::Canary,
                verdict: outcome,
                score: if outcome == Outcome::Pass { 100.0 } else { 0.0 },
                summary: summary.into(),
                service: "checkout".into(),
                window: Window {
                    start: rfc3339(at - chrono::Duration::minutes(10)),
                    end: rfc3339(at),
                },
                checks: vec![],
                evaluated_at: rfc3339(at),
            },
            inputs: serde_json::json!({}),
            recorded_at: at,
        }
    };
    let s = setup.start.timestamp();
    for record in [
        rollout(
            "r-old",
            s - HOUR,
            Outcome::Pass,
            "checkout canary pass before the week",
        ),
        rollout(
            "r-pass",
            s + DAY + 9 * HOUR,
            Outcome::Pass,
            "checkout canary pass",
        ),
        rollout(
            "r-fail",
            setup.burst_at + 600,
            Outcome::Fail,
            "checkout canary fail: error-rate <b>up</b> & p95 worse",
        ),
    ] {
        store.record(&record).unwrap();
    }
    drop(store);
    std::fs::write(
        dir.path().join("slogate.yaml"),
        format!(
            "prometheus: {{url: \"{prometheus}\"}}\nslos: slos.yaml\ndb: slogate.db\nreport:\n  timezone: {ZONE}\n  status_url: https://slogate.example\n  smtp: {{host: 127.0.0.1, port: {smtp_port}, tls: none, from: \"SLO reports <slogate@example.com>\", timeout: 10s}}\n  recipients: {{default: [sre@example.com], teams: {{payments: [payments@example.com, lead@example.com]}}}}\n"
        ),
    )
    .unwrap();
    dir
}

fn source(url: &str) -> PrometheusSource {
    PrometheusSource::new(PrometheusSettings {
        url: url.into(),
        ..PrometheusSettings::default()
    })
    .unwrap()
}

/// The service with every period set to `secs`: how the evaluator measures a week.
fn over(service: &ServiceLevels, secs: i64) -> ServiceLevels {
    let mut s = service.clone();
    for slo in &mut s.slos {
        slo.period = Period::Rolling(PromDuration::from_secs(secs as u64));
    }
    s
}

fn find<'a>(all: &'a [SloStatus], slo: &str) -> &'a SloStatus {
    all.iter().find(|s| s.slo == slo).unwrap()
}

fn parts<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(node);
    if let Some(children) = node["parts"].as_array() {
        for c in children {
            parts(c, out);
        }
    }
}

fn run_report(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_slogate"))
        .current_dir(dir)
        .args(["report", "--config", "slogate.yaml"])
        .args(extra)
        .env_remove("SLOGATE_PROMETHEUS_URL")
        .env_remove("SLOGATE_SLOS")
        .env_remove("SLOGATE_DB")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_arrives_as_multipart_alternative_with_the_chart_inline_and_the_evaluators_numbers()
 {
    let setup = setup();
    let prometheus = PrometheusGuard::start_with(&setup.scenario, &setup.alerts);
    let port = free_port();
    let mail = tempfile::tempdir().unwrap();
    let smtp = SmtpGuard::start(port, &mail.path().join("maildir"));
    let dir = workspace(&setup, &prometheus.url, port);

    let week = setup.week.to_string();
    let out = run_report(dir.path(), &["--week", &week]);
    assert!(
        out.status.success(),
        "slogate report failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(received.len(), 1, "one team, one email");
    let parsed_dir = tempfile::tempdir().unwrap();
    let message = parse_message(&received[0], parsed_dir.path());
    assert!(message["subject"].as_str().unwrap().contains(&week));
    assert!(
        message["to"]
            .as_str()
            .unwrap()
            .contains("payments@example.com")
    );

    // Structure: alternative(text, related(html, png by Content-ID)).
    let tree = &message["tree"];
    assert_eq!(tree["type"], "multipart/alternative");
    let children: Vec<&str> = tree["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["text/plain", "multipart/related"]);
    let mut all = Vec::new();
    parts(tree, &mut all);
    let text = all.iter().find(|p| p["type"] == "text/plain").unwrap()["text"]
        .as_str()
        .unwrap();
    let html = all.iter().find(|p| p["type"] == "text/html").unwrap()["text"]
        .as_str()
        .unwrap();
    let image = all.iter().find(|p| p["type"] == "image/png").unwrap();
    let cid = image["cid"].as_str().unwrap().trim_matches(['<', '>']);
    assert_eq!(image["disposition"], "inline");
    assert!(
        html.contains(&format!("src=\"cid:{cid}\"")),
        "the HTML shows the chart by cid"
    );
    let png = std::fs::read(image["file"].as_str().unwrap()).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        !html.contains("http://") && !html.contains("src=\"https"),
        "no external resource"
    );

    // The figures equal the evaluator's at the week's end.
    let catalog = catalog();
    let src = source(&prometheus.url);
    let policy = GatePolicy::default();
    let end = setup.end.timestamp();
    let week_secs = end - setup.start.timestamp();
    for (service, slo, period) in [
        ("checkout", "availability", 14 * DAY),
        ("checkout", "latency", 7 * DAY),
        ("ledger", "availability", 7 * DAY),
    ] {
        let def = catalog.service(service).unwrap();
        let at_end = evaluate_service(&src, &catalog, def, Some(slo), end, &policy).await;
        let weekly = evaluate_service(
            &src,
            &catalog,
            &over(def, week_secs),
            Some(slo),
            end,
            &policy,
        )
        .await;
        let p = find(&at_end, slo);
        let w = find(&weekly, slo);
        let period_sli = p.sli[&PromDuration::from_secs(period as u64)];
        let week_sli = w.sli[&PromDuration::from_secs(week_secs as u64)];
        let remaining = p.error_budget.unwrap().remaining;
        for figure in [
            format!("{:.3}%", week_sli * 100.0),
            format!("{:.3}%", period_sli * 100.0),
            format!("{:.1}%", remaining * 100.0),
        ] {
            assert!(
                text.contains(&figure),
                "{service}/{slo}: {figure} not in the text:\n{text}"
            );
            assert!(
                html.contains(&figure),
                "{service}/{slo}: {figure} not in the HTML"
            );
        }
    }
    // ... and the scenario's truth: checkout's week had 2 h at 5% and the rest at 0.05%.
    let def = catalog.service("checkout").unwrap();
    let weekly = evaluate_service(&src, &catalog, &over(def, week_secs), None, end, &policy).await;
    let week_sli = find(&weekly, "availability").sli[&PromDuration::from_secs(week_secs as u64)];
    let truth = 1.0
        - (0.0005 * (week_secs - 2 * HOUR) as f64 + 0.05 * (2 * HOUR) as f64) / week_secs as f64;
    assert!((week_sli - truth).abs() < 2e-5, "{week_sli} vs {truth}");

    // Escaping: the hostile description and verdict summary are text, never markup.
    for raw in ["<script>", "<b>up</b>", "& reads", "& p95"] {
        assert!(!html.contains(raw), "{raw:?} unescaped in the HTML");
    }
    assert!(
        html.contains("&lt;script&gt;"),
        "the description is shown, escaped"
    );
    assert!(
        text.contains("<script>alert('x')</script> & reads"),
        "the text part keeps it"
    );

    // Alerts of the week (not the one before), rollouts of the week (not the one before).
    assert!(
        text.contains("SLOErrorBudgetBurn (availability, page)"),
        "{text}"
    );
    assert!(
        text.contains("SLOErrorBudgetBurn (availability, ticket)"),
        "{text}"
    );
    assert_eq!(text.matches("SLOErrorBudgetBurn").count(), 2, "{text}");
    assert!(text.contains("canary fail: checkout canary fail"), "{text}");
    assert!(!text.contains("before the week"), "{text}");

    screenshot(html, &png, &week);
}

/// Renders the received HTML with headless Chromium into `target/test-artifacts/`.
fn screenshot(html: &str, png: &[u8], week: &str) {
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let chart = format!("report-{week}-chart.png");
    std::fs::write(artifacts.join(&chart), png).unwrap();
    let page = artifacts.join(format!("report-{week}.html"));
    std::fs::write(&page, html.replace("cid:burn-down@slogate", &chart)).unwrap();
    let shot = artifacts.join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1000,1400")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_smtp_server_leaves_the_report_pending_and_the_next_try_delivers_it_once() {
    let setup = setup();
    let prometheus = PrometheusGuard::start_with(&setup.scenario, &setup.alerts);
    let port = free_port();
    let config: ReportConfig = serde_saphyr::from_str(&format!(
        "timezone: {ZONE}\nsmtp: {{host: 127.0.0.1, port: {port}, tls: none, from: slogate@example.com, timeout: 5s}}\nrecipients: {{default: [sre@example.com]}}\n"
    ))
    .unwrap();
    let settings = config.settings().unwrap();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let reporter = Reporter {
        settings: settings.clone(),
        sources: Sources {
            prometheus: Arc::new(source(&prometheus.url)),
            store: Some(store.clone()),
            policy: GatePolicy::default(),
            status_cache: Arc::new(StatusCache::new(
                Duration::from_secs(15),
                Default::default(),
            )),
            basis: Default::default(),
        },
        store: store.clone(),
    };
    let catalog = Arc::new(catalog());
    let now = Utc::now();
    let outcomes = reporter.enqueue_week(&catalog, setup.week, now).await;
    assert!(
        matches!(outcomes[..], [(ref t, TeamOutcome::Enqueued { .. })] if t == "payments"),
        "{outcomes:?}"
    );
    let transport: Arc<dyn Transport> =
        Arc::new(SmtpTransport::new(settings.smtp.as_ref().unwrap()).unwrap());
    let (dispatcher, _) = Dispatcher::new(
        store.clone(),
        vec![transport],
        Backoff::default(),
        Duration::from_secs(10),
    );
    let key = format!("report/payments/{}", setup.week);

    // Nothing listens on the port: the attempt fails, and the report stays pending.
    assert_eq!(dispatcher.run_once(Utc::now()).await.unwrap(), 1);
    let row = store.outbox_by_key(&key).unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (MessageState::Pending, 1));
    assert!(row.last_error.unwrap().contains("SMTP"));

    // The server is back: the next try (once the backoff is over) delivers it.
    let mail = tempfile::tempdir().unwrap();
    let smtp = SmtpGuard::start(port, &mail.path().join("maildir"));
    let later = Utc::now() + chrono::Duration::minutes(10);
    assert_eq!(dispatcher.run_once(later).await.unwrap(), 1);
    let row = store.outbox_by_key(&key).unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (MessageState::Sent, 2));
    assert_eq!(smtp.wait_for(1, Duration::from_secs(20)).len(), 1);

    // Never twice: the schedule finds the key, the dispatcher has nothing due.
    let again = reporter.enqueue_week(&catalog, setup.week, later).await;
    assert_eq!(
        again,
        vec![(
            "payments".to_string(),
            TeamOutcome::AlreadyQueued {
                state: MessageState::Sent
            }
        )]
    );
    assert_eq!(dispatcher.run_once(later).await.unwrap(), 0);
    assert_eq!(smtp.messages().len(), 1);

    // The figures the email was made from are the collector's (same code as the CLI).
    // Kept to count its round trips; the report sees it through the narrow interface.
    let counted = source(&prometheus.url);
    let sources = Sources {
        prometheus: Arc::new(counted.clone()),
        store: None,
        policy: GatePolicy::default(),
        status_cache: Arc::new(StatusCache::new(
            Duration::from_secs(15),
            Default::default(),
        )),
        basis: Default::default(),
    };
    let tz: Tz = ZONE.parse().unwrap();
    let started = std::time::Instant::now();
    let report = collect_team(&sources, &catalog, "payments", setup.week, tz)
        .await
        .unwrap();
    // The figure docs/benchmarks.md quotes (`-- --nocapture` shows it).
    eprintln!(
        "collect_team: 2 services, 3 SLOs in {:?} with {} Prometheus requests",
        started.elapsed(),
        counted.round_trips()
    );
    let checkout = &report.services[0];
    assert_eq!(checkout.service, "checkout");
    let availability = &checkout.slos[0];
    let def = catalog.service("checkout").unwrap();
    let end = setup.end.timestamp();
    let at_end = evaluate_service(&counted, &catalog, def, None, end, &GatePolicy::default()).await;
    let p = find(&at_end, "availability");
    assert_eq!(
        availability.budget_remaining,
        p.error_budget.map(|b| b.remaining)
    );
    // The burn-down ends where the evaluator's budget is.
    let (last_t, last_remaining) = *availability.burn_down.last().unwrap();
    assert_eq!(last_t, end);
    assert!((last_remaining - p.error_budget.unwrap().remaining).abs() < 1e-9);
    assert!(
        availability.change_points().unwrap() < 0.0,
        "the burst made it worse"
    );
    assert_eq!(checkout.alerts.len(), 1, "{:?}", checkout.alerts);
    assert_eq!(checkout.alerts[0].severity, "page");
}

#[test]
fn a_dry_run_writes_the_eml_the_html_and_the_chart_without_sending() {
    let setup = setup();
    let prometheus = PrometheusGuard::start_with(&setup.scenario, &setup.alerts);
    // Nothing listens on the SMTP port: a dry run must not need it.
    let dir = workspace(&setup, &prometheus.url, free_port());
    let out_dir = dir.path().join("out");
    let week = setup.week.to_string();
    let out = run_report(dir.path(), &["--week", &week, "--dry-run", "out"]);
    assert!(
        out.status.success(),
        "slogate report --dry-run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stem = format!("payments-{week}");
    let eml = std::fs::read_to_string(out_dir.join(format!("{stem}.eml"))).unwrap();
    assert!(
        eml.contains("multipart/alternative") && eml.contains("Content-ID: <burn-down@slogate>")
    );
    let html = std::fs::read_to_string(out_dir.join(format!("{stem}.html"))).unwrap();
    assert!(
        html.contains(&format!("src=\"{stem}.png\"")),
        "the preview shows the chart file"
    );
    let png = std::fs::read(out_dir.join(format!("{stem}.png"))).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // Nothing was enqueued.
    let store = Store::open(&dir.path().join("slogate.db")).unwrap();
    assert!(store.outbox_with_prefix("report/").unwrap().is_empty());
}

/// `slogate serve` with `report.smtp` runs the schedule: the report due now (its Monday run was
/// missed, since nothing ran then) is sent once at start; after a restart on the same database
/// the schedule finds it in the outbox and sends nothing.
#[test]
fn serve_sends_the_missed_report_once_at_start_and_not_again_after_a_restart() {
    let setup = setup();
    let prometheus = PrometheusGuard::start_with(&setup.scenario, &setup.alerts);
    let port = free_port();
    let mail = tempfile::tempdir().unwrap();
    let smtp = SmtpGuard::start(port, &mail.path().join("maildir"));
    let dir = workspace(&setup, &prometheus.url, port);
    let config = std::fs::read_to_string(dir.path().join("slogate.yaml")).unwrap();
    let report_section = &config[config.find("report:\n").unwrap()..];
    let options = ServeOptions {
        slos: dir.path().join("slos.yaml"),
        tokens: vec![],
        config: report_section.to_string(),
        db: Some(dir.path().join("slogate.db")),
        ..ServeOptions::new(&prometheus.url)
    };
    let config: slogate::config::Config = serde_saphyr::from_str(report_section).unwrap();
    let week = due_week(&config.report.settings().unwrap(), Utc::now()).unwrap();
    let key = report_key("payments", week);

    let serve = SlogateGuard::start(&options);
    assert_eq!(smtp.wait_for(1, Duration::from_secs(60)).len(), 1);
    let store = Store::open(&dir.path().join("slogate.db")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store.outbox_by_key(&key).unwrap().map(|r| r.state) != Some(MessageState::Sent) {
        assert!(std::time::Instant::now() < deadline, "{}", serve.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(serve);

    let serve = SlogateGuard::start(&options);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !serve.log().contains("weekly report already in the outbox") {
        assert!(std::time::Instant::now() < deadline, "{}", serve.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(store.outbox_with_prefix("report/").unwrap().len(), 1);
    assert!(serve.log().contains(&week.to_string()), "{}", serve.log());
}
