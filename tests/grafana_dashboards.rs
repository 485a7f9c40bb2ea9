//! Grafana dashboards generated for the example services and the Sloth/OpenSLO reference
//! inputs: they validate against Grafana's JSON schemas (dashboard, panel options, Prometheus
//! queries) and the GrafanaDashboard CRD, every query parses as PromQL, the SLO rows read only
//! series the rules record (the traffic row reads the service's HTTP series; its numbers are
//! checked in a real Prometheus by tests/dashboard_traffic.rs), and each SLO gets the panels an
//! on-call engineer looks for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde::Serialize;
use serde_json::{Value, json};
use slogate::generate::grafana::{
    Dashboard, dashboard_json, dashboard_uid, grafana_dashboard_resource, overview_dashboard,
    service_dashboard, service_dashboard_with, traffic,
};
use slogate::generate::rules::{Rule, service_rules};
use slogate::generate::windows::{alert_windows, alert_windows_with};
use slogate::generate::{k8s_name, yaml_options};
use slogate::spec::{
    AlertWindowsSpec, Catalog, Period, PromDuration, ServiceLevels, Severity, load_paths,
    load_texts,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn load(path: &Path) -> Catalog {
    load_all(&[path.to_path_buf()])
}

fn load_all(paths: &[PathBuf]) -> Catalog {
    let report = load_paths(paths);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{paths:?}: {errors:#?}");
    report.catalog
}

fn examples() -> Catalog {
    load(&PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/slo-definitions"
    )))
}

fn reference(rel: &str) -> PathBuf {
    Path::new(ROOT).join("../shared/reference").join(rel)
}

/// Every catalog the dashboards are checked on: the examples and each reference input.
fn catalogs() -> Vec<(String, Catalog)> {
    let mut all = vec![("slo-definitions".to_string(), examples())];
    for rel in [
        "sloth/in-base.yaml",
        "sloth/in-base-k8s.yaml",
        "sloth/in-multifile.yaml",
        "sloth/in-openslo.yaml",
        "openslo",
    ] {
        all.push((rel.to_string(), load(&reference(rel))));
    }
    // Sloth's custom 7d windows, for SLOs moved to a 7d period (as Sloth's own fixture does).
    let mut custom = load_all(&[
        reference("sloth/in-base.yaml"),
        reference("sloth/windows/7d.yaml"),
    ]);
    assert_eq!(custom.alert_windows.len(), 1);
    for slo in custom.services.iter_mut().flat_map(|s| s.slos.iter_mut()) {
        slo.period = Period::Rolling(PromDuration::parse("7d").unwrap());
    }
    all.push(("sloth/in-base.yaml + windows/7d.yaml".to_string(), custom));
    all
}

/// Every service with SLOs, with its catalog's custom windows.
fn services() -> Vec<(ServiceLevels, Vec<AlertWindowsSpec>)> {
    catalogs()
        .into_iter()
        .flat_map(|(_, c)| {
            let windows = c.alert_windows.clone();
            c.services
                .into_iter()
                .filter(|s| !s.slos.is_empty())
                .map(move |s| (s, windows.clone()))
        })
        .collect()
}

/// A generated value as the JSON Grafana (or Kubernetes) reads.
fn json_of<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("generated values serialise")
}

/// Every generated dashboard, named for messages.
fn typed_dashboards() -> Vec<(String, Dashboard)> {
    let mut all = Vec::new();
    for (origin, catalog) in catalogs() {
        for service in catalog.services.iter().filter(|s| !s.slos.is_empty()) {
            all.push((
                format!("{origin}: {}", service.service),
                service_dashboard_with(service, &catalog.alert_windows),
            ));
        }
        all.push((format!("{origin}: overview"), overview_dashboard(&catalog)));
    }
    all
}

/// Every generated dashboard as JSON, named for messages.
fn dashboards() -> Vec<(String, Value)> {
    typed_dashboards()
        .into_iter()
        .map(|(name, dashboard)| (name, json_of(&dashboard)))
        .collect()
}

fn typed_example_dashboard(service: &str) -> Dashboard {
    let catalog = examples();
    service_dashboard(catalog.service(service).expect("example service"))
}

fn example_dashboard(service: &str) -> Value {
    json_of(&typed_example_dashboard(service))
}

// ---------------------------------------------------------------------------------------
// Schemas

struct Schemas {
    dashboard: Validator,
    options: BTreeMap<&'static str, Validator>,
    custom: BTreeMap<&'static str, Validator>,
    prometheus_query: Validator,
    crd: Validator,
}

fn schema_file(name: &str) -> Value {
    let path = reference("grafana").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// A validator for one definition of a schema file. The reference files are self-contained
/// (their `$ref`s all point inside the file), so pointing the root at the definition is
/// enough; an outside reference would fail to build here rather than pass silently.
fn validator(file: &str, definition: &str) -> Validator {
    let mut schema = schema_file(file);
    schema["$ref"] = json!(format!("#/definitions/{definition}"));
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{file}#{definition}: {e}"))
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let crd_path = reference("grafana/grafana-operator_grafanadashboards_crd.yaml");
        let crd: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&crd_path).unwrap()).unwrap();
        let open_api = crd["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "v1beta1")
            .expect("v1beta1 in the CRD")["schema"]["openAPIV3Schema"]
            .clone();
        Schemas {
            dashboard: validator("dashboard.jsonschema.json", "Dashboard"),
            options: ["timeseries", "stat", "gauge", "table"]
                .into_iter()
                .map(|t| (t, validator(&format!("{t}.jsonschema.json"), "Options")))
                .collect(),
            custom: ["timeseries", "table"]
                .into_iter()
                .map(|t| (t, validator(&format!("{t}.jsonschema.json"), "FieldConfig")))
                .collect(),
            prometheus_query: validator("prometheus.jsonschema.json", "Dataquery"),
            crd: jsonschema::options()
                .with_draft(Draft::Draft7)
                .build(&open_api)
                .expect("the CRD's openAPIV3Schema compiles"),
        }
    })
}

/// Every violation, as `what at /instance/path: message`.
fn violations(validator: &Validator, instance: &Value, what: &str) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{what} at {}: {e}", e.instance_path()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Walking dashboards

/// Every panel, rows' nested panels included, in display order.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        out.push(panel);
        if let Some(nested) = panel.get("panels").and_then(Value::as_array) {
            out.extend(nested);
        }
    }
    out
}

fn targets(panel: &Value) -> Vec<&Value> {
    panel
        .get("targets")
        .and_then(Value::as_array)
        .map(|t| t.iter().collect())
        .unwrap_or_default()
}

/// Every PromQL expression of a dashboard: panel targets and annotation queries.
fn expressions(dashboard: &Value) -> Vec<String> {
    let mut out: Vec<String> = all_panels(dashboard)
        .into_iter()
        .flat_map(targets)
        .map(|t| t["expr"].as_str().expect("expr").to_string())
        .collect();
    for annotation in dashboard["annotations"]["list"].as_array().unwrap() {
        if let Some(expr) = annotation.get("expr").and_then(Value::as_str) {
            out.push(expr.to_string());
        }
    }
    out
}

/// The expression with Grafana's variables replaced by values of the right shape.
fn substitute(expr: &str) -> String {
    [
        ("${datasource}", "prometheus"),
        ("$team", ".*"),
        ("$service", "(svc|other)"),
        ("$__rate_interval", "5m"),
        ("$__interval", "5m"),
        ("$__range", "7d"),
    ]
    .iter()
    .fold(expr.to_string(), |e, (var, value)| e.replace(var, value))
}

/// Every section of the dashboard: each row's title and the panels after it.
fn all_sections(dashboard: &Value) -> Vec<(String, Vec<&Value>)> {
    let mut out: Vec<(String, Vec<&Value>)> = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            out.push((panel["title"].as_str().unwrap().to_string(), Vec::new()));
        } else {
            out.last_mut().expect("a row first").1.push(panel);
        }
    }
    out
}

/// The dashboard's SLO sections (the traffic row, which reads raw series, left out).
fn sections(dashboard: &Value) -> Vec<(String, Vec<&Value>)> {
    all_sections(dashboard)
        .into_iter()
        .filter(|(title, _)| title != traffic::ROW_TITLE)
        .collect()
}

fn titled<'a>(panels: &[&'a Value], title: &str) -> &'a Value {
    panels
        .iter()
        .find(|p| p["title"] == title)
        .copied()
        .unwrap_or_else(|| {
            let titles: Vec<&Value> = panels.iter().map(|p| &p["title"]).collect();
            panic!("no panel `{title}` among {titles:?}")
        })
}

fn section<'a>(dashboard: &'a Value, slo: &str) -> Vec<&'a Value> {
    sections(dashboard)
        .into_iter()
        .find(|(title, _)| title.starts_with(&format!("{slo}: ")))
        .unwrap_or_else(|| panic!("no row for SLO {slo}"))
        .1
}

fn steps(panel: &Value) -> Vec<(Option<f64>, String)> {
    panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .expect("threshold steps")
        .iter()
        .map(|s| {
            (
                s["value"].as_f64(),
                s["color"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn exprs_of(panel: &Value) -> Vec<String> {
    targets(panel)
        .iter()
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

/// Metric names (`slogate:...`, `ALERTS`) read by an expression, from its syntax tree.
fn metric_names(expr: &str) -> BTreeSet<String> {
    use promql_parser::parser::{self, Expr};
    fn walk(expr: &Expr, out: &mut BTreeSet<String>) {
        match expr {
            Expr::VectorSelector(v) => out.extend(v.name.clone()),
            Expr::MatrixSelector(m) => out.extend(m.vs.name.clone()),
            Expr::Aggregate(a) => {
                walk(&a.expr, out);
                if let Some(p) = &a.param {
                    walk(p, out);
                }
            }
            Expr::Unary(u) => walk(&u.expr, out),
            Expr::Binary(b) => {
                walk(&b.lhs, out);
                walk(&b.rhs, out);
            }
            Expr::Paren(p) => walk(&p.expr, out),
            Expr::Subquery(s) => walk(&s.expr, out),
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(&parser::parse(&substitute(expr)).unwrap(), &mut out);
    out
}

// ---------------------------------------------------------------------------------------
// Validation

#[test]
fn every_dashboard_validates_against_the_grafana_dashboard_schema() {
    let schemas = schemas();
    let mut errors = Vec::new();
    let all = dashboards();
    for (name, dashboard) in &all {
        errors.extend(violations(&schemas.dashboard, dashboard, name));
    }
    assert!(all.len() >= 12, "only {} dashboards checked", all.len());
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn every_panel_validates_against_the_schema_of_its_type() {
    let schemas = schemas();
    let mut errors = Vec::new();
    let mut checked = BTreeMap::<String, usize>::new();
    for (name, dashboard) in dashboards() {
        for panel in all_panels(&dashboard) {
            let kind = panel["type"].as_str().unwrap();
            if kind == "row" {
                continue;
            }
            let what = format!("{name} / {} ({kind})", panel["title"]);
            let options = schemas
                .options
                .get(kind)
                .unwrap_or_else(|| panic!("{what}: no reference schema for this panel type"));
            errors.extend(violations(
                options,
                &panel["options"],
                &format!("{what} options"),
            ));
            let custom = &panel["fieldConfig"]["defaults"]["custom"];
            match schemas.custom.get(kind) {
                Some(v) => errors.extend(violations(v, custom, &format!("{what} custom"))),
                // Stat and gauge define no custom field config: nothing may be there.
                None => assert!(
                    custom.is_null() || custom == &json!({}),
                    "{what}: custom field config {custom}"
                ),
            }
            *checked.entry(kind.to_string()).or_default() += 1;
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    for kind in ["timeseries", "stat", "table"] {
        assert!(
            checked.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} panel checked"
        );
    }
}

#[test]
fn every_prometheus_target_validates_against_the_prometheus_query_schema() {
    let schemas = schemas();
    let mut errors = Vec::new();
    let mut count = 0;
    for (name, dashboard) in dashboards() {
        for panel in all_panels(&dashboard) {
            for (i, target) in targets(panel).into_iter().enumerate() {
                let what = format!("{name} / {} target {i}", panel["title"]);
                errors.extend(violations(&schemas.prometheus_query, target, &what));
                count += 1;
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(count > 100, "only {count} targets checked");
}

#[test]
fn every_grafana_dashboard_resource_validates_against_the_crd_and_holds_the_dashboard() {
    let schemas = schemas();
    let mut errors = Vec::new();
    for (name, typed) in typed_dashboards() {
        let dashboard = json_of(&typed);
        let resource = json_of(&grafana_dashboard_resource("slo-dashboard", &typed));
        errors.extend(violations(&schemas.crd, &resource, &name));
        assert_eq!(resource["apiVersion"], "grafana.integreatly.org/v1beta1");
        assert_eq!(resource["kind"], "GrafanaDashboard");
        assert_eq!(resource["metadata"]["name"], "slo-dashboard");
        assert_eq!(
            resource["spec"]["instanceSelector"],
            json!({"matchLabels": {"dashboards": "grafana"}})
        );
        assert_eq!(resource["spec"]["uid"], dashboard["uid"], "{name}");
        let inner: Value =
            serde_json::from_str(resource["spec"]["json"].as_str().expect("json is a string"))
                .expect("spec.json is JSON");
        assert_eq!(inner, dashboard, "{name}: spec.json round-trips");
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Writing

/// Where two texts first differ, for messages that do not print 200 kB.
fn first_difference(got: &str, want: &str) -> String {
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(g, w)| g != w)
        .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
    let start = |text: &str| -> Option<String> {
        text.lines()
            .nth(line)
            .map(|l| l.chars().take(120).collect())
    };
    format!(
        "line {}: got {:?}, want {:?}",
        line + 1,
        start(got),
        start(want)
    )
}

#[test]
fn every_dashboard_is_written_as_serde_json_writes_its_value() {
    // Dashboards are typed structs written straight to text; they used to be
    // `serde_json::Value`s. Keys in byte order (a `Value`'s order) and the same numbers keep
    // every committed dashboard byte-identical, whichever way it is written.
    for (name, dashboard) in typed_dashboards() {
        let want = serde_json::to_string_pretty(&json_of(&dashboard)).unwrap();
        for (how, got) in [
            (
                "serde_json",
                serde_json::to_string_pretty(&dashboard).unwrap(),
            ),
            ("the writer", dashboard_json(&dashboard)),
        ] {
            assert!(
                got == want,
                "{name} by {how}: {}",
                first_difference(&got, &want)
            );
        }
    }
}

#[test]
fn every_dashboard_resource_is_written_as_serde_saphyr_writes_it() {
    // Names and descriptions with characters YAML treats specially are written directly
    // when a literal block can hold them; each character a block cannot hold makes the
    // writer fall back to serde-saphyr, which quotes the whole JSON.
    let odd = r##"
apiVersion: slogate/v1
kind: ServiceLevels
service: Payments_API.v2
team: payments.core_2
slos:
  - name: availability
    description: "Ünïcödé 🎉 # not a comment: {\"json\": [1]} \\ 'quotes' \t tab"
    objective: 99.9
    period: 30d
    sli:
      raw: {error_ratio: 'sum(rate(errors_total[{{window}}])) / sum(rate(requests_total[{{window}}]))'}
"##;
    let report = load_texts(&[(PathBuf::from("odd.yaml"), odd.to_string())]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let odd = &report.catalog.services[0];
    let mut cases = typed_dashboards();
    cases.push(("odd".into(), service_dashboard(odd)));
    let unholdable = [
        ("line separator", '\u{2028}'),
        ("paragraph separator", '\u{2029}'),
        ("next line", '\u{85}'),
        ("C1 control", '\u{9b}'),
        ("delete", '\u{7f}'),
        ("byte order mark", '\u{feff}'),
    ];
    for (what, c) in unholdable {
        let mut service = odd.clone();
        service.slos[0].description = Some(format!("before {c} after"));
        cases.push((format!("odd, {what}"), service_dashboard(&service)));
    }
    let mut direct = Vec::new();
    for (name, dashboard) in cases {
        let resource = grafana_dashboard_resource(&k8s_name(&format!("slo-{name}")), &dashboard);
        let mut want = String::new();
        serde_saphyr::to_fmt_writer_with_options(&mut want, &resource, yaml_options()).unwrap();
        let mut got = String::new();
        if resource.write_yaml(&mut got) {
            assert!(got == want, "{name}: {}", first_difference(&got, &want));
            direct.push(name);
        } else {
            assert!(got.is_empty(), "{name}: wrote before falling back");
        }
    }
    assert!(direct.iter().any(|n| n == "odd"), "{direct:?}");
    for (what, _) in unholdable {
        assert!(
            !direct.iter().any(|n| n.ends_with(what)),
            "{what}: {direct:?}"
        );
    }
    assert!(direct.len() >= 12, "only {} written directly", direct.len());
}

// ---------------------------------------------------------------------------------------
// Queries

#[test]
fn every_promql_in_every_dashboard_parses() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, dashboard) in dashboards() {
        for expr in expressions(&dashboard) {
            count += 1;
            if let Err(e) = promql_parser::parser::parse(&substitute(&expr)) {
                failures.push(format!("{name}: {e}\n{expr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(count > 100, "only {count} expressions checked");
}

#[test]
fn dashboards_read_only_series_the_rules_record_and_alerts() {
    for (service, windows) in services() {
        let mut recorded: BTreeSet<String> = service_rules(&service, &windows)
            .groups
            .iter()
            .flat_map(|g| &g.rules)
            .filter_map(|r| match r {
                Rule::Record { record, .. } => Some(record.clone()),
                Rule::Alert { .. } => None,
            })
            .collect();
        recorded.insert("ALERTS".to_string());
        let dashboard = json_of(&service_dashboard_with(&service, &windows));
        let slo_exprs = sections(&dashboard)
            .into_iter()
            .flat_map(|(_, panels)| panels.into_iter().flat_map(exprs_of));
        for expr in slo_exprs {
            for name in metric_names(&expr) {
                assert!(
                    recorded.contains(&name),
                    "{}: `{name}` is not recorded by the rules\n{expr}",
                    service.service
                );
            }
        }
    }
}

#[test]
fn no_query_uses_rate_interval_and_every_panel_reads_the_datasource_variable() {
    let datasource = json!({"type": "prometheus", "uid": "${datasource}"});
    for (name, dashboard) in dashboards() {
        let text = dashboard.to_string();
        assert!(!text.contains("$__rate_interval"), "{name}");
        for panel in all_panels(&dashboard)
            .into_iter()
            .filter(|p| p["type"] != "row")
        {
            assert_eq!(
                panel["datasource"], datasource,
                "{name} / {}",
                panel["title"]
            );
            for target in targets(panel) {
                assert_eq!(
                    target["datasource"], datasource,
                    "{name} / {}",
                    panel["title"]
                );
            }
        }
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        let ds = variables
            .iter()
            .find(|v| v["name"] == "datasource")
            .expect("datasource variable");
        assert_eq!(ds["type"], "datasource", "{name}");
        assert_eq!(ds["query"], "prometheus", "{name}");
        assert!(ds["current"]["value"].is_string(), "{name}: filled current");
    }
}

// ---------------------------------------------------------------------------------------
// Service dashboards

#[test]
fn a_service_dashboard_is_identified_by_the_service_and_marked_as_generated() {
    for (service, uid) in [
        ("financy-api", "slogate-financy-api"),
        ("reconciliation-backend", "slogate-reconciliation-backend"),
    ] {
        let d = example_dashboard(service);
        assert_eq!(d["uid"], uid);
        assert_eq!(d["title"], format!("SLOs / {service}"));
        assert_eq!(d["tags"], json!(["slogate", "slo"]));
        assert_eq!(d["schemaVersion"], 42);
        assert_eq!(d["time"], json!({"from": "now-7d", "to": "now"}));
        assert!(
            d["description"]
                .as_str()
                .unwrap()
                .contains("Generated by slogate"),
            "{}",
            d["description"]
        );
        assert_eq!(d, example_dashboard(service), "generation is deterministic");
    }
}

#[test]
fn uids_stay_valid_and_distinct_for_long_or_dotted_service_names() {
    let long_a = "a-very-long-service-name-that-goes-on-and-on-alpha";
    let long_b = "a-very-long-service-name-that-goes-on-and-on-beta";
    let cases = [
        ("short", "slogate-short"),
        (
            "exactly-thirty-two-characters-xx",
            "slogate-exactly-thirty-two-characters-xx",
        ),
    ];
    for (service, want) in cases {
        assert_eq!(dashboard_uid(service), want);
    }
    for service in [long_a, long_b, "payments.api", "x"] {
        let uid = dashboard_uid(service);
        assert!((8..=40).contains(&uid.len()), "{uid}");
        assert!(
            uid.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{uid}"
        );
        assert_eq!(uid, dashboard_uid(service), "stable");
    }
    assert_ne!(dashboard_uid(long_a), dashboard_uid(long_b));
    assert_ne!(dashboard_uid("payments.api"), dashboard_uid("payments-api"));
}

#[test]
fn each_slo_has_a_row_with_its_panels() {
    let common = [
        "SLI over the period",
        "Error budget remaining",
        "Current burn rate",
        "Alerts firing",
        "SLI",
        "Burn rate per alert window",
    ];
    for (service, windows) in services() {
        let dashboard = json_of(&service_dashboard_with(&service, &windows));
        let sections = sections(&dashboard);
        let rows: Vec<&str> = sections.iter().map(|(t, _)| t.as_str()).collect();
        let want: Vec<String> = service
            .slos
            .iter()
            .map(|s| format!("{}: ", s.name))
            .collect();
        assert_eq!(rows.len(), want.len(), "{}: {rows:?}", service.service);
        for ((row, panels), (prefix, slo)) in sections.iter().zip(want.iter().zip(&service.slos)) {
            assert!(row.starts_with(prefix), "{row} vs {prefix}");
            let mut titles: Vec<&str> = common.to_vec();
            titles.push(if slo.sli.total_rate().is_some() {
                "Requests and errors"
            } else {
                "Error ratio"
            });
            let got: Vec<&str> = panels
                .iter()
                .map(|p| p["title"].as_str().unwrap())
                .collect();
            assert_eq!(
                got.iter().copied().collect::<BTreeSet<_>>(),
                titles.into_iter().collect::<BTreeSet<_>>(),
                "{} {row}",
                service.service
            );
        }
    }
}

#[test]
fn panels_sit_on_the_grid_without_overlapping_and_have_unique_ids() {
    for (name, dashboard) in dashboards() {
        let mut ids = BTreeSet::new();
        let mut cells = BTreeSet::new();
        for panel in all_panels(&dashboard) {
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "{name}: duplicate id"
            );
            let g = &panel["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(x + w <= 24, "{name}: {g}");
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(
                        cells.insert((cx, cy)),
                        "{name}: {} overlaps",
                        panel["title"]
                    );
                }
            }
        }
    }
}

#[test]
fn the_burn_rate_panel_has_one_target_per_distinct_alert_window() {
    let mut checked = 0;
    let mut custom_seen = false;
    for (service, custom) in services() {
        let dashboard = json_of(&service_dashboard_with(&service, &custom));
        for slo in &service.slos {
            let panel = titled(
                &section(&dashboard, &slo.name),
                "Burn rate per alert window",
            );
            let defaults = alert_windows(slo.period.nominal());
            let own = alert_windows_with(slo.period.nominal(), &custom);
            custom_seen |= own != defaults;
            let windows: Vec<String> = own
                .distinct_windows()
                .iter()
                .map(|w| w.to_string())
                .collect();
            let legends: Vec<&str> = targets(panel)
                .iter()
                .map(|t| t["legendFormat"].as_str().unwrap())
                .collect();
            assert_eq!(legends, windows, "{} {}", service.service, slo.name);
            let budget = slogate::numfmt::short(slo.error_budget());
            for (expr, w) in exprs_of(panel).iter().zip(&windows) {
                assert!(
                    expr.starts_with(&format!("slogate:sli_error:ratio_rate{w}{{"))
                        && expr.ends_with(&format!("}} / {budget}")),
                    "{expr}"
                );
                assert!(
                    expr.contains(&format!("slo_name=\"{}\"", slo.name)),
                    "{expr}"
                );
            }
            let ref_ids: BTreeSet<&str> = targets(panel)
                .iter()
                .map(|t| t["refId"].as_str().unwrap())
                .collect();
            assert_eq!(ref_ids.len(), windows.len(), "refIds are distinct");
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} SLOs checked");
    assert!(custom_seen, "custom windows were exercised");
}

#[test]
fn burn_rate_thresholds_sit_at_the_factors_of_the_enabled_tiers() {
    let third = 0.1 * 28.0 / 3.0;
    // (service, SLO, steps)
    // Threshold steps above the green base: (factor, color).
    type Steps = Vec<(f64, &'static str)>;
    let cases: [(&str, &str, Steps); 3] = [
        (
            "financy-api",
            "availability",
            vec![
                (1.0, "orange"),
                (3.0, "orange"),
                (6.0, "red"),
                (14.4, "red"),
            ],
        ),
        (
            "finbot-api",
            "availability",
            vec![
                (third, "orange"),
                (2.8, "orange"),
                (5.6, "red"),
                (13.44, "red"),
            ],
        ),
        // Its page tier is disabled: no page lines promise an alert that never comes.
        (
            "finbot-api",
            "latency",
            vec![(third, "orange"), (2.8, "orange")],
        ),
    ];
    for (service, slo, want) in cases {
        let panel_steps = steps(titled(
            &section(&example_dashboard(service), slo),
            "Burn rate per alert window",
        ));
        assert_eq!(
            panel_steps[0],
            (None, "green".to_string()),
            "{service} {slo}"
        );
        let got: Vec<(f64, &str)> = panel_steps[1..]
            .iter()
            .map(|(v, c)| (v.unwrap(), c.as_str()))
            .collect();
        assert_eq!(got.len(), want.len(), "{service} {slo}: {got:?}");
        for ((gv, gc), (wv, wc)) in got.iter().zip(&want) {
            assert!(
                (gv - wv).abs() < 1e-9 && gc == wc,
                "{service} {slo}: {got:?}"
            );
        }
    }
}

#[test]
fn the_budget_panel_is_red_when_spent_yellow_under_a_quarter_and_green_above() {
    for (service, windows) in services() {
        let dashboard = json_of(&service_dashboard_with(&service, &windows));
        for slo in &service.slos {
            let panel = titled(&section(&dashboard, &slo.name), "Error budget remaining");
            assert_eq!(panel["type"], "stat");
            assert_eq!(panel["fieldConfig"]["defaults"]["unit"], "percentunit");
            assert_eq!(
                steps(panel),
                vec![
                    (None, "red".to_string()),
                    (Some(0.0), "yellow".to_string()),
                    (Some(0.25), "green".to_string()),
                ]
            );
            let exprs = exprs_of(panel);
            assert_eq!(exprs.len(), 1);
            assert!(
                exprs[0].starts_with("slogate:period_error_budget_remaining:ratio{"),
                "{}",
                exprs[0]
            );
        }
    }
}

#[test]
fn the_sli_panels_compare_the_short_window_and_the_period_with_the_objective() {
    // (service, SLO, objective ratio, short window, period, decimals)
    let cases = [
        ("financy-api", "availability", 0.999, "5m", "30d", 2),
        ("financy-api", "latency", 0.95, "5m", "30d", 1),
        ("finbot-api", "availability", 0.995, "5m", "4w", 2),
        (
            "reconciliation-backend",
            "availability",
            0.99,
            "5m",
            "1w",
            1,
        ),
    ];
    for (service, slo, objective, short, period, decimals) in cases {
        let dashboard = example_dashboard(service);
        let panels = section(&dashboard, slo);
        for title in ["SLI", "SLI over the period"] {
            let panel = titled(&panels, title);
            assert_eq!(
                steps(panel),
                vec![
                    (None, "red".to_string()),
                    (Some(objective), "green".to_string())
                ],
                "{service} {slo} {title}"
            );
            assert_eq!(panel["fieldConfig"]["defaults"]["decimals"], decimals);
        }
        let series = titled(&panels, "SLI");
        assert_eq!(
            series["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"],
            "dashed"
        );
        let exprs = exprs_of(series);
        assert!(exprs[0].starts_with(&format!("1 - slogate:sli_error:ratio_rate{short}{{")));
        assert!(exprs[1].starts_with(&format!("1 - slogate:sli_error:ratio_rate{period}{{")));
    }
}

#[test]
fn event_slis_show_request_and_error_rates_and_raw_ratio_slis_their_error_ratio() {
    let mut raw_seen = 0;
    for (service, windows) in services() {
        let dashboard = json_of(&service_dashboard_with(&service, &windows));
        for slo in &service.slos {
            let panels = section(&dashboard, &slo.name);
            let short = alert_windows_with(slo.period.nominal(), &windows).distinct_windows()[0]
                .to_string();
            if slo.sli.total_rate().is_some() {
                let exprs = exprs_of(titled(&panels, "Requests and errors"));
                assert_eq!(exprs.len(), 2);
                assert!(exprs[0].starts_with(&format!("slogate:sli_total:rate{short}{{")));
                assert!(exprs[1].starts_with(&format!("slogate:sli_errors:rate{short}{{")));
            } else {
                let exprs = exprs_of(titled(&panels, "Error ratio"));
                assert_eq!(exprs.len(), 1);
                assert!(exprs[0].starts_with(&format!("slogate:sli_error:ratio_rate{short}{{")));
                raw_seen += 1;
            }
        }
    }
    assert!(
        raw_seen > 0,
        "the Sloth references have raw error-ratio SLIs"
    );
}

#[test]
fn the_alert_panel_asks_for_the_slos_firing_alerts_by_severity_now() {
    let catalog = load(&reference("sloth/in-base.yaml"));
    let service = &catalog.services[0];
    let custom = service
        .slos
        .iter()
        .find(|s| s.alerting.name.is_some())
        .expect("in-base names an alert");
    let cases = [
        (
            example_dashboard("financy-api"),
            "availability".to_string(),
            "SLOErrorBudgetBurn".to_string(),
        ),
        (
            json_of(&service_dashboard(service)),
            custom.name.clone(),
            custom.alerting.name.clone().unwrap(),
        ),
    ];
    for (dashboard, slo, alert) in cases {
        let panel = titled(&section(&dashboard, &slo), "Alerts firing");
        let exprs = exprs_of(panel);
        assert!(
            exprs[0].starts_with("sum by (slo_severity) (ALERTS{")
                && exprs[0].contains(&format!("alertname=\"{alert}\""))
                && exprs[0].contains(&format!("slo_name=\"{slo}\""))
                && exprs[0].contains("alertstate=\"firing\""),
            "{}",
            exprs[0]
        );
        assert!(
            exprs[1].contains("alertname=\"SLOMetricsAbsent\""),
            "{}",
            exprs[1]
        );
        for target in targets(panel) {
            assert_eq!(
                target["instant"], true,
                "a resolved alert must not show as firing"
            );
        }
        assert_eq!(targets(panel)[0]["legendFormat"], "{{slo_severity}}");
    }
}

#[test]
fn long_periods_read_their_shortest_recorded_window_instead_of_5m() {
    let text = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: quarterly
slos:
  - name: availability
    objective: 99.95
    period: 90d
    sli:
      events:
        errors: sum(rate(http_requests_total{code=~"5.."}[{{window}}]))
        total: sum(rate(http_requests_total[{{window}}]))
"#;
    let report = load_texts(&[(PathBuf::from("quarterly.yaml"), text.to_string())]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let service = &report.catalog.services[0];
    let dashboard = json_of(&service_dashboard(service));
    let short = alert_windows(service.slos[0].period.nominal()).distinct_windows()[0].to_string();
    assert_ne!(short, "5m");
    let text = dashboard.to_string();
    assert!(
        !text.contains("rate5m"),
        "no 5m series is recorded for a 90d SLO"
    );
    assert!(text.contains(&format!("slogate:sli_total:rate{short}")));
    let sli = titled(&section(&dashboard, "availability"), "SLI");
    assert_eq!(
        sli["fieldConfig"]["defaults"]["decimals"], 3,
        "99.95% needs 3 decimals"
    );
}

// ---------------------------------------------------------------------------------------
// Overview

#[test]
fn the_overview_filters_by_team_and_service_and_lists_every_slo_column() {
    let overview = json_of(&overview_dashboard(&examples()));
    assert_eq!(overview["uid"], "slogate-overview");
    assert!(
        overview["description"]
            .as_str()
            .unwrap()
            .contains("Generated by slogate")
    );
    let variables: BTreeMap<&str, &Value> = overview["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    assert_eq!(variables["team"]["type"], "query");
    assert_eq!(
        variables["team"]["query"],
        "label_values(slogate:objective:ratio, team)"
    );
    assert_eq!(variables["service"]["type"], "query");
    assert!(
        variables["service"]["query"]
            .as_str()
            .unwrap()
            .ends_with(", slo_service)")
    );
    let panels = all_panels(&overview);
    let table = titled(&panels, "SLOs");
    assert_eq!(table["type"], "table");
    let exprs = exprs_of(table);
    for (expr, metric) in exprs.iter().zip([
        "slogate:objective:ratio",
        "slogate:period_burn_rate:ratio",
        "slogate:period_error_budget_remaining:ratio",
        "slogate:current_burn_rate:ratio",
        "ALERTS",
    ]) {
        assert!(expr.contains(metric), "{expr}");
        assert!(expr.contains("slo_service=~\"$service\""), "{expr}");
    }
    let organize = &table["transformations"][1]["options"]["renameByName"];
    let columns: BTreeSet<&str> = organize
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    for column in [
        "Service",
        "SLO",
        "Objective (%)",
        "SLI over period (%)",
        "Budget remaining (%)",
        "Burn rate (x)",
        "Alerts firing",
    ] {
        assert!(
            columns.contains(column),
            "{column} missing from {columns:?}"
        );
    }
    titled(&panels, "SLO alerts firing");
}

#[test]
fn the_validators_reject_what_the_schemas_forbid() {
    // Guards the checks above against passing vacuously (a schema root that validates
    // nothing, a definition that was not found).
    let schemas = schemas();
    let typed = typed_example_dashboard("financy-api");
    let dashboard = json_of(&typed);
    let panels = all_panels(&dashboard);
    let stat = titled(&panels, "Error budget remaining");
    let series = titled(&panels, "SLI");
    let resource = json_of(&grafana_dashboard_resource("financy-api", &typed));

    let mut extra_key = dashboard.clone();
    extra_key["generator"] = json!("slogate");
    let mut missing_option = stat["options"].clone();
    missing_option.as_object_mut().unwrap().remove("wideLayout");
    let mut bad_custom = series["fieldConfig"]["defaults"]["custom"].clone();
    bad_custom["drawStyle"] = json!("squiggle");
    let mut bad_target = targets(series)[0].clone();
    bad_target["format"] = json!("csv");
    let mut bad_uid = resource.clone();
    bad_uid["spec"]["uid"] = json!("not a uid!");
    let mut no_selector = resource.clone();
    no_selector["spec"]
        .as_object_mut()
        .unwrap()
        .remove("instanceSelector");

    let cases: [(&str, &Validator, &Value); 6] = [
        (
            "a dashboard key outside the model",
            &schemas.dashboard,
            &extra_key,
        ),
        (
            "a stat without a required option",
            &schemas.options["stat"],
            &missing_option,
        ),
        (
            "an unknown draw style",
            &schemas.custom["timeseries"],
            &bad_custom,
        ),
        (
            "an unknown query format",
            &schemas.prometheus_query,
            &bad_target,
        ),
        ("a uid Grafana refuses", &schemas.crd, &bad_uid),
        (
            "a resource selecting no Grafana",
            &schemas.crd,
            &no_selector,
        ),
    ];
    for (what, validator, instance) in cases {
        assert!(
            !violations(validator, instance, what).is_empty(),
            "{what} passed validation"
        );
    }
}
