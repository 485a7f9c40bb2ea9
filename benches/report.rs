//! How long making one team's weekly report takes once the figures are in: the burn-down chart
//! (plotters, PNG), both tera templates and the MIME message, for a team of 5 services with 2
//! SLOs each (the size of the example estate), 169 hourly burn-down points per SLO, 20 alert
//! firings and 50 rollouts. Gathering the figures is Prometheus' time (see docs/benchmarks.md).
//!
//! Run: `cargo bench --bench report`. Figures go in docs/benchmarks.md.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use chrono_tz::Tz;
use criterion::{Criterion, criterion_group, criterion_main};
use slogate::report::collect::{AlertFiring, GatedRollout, ServiceReport, SloReport, TeamReport};
use slogate::report::render::{CHART_CID, RenderOptions, render};
use slogate::report::{IsoWeek, chart, email};
use slogate::verdict::{Outcome, VerdictKind};

/// The allocator the `slogate` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn team() -> TeamReport {
    let week: IsoWeek = "2026-W43".parse().unwrap();
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let (start, end) = week.bounds(tz);
    let hours = (end - start).num_hours();
    let services = (0..5)
        .map(|s| ServiceReport {
            service: format!("service-{s}"),
            slos: ["availability", "latency"]
                .iter()
                .enumerate()
                .map(|(i, name)| SloReport {
                    name: name.to_string(),
                    description: Some("Requests served without a server error & fast".into()),
                    objective: 99.9,
                    period: "30d".into(),
                    week_sli: Some(0.9995 - 0.0001 * i as f64),
                    previous_week_sli: Some(0.9993),
                    period_sli: Some(0.9994),
                    budget_remaining: Some(0.4),
                    budget_consumed_week: Some(0.12),
                    verdict: Outcome::Pass,
                    reason: "healthy: 40% of the error budget left over 30d".into(),
                    burn_down: (0..=hours)
                        .map(|h| (start.timestamp() + h * 3600, 0.5 - h as f64 / 1000.0))
                        .collect(),
                })
                .collect(),
            alerts: (0..4)
                .map(|a| AlertFiring {
                    alertname: "SLOErrorBudgetBurn".into(),
                    slo: "availability".into(),
                    severity: if a % 2 == 0 { "page" } else { "ticket" }.into(),
                    started: start + chrono::Duration::hours(10 * a),
                    duration: Duration::from_secs(3600),
                })
                .collect(),
            rollouts: (0..10)
                .map(|r| GatedRollout {
                    id: format!("v{s}-{r}"),
                    at: start + chrono::Duration::hours(12 * r),
                    kind: VerdictKind::Canary,
                    verdict: if r == 3 { Outcome::Fail } else { Outcome::Pass },
                    summary: format!("service-{s} canary pass (score 100)"),
                })
                .collect(),
            rollouts_total: 10,
        })
        .collect();
    TeamReport {
        team: "payments".into(),
        week,
        start,
        end,
        timezone: tz,
        services,
    }
}

fn bench(c: &mut Criterion) {
    let report = team();
    let lines: Vec<chart::Line> = report
        .services
        .iter()
        .flat_map(|s| {
            s.slos.iter().map(move |o| chart::Line {
                label: format!("{} / {}", s.service, o.name),
                points: o.burn_down.clone(),
            })
        })
        .collect();
    let options = RenderOptions {
        chart_src: format!("cid:{CHART_CID}"),
        status_url: Some("https://slogate.example".into()),
        generated_at: Utc::now(),
    };
    let from = "slogate <slogate@example.com>".parse().unwrap();
    let to = ["payments@example.com".parse().unwrap()];
    c.bench_function("report chart png (10 SLOs)", |b| {
        b.iter(|| {
            chart::burn_down_png(black_box(&lines), report.start, report.end, report.timezone)
                .unwrap()
        })
    });
    c.bench_function("report render html+text", |b| {
        b.iter(|| render(black_box(&report), &options).unwrap())
    });
    c.bench_function("report chart+render+email", |b| {
        b.iter(|| {
            let png =
                chart::burn_down_png(&lines, report.start, report.end, report.timezone).unwrap();
            let rendered = render(black_box(&report), &options).unwrap();
            email::build(
                &rendered,
                &png,
                &from,
                &to,
                "bench@slogate",
                SystemTime::now(),
            )
            .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
