//! Status pages: render the overview from 500 synthetic SLO statuses, and a canary verdict's
//! page with its charts (view model + tera + SVG), server time only (no Prometheus, no HTTP).
//! `cargo bench --bench pages`; figures in docs/benchmarks.md.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use slogate::analysis::canary::{Counts, MetricData};
use slogate::analysis::distribution::Distribution;
use slogate::analysis::slo::{ErrorBudget, SloStatus};
use slogate::generate::windows::alert_windows_with;
use slogate::server::pages::overview::{OverviewQuery, SloMeta, SortKey, overview};
use slogate::server::pages::render::render_text;
use slogate::server::pages::verdict;
use slogate::spec::PromDuration;
use slogate::store::StoredVerdict;
use slogate::verdict::{Check, Outcome, Side, Verdict, VerdictKind, Window};

fn statuses(n: usize) -> (Vec<SloStatus>, BTreeMap<(String, String), SloMeta>) {
    let period = PromDuration::parse("30d").unwrap();
    let windows = alert_windows_with(period, &[]);
    let mut statuses = Vec::with_capacity(n);
    let mut metas = BTreeMap::new();
    for i in 0..n {
        let (service, slo) = (format!("service-{:03}", i / 2), format!("slo-{}", i % 2));
        let burn = (i % 17) as f64 * 0.9;
        let mut burn_rate = BTreeMap::new();
        let mut sli = BTreeMap::new();
        for c in windows.all() {
            burn_rate.insert(c.long, burn);
            burn_rate.insert(c.short, burn * 1.1);
        }
        burn_rate.insert(period, burn);
        sli.insert(period, 1.0 - burn * 0.001);
        statuses.push(SloStatus {
            service: service.clone(),
            slo: slo.clone(),
            objective: 99.9,
            period: "30d".into(),
            sli,
            burn_rate,
            events: BTreeMap::new(),
            error_budget: Some(ErrorBudget {
                remaining: 1.0 - burn,
                remaining_minutes: 0.0,
                consumed: burn,
            }),
            alerts: if burn > 14.4 {
                vec!["page", "ticket"]
            } else {
                vec![]
            },
            exhaustion_hours: None,
            verdict: if burn > 1.0 {
                Outcome::Fail
            } else {
                Outcome::Pass
            },
            reason: "healthy: 42% of the error budget left over 30d, no burn alert".into(),
        });
        metas.insert(
            (service, slo),
            SloMeta {
                team: Some(format!("team-{}", i % 12)),
                description: Some("Requests served without a server error.".into()),
                windows,
            },
        );
    }
    (statuses, metas)
}

fn stored_verdict() -> StoredVerdict {
    let values = |scale: f64| {
        (0..600)
            .map(|i| scale * (1.0 + (i % 37) as f64 / 37.0))
            .collect::<Vec<f64>>()
    };
    let values = Distribution::of(&MetricData::Values {
        baseline: values(0.2),
        canary: values(0.3),
    });
    let events = Distribution::of(&MetricData::Events {
        baseline: Counts {
            counted: 12,
            total: 11770,
        },
        canary: Counts {
            counted: 589,
            total: 11770,
        },
    });
    let check = |name: &str, verdict| Check {
        name: name.into(),
        source: "prometheus".into(),
        verdict,
        classification: "high".into(),
        baseline: Some(Side { n: 600, value: 0.3 }),
        canary: Some(Side {
            n: 600,
            value: 0.45,
        }),
        effect: Some(1.5),
        interval: Some([0.1, 0.2]),
        p_value: Some(1e-6),
        threshold: "increase up to 1.1x".into(),
        reason: "canary significantly higher than baseline beyond tolerance".into(),
        sequential: None,
    };
    StoredVerdict {
        verdict: Verdict {
            id: "bench".into(),
            kind: VerdictKind::Canary,
            verdict: Outcome::Fail,
            score: 0.0,
            summary: "checkout: critical metric failed".into(),
            service: "checkout".into(),
            window: Window {
                start: "2026-01-01T00:00:00Z".into(),
                end: "2026-01-01T00:10:00Z".into(),
            },
            checks: vec![
                check("error-rate", Outcome::Fail),
                check("p95-latency", Outcome::Fail),
            ],
            evaluated_at: "2026-01-01T00:10:00Z".into(),
        },
        inputs: json!({"baseline": "a", "canary": "b", "distributions": {"error-rate": events, "p95-latency": values}}),
        recorded_at: Utc::now(),
    }
}

fn bench(c: &mut Criterion) {
    let (statuses, metas) = statuses(500);
    let query = OverviewQuery {
        sort: SortKey::Budget,
        ..OverviewQuery::default()
    };
    c.bench_function("overview of 500 SLOs (view + render)", |b| {
        b.iter(|| {
            let view = overview(black_box(&statuses), &metas, &query, String::new());
            black_box(render_text("overview.html", "SLO overview", &view).unwrap())
        })
    });
    let stored = stored_verdict();
    c.bench_function("canary verdict page with two charts (view + render)", |b| {
        b.iter(|| {
            let view = verdict::view(black_box(&stored));
            black_box(render_text("verdict.html", "Verdict", &view).unwrap())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
