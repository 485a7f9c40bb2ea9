//! `slogate judge` as a user runs it: the verdict JSON, and bad input refused with the file and
//! position, exit 2, never a panic.

use std::process::{Command, Output};

fn judge(files: &[(&str, &str)], config: Option<&str>) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slogate"));
    cmd.current_dir(dir.path())
        .args(["judge", "--baseline", "baseline", "--canary", "canary"]);
    if let Some(c) = config {
        std::fs::write(dir.path().join("config.yaml"), c).unwrap();
        cmd.args(["--config", "config.yaml"]);
    }
    (cmd.output().unwrap(), dir)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_golden_case_gives_rs_interval_and_fails_the_canary() {
    let config = "confidence: 0.95\nmin_samples: 4\n";
    let (out, _dir) = judge(
        &[("baseline", "[1, 2, 3, 4]"), ("canary", "10\n20\n30\n40\n")],
        Some(config),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["kind"], "canary");
    assert_eq!(verdict["verdict"], "fail");
    let check = &verdict["checks"][0];
    assert_eq!(check["classification"], "high");
    let interval = check["interval"].as_array().unwrap();
    // The exact ends (pairwise differences), not R's uniroot stopping points.
    assert_eq!(interval[0].as_f64(), Some(6.0), "{check}");
    assert_eq!(interval[1].as_f64(), Some(39.0), "{check}");
    assert_eq!(check["effect"], 10.0);
    assert!(
        check["reason"]
            .as_str()
            .unwrap()
            .starts_with("canary sample is higher than baseline by more than 5%"),
        "{check}"
    );
}

#[test]
fn bad_input_is_refused_with_file_and_position() {
    let cases: &[(&str, &str, &str, Option<&str>, &str)] = &[
        ("an empty file", "", "1\n2\n", None, "baseline: no values"),
        (
            "a word among numbers",
            "1\nabc\n3\n",
            "1\n",
            None,
            "baseline:2: `abc` is not a number",
        ),
        (
            "NaN",
            "1\n2\n",
            "1\nNaN\n",
            None,
            "canary:2: `NaN` is not a finite number",
        ),
        (
            "infinity",
            "1\ninf\n",
            "1\n",
            None,
            "baseline:2: `inf` is not a finite number",
        ),
        (
            "a JSON string",
            "[1, \"x\"]",
            "1\n",
            None,
            "baseline: element 2 (`\"x\"`) is not a finite number",
        ),
        (
            "broken JSON",
            "[1, 2",
            "1\n",
            None,
            "baseline:1:5: EOF while parsing a list",
        ),
        (
            "an unknown config key",
            "1\n",
            "1\n",
            Some("direction: increase\nbogus: 1\n"),
            "config.yaml:2:1: bogus: unknown field `bogus`",
        ),
        (
            "a bad direction",
            "1\n",
            "1\n",
            Some("direction: sideways\n"),
            "config.yaml: direction `sideways`",
        ),
    ];
    for (name, baseline, canary, config, expected) in cases {
        let (out, _dir) = judge(&[("baseline", baseline), ("canary", canary)], *config);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{name}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{name}");
    }
}

#[test]
fn trace_outcomes_are_judged_as_proportions() {
    // 1 error in 1000 spans against 50 in 1000: the canary's error rate is worse.
    let outcomes = |errors: usize| {
        let mut v = vec!["1"; errors];
        v.extend(vec!["0"; 1000 - errors]);
        v.join("\n")
    };
    let config = "source: traces\nkind: errors\nname: errors\nallowed_increase: 1.2\n";
    let (out, _dir) = judge(
        &[("baseline", &outcomes(1)), ("canary", &outcomes(50))],
        Some(config),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = &verdict["checks"][0];
    assert_eq!(check["source"], "traces", "{check}");
    assert_eq!(check["verdict"], "fail", "{check}");
    assert_eq!(check["canary"]["n"], 1000, "{check}");

    let (out, _dir) = judge(
        &[("baseline", "0\n1\n"), ("canary", "0\n2\n")],
        Some(config),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("canary: value 2 (`2`) is not an outcome"),
        "{}",
        stderr(&out)
    );
    let (out, _dir) = judge(
        &[("baseline", "1\n"), ("canary", "1\n")],
        Some("kind: errors\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("kind errors is for source traces"),
        "{}",
        stderr(&out)
    );
}

fn replay(looks: &str) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("looks.jsonl"), looks).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_slogate"))
        .current_dir(dir.path())
        .args(["judge", "--sequential", "looks.jsonl"])
        .output()
        .unwrap();
    (out, dir)
}

#[test]
fn a_sequential_replay_prints_a_verdict_per_look_with_the_evidence_and_fails_once_it_rejects() {
    // A first look that only looks worse (9 errors against 3) passes; then four times the
    // errors, look after look, until the evidence is conclusive.
    let mut looks = String::from(
        "{\"baseline\": {\"errors\": 3, \"total\": 1000}, \"canary\": {\"errors\": 9, \"total\": 1000}}\n\
         # a comment line\n",
    );
    for _ in 0..9 {
        looks.push_str(
            "{\"baseline\": {\"errors\": 10, \"total\": 1000}, \"canary\": {\"errors\": 40, \"total\": 1000}}\n",
        );
    }
    let (out, _dir) = replay(&looks);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["verdict"], "pass", "{:#}", lines[0]);
    assert_eq!(lines[0]["checks"][0]["sequential"]["look"], 1);
    let last = &lines[9];
    assert_eq!(last["verdict"], "fail", "{last:#}");
    let evidence = &last["checks"][0]["sequential"];
    let rejected = evidence["rejected_at"].as_u64().expect("rejected") as usize;
    assert!((2..=10).contains(&rejected), "{evidence}");
    assert!(evidence["e_value"].as_f64().unwrap() >= 100.0, "{evidence}");
    // Before the rejection every look passes; from it on every look fails.
    for (i, line) in lines.iter().enumerate() {
        let want = if i + 1 < rejected { "pass" } else { "fail" };
        assert_eq!(line["verdict"], want, "look {}: {line:#}", i + 1);
    }
}

#[test]
fn a_sequential_replay_of_equal_values_passes() {
    let same: Vec<String> = (0..20)
        .map(|i| format!("{}", 0.2 + 0.01 * i as f64))
        .collect();
    let line = format!(
        "{{\"baseline\": [{0}], \"canary\": [{0}]}}\n",
        same.join(", ")
    );
    let (out, _dir) = replay(&line.repeat(3));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

#[test]
fn a_bad_replay_line_exits_2_naming_the_file_and_line() {
    let looks = "{\"baseline\": {\"errors\": 3, \"total\": 1000}, \"canary\": {\"errors\": 9, \"total\": 1000}}\n\
                 {\"baseline\": {\"errors\": 3, \"total\": 1000}, \"canary\": [1, 2]}\n";
    let (out, _dir) = replay(looks);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("looks.jsonl:2:"), "{}", stderr(&out));
    let (out, _dir) = replay(
        "{\"baseline\": {\"errors\": 30, \"total\": 10}, \"canary\": {\"errors\": 1, \"total\": 10}}\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("looks.jsonl:1: the baseline has 30 errors"),
        "{}",
        stderr(&out)
    );
    let (out, _dir) = replay("not json\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("looks.jsonl:1:2: expected ident"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn absolute_criteria_fail_a_canary_as_good_as_its_baseline_when_both_break_the_limit() {
    // Both sides at about 0.6 s: no worse than the baseline, but over a `max` of 0.5 s.
    let slow: Vec<String> = (0..30)
        .map(|i| format!("{}", 0.58 + 0.002 * i as f64))
        .collect();
    let slow = slow.join("\n");
    let config = "name: p95\nmin_samples: 5\nmax: 0.5\n";
    let (out, _dir) = judge(&[("baseline", &slow), ("canary", &slow)], Some(config));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["verdict"], "fail", "{verdict:#}");
    assert_eq!(verdict["checks"][0]["verdict"], "pass", "{verdict:#}");
    let limit = &verdict["checks"][1];
    assert_eq!(limit["name"], "p95:max", "{verdict:#}");
    assert_eq!(limit["verdict"], "fail", "{verdict:#}");
    // Under the limit: both checks pass.
    let config = "name: p95\nmin_samples: 5\nmax: 0.8\n";
    let (out, _dir) = judge(&[("baseline", &slow), ("canary", &slow)], Some(config));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // 5% errors on both sides against a `max_rate` of 1%, minute after minute: one minute
    // alone is too little under the noise allowance (the fixed mode takes the files as one
    // minute), so the replay of looks shows it.
    let dir = tempfile::tempdir().unwrap();
    let look =
        r#"{"baseline": {"errors": 50, "total": 1000}, "canary": {"errors": 50, "total": 1000}}"#;
    std::fs::write(dir.path().join("looks.jsonl"), [look; 10].join("\n")).unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "source: traces\nkind: errors\nname: errors\nmax_rate: 0.01\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_slogate"))
        .current_dir(dir.path())
        .args([
            "judge",
            "--sequential",
            "looks.jsonl",
            "--config",
            "config.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["checks"][0]["verdict"], "pass", "{last:#}");
    assert_eq!(last["checks"][1]["name"], "errors:max_rate", "{last:#}");
    assert_eq!(last["checks"][1]["verdict"], "fail", "{last:#}");

    // A criterion on the wrong kind of data is refused, naming the file.
    for (config, expected) in [
        (
            "source: traces\nkind: errors\nmax: 0.5\n",
            "config.yaml: max bounds values",
        ),
        (
            "max_rate: 0.01\n",
            "config.yaml: max_rate bounds an error rate",
        ),
        (
            "source: traces\nkind: errors\nmax_increase_points: 150\n",
            "config.yaml: max_increase_points 150 must be above 0 and below 100",
        ),
    ] {
        let (out, _dir) = judge(&[("baseline", "1\n"), ("canary", "1\n")], Some(config));
        assert_eq!(out.status.code(), Some(2), "{config}");
        assert!(
            stderr(&out).contains(expected),
            "{config}: {}",
            stderr(&out)
        );
    }
}
