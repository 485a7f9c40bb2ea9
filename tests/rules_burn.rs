//! The generated multi-window multi-burn-rate alerts, run by a real `promtool test rules` on
//! input series: each tier fires when (and only when) its burn rate is exceeded over both of
//! its windows, stays silent under low traffic below the guard, and resolves.
//!
//! Traffic is 6,000 requests a minute unless said; a day of clean traffic comes first so every
//! window has history. The figures in each comment are the error ratios the windows see.

mod support;

use std::path::PathBuf;

use slogate::generate::rules::service_rules;
use slogate::spec::load_texts;
use support::promtool::{
    AlertExpectation, AlertTest, alert_test_file, check_rules, counter, rule_groups, test_rules,
    without_annotations, write_rule_file,
};

const DAY: u64 = 1440;
const RATE: f64 = 6000.0;

fn slo(name: &str, period: &str, min_events: u32) -> String {
    format!(
        r#"
  - name: {name}
    objective: 99.9
    period: {period}
    sli:
      events:
        errors: sum(rate(req_total{{scenario="{name}",code="500"}}[{{{{window}}}}]))
        total: sum(rate(req_total{{scenario="{name}"}}[{{{{window}}}}]))
    alerting:
      min_events: {min_events}"#
    )
}

/// Good and bad request counters for a scenario: `(minutes, error ratio, requests/min)`.
fn scenario(name: &str, segments: &[(u64, f64, f64)]) -> Vec<(String, String)> {
    let good: Vec<(u64, f64)> = segments
        .iter()
        .map(|&(m, e, r)| (m, r * (1.0 - e)))
        .collect();
    let bad: Vec<(u64, f64)> = segments.iter().map(|&(m, e, r)| (m, r * e)).collect();
    vec![
        (
            format!(r#"req_total{{scenario="{name}",code="200"}}"#),
            counter(&good),
        ),
        (
            format!(r#"req_total{{scenario="{name}",code="500"}}"#),
            counter(&bad),
        ),
    ]
}

fn expect(at: u64, service: &str, slo: &str, severities: &[&str]) -> AlertExpectation {
    AlertExpectation {
        at_minutes: at,
        alertname: "SLOErrorBudgetBurn".into(),
        alerts: severities
            .iter()
            .map(|s| {
                vec![
                    ("slo_service".into(), service.into()),
                    ("slo_name".into(), slo.into()),
                    ("slo_severity".into(), s.to_string()),
                ]
            })
            .collect(),
    }
}

/// Generates the service's rules into a temp dir, checks them, and runs the promtool test.
fn run(definition: &str, tests: Vec<AlertTest>) {
    let report = load_texts(&[(PathBuf::from("burn.yaml"), definition.to_string())]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let service = &report.catalog.services[0];
    let generated = serde_json::to_value(service_rules(service, &[])).unwrap();
    let full = dir.join("full.yaml");
    write_rule_file(&full, &rule_groups(&generated));
    check_rules(&[full]);
    let rules = dir.join("rules.yaml");
    write_rule_file(&rules, &without_annotations(rule_groups(&generated)));
    let test = dir.join("burn.test.yaml");
    std::fs::write(&test, alert_test_file("rules.yaml", &tests)).unwrap();
    test_rules(&test);
}

#[test]
fn thirty_day_slo_tiers_fire_only_when_both_windows_burn_and_resolve() {
    let definition = format!(
        "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: burn30\nslos:{}{}{}{}\n",
        slo("fast", "30d", 100),
        slo("slow", "30d", 100),
        slo("ticket", "30d", 100),
        slo("quiet", "30d", 100),
    );
    let t0 = DAY;
    let svc = "burn30";
    let tests = vec![
        AlertTest {
            // 2% errors (20x) for 1h.
            series: scenario(
                "fast",
                &[(t0, 0.0, RATE), (60, 0.02, RATE), (DAY, 0.0, RATE)],
            ),
            expectations: vec![
                // 30m in, the 5m window burns at 20x but the 1h window only at 10x.
                expect(t0 + 30, svc, "fast", &[]),
                // 50m in: 1h at 16.7x and 5m at 20x, both over 14.4x.
                expect(t0 + 50, svc, "fast", &["page"]),
                // 10m after the burst: 1h still at 18x, 5m at 0: resolved.
                expect(t0 + 70, svc, "fast", &[]),
            ],
        },
        AlertTest {
            // 1% errors (10x) for 8h.
            series: scenario(
                "slow",
                &[(t0, 0.0, RATE), (480, 0.01, RATE), (DAY, 0.0, RATE)],
            ),
            expectations: vec![
                // 2h in: 6h window at 3.3x (< 6x), 3d window at 0.8x (< 1x): nothing.
                expect(t0 + 120, svc, "slow", &[]),
                // 5h in: 6h at 8.3x and 30m at 10x (page); 3d at 1.7x and 6h over 1x (ticket).
                expect(t0 + 300, svc, "slow", &["page", "ticket"]),
                // 1h after: the page's 30m window is clean; the ticket's 6h window still burns.
                expect(t0 + 540, svc, "slow", &["ticket"]),
                // 6h after: the 6h and 2h windows are clean: resolved.
                expect(t0 + 480 + 370, svc, "slow", &[]),
            ],
        },
        AlertTest {
            // 0.5% errors (5x) for a day.
            series: scenario(
                "ticket",
                &[(t0, 0.0, RATE), (DAY, 0.005, RATE), (DAY, 0.0, RATE)],
            ),
            expectations: vec![
                // 3h in: 2h window at 5x but 1d only at 0.6x, 3d at 0.6x: nothing.
                expect(t0 + 180, svc, "ticket", &[]),
                // 8h in: 3d window at 1.25x and 6h at 5x: a ticket, and never a page (5x < 6x).
                expect(t0 + 480, svc, "ticket", &["ticket"]),
                expect(t0 + DAY - 10, svc, "ticket", &["ticket"]),
                expect(t0 + DAY + 370, svc, "ticket", &[]),
            ],
        },
        AlertTest {
            // Every request fails for 2h, at 0.1 request a minute.
            series: scenario("quiet", &[(t0, 0.0, 0.1), (120, 1.0, 0.1), (DAY, 0.0, 0.1)]),
            expectations: vec![
                // 6 requests in the page's 1h window and 36 in its 6h window, under the guard
                // of 100: no page. The ticket windows (1d, 3d) saw over 100: a ticket.
                expect(t0 + 100, svc, "quiet", &["ticket"]),
            ],
        },
    ];
    run(&definition, tests);
}

#[test]
fn seven_day_slo_uses_scaled_windows() {
    let definition = format!(
        "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: burn7\nslos:{}\n",
        slo("fast7", "7d", 100)
    );
    let t0 = DAY;
    // 2% errors (20x) for 30m. Page windows at 7d: 14m/5m at 14.4x, 1h24m/7m at 6x.
    let series = scenario(
        "fast7",
        &[(t0, 0.0, RATE), (30, 0.02, RATE), (DAY / 2, 0.0, RATE)],
    );
    let svc = "burn7";
    let expectations = vec![
        // 8m in: 5m window at 20x but 14m at 11x and 1h24m at 1.9x: nothing.
        expect(t0 + 8, svc, "fast7", &[]),
        // 20m in: 14m window at 20x and 5m at 20x: page.
        expect(t0 + 20, svc, "fast7", &["page"]),
        // 15m after: 5m and 7m windows clean; ticket windows (5h36m, 16h48m) under 3x and 1x.
        expect(t0 + 45, svc, "fast7", &[]),
    ];
    run(
        &definition,
        vec![AlertTest {
            series,
            expectations,
        }],
    );
}
