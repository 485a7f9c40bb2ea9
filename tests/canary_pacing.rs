//! The default pacing against its targets, by seeded simulation of whole rollouts replayed
//! through the gate and Argo's rules (tests/support/noise.rs): at a canary of 10% of 200
//! requests/s with 1% errors, a gross regression (10x errors, 10x latency) fails within 2
//! minutes of the canary taking traffic, while an equal canary stays within the A/A goals (ever
//! failed <= 1%, Argo Successful >= 95%). From the default noise prior the 5-minute
//! target for a 2x error regression is not met (printed, not asserted); from the prior the
//! calibration job measures it is, at 350 requests/s (asserted below; docs/statistics.md,
//! "Pacing").
//!
//! `cargo test --release --test canary_pacing -- --nocapture` prints the table that
//! `docs/statistics.md` ("Pacing") quotes.

mod support;

use slogate::spec::Pacing;
use support::noise::{Kind, Noise, run_paced};

const ROLLOUTS: usize = 1000;

/// The traffic the targets are stated at.
fn stated_traffic(name: &'static str) -> Noise {
    Noise {
        requests_per_minute: 200.0 * 60.0,
        ..Noise::base(name)
    }
}

/// (scenario, kind, error factor, latency factor, minute the target asks a fail by, share
/// that must be failed by then): `None` for regressions reported without a target.
type Case = (&'static str, Kind, f64, f64, Option<usize>);

const CASES: [Case; 5] = [
    ("10x errors", Kind::Errors, 10.0, 1.0, Some(2)),
    // A gross latency regression: ten times slower fails at the first paired minutes.
    ("10x latency", Kind::Latency, 1.0, 10.0, Some(2)),
    // Not met (0.1% by minute 5): the evidence a doubling of 1% errors at 20 requests/s
    // brings in 5 minutes is not enough under the noise allowance; see docs/statistics.md.
    ("2x errors", Kind::Errors, 2.0, 1.0, None),
    ("2x latency", Kind::Latency, 1.0, 2.0, None),
    ("20% latency", Kind::Latency, 1.0, 1.2, None),
];

#[test]
fn the_default_pacing_fails_gross_regressions_in_2_minutes_within_the_aa_goals() {
    let pacing = Pacing::default();
    let mut problems = Vec::new();
    eprintln!(
        "| regression (200 req/s, canary 10%, 1% errors; {ROLLOUTS} rollouts) | failed by 2 min \
         | by 5 min | median minute of the first fail | Argo Failed |"
    );
    for (i, (name, kind, errors, latency, by)) in CASES.iter().enumerate() {
        let tally = run_paced(
            0x9ace_0000 + i as u64,
            ROLLOUTS,
            &stated_traffic(name),
            *kind,
            *errors,
            *latency,
            &pacing,
        );
        eprintln!(
            "| {name} | {:.1}% | {:.1}% | {} | {:.1}% |",
            100.0 * tally.failed_by_minute(2),
            100.0 * tally.failed_by_minute(5),
            tally.median_fail_minute(),
            tally.pct(tally.failed)
        );
        if let Some(minute) = by
            && tally.failed_by_minute(*minute) < 0.95
        {
            problems.push(format!(
                "{name}: {:.1}% failed by minute {minute}",
                100.0 * tally.failed_by_minute(*minute)
            ));
        }
    }
    for (kind, seed) in [(Kind::Errors, 0xaa01), (Kind::Latency, 0xaa02)] {
        let aa = run_paced(
            seed,
            ROLLOUTS,
            &stated_traffic("A/A"),
            kind,
            1.0,
            1.0,
            &pacing,
        );
        eprintln!(
            "| A/A {kind:?}: ever failed {:.1}%, Successful {:.1}%, Paused {:.1}% |",
            aa.pct(aa.ever_failed),
            aa.pct(aa.successful),
            aa.pct(aa.paused)
        );
        if aa.pct(aa.ever_failed) > 1.0 || aa.pct(aa.successful) < 95.0 {
            problems.push(format!("A/A {kind:?}: {aa:?}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// σ² of a per-side rate CV `cv` (what a backtest of such traffic measures).
fn dispersion_of(cv: f64) -> f64 {
    2.0 * (1.0 + cv * cv).ln()
}

/// With the noise the service's calibration measured (`evaluate::canary::noise`), the 2x target
/// is met at 350 requests/s (the canary at 35): Poisson errors, which a backtest measures at
/// the floor (CV 0.1). At the 200 requests/s above it is met by the median rollout, not by
/// 95%. An equal canary stays within the A/A goals. The price of a stale measurement (the
/// prior at the floor, the rollout's minutes swinging with CV 0.3 or 0.5) is printed: it is
/// what the daily backtest of the same version is there to avoid (docs/statistics.md).
#[test]
fn a_measured_quiet_prior_fails_a_2x_error_regression_within_5_minutes() {
    let pacing = Pacing::default();
    let measured = |rps: f64, cv: f64| Noise {
        requests_per_minute: rps * 60.0,
        rate_cv: cv,
        measured_prior: Some(dispersion_of(0.1)),
        ..Noise::base("measured prior")
    };
    eprintln!(
        "| traffic (canary 10%, 1% errors; prior measured at CV 0.1; {ROLLOUTS} rollouts) | 2x \
         errors failed by 5 min | median minute | A/A ever failed | A/A, CV 0.3 now | A/A, \
         CV 0.5 now |"
    );
    let mut problems = Vec::new();
    for (i, rps) in [200.0, 350.0].into_iter().enumerate() {
        let seed = 0x9ace_0100 + 16 * i as u64;
        let run = |seed, cv, factor| {
            run_paced(
                seed,
                ROLLOUTS,
                &measured(rps, cv),
                Kind::Errors,
                factor,
                1.0,
                &pacing,
            )
        };
        let regression = run(seed, 0.0, 2.0);
        let aa = run(seed + 1, 0.0, 1.0);
        let stale_03 = run(seed + 2, 0.3, 1.0);
        let stale_05 = run(seed + 3, 0.5, 1.0);
        eprintln!(
            "| {rps} req/s | {:.1}% | {} | {:.1}% | {:.1}% | {:.1}% |",
            100.0 * regression.failed_by_minute(5),
            regression.median_fail_minute(),
            aa.pct(aa.ever_failed),
            stale_03.pct(stale_03.ever_failed),
            stale_05.pct(stale_05.ever_failed),
        );
        if aa.pct(aa.ever_failed) > 1.0 || aa.pct(aa.successful) < 95.0 {
            problems.push(format!("A/A at {rps} req/s: {aa:?}"));
        }
        if regression.median_fail_minute() > 5.0 {
            problems.push(format!(
                "2x at {rps} req/s: median {}",
                regression.median_fail_minute()
            ));
        }
        if rps >= 350.0 && regression.failed_by_minute(5) < 0.95 {
            problems.push(format!(
                "2x at {rps} req/s: {:.1}% by minute 5",
                100.0 * regression.failed_by_minute(5)
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
