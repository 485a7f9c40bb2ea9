//! `slogate validate` as a user runs it: exit codes and `FILE:LINE:COL: message` output.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_slogate");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn validate(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("validate")
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("run slogate")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn example_definitions_are_valid_by_default() {
    let out = validate(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("6 file(s): 5 service(s), 11 SLO(s) valid; 0 error(s), 0 warning(s)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn every_reference_spec_is_valid() {
    let reference = Path::new(ROOT).join("../shared/reference");
    let files = [
        "sloth/in-base.yaml",
        "sloth/in-base-k8s.yaml",
        "sloth/in-multifile.yaml",
        "sloth/in-openslo.yaml",
        "openslo/budgeting-method/occurences-slo.yaml",
        "openslo/budgeting-method/ratio-timeslices.yaml",
        "openslo/budgeting-method/timeslices-slo.yaml",
        "openslo/treat-low-traffic-as-equally-important/timeslices-slo.yaml",
    ];
    for file in files {
        let path = reference.join(file);
        let out = validate(&[path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("0 error(s)"),
            "{file}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn the_same_service_in_two_files_is_reported_at_the_second() {
    let reference = Path::new(ROOT).join("../shared/reference/sloth");
    let out = validate(&[
        reference.join("in-base.yaml").to_str().unwrap(),
        reference.join("in-base-k8s.yaml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("in-base-k8s.yaml:7:3: spec.service: service `svc01` is already defined at"),
        "{text}"
    );
}

#[test]
fn invalid_definitions_exit_1_with_located_messages() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: api\nslos:\n  - name: a\n    objective: 100\n    sli:\n      raw: {error_ratio: 'sum(rate(x[5m]))'}\n",
    )
    .unwrap();
    let out = validate(&[file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let f = file.display();
    assert_eq!(
        lines[0],
        format!(
            "{f}:6:5: slos[0].objective: objective 100 is out of range: it is a percentage above 0 and below 100 (100% leaves no error budget)"
        )
    );
    assert!(
        lines[1].starts_with(&format!(
            "{f}:8:13: slos[0].sli.raw.error_ratio: the query has no {{{{window}}}} placeholder"
        )),
        "{text}"
    );
    assert!(
        lines[2].ends_with("0 service(s), 0 SLO(s) valid; 2 error(s), 0 warning(s)"),
        "{text}"
    );
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let out = validate(&["no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no/such/dir: no such file or directory")
    );
}

#[test]
fn help_names_the_subcommand() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("validate"));
}

#[test]
fn a_configmap_mounted_directory_is_read_once() {
    // Kubernetes mounts a ConfigMap as `..<timestamp>/` holding the files, `..data` pointing
    // at it, and one symlink per file through `..data`.
    let dir = tempfile::tempdir().unwrap();
    let stamped = dir.path().join("..2026_11_22_08_00_00.123");
    std::fs::create_dir(&stamped).unwrap();
    let source = Path::new(ROOT).join("slo-definitions/financy-api.yaml");
    std::fs::copy(&source, stamped.join("financy-api.yaml")).unwrap();
    std::os::unix::fs::symlink(&stamped, dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink(
        Path::new("..data/financy-api.yaml"),
        dir.path().join("financy-api.yaml"),
    )
    .unwrap();
    let out = validate(&[dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("1 file(s): 1 service(s)"),
        "{}",
        stdout(&out)
    );
}
