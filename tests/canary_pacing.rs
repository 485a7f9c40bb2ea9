//! The default pacing against its targets, by seeded simulation of whole rollouts replayed
//! through the gate and Argo's rules (tests/support/noise.rs): at a canary of 10% of 200
//! requests/s with 1% errors, a 10x error regression fails within 2 minutes of the canary
//! taking traffic, while an equal canary stays within the A/A goals (ever failed <= 1%, Argo
//! Successful >= 95%). The 5-minute target for a 2x error regression is not met at
//! this traffic (docs/statistics.md, "Pacing", says why): it is printed, not asserted.
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

const CASES: [Case; 4] = [
    ("10x errors", Kind::Errors, 10.0, 1.0, Some(2)),
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
