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
    let smtp =
        format!("{ROUTING}smtp: {{smarthost: 'smtp.example.com:587', from: am@example.com}}\n");
    let report = load_texts(&[
        (PathBuf::from("spec.yaml"), text),
        (PathBuf::from("routing.yaml"), smtp),
    ]);
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

/// One broken AlertRouting setup: the files read together and the first error.
struct RoutingCase {
    /// The mistake, in a sentence.
    name: &'static str,
    /// (file name, text), read together.
    files: &'static [(&'static str, &'static str)],
    /// The first error, exactly as displayed.
    first_error: &'static str,
}

const ROUTING: &str = "apiVersion: slogate/v1\nkind: AlertRouting\n";

const SHOP_EMAIL: &str = "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: shop\nteam: web\nalerts:\n  - name: ShopDown\n    expr: up{job=\"shop\"} == 0\n    severity: critical\n    route: email\n";

const ROUTING_CASES: &[RoutingCase] = &[
    RoutingCase {
        name: "a severity mapped to something other than page or ticket is refused",
        files: &[(
            "routing.yaml",
            "apiVersion: slogate/v1\nkind: AlertRouting\nseverities:\n  P1: urgent\n",
        )],
        first_error: "routing.yaml:4:3: severities.P1: severity `P1` maps to `urgent`; expected `page` or `ticket`",
    },
    RoutingCase {
        name: "an inhibit matcher without quotes is refused",
        files: &[(
            "routing.yaml",
            "apiVersion: slogate/v1\nkind: AlertRouting\ninhibit_rules:\n  - source_matchers: [severity=critical]\n    target_matchers: ['severity=\"warning\"']\n",
        )],
        first_error: "routing.yaml:4:23: inhibit_rules[0].source_matchers[0]: `severity=critical` is not a matcher; write label=\"value\" (operators =, !=, =~, !~, value in double quotes)",
    },
    RoutingCase {
        name: "a team's group_wait without a unit is refused",
        files: &[(
            "routing.yaml",
            "apiVersion: slogate/v1\nkind: AlertRouting\nteams:\n  mita:\n    group_wait: 10\n",
        )],
        first_error: "routing.yaml:5:5: teams.mita.group_wait: group_wait: `10` has no unit; write it as a Prometheus duration such as `10d`, `10h` or `10m`",
    },
    RoutingCase {
        name: "a Secret name Kubernetes would refuse is refused",
        files: &[(
            "routing.yaml",
            "apiVersion: slogate/v1\nkind: AlertRouting\nsecret: Alertmanager_Keys\n",
        )],
        first_error: "routing.yaml:3:1: secret: `Alertmanager_Keys` is not a Kubernetes Secret name (lower-case letters, digits, `-` and `.`)",
    },
    RoutingCase {
        name: "an email route without an SMTP server is refused at the route",
        files: &[("shop.yaml", SHOP_EMAIL)],
        first_error: "shop.yaml:9:5: alerts[0].route: email needs an SMTP server: add `smtp: {smarthost, from}` to the AlertRouting document",
    },
    RoutingCase {
        name: "an email route without an address for the team is refused at the route",
        files: &[
            ("shop.yaml", SHOP_EMAIL),
            (
                "routing.yaml",
                "apiVersion: slogate/v1\nkind: AlertRouting\nsmtp: {smarthost: 'smtp.example.com:587', from: am@example.com}\n",
            ),
        ],
        first_error: "shop.yaml:9:5: alerts[0].route: give `to`, or set `teams.web.email` in the AlertRouting document",
    },
    RoutingCase {
        name: "a namespace Kubernetes would refuse is refused",
        files: &[(
            "routing.yaml",
            "apiVersion: slogate/v1\nkind: AlertRouting\nkubernetes:\n  namespace: Monitoring\n",
        )],
        first_error: "routing.yaml:4:3: kubernetes.namespace: `Monitoring` is not a Kubernetes namespace name (lower-case letters, digits and `-`, at most 63)",
    },
    RoutingCase {
        name: "a second AlertRouting document is refused",
        files: &[("a.yaml", ROUTING), ("b.yaml", ROUTING)],
        first_error: "b.yaml:2:1: kind: the AlertRouting document is already defined at a.yaml:2:1; keep one",
    },
];

#[test]
fn each_broken_routing_setup_reports_its_first_error_exactly() {
    for case in ROUTING_CASES {
        let files: Vec<(PathBuf, String)> = case
            .files
            .iter()
            .map(|(f, t)| (PathBuf::from(f), t.to_string()))
            .collect();
        let report = load_texts(&files);
        let first_error = report.first_error().map(ToString::to_string);
        assert_eq!(
            first_error.as_deref(),
            Some(case.first_error),
            "{}: every diagnostic: {:#?}",
            case.name,
            report.diagnostics
        );
    }
}
