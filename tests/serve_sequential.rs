//! The sequential canary gate of a real `slogate serve` on a real Prometheus: repeated asks
//! about one rollout are looks of one test, and a `kill -9` and a restart on the same database
//! continue the test where it was (look number, evidence, a rejection) instead of resetting it.

mod support;

use serde_json::{Value, json};
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard, example_scenario};

/// Asks the canary gate about `canary` over the `look`-th ten minutes since `start`.
fn ask(slogate: &SlogateGuard, canary: &str, start: i64, look: i64) -> Value {
    let from = start + 600 * (look - 1);
    let body = json!({
        "service": "financeanalyst-api",
        "baseline": {"version": "stable-7d9f"},
        "canary": {"version": canary},
        "window": {"start": from.to_string(), "end": (from + 600).to_string()},
        "profile": {"metrics": ["error-rate"]},
    });
    let (status, verdict) = slogate.post("/api/v1/gates/canary", &body.to_string());
    assert_eq!(status, 200, "{verdict:#}");
    verdict
}

fn evidence(verdict: &Value) -> &Value {
    &verdict["checks"][0]["sequential"]
}

/// The stored state of one analysis, read from the database file itself.
fn stored(db: &std::path::Path, canary: &str) -> Value {
    let conn = rusqlite::Connection::open(db).unwrap();
    let key = format!("financeanalyst-api|stable-7d9f|{canary}");
    let text: String = conn
        .query_row(
            "SELECT state_json FROM sequential_tests WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_restart_in_the_middle_of_a_rollout_continues_the_look_number_and_the_evidence() {
    let scenario = example_scenario();
    let start = scenario.start + 1800;
    let prometheus = PrometheusGuard::start(&scenario);
    let options = ServeOptions::new(&prometheus.url);
    let mut slogate = SlogateGuard::start(&options);
    slogate.wait_for("/readyz", 200);

    let mut e_values = Vec::new();
    for look in 1..=3 {
        let good = ask(&slogate, "good-5c8b", start, look);
        assert_eq!(good["verdict"], "pass", "{good:#}");
        assert_eq!(evidence(&good)["look"], look, "{good:#}");
        e_values.push(evidence(&good)["e_value"].as_f64().unwrap());
        // Asking again about the same window takes no new look and counts nothing twice.
        let again = ask(&slogate, "good-5c8b", start, look);
        assert_eq!(evidence(&again)["look"], look, "{again:#}");
    }
    let bad = ask(&slogate, "bad-6f1a", start, 1);
    assert_eq!(bad["verdict"], "fail", "{bad:#}");
    assert_eq!(evidence(&bad)["rejected_at"], 1, "{bad:#}");
    let before = stored(&slogate.db, "good-5c8b");
    assert_eq!(before["looks"], 3);

    slogate.signal("KILL");
    slogate.wait_exit();
    let dir = slogate.into_dir();
    let mut slogate = SlogateGuard::start_in(dir, &options);
    slogate.wait_for("/readyz", 200);

    let good = ask(&slogate, "good-5c8b", start, 4);
    assert_eq!(evidence(&good)["look"], 4, "{good:#}");
    let after = stored(&slogate.db, "good-5c8b");
    let totals = |s: &Value| s["metrics"][0]["canary"]["total"].as_u64().unwrap();
    // Four looks' traffic: the three before the restart and the new one.
    assert!(
        totals(&after) > totals(&before) * 5 / 4,
        "{after:#} vs {before:#}"
    );
    let per_look = totals(&before) / 3;
    assert!(totals(&after) >= per_look * 4 - per_look / 10, "{after:#}");
    // The bad canary's rejection survives: later looks still fail, and say when it rejected.
    let bad = ask(&slogate, "bad-6f1a", start, 2);
    assert_eq!(bad["verdict"], "fail", "{bad:#}");
    assert_eq!(evidence(&bad)["look"], 2, "{bad:#}");
    assert_eq!(evidence(&bad)["rejected_at"], 1, "{bad:#}");
    let reason = bad["checks"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("exceeds baseline by more than 20% with anytime-valid confidence 99%"),
        "{reason}"
    );
    eprintln!(
        "good canary e-values by look: {e_values:?}, then {}",
        evidence(&good)["e_value"]
    );
}
