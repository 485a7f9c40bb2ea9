//! `slogate serve` on PostgreSQL: two replicas on one database share the verdict history, the
//! readiness check asks the database, and the password (from `db_password_file`) is nowhere in
//! the logs.

mod support;

use support::postgres::Cluster;
use support::prometheus::PrometheusGuard;
use support::slogate::{ServeOptions, SlogateGuard};

#[test]
fn two_replicas_on_one_postgres_answer_from_one_history() {
    let cluster = Cluster::start();
    let prometheus = PrometheusGuard::start_live("global: {}\nscrape_configs: []\n", &[]);
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("db-password");
    let password = "pg-secret-4b7e91";
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let options = ServeOptions {
        db: Some(cluster.database_url().into()),
        config: format!("db_password_file: {}\n", password_file.display()),
        ..ServeOptions::new(&prometheus.url)
    };
    let mut a = SlogateGuard::start(&options);
    let mut b = SlogateGuard::start(&options);
    a.wait_for("/readyz", 200);
    b.wait_for("/readyz", 200);

    let gate = r#"{"service":"reconciliation-backend"}"#;
    let mut ids = Vec::new();
    for replica in [&a, &b, &a, &b] {
        let (status, verdict) = replica.post("/api/v1/gates/slo", gate);
        assert_eq!(status, 200, "{verdict:#}");
        ids.push(verdict["id"].as_str().unwrap().to_string());
    }
    // Each verdict, whichever replica answered it, is in the history both read.
    for id in &ids {
        for replica in [&a, &b] {
            let (status, stored) = replica.get(&format!("/api/v1/verdicts/{id}"));
            assert_eq!(status, 200, "{id}: {stored:#}");
        }
    }
    let (status, listed) = b.get("/api/v1/verdicts?limit=10");
    assert_eq!(status, 200, "{listed:#}");
    let listed = listed.to_string();
    assert!(
        ids.iter().all(|id| listed.contains(id.as_str())),
        "{listed}"
    );

    let (_, ready) = a.get("/readyz");
    assert_eq!(ready["history"], "ok", "{ready:#}");
    for replica in [&a, &b] {
        let log = replica.log();
        assert!(
            !log.contains(password),
            "the password is in the log:\n{log}"
        );
        assert!(
            log.contains("<redacted>"),
            "the settings line names no database:\n{log}"
        );
    }
}

#[test]
fn readiness_turns_503_naming_the_database_when_it_goes_away_and_liveness_stays_200() {
    let cluster = Cluster::start();
    let prometheus = PrometheusGuard::start_live("global: {}\nscrape_configs: []\n", &[]);
    let options = ServeOptions {
        db: Some(cluster.database_url().into()),
        ..ServeOptions::new(&prometheus.url)
    };
    let mut slogate = SlogateGuard::start(&options);
    slogate.wait_for("/readyz", 200);
    // Stops the server (pg_ctl stop -m immediate) and removes its directory.
    drop(cluster);
    slogate.wait_for("/readyz", 503);
    let (status, ready) = slogate.get("/readyz");
    assert_eq!(status, 503, "{ready:#}");
    let history = ready["history"].as_str().unwrap_or_default();
    assert!(
        history.starts_with("the database does not answer")
            || history.starts_with("the database did not answer in time"),
        "{ready:#}"
    );
    assert_eq!(ready["prometheus"], "answered", "{ready:#}");
    // The history API says what failed, not where the database lives (the log has that).
    let (status, answer) = slogate.get("/api/v1/verdicts");
    assert_eq!(status, 503, "{answer:#}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the history cannot be read: the store did not answer"),
        "{answer:#}"
    );
    for leak in ["postgres", "host=", "/tmp", "socket"] {
        assert!(!message.contains(leak), "{leak} in {answer:#}");
    }
    // Liveness asks nothing of the database: no restart for an outage a restart cannot cure.
    let (status, _) = slogate.get("/healthz");
    assert_eq!(status, 200);
}
