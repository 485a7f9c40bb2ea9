//! How long `slogate generate` takes for a large estate: 1,000 services of 10 SLOs each
//! (10,000 SLOs, every SLI kind), from the validated model to every file's text.
//!
//! Run: `cargo bench --bench generate`. Figures go in docs/benchmarks.md.

use std::hint::black_box;

/// The allocator the `slogate` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use slogate::generate::{OutputFormat, generate_all};
use slogate::spec::{Catalog, load_texts};

/// A catalog of `services` services with 10 SLOs each, read through the real loader so the
/// model is exactly what users get.
fn estate(services: usize) -> Catalog {
    let mut files = Vec::new();
    for s in 0..services {
        let mut text = format!(
            "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: svc-{s}\nteam: team-{}\nslos:\n",
            s % 25
        );
        for i in 0..10 {
            let sli = match i % 4 {
                0 => format!(
                    "events: {{errors: 'sum(rate(http_requests_total{{service=\"svc-{s}\",route=\"/r{i}\",code=~\"5..\"}}[{{{{window}}}}]))', total: 'sum(rate(http_requests_total{{service=\"svc-{s}\",route=\"/r{i}\"}}[{{{{window}}}}]))'}}"
                ),
                1 => format!(
                    "latency: {{histogram: http_request_duration_seconds, selector: '{{service=\"svc-{s}\"}}', threshold: 500ms}}"
                ),
                2 => format!(
                    "raw: {{error_ratio: 'sum(rate(errors_total{{service=\"svc-{s}\"}}[{{{{window}}}}])) / sum(rate(requests_total{{service=\"svc-{s}\"}}[{{{{window}}}}]))'}}"
                ),
                _ => format!(
                    "events: {{good: 'sum(rate(jobs_ok_total{{service=\"svc-{s}\"}}[{{{{window}}}}]))', total: 'sum(rate(jobs_total{{service=\"svc-{s}\"}}[{{{{window}}}}]))'}}"
                ),
            };
            let period = ["30d", "28d", "7d"][i % 3];
            text.push_str(&format!(
                "  - name: slo-{i}\n    objective: 99.{i}\n    period: {period}\n    sli: {{{sli}}}\n    alerting: {{min_events: 100, ticket: {{route: slack, channel: \"#team-{}\"}}}}\n",
                s % 25
            ));
        }
        files.push((PathBuf::from(format!("svc-{s}.yaml")), text));
    }
    let report = load_texts(&files);
    assert!(!report.has_errors(), "{:?}", report.diagnostics.first());
    report.catalog
}

fn bench(c: &mut Criterion) {
    let catalog = estate(1_000);
    let slos: usize = catalog.services.iter().map(|s| s.slos.len()).sum();
    assert_eq!(slos, 10_000);
    // The figures in docs/benchmarks.md are for exactly this output: a faster run that
    // writes less would not be comparable.
    let files = generate_all(&catalog, OutputFormat::Plain).unwrap();
    let bytes: usize = files.iter().map(|f| f.contents.len()).sum();
    assert_eq!((files.len(), bytes), (3_002, 299_168_757));
    drop(files);
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    group.bench_function("10k SLOs, plain files", |b| {
        b.iter(|| generate_all(black_box(&catalog), OutputFormat::Plain).unwrap())
    });
    group.bench_function("10k SLOs, Kubernetes resources", |b| {
        b.iter(|| generate_all(black_box(&catalog), OutputFormat::Kubernetes).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
