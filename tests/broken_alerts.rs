//! Broken plain alerts (`alerts:` in a service spec), one mistake per case: each pins the
//! first error `slogate validate` prints (`FILE:LINE:COL: field.path: message`) and that the
//! service with the broken alert is kept out of the catalog.
//!
//! Every expected position was checked by hand against its YAML: line 1 is `apiVersion`, the
//! column is the offending key's (or, for a value the parser refuses, the value's).

use std::path::PathBuf;

use slogate::spec::load_texts;

/// One broken alert list and the first error it gives.
struct Case {
    /// The mistake, in a sentence.
    name: &'static str,
    /// The `alerts:` entries (indented two spaces), after a fixed four-line header.
    alerts: &'static str,
    /// The first error, exactly as displayed.
    first_error: &'static str,
}

const HEADER: &str = "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: shop\nalerts:\n";

const CASES: &[Case] = &[
    Case {
        name: "an expression that is not PromQL is refused at the expression",
        alerts: "  - name: HighErrorRate\n    expr: sum(rate(http_requests_total[5m]) > 0.1\n    severity: critical\n",
        first_error: "spec.yaml:6:5: alerts[0].expr: invalid PromQL: unclosed left parenthesis",
    },
    Case {
        name: "the SLI window placeholder has no meaning in an alert",
        alerts: "  - name: HighErrorRate\n    expr: sum(rate(http_requests_total[{{window}}])) > 1\n    severity: critical\n",
        first_error: "spec.yaml:6:5: alerts[0].expr: {{window}} is for SLI queries; an alert's expression names its own range (e.g. rate(x[5m]))",
    },
    Case {
        name: "a for without a unit is refused",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    for: 5\n    severity: critical\n",
        first_error: "spec.yaml:7:5: alerts[0].for: for: `5` has no unit; write it as a Prometheus duration such as `5d`, `5h` or `5m`",
    },
    Case {
        name: "a label name with a dash is not a Prometheus label name",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    severity: critical\n    labels:\n      cost-center: shop\n",
        first_error: "spec.yaml:9:7: alerts[0].labels.cost-center: `cost-center` is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)",
    },
    Case {
        name: "the severity label is written by the severity field, not by labels",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    tier: page\n    labels:\n      severity: high\n",
        first_error: "spec.yaml:9:7: alerts[0].labels.severity: `severity` is set by the alert itself; use the alert's `name` or `severity` field",
    },
    Case {
        name: "the same alert twice at the same severity is a duplicate",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    severity: critical\n  - name: RedisDown\n    expr: redis_up{job=\"cache\"} == 0\n    severity: critical\n",
        first_error: "spec.yaml:8:5: alerts[1].name: duplicate alert `RedisDown` with severity `critical` in service `shop`; first defined at spec.yaml:5:5",
    },
    Case {
        name: "a severity name the map does not know is refused",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    severity: sev1\n",
        first_error: "spec.yaml:7:5: alerts[0].severity: unknown severity `sev1`; known: `P0`, `P1`, `P2`, `P3`, `P4`, `P5`, `critical`, `info`, `warning` (map more names to page or ticket in the AlertRouting document's `severities`), or give `tier` instead",
    },
    Case {
        name: "an alert without severity or tier is refused at its name",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n",
        first_error: "spec.yaml:5:5: alerts[0].name: give the alert a `severity` (e.g. critical, warning, P2) or a `tier` (page or ticket)",
    },
    Case {
        name: "a tier other than page or ticket is refused",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    tier: urgent\n",
        first_error: "spec.yaml:7:5: alerts[0].tier: unknown tier `urgent`; expected `page` or `ticket`",
    },
    Case {
        name: "a Slack channel on a paging alert needs route slack",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    severity: critical\n    channel: \"#shop\"\n",
        first_error: "spec.yaml:8:5: alerts[0].channel: `channel` is for Slack; add `route: slack`",
    },
    Case {
        name: "an email route with a malformed address is refused",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    severity: warning\n    route: email\n    to: ops at example.com\n",
        first_error: "spec.yaml:9:5: alerts[0].to: `ops at example.com` is not an email address (write name@example.com; separate several with commas)",
    },
    Case {
        name: "an alert name with a space is not a Prometheus identifier",
        alerts: "  - name: Redis Down\n    expr: redis_up == 0\n    severity: critical\n",
        first_error: "spec.yaml:5:5: alerts[0].name: alert name `Redis Down` must be a Prometheus identifier ([a-zA-Z_][a-zA-Z0-9_]*), e.g. HighErrorRate",
    },
    Case {
        name: "slogate's own SLO alert names are taken",
        alerts: "  - name: SLOErrorBudgetBurn\n    expr: redis_up == 0\n    severity: critical\n",
        first_error: "spec.yaml:5:5: alerts[0].name: `SLOErrorBudgetBurn` is the name of slogate's own SLO alert; choose another name",
    },
    Case {
        name: "a runbook that is not a link is refused",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    severity: critical\n    runbook_url: wiki/redis\n",
        first_error: "spec.yaml:8:5: alerts[0].runbook_url: `wiki/redis` is not a link; write the runbook's http:// or https:// address",
    },
    Case {
        name: "an unknown field is refused (deny_unknown_fields)",
        alerts: "  - name: RedisDown\n    expr: redis_up == 0\n    severity: critical\n    threshold: 1\n",
        first_error: "spec.yaml:8:5: alerts[0].threshold: unknown field `threshold`, expected one of name, expr, for, severity, tier, route, channel, to, summary, description, runbook_url, labels, annotations",
    },
];

#[test]
fn each_broken_alert_reports_its_first_error_exactly_and_keeps_the_service_out() {
    for case in CASES {
        let text = format!("{HEADER}{}", case.alerts);
        let report = load_texts(&[(PathBuf::from("spec.yaml"), text)]);
        let first_error = report.first_error().map(ToString::to_string);
        assert_eq!(
            first_error.as_deref(),
            Some(case.first_error),
            "{}: first error differs; every diagnostic: {:#?}",
            case.name,
            report.diagnostics
        );
        assert!(
            report.catalog.service("shop").is_none(),
            "{}: the broken service reached the catalog",
            case.name
        );
    }
}

#[test]
fn a_correct_alert_list_is_accepted_with_its_defaults() {
    let text = format!(
        "{HEADER}  - name: RedisDown\n    expr: redis_up == 0\n    for: 2m\n    severity: P3\n  - name: RedisDown\n    expr: redis_up == 0\n    for: 10m\n    severity: critical\n    route: email\n    to: oncall@example.com\n"
    );
    let report = load_texts(&[(PathBuf::from("spec.yaml"), text)]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let service = report.catalog.service("shop").expect("accepted");
    let [ticket, page] = &service.alerts[..] else {
        panic!("two alerts: {:#?}", service.alerts)
    };
    assert_eq!(ticket.tier, slogate::spec::Tier::Ticket, "P3 is a ticket");
    assert_eq!(ticket.route, slogate::spec::Route::Slack { channel: None });
    assert_eq!(ticket.summary, "shop: RedisDown", "the default summary");
    assert_eq!(page.tier, slogate::spec::Tier::Page, "critical pages");
    assert_eq!(
        page.route,
        slogate::spec::Route::Email {
            to: Some("oncall@example.com".into())
        }
    );
}
