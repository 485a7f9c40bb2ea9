//! Every reference spec (Sloth, OpenSLO) and every example service imports into the expected
//! model: objective, period, budgeting and queries.

use std::path::{Path, PathBuf};

use slogate::spec::{
    Budgeting, CalendarUnit, CanaryMeasure, Catalog, Counted, Direction, HistogramKind, Period,
    PromDuration, Route, ServiceLevels, Sli, SourceFormat, load_paths,
};

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference");

fn load(path: impl AsRef<Path>) -> Catalog {
    let report = load_paths(&[path.as_ref().to_path_buf()]);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == slogate::spec::Severity::Error)
        .map(|d| d.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{}: {errors:#?}",
        path.as_ref().display()
    );
    report.catalog
}

fn reference(rel: &str) -> PathBuf {
    Path::new(REFERENCE).join(rel)
}

fn days(n: u64) -> Period {
    Period::Rolling(PromDuration::from_secs(n * 86_400))
}

fn queries(sli: &Sli) -> (&str, &str) {
    match sli {
        Sli::ErrorEvents { errors, total } => (errors.as_str(), total.as_str()),
        Sli::GoodEvents { good, total } => (good.as_str(), total.as_str()),
        other => panic!("expected an event SLI, got {other:?}"),
    }
}

fn only(catalog: &Catalog) -> &ServiceLevels {
    assert_eq!(catalog.services.len(), 1, "{catalog:#?}");
    &catalog.services[0]
}

const SLOTH_ERRORS: &str = r#"sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{window}}]))"#;
const SLOTH_TOTAL: &str =
    r#"sum(rate(http_request_duration_seconds_count{job="myservice"}[{{window}}]))"#;

#[test]
fn sloth_prometheus_v1_imports_objectives_queries_and_alerting() {
    let catalog = load(reference("sloth/in-base.yaml"));
    let svc = only(&catalog);
    assert_eq!(svc.service, "svc01");
    assert_eq!(svc.origin.format, SourceFormat::SlothPrometheusV1);
    assert_eq!(
        svc.labels.get("global01k1").map(String::as_str),
        Some("global01v1")
    );
    let [slo1, slo2] = svc.slos.as_slice() else {
        panic!("two SLOs expected")
    };

    assert_eq!(slo1.name, "slo1");
    assert_eq!(slo1.objective, 99.9);
    assert_eq!(slo1.period, days(30), "Sloth's default period");
    assert_eq!(slo1.budgeting, Budgeting::Occurrences);
    assert!(matches!(slo1.sli, Sli::ErrorEvents { .. }));
    assert_eq!(
        queries(&slo1.sli),
        (SLOTH_ERRORS, SLOTH_TOTAL),
        "{{.window}} became {{window}}"
    );
    assert_eq!(slo1.alerting.name.as_deref(), Some("myServiceAlert"));
    assert!(slo1.alerting.page.enabled && slo1.alerting.ticket.enabled);
    assert_eq!(slo1.alerting.page.route, Route::PagerDuty);
    assert_eq!(
        slo1.alerting
            .page
            .labels
            .get("alert03k1")
            .map(String::as_str),
        Some("alert03v1")
    );
    assert_eq!(
        slo1.alerting
            .ticket
            .labels
            .get("alert04k1")
            .map(String::as_str),
        Some("alert04v1")
    );
    assert_eq!(
        slo1.alerting
            .annotations
            .get("alert02k1")
            .map(String::as_str),
        Some("alert02k2")
    );

    assert_eq!(slo2.name, "slo02");
    assert_eq!(slo2.objective, 95.0);
    let Sli::ErrorRatio { query } = &slo2.sli else {
        panic!("raw SLI expected")
    };
    assert_eq!(query.as_str(), format!("{SLOTH_ERRORS}\n/\n{SLOTH_TOTAL}"));
    assert!(!slo2.alerting.page.enabled && !slo2.alerting.ticket.enabled);
}

#[test]
fn sloth_custom_resource_imports_to_the_same_slos_as_the_plain_file() {
    let plain = load(reference("sloth/in-base.yaml"));
    let k8s = load(reference("sloth/in-base-k8s.yaml"));
    let (plain, k8s) = (only(&plain), only(&k8s));
    assert_eq!(k8s.origin.format, SourceFormat::SlothKubernetes);
    assert_eq!(k8s.service, plain.service);
    assert_eq!(k8s.labels, plain.labels);
    assert_eq!(k8s.slos, plain.slos);
}

#[test]
fn sloth_multi_document_file_imports_each_service() {
    let catalog = load(reference("sloth/in-multifile.yaml"));
    let names: Vec<&str> = catalog
        .services
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(names, ["svc01", "svc02"]);
    let svc02 = catalog.service("svc02").unwrap();
    assert_eq!(svc02.slos[0].objective, 99.99);
    assert_eq!(svc02.slos.len(), 2);
}

#[test]
fn openslo_v1alpha_imports_as_sloth_reads_it() {
    let catalog = load(reference("sloth/in-openslo.yaml"));
    let svc = only(&catalog);
    assert_eq!(svc.service, "svc01");
    assert_eq!(svc.origin.format, SourceFormat::OpenSloV1Alpha);
    let [slo] = svc.slos.as_slice() else {
        panic!("one SLO expected")
    };
    assert_eq!(slo.name, "slo1-0", "Sloth's name for objective 0");
    assert!((slo.objective - 99.9).abs() < 1e-9);
    assert_eq!(slo.period, days(30));
    assert!(matches!(slo.sli, Sli::GoodEvents { .. }));
    assert_eq!(
        queries(&slo.sli),
        (
            r#"sum(rate(http_request_duration_seconds_count{job="myservice",code!~"(5..|429)"}[{{window}}]))"#,
            SLOTH_TOTAL
        )
    );
}

#[test]
fn openslo_v1_threshold_metric_with_occurrences() {
    let catalog = load(reference("openslo/budgeting-method/occurences-slo.yaml"));
    let svc = only(&catalog);
    assert_eq!(svc.service, "web-shop");
    let [slo] = svc.slos.as_slice() else {
        panic!("one SLO expected")
    };
    assert_eq!(slo.name, "search-slo");
    assert!((slo.objective - 99.0).abs() < 1e-9);
    assert_eq!(slo.period, days(14), "2w rolling");
    assert_eq!(slo.budgeting, Budgeting::Occurrences);
    let Sli::ErrorRatio { query } = &slo.sli else {
        panic!("threshold SLI expected")
    };
    assert_eq!(
        query.as_str(),
        "1 - avg(avg_over_time(((Any) < bool 500)[{{window}}:]))"
    );
}

#[test]
fn openslo_v1_ratio_timeslices_reads_a_bare_selector_as_a_counter() {
    let catalog = load(reference("openslo/budgeting-method/ratio-timeslices.yaml"));
    let [slo] = only(&catalog).slos.as_slice() else {
        panic!("one SLO expected")
    };
    assert_eq!(slo.name, "main-page");
    assert!((slo.objective - 99.0).abs() < 1e-9);
    assert_eq!(slo.period, days(14));
    assert_eq!(
        slo.budgeting,
        Budgeting::RatioTimeslices {
            slice: PromDuration::parse("1m").unwrap()
        }
    );
    assert_eq!(
        queries(&slo.sli),
        ("sum(rate(Any[{{window}}]))", "sum(rate(Any[{{window}}]))")
    );
}

#[test]
fn openslo_v1_calendar_timeslices_with_two_objectives() {
    let catalog = load(reference("openslo/budgeting-method/timeslices-slo.yaml"));
    let svc = only(&catalog);
    assert_eq!(svc.service, "web-availability");
    let [internal, sla] = svc.slos.as_slice() else {
        panic!("two SLOs expected")
    };
    assert_eq!(internal.name, "service-availability-0");
    assert_eq!(sla.name, "service-availability-1");
    assert!((internal.objective - 99.5).abs() < 1e-9);
    assert!((sla.objective - 99.0).abs() < 1e-9);
    let Period::Calendar(calendar) = &internal.period else {
        panic!("calendar period expected")
    };
    assert_eq!(
        (calendar.count, calendar.unit),
        (1, CalendarUnit::Minute),
        "OpenSLO `1m` is a minute"
    );
    assert_eq!(calendar.start.as_deref(), Some("2022-01-01 12:00:00"));
    assert_eq!(calendar.time_zone.as_deref(), Some("America/New_York"));
    assert_eq!(
        internal.budgeting,
        Budgeting::Timeslices {
            slice: PromDuration::parse("1m").unwrap(),
            slice_objective: 0.99
        }
    );
}

#[test]
fn openslo_v1_weekly_calendar() {
    let catalog = load(reference(
        "openslo/treat-low-traffic-as-equally-important/timeslices-slo.yaml",
    ));
    let [slo] = only(&catalog).slos.as_slice() else {
        panic!("one SLO expected")
    };
    assert!((slo.objective - 99.95).abs() < 1e-9);
    let Period::Calendar(calendar) = &slo.period else {
        panic!("calendar period expected")
    };
    assert_eq!((calendar.count, calendar.unit), (1, CalendarUnit::Week));
    assert_eq!(slo.period.nominal(), PromDuration::from_secs(7 * 86_400));
    assert!(
        matches!(slo.budgeting, Budgeting::Timeslices { slice_objective, .. } if slice_objective == 0.95)
    );
}

#[test]
fn example_services_import_with_their_slos_and_canary_profiles() {
    let catalog = load(concat!(env!("CARGO_MANIFEST_DIR"), "/slo-definitions"));
    let mut names: Vec<&str> = catalog
        .services
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "financeanalyst-api",
            "financy-api",
            "finbot-api",
            "mita-backend",
            "reconciliation-backend"
        ]
    );

    let financy = catalog.service("financy-api").unwrap();
    assert_eq!(financy.team.as_deref(), Some("payments"));
    let availability = &financy.slos[0];
    assert_eq!(
        (availability.name.as_str(), availability.objective),
        ("availability", 99.9)
    );
    assert_eq!(availability.period, days(30));
    assert_eq!(availability.alerting.min_events, Some(100));
    assert_eq!(
        availability.alerting.ticket.route,
        Route::Slack {
            channel: Some("#payments-alerts".into())
        }
    );
    let Sli::Latency(latency) = &financy.slos[1].sli else {
        panic!("latency SLI expected")
    };
    assert_eq!(latency.threshold, PromDuration::parse("500ms").unwrap());
    assert_eq!(latency.kind, HistogramKind::Classic);
    assert_eq!(latency.matchers, r#"service="financy-api""#);
    assert_eq!(
        financy.slos[1].sli.error_ratio().render("5m"),
        "1 - (\n  sum(rate(http_request_duration_seconds_bucket{service=\"financy-api\",le=\"0.5\"}[5m]))\n  /\n  (sum(rate(http_request_duration_seconds_count{service=\"financy-api\"}[5m])) > 0)\n)"
    );

    let canary = financy
        .canary
        .as_ref()
        .expect("financy-api has a canary profile");
    assert_eq!(canary.version_label, "rollouts_pod_template_hash");
    assert_eq!((canary.pass_score, canary.marginal_score), (95.0, 75.0));
    let names: Vec<&str> = canary.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "success-rate",
            "error-rate",
            "p95-latency",
            "server-latency"
        ]
    );
    let success = &canary.metrics[0];
    assert!(matches!(
        success.measure,
        CanaryMeasure::PrometheusEvents {
            counted: Counted::Good,
            ..
        }
    ));
    assert_eq!(success.direction, Direction::Decrease);
    assert!(success.critical);
    let p95 = &canary.metrics[2];
    assert!(matches!(
        p95.measure,
        CanaryMeasure::PrometheusValues { .. }
    ));
    assert_eq!(
        (p95.allowed_increase, p95.critical_increase, p95.weight),
        (1.10, Some(1.50), 2.0)
    );
    assert!(matches!(
        &canary.metrics[3].measure,
        CanaryMeasure::TraceLatency { operation: Some(op) } if op == "GET /api/v1/transactions"
    ));

    let reconciliation = catalog.service("reconciliation-backend").unwrap();
    assert!(reconciliation.slos.iter().all(|s| s.period == days(7)));
    let finbot = catalog.service("finbot-api").unwrap();
    assert!(
        !finbot.slos[1].alerting.page.enabled,
        "finbot latency pages nobody"
    );
}

#[test]
fn every_sli_renders_to_valid_promql_for_every_window() {
    let mut paths: Vec<PathBuf> = vec![PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/slo-definitions"
    ))];
    for rel in [
        "sloth/in-base.yaml",
        "sloth/in-multifile.yaml",
        "sloth/in-openslo.yaml",
        "openslo",
    ] {
        paths.push(reference(rel));
    }
    let mut checked = 0;
    for path in paths {
        for service in load(&path).services {
            for slo in &service.slos {
                for window in ["5m", "30m", "1h", "6h", "3d", "30d"] {
                    let text = slo.sli.error_ratio().render(window);
                    promql_parser::parser::parse(&text).unwrap_or_else(|e| {
                        panic!("{}/{} at {window}: {e}\n{text}", service.service, slo.name)
                    });
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 6 * 20, "only {checked} renderings checked");
}
