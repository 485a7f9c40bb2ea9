//! A second rule engine: VictoriaMetrics' `vmalert -dryRun` (Debian `victoria-metrics`) reads
//! every generated rule file of the examples, plain alerts included, and accepts it; the same
//! check refuses a rule file with an unknown field, so it is not a check that cannot fail.

mod support;

use std::path::Path;
use std::process::Command;

use slogate::generate::{OutputFormat, generate_all};
use support::examples::example_catalog;

/// Runs `vmalert -dryRun -rule=FILE`; its exit status and output.
fn dry_run(file: &Path) -> (bool, String) {
    let out = Command::new("vmalert")
        .arg("-dryRun")
        .arg(format!("-rule={}", file.display()))
        .output()
        .expect("vmalert is installed (Debian victoria-metrics; scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn vmalert_accepts_every_generated_rule_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate_all(&example_catalog(), OutputFormat::Plain).unwrap();
    let mut checked = 0;
    for file in files.iter().filter(|f| f.path.starts_with("alert-rules")) {
        let path = dir.path().join(file.path.file_name().unwrap());
        std::fs::write(&path, &file.contents).unwrap();
        let (ok, text) = dry_run(&path);
        assert!(ok, "vmalert refused {}:\n{text}", file.path.display());
        checked += 1;
    }
    assert_eq!(checked, 5, "one rule file per example service");
}

#[test]
fn vmalert_refuses_a_rule_file_with_an_unknown_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(
        &path,
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    severity: page\n",
    )
    .unwrap();
    let (ok, text) = dry_run(&path);
    assert!(!ok, "vmalert accepted a broken file:\n{text}");
}
