//! The overview page (`GET /`) at many services, with and without the status cache: server
//! time per view, Prometheus queries per view, and the most queries in flight at Prometheus.
//!
//! A real Prometheus (the example scenario), a counting proxy in front of it (what Prometheus
//! sees), and real `slogate serve` processes on the examples plus N copies of
//! reconciliation-backend's SLOs, at the default query budget (10 in flight, 4 kept for gates).
//! For each N: one server with `status_cache_ttl: 10m` (the first view evaluates, the next ones
//! are served from it) and one with `0s` (every view evaluates). Views are sequential, after one
//! warm-up view.
//!
//! Run: `cargo bench --bench overview`. Environment: `OVERVIEW_SERVICES` (default `100,500`),
//! `OVERVIEW_VIEWS` per server (default 5). Figures go in docs/benchmarks.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::counting::CountingProxy;
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, TOKEN, example_scenario, with_extra_services};

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|n| n.trim().parse().expect("a number"))
        .collect()
}

/// One server's figures: median time per view, queries per view (after the warm-up), peak in
/// flight at Prometheus over the whole run.
fn measure(proxy: &CountingProxy, options: &ServeOptions, views: usize) -> (Duration, f64) {
    let mut slogate = SlogateGuard::start(options);
    slogate.wait_for("/readyz", 200);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let view = || {
        let answer = http
            .get(format!("{}/", slogate.url))
            .bearer_auth(TOKEN)
            .send()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{}", slogate.log());
        answer.text().unwrap();
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
    let prometheus = PrometheusGuard::start(&example_scenario());
    let proxy = CountingProxy::start(&prometheus.url, None);
    let views = env_list("OVERVIEW_VIEWS", "5")[0];
    println!("| services (SLOs) | cache | median per view | queries per view | peak in flight |");
    println!("|---|---|---|---|---|");
    for extra in env_list("OVERVIEW_SERVICES", "100,500") {
        let dir = tempfile::tempdir().unwrap();
        let slos = with_extra_services(dir.path(), extra);
        for (label, ttl) in [("15 s (10m here)", "10m"), ("off", "0s")] {
            let mut options = ServeOptions::new(&proxy.url);
            options.slos = slos.clone();
            // Long enough for every view of the run: a 500-service evaluation takes seconds.
            options.config = format!("status_cache_ttl: {ttl}\nrequest_deadline: 60s\n");
            let (median, queries) = measure(&proxy, &options, views);
            println!(
                "| {} ({}) | {label} | {:.0} ms | {queries:.0} | {} |",
                extra + 5,
                extra * 2 + 11,
                median.as_secs_f64() * 1000.0,
                proxy.peak()
            );
        }
    }
}
