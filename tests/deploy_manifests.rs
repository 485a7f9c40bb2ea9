//! The Kubernetes manifests under `deploy/`: the single-replica SQLite variant and the
//! several-replica PostgreSQL variant say what their comments and `deploy/README.md` promise,
//! and their timings add up (the termination grace period covers the preStop wait, the drain
//! and the shutdown grace slogate is configured with).

use std::path::{Path, PathBuf};

use serde_json::Value;
use slogate::config::Config;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn manifest(path: &str) -> Value {
    let text = std::fs::read_to_string(deploy(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `slogate.yaml` a variant's ConfigMap holds, read as slogate reads it.
fn config(path: &str) -> Config {
    let map = manifest(path);
    let text = map["data"]["slogate.yaml"].as_str().unwrap();
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{path}: slogate.yaml: {e}"))
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn probe_path<'a>(c: &'a Value, probe: &str) -> &'a str {
    c[probe]["httpGet"]["path"].as_str().unwrap_or("")
}

#[test]
fn every_file_a_kustomization_lists_exists_and_parses() {
    for variant in ["slogate", "replicas"] {
        let k = manifest(&format!("{variant}/kustomization.yaml"));
        for resource in k["resources"].as_array().unwrap() {
            let path = format!("{variant}/{}", resource.as_str().unwrap());
            assert!(manifest(&path)["kind"].is_string(), "{path}");
        }
    }
}

#[test]
fn the_replicas_variant_rolls_one_pod_at_a_time_and_keeps_two_up() {
    let d = manifest("replicas/deployment.yaml");
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 3);
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxSurge"], 1);
    let pdb = manifest("replicas/pdb.yaml");
    assert_eq!(pdb["kind"], "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        spec["selector"]["matchLabels"]
    );
    assert_eq!(
        spec["selector"]["matchLabels"]["app.kubernetes.io/name"],
        spec["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
    );
}

#[test]
fn the_replicas_variant_reads_the_database_from_a_secret_and_mounts_no_volume_claim() {
    let d = manifest("replicas/deployment.yaml");
    let pod = &d["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_array().unwrap();
    assert!(
        volumes
            .iter()
            .all(|v| v.get("persistentVolumeClaim").is_none()),
        "{volumes:#?}"
    );
    let c = container(&d);
    let db = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SLOGATE_DB")
        .expect("SLOGATE_DB is set");
    assert_eq!(db["valueFrom"]["secretKeyRef"]["name"], "slogate-db");
    let config = config("replicas/configmap.yaml");
    let password = config.db_password_file.expect("db_password_file");
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| password.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the password file is on a mounted volume");
    let volume = volumes.iter().find(|v| v["name"] == mount["name"]).unwrap();
    assert_eq!(volume["secret"]["secretName"], "slogate-db");
}

#[test]
fn readiness_asks_readyz_and_liveness_asks_healthz_in_both_variants() {
    for path in ["slogate/deployment.yaml", "replicas/deployment.yaml"] {
        let d = manifest(path);
        let c = container(&d);
        assert_eq!(probe_path(c, "readinessProbe"), "/readyz", "{path}");
        assert_eq!(probe_path(c, "livenessProbe"), "/healthz", "{path}");
    }
}

#[test]
fn the_termination_grace_period_covers_the_wait_the_drain_and_the_shutdown_grace() {
    for (deployment, configmap) in [
        ("slogate/deployment.yaml", "slogate/configmap.yaml"),
        ("replicas/deployment.yaml", "replicas/configmap.yaml"),
    ] {
        let d = manifest(deployment);
        let pod = &d["spec"]["template"]["spec"];
        let period = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
        let pre_stop = container(&d)["lifecycle"]["preStop"]["sleep"]["seconds"]
            .as_u64()
            .unwrap_or(0);
        let limits = config(configmap).connections.limits().unwrap();
        // After the listener closes: the dispatcher's last attempt (notify.timeout, 5 s by
        // default, +1) and the flush of slogate's own spans (up to 5 s).
        let after = 6 + 5;
        let needed =
            pre_stop + limits.shutdown_drain.as_secs() + limits.shutdown_grace.as_secs() + after;
        assert!(
            period >= needed,
            "{deployment}: terminationGracePeriodSeconds {period} < {needed}"
        );
    }
    // The replicas variant waits in preStop, so that the endpoints are gone before SIGTERM.
    let d = manifest("replicas/deployment.yaml");
    assert!(container(&d)["lifecycle"]["preStop"]["sleep"]["seconds"].as_u64() >= Some(5));
}

#[test]
fn the_single_replica_variant_stays_one_recreated_pod_on_its_volume() {
    let d = manifest("slogate/deployment.yaml");
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["spec"]["strategy"]["type"], "Recreate");
    let volumes = d["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == "slogate-history")
    );
}
