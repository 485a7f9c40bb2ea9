//! Settings: defaults, refused keys and values named, tokens never printed.

use super::*;

fn parse(text: &str) -> Result<Config, String> {
    serde_saphyr::from_str::<Config>(text).map_err(|e| e.to_string())
}

#[test]
fn defaults_give_a_loopback_service_with_a_deadline_under_argos_timeout() {
    let settings = Config::default().settings(None).unwrap();
    assert!(settings.listen.ip().is_loopback());
    assert!(settings.request_deadline < Duration::from_secs(10));
    assert!(settings.prometheus.query_timeout < settings.request_deadline);
    assert!(settings.tokens.is_empty());
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let err = parse("listen: 127.0.0.1:9\nprometheus:\n  urll: x\n").unwrap_err();
    assert!(err.contains("urll"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn bad_values_name_the_setting() {
    let cases = [
        ("request_deadline: 8x", "request_deadline"),
        (
            "prometheus: {query_timeout: 9s}",
            "prometheus.query_timeout",
        ),
        ("listen: nowhere", "listen"),
        ("listen: 0.0.0.0:8080", "listen"),
        ("gate: {budget_floor: 2}", "gate.budget_floor"),
        (
            "prometheus: {max_concurrent_queries: 0}",
            "prometheus.max_concurrent_queries",
        ),
        (
            "prometheus: {max_concurrent_queries: 4, reserved_for_gates: 4}",
            "prometheus.reserved_for_gates",
        ),
        ("status_cache_ttl: soon", "status_cache_ttl"),
        (
            "auth: {token_files: [/nonexistent/token]}",
            "auth.token_files[0]",
        ),
    ];
    for (text, setting) in cases {
        let err = parse(text).unwrap().settings(None).unwrap_err().to_string();
        assert!(err.starts_with(setting), "{text}: {err}");
    }
}

#[test]
fn tokens_come_from_files_and_env_and_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "file-token-0123456789\n").unwrap();
    let config = Config {
        listen: "0.0.0.0:8080".into(),
        auth: AuthConfig {
            token_files: vec![file],
            scoped_tokens: Vec::new(),
        },
        ..Config::default()
    };
    let settings = config.settings(Some("env-token-0123456789, ")).unwrap();
    assert_eq!(settings.tokens.len(), 2);
    for token in ["file-token-0123456789", "env-token-0123456789"] {
        assert_eq!(
            settings
                .tokens
                .check(token, crate::tokens::Scope::Admin)
                .map(|_| ()),
            Ok(())
        );
    }
    let printed = format!("{settings:?}");
    assert!(!printed.contains("token-0123456789"), "{printed}");
    let short = config.settings(Some("abc")).unwrap_err().to_string();
    assert!(short.contains("too short"), "{short}");
}

#[test]
fn a_postgres_db_is_chosen_by_its_url_and_its_password_is_never_printed() {
    assert!(matches!(
        Config::default().settings(None).unwrap().db,
        crate::store::Location::Sqlite(_)
    ));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db-password");
    std::fs::write(&file, "from-file-7c1d\n").unwrap();
    let config = parse(&format!(
        "db: postgres://slogate:in-url-52ab@db.example:5432/slogate\n\
         db_password_file: {}\ndb_pool_size: 3\n",
        file.display()
    ))
    .unwrap();
    let settings = config.settings(None).unwrap();
    let crate::store::Location::Postgres(pg) = &settings.db else {
        panic!("{:?}", settings.db)
    };
    assert_eq!(pg.password.as_deref(), Some("from-file-7c1d"));
    assert_eq!(pg.pool_size, 3);
    let shown = format!("{settings:?} {}", settings.db);
    for secret in ["from-file-7c1d", "in-url-52ab"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(
        shown.contains("postgres://slogate@db.example:5432/slogate"),
        "{shown}"
    );

    let missing = parse("db: postgres://db/slogate\ndb_password_file: /nonexistent/pw\n")
        .unwrap()
        .settings(None)
        .unwrap_err();
    assert!(
        missing.to_string().contains("db_password_file"),
        "{missing}"
    );
}
