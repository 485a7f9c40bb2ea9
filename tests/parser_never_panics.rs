//! Property tests: whatever text it is given, `load_texts` returns a report and never panics,
//! and every diagnostic it prints points into the file it names (line >= 1, col >= 1).
//!
//! Three kinds of input: (a) random bytes, (b) YAML-ish texts built from the keys of the real
//! formats with awkward scalars, indentation and document separators, and (c) small mutations
//! of the Sloth and OpenSLO reference files. The seed is fixed, so a failure reproduces on
//! every run; proptest also records it next to this file, and replays it first from then on.

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngAlgorithm, RngSeed};
use slogate::spec::load_texts;

/// The reference specs, mutated by (c).
const REFERENCE: &[(&str, &str)] = &[
    (
        "in-base.yaml",
        include_str!("../../shared/reference/sloth/in-base.yaml"),
    ),
    (
        "in-base-k8s.yaml",
        include_str!("../../shared/reference/sloth/in-base-k8s.yaml"),
    ),
    (
        "in-multifile.yaml",
        include_str!("../../shared/reference/sloth/in-multifile.yaml"),
    ),
    (
        "in-openslo.yaml",
        include_str!("../../shared/reference/sloth/in-openslo.yaml"),
    ),
    (
        "occurences-slo.yaml",
        include_str!("../../shared/reference/openslo/budgeting-method/occurences-slo.yaml"),
    ),
    (
        "ratio-timeslices.yaml",
        include_str!("../../shared/reference/openslo/budgeting-method/ratio-timeslices.yaml"),
    ),
    (
        "timeslices-slo.yaml",
        include_str!("../../shared/reference/openslo/budgeting-method/timeslices-slo.yaml"),
    ),
    (
        "low-traffic-timeslices-slo.yaml",
        include_str!(
            "../../shared/reference/openslo/treat-low-traffic-as-equally-important/timeslices-slo.yaml"
        ),
    ),
];

/// Keys of the native, Sloth (plain and custom resource) and OpenSLO (v1, v1alpha) formats,
/// plus a few YAML oddities.
const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "version",
    "metadata",
    "spec",
    "service",
    "team",
    "labels",
    "annotations",
    "slos",
    "name",
    "displayName",
    "description",
    "objective",
    "period",
    "sli",
    "events",
    "errors",
    "good",
    "bad",
    "total",
    "raw",
    "error_ratio",
    "latency",
    "histogram",
    "selector",
    "threshold",
    "type",
    "alerting",
    "page",
    "ticket",
    "route",
    "channel",
    "disabled",
    "min_events",
    "canary",
    "version_preset",
    "version_label",
    "lookback",
    "thresholds",
    "pass",
    "marginal",
    "metrics",
    "source",
    "query",
    "operation",
    "direction",
    "allowed_increase",
    "critical_increase",
    "allowed_decrease",
    "critical_decrease",
    "weight",
    "critical",
    "must_have_data",
    "min_samples",
    "group",
    "effect",
    "error_query",
    "total_query",
    "errorQuery",
    "totalQuery",
    "error_ratio_query",
    "errorRatioQuery",
    "plugin",
    "plugins",
    "slo_plugins",
    "sloPlugins",
    "page_alert",
    "ticket_alert",
    "pageAlert",
    "ticketAlert",
    "disable",
    "objectives",
    "target",
    "targetPercent",
    "op",
    "value",
    "indicator",
    "indicatorRef",
    "ratioMetric",
    "ratioMetrics",
    "thresholdMetric",
    "metricSource",
    "rawType",
    "counter",
    "timeWindow",
    "timeWindows",
    "duration",
    "isRolling",
    "calendar",
    "startTime",
    "timeZone",
    "count",
    "unit",
    "budgetingMethod",
    "timeSliceTarget",
    "timeSliceWindow",
    "alertPolicies",
    "queryType",
    "<<",
    "?",
    "\"quoted key\"",
    "'x'",
    "ключ",
    "🔥",
    "a b",
    "slos[0]",
    "a.b",
];

/// Document headers, so that many generated documents reach each format's own checks.
const HEADERS: &[&str] = &[
    "apiVersion: slogate/v1\nkind: ServiceLevels\n",
    "version: prometheus/v1\n",
    "version: \"prometheus/v1\"\n",
    "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n",
    "apiVersion: openslo/v1\nkind: SLO\n",
    "apiVersion: openslo/v1\nkind: SLI\n",
    "apiVersion: openslo/v1\nkind: Service\n",
    "apiVersion: openslo/v1alpha\nkind: SLO\n",
    "apiVersion: slogate/v1\n",
    "kind: ServiceLevels\n",
    "apiVersion: [slogate/v1]\n",
    "apiVersion: v9\nkind: ?\n",
    "",
];

/// Scalars that mean something to one of the formats, or to YAML.
const SPECIAL_SCALARS: &[&str] = &[
    "99.9",
    "100",
    "0",
    "-1",
    "150",
    "0.999",
    "1e400",
    "-1e400",
    "1e-400",
    ".inf",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "1_000",
    "99.9%",
    "30d",
    "5m",
    "1h30m",
    "0s",
    "-1d",
    "30x",
    "30",
    "4 weeks",
    "1M",
    "2w",
    "300ms",
    "18446744073709551616",
    "-9223372036854775809",
    "slogate/v1",
    "ServiceLevels",
    "prometheus/v1",
    "openslo/v1",
    "openslo/v1alpha",
    "SLO",
    "SLI",
    "Occurrences",
    "Timeslices",
    "RatioTimeslices",
    "Prometheus",
    "Any",
    "success",
    "failure",
    "pagerduty",
    "slack",
    "increase",
    "decrease",
    "either",
    "traces",
    "native",
    "classic",
    "Day",
    "Week",
    "~",
    "null",
    "true",
    "false",
    "yes",
    "",
    "&anchor value",
    "*anchor",
    "&a [1, 2]",
    "!!str 99.9",
    "!!float abc",
    "!!binary aGVsbG8=",
    "!custom tag",
    "|",
    ">-",
    "- ",
    ": ",
    "? ",
    "#",
    "@",
    "%",
    "`",
    "<<: *anchor",
    "{",
    "}",
    "[",
    "]",
    "{{window}}",
    "\u{0}",
    "\u{feff}",
    "\u{202e}rtl",
    "e\u{301}\u{301}\u{301}",
    "日本語",
    "🙂🙂",
];

/// Pieces that PromQL-ish scalars are made of.
const PROMQL_PIECES: &[&str] = &[
    "sum(",
    "rate(",
    "increase(",
    "histogram_quantile(0.99, ",
    "sum by (le) (",
    "avg_over_time(",
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "{code=~\"5..\"}",
    "{code!~\"5..\",job=\"api\"}",
    "{",
    "}",
    "[{{window}}]",
    "[{{.window}}]",
    "[{{ window }}]",
    "[{{ .window }}]",
    "{{window}}",
    "{{interval}}",
    "{{",
    "}}",
    "[5m]",
    "[",
    "]",
    "(",
    ")",
    ")",
    " / ",
    " + ",
    " - ",
    " > bool ",
    " or ",
    " and on() ",
    "1 - ",
    " offset 5m",
    " @ 1",
    "[1h:5m]",
    ",",
    "\"",
    "'",
    "\\",
    "`",
    " ",
    "\n",
    "0.5",
    "-",
    "le=\"0.3\"",
    "\u{3bb}",
];

/// A generated YAML node.
#[derive(Debug, Clone)]
enum Node {
    Scalar(Scalar),
    Map(Vec<(String, Node)>, bool),
    Seq(Vec<Node>, bool),
}

/// A scalar and how it is written.
#[derive(Debug, Clone)]
struct Scalar {
    text: String,
    style: Style,
}

#[derive(Debug, Clone, Copy)]
enum Style {
    /// Plain when that reads back as the same text, double-quoted otherwise.
    Plain,
    Single,
    Double,
    Literal,
    /// Written as is, whatever YAML makes of it.
    Unquoted,
}

fn scalar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(SPECIAL_SCALARS).prop_map(str::to_string),
        3 => prop::collection::vec(prop::sample::select(PROMQL_PIECES), 0..12)
            .prop_map(|pieces| pieces.concat()),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => any::<i64>().prop_map(|i| i.to_string()),
        1 => "\\PC{0,24}",
        1 => ".{0,16}",
        1 => (prop::sample::select(PROMQL_PIECES), 500usize..12_000)
            .prop_map(|(piece, n)| piece.repeat(n / piece.len().max(1) + 1)),
        1 => (1usize..200).prop_map(|n| format!("{}{}", "(".repeat(n), ")".repeat(n))),
    ]
}

fn scalar() -> impl Strategy<Value = Scalar> {
    let style = prop_oneof![
        6 => Just(Style::Plain),
        2 => Just(Style::Single),
        2 => Just(Style::Double),
        1 => Just(Style::Literal),
        // Rare: one unquoted oddity usually breaks the whole file.
        1 => prop::bool::weighted(0.1)
            .prop_map(|raw| if raw { Style::Unquoted } else { Style::Plain }),
    ];
    (scalar_text(), style).prop_map(|(text, style)| Scalar { text, style })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-zA-Z_]{1,12}",
        1 => scalar_text().prop_map(|text| double_quoted(&text)),
    ]
}

/// A scalar, or a small mapping or sequence.
fn small_node() -> impl Strategy<Value = Node> {
    scalar()
        .prop_map(Node::Scalar)
        .prop_recursive(2, 6, 3, |inner| {
            prop_oneof![
                (
                    prop::collection::vec((key(), inner.clone()), 0..3),
                    any::<bool>()
                )
                    .prop_map(|(entries, flow)| Node::Map(entries, flow)),
                (prop::collection::vec(inner, 0..3), any::<bool>())
                    .prop_map(|(items, flow)| Node::Seq(items, flow)),
            ]
        })
}

fn node() -> impl Strategy<Value = Node> {
    scalar()
        .prop_map(Node::Scalar)
        .prop_recursive(6, 96, 8, |inner| {
            prop_oneof![
                3 => (
                    prop::collection::vec((key(), inner.clone()), 0..8),
                    prop::bool::weighted(0.2),
                )
                    .prop_map(|(entries, flow)| Node::Map(entries, flow)),
                1 => (prop::collection::vec(inner, 0..5), prop::bool::weighted(0.2))
                    .prop_map(|(items, flow)| Node::Seq(items, flow)),
            ]
        })
}

/// Whether `text` can be written as a plain scalar (a conservative test).
fn plain_safe(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '(' || c == '_')
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || " ._/-+()=~\"'<>$^;".contains(c))
}

/// `text` as a double-quoted YAML scalar that reads back as `text`.
fn double_quoted(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render_scalar(s: &Scalar, indent: usize, out: &mut String) {
    let printable = !s.text.chars().any(char::is_control);
    match s.style {
        Style::Unquoted => out.push_str(&s.text),
        Style::Plain if plain_safe(&s.text) => out.push_str(&s.text),
        Style::Single if printable => {
            out.push('\'');
            out.push_str(&s.text.replace('\'', "''"));
            out.push('\'');
        }
        Style::Plain | Style::Single | Style::Double => out.push_str(&double_quoted(&s.text)),
        Style::Literal if s.text.chars().any(|c| c.is_control() && c != '\n') => {
            out.push_str(&double_quoted(&s.text));
        }
        Style::Literal => {
            out.push_str("|\n");
            for line in s.text.split('\n') {
                out.push_str(&" ".repeat(indent + 2));
                out.push_str(line);
                out.push('\n');
            }
        }
    }
}

fn render_flow(node: &Node, out: &mut String) {
    match node {
        Node::Scalar(s) => render_scalar(
            &Scalar {
                text: s.text.clone(),
                style: match s.style {
                    Style::Literal => Style::Double,
                    other => other,
                },
            },
            0,
            out,
        ),
        Node::Map(entries, _) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                render_flow(v, out);
            }
            out.push('}');
        }
        Node::Seq(items, _) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_flow(v, out);
            }
            out.push(']');
        }
    }
}

/// Renders `node` as the value after `key:` (or `- `) at `indent`.
fn render_value(node: &Node, indent: usize, out: &mut String) {
    match node {
        Node::Scalar(s) => {
            out.push(' ');
            render_scalar(s, indent, out);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        Node::Map(_, true) | Node::Seq(_, true) => {
            out.push(' ');
            render_flow(node, out);
            out.push('\n');
        }
        // An empty block collection would read as null.
        Node::Map(entries, false) if entries.is_empty() => out.push_str(" {}\n"),
        Node::Seq(items, false) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(entries, false) => {
            out.push('\n');
            render_entries(entries, indent + 2, out);
        }
        Node::Seq(items, false) => {
            out.push('\n');
            render_items(items, indent + 2, out);
        }
    }
}

fn render_entries(entries: &[(String, Node)], indent: usize, out: &mut String) {
    for (k, v) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(k);
        out.push(':');
        render_value(v, indent, out);
    }
}

fn render_items(items: &[Node], indent: usize, out: &mut String) {
    for v in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        render_value(v, indent, out);
    }
}

/// The shape of a format's document, to generate texts that get past YAML and serde into the
/// format's own checks (and then break them one field at a time).
enum Shape {
    Leaf(Leaf),
    /// A mapping: each field is usually present, its key usually spelt right.
    Map(&'static [(&'static str, Shape)]),
    /// A sequence of 0 to 3 items.
    Seq(&'static Shape),
    /// One of several shapes (exclusive groups such as the SLI kinds).
    Choice(&'static [Shape]),
    /// A map of label names to values.
    Labels,
}

/// The kind of a scalar field.
#[derive(Clone, Copy)]
enum Leaf {
    Name,
    Percent,
    Ratio,
    Number,
    Count,
    Bool,
    Duration,
    Query,
    Selector,
    Text,
    OneOf(&'static [&'static str]),
}

use Leaf::*;
use Shape::{Choice, Labels, Map, Seq};

const fn leaf(l: Leaf) -> Shape {
    Shape::Leaf(l)
}

const TEXT: Shape = leaf(Text);

const TIER: Shape = Map(&[
    ("disabled", leaf(Bool)),
    ("route", leaf(OneOf(&["pagerduty", "slack", "opsgenie"]))),
    ("channel", leaf(OneOf(&["#payments-alerts", ""]))),
    ("labels", Labels),
    ("annotations", Labels),
]);

const NATIVE_SLO: Shape = Map(&[
    ("name", leaf(Name)),
    ("description", leaf(Text)),
    ("objective", leaf(Percent)),
    ("period", leaf(Duration)),
    ("labels", Labels),
    (
        "sli",
        Choice(&[
            Map(&[(
                "events",
                Choice(&[
                    Map(&[("errors", leaf(Query)), ("total", leaf(Query))]),
                    Map(&[("good", leaf(Query)), ("total", leaf(Query))]),
                ]),
            )]),
            Map(&[("raw", Map(&[("error_ratio", leaf(Query))]))]),
            Map(&[(
                "latency",
                Map(&[
                    (
                        "histogram",
                        leaf(OneOf(&[
                            "http_request_duration_seconds",
                            "http_request_duration_seconds_bucket",
                            "rpc_latency{job=\"a\"}",
                        ])),
                    ),
                    ("selector", leaf(Selector)),
                    ("threshold", leaf(Duration)),
                    ("type", leaf(OneOf(&["classic", "native", "exponential"]))),
                ]),
            )]),
        ]),
    ),
    (
        "alerting",
        Map(&[
            ("name", leaf(Name)),
            ("labels", Labels),
            ("annotations", Labels),
            ("page", TIER),
            ("ticket", TIER),
            ("min_events", leaf(Count)),
        ]),
    ),
]);

const CANARY_METRIC: Shape = Map(&[
    ("name", leaf(Name)),
    ("source", leaf(OneOf(&["prometheus", "traces", "graphite"]))),
    ("kind", leaf(OneOf(&["latency", "errors"]))),
    ("errors", leaf(Query)),
    ("total", leaf(Query)),
    ("query", leaf(Query)),
    ("operation", leaf(Text)),
    (
        "direction",
        leaf(OneOf(&["increase", "decrease", "either", "up"])),
    ),
    ("allowed_increase", leaf(Number)),
    ("critical_increase", leaf(Number)),
    ("allowed_decrease", leaf(Number)),
    ("critical_decrease", leaf(Number)),
    ("weight", leaf(Number)),
    ("critical", leaf(Bool)),
    ("must_have_data", leaf(Bool)),
    ("min_samples", leaf(Count)),
    ("group", leaf(Name)),
    ("effect", leaf(OneOf(&["mean", "median", "mode"]))),
]);

const NATIVE: Shape = Map(&[
    ("apiVersion", leaf(OneOf(&["slogate/v1"]))),
    ("kind", leaf(OneOf(&["ServiceLevels"]))),
    ("service", leaf(Name)),
    ("team", leaf(Name)),
    ("labels", Labels),
    ("slos", Seq(&NATIVE_SLO)),
    (
        "canary",
        Map(&[
            ("version_preset", leaf(OneOf(&["argo", "flagger"]))),
            ("version_label", leaf(Text)),
            ("trace_version_attribute", leaf(Text)),
            ("lookback", leaf(Duration)),
            (
                "thresholds",
                Map(&[("pass", leaf(Percent)), ("marginal", leaf(Percent))]),
            ),
            ("metrics", Seq(&CANARY_METRIC)),
        ]),
    ),
]);

const SLOTH_TIER: Shape = Map(&[
    ("disable", leaf(Bool)),
    ("labels", Labels),
    ("annotations", Labels),
]);

const SLOTH_SLO: Shape = Map(&[
    ("name", leaf(Name)),
    ("objective", leaf(Percent)),
    ("description", leaf(Text)),
    ("labels", Labels),
    (
        "sli",
        Choice(&[
            Map(&[(
                "events",
                Choice(&[
                    Map(&[("error_query", leaf(Query)), ("total_query", leaf(Query))]),
                    Map(&[("errorQuery", leaf(Query)), ("totalQuery", leaf(Query))]),
                ]),
            )]),
            Map(&[("raw", Map(&[("error_ratio_query", leaf(Query))]))]),
            Map(&[("raw", Map(&[("errorRatioQuery", leaf(Query))]))]),
            Map(&[("plugin", Map(&[("id", leaf(Text))]))]),
        ]),
    ),
    (
        "alerting",
        Map(&[
            ("name", leaf(Name)),
            ("labels", Labels),
            ("annotations", Labels),
            ("page_alert", SLOTH_TIER),
            ("ticketAlert", SLOTH_TIER),
        ]),
    ),
]);

const SLOTH: Shape = Map(&[
    ("version", leaf(OneOf(&["prometheus/v1"]))),
    ("service", leaf(Name)),
    ("labels", Labels),
    ("slos", Seq(&SLOTH_SLO)),
]);

const SLOTH_K8S: Shape = Map(&[
    ("apiVersion", leaf(OneOf(&["sloth.slok.dev/v1"]))),
    ("kind", leaf(OneOf(&["PrometheusServiceLevel"]))),
    (
        "metadata",
        Map(&[("name", leaf(Name)), ("namespace", leaf(Name))]),
    ),
    (
        "spec",
        Map(&[
            ("service", leaf(Name)),
            ("labels", Labels),
            ("sloPlugins", Labels),
            ("slos", Seq(&SLOTH_SLO)),
        ]),
    ),
]);

const METADATA: Shape = Map(&[("name", leaf(Name)), ("displayName", leaf(Text))]);

const METRIC: Shape = Map(&[(
    "metricSource",
    Map(&[
        (
            "type",
            leaf(OneOf(&["Prometheus", "Any", "Thanos", "Datadog"])),
        ),
        ("spec", Map(&[("query", leaf(Query))])),
    ]),
)]);

const INDICATOR_SPEC: Shape = Choice(&[
    Map(&[(
        "ratioMetric",
        Choice(&[
            Map(&[("good", METRIC), ("total", METRIC)]),
            Map(&[("bad", METRIC), ("total", METRIC)]),
            Map(&[
                ("rawType", leaf(OneOf(&["success", "failure", "other"]))),
                ("raw", METRIC),
            ]),
        ]),
    )]),
    Map(&[("thresholdMetric", METRIC)]),
]);

const OPENSLO_SLI: Shape = Map(&[
    ("apiVersion", leaf(OneOf(&["openslo/v1"]))),
    ("kind", leaf(OneOf(&["SLI"]))),
    ("metadata", METADATA),
    ("spec", Map(&[("description", leaf(Text))])),
    ("spec", INDICATOR_SPEC),
]);

const OPENSLO_OBJECTIVE: Shape = Map(&[
    ("displayName", leaf(Text)),
    ("op", leaf(OneOf(&["lt", "lte", "gt", "gte", "eq"]))),
    ("value", leaf(Number)),
    ("target", leaf(Ratio)),
    ("timeSliceTarget", leaf(Ratio)),
    ("timeSliceWindow", leaf(Duration)),
]);

const TIME_WINDOW: Shape = Map(&[
    (
        "duration",
        leaf(OneOf(&[
            "28d", "30d", "2w", "1M", "1Q", "1Y", "1m", "0d", "d",
        ])),
    ),
    ("isRolling", leaf(Bool)),
    (
        "calendar",
        Map(&[("startTime", leaf(Text)), ("timeZone", leaf(Text))]),
    ),
]);

const OPENSLO_SLO: Shape = Map(&[
    ("apiVersion", leaf(OneOf(&["openslo/v1"]))),
    ("kind", leaf(OneOf(&["SLO"]))),
    ("metadata", METADATA),
    (
        "spec",
        Choice(&[
            Map(&[
                ("description", leaf(Text)),
                ("service", leaf(Name)),
                (
                    "indicator",
                    Map(&[("metadata", METADATA), ("spec", INDICATOR_SPEC)]),
                ),
                ("timeWindow", Seq(&TIME_WINDOW)),
                (
                    "budgetingMethod",
                    leaf(OneOf(&[
                        "Occurrences",
                        "Timeslices",
                        "RatioTimeslices",
                        "Other",
                    ])),
                ),
                ("objectives", Seq(&OPENSLO_OBJECTIVE)),
            ]),
            Map(&[
                ("service", leaf(Name)),
                ("indicatorRef", leaf(Name)),
                ("timeWindow", Seq(&TIME_WINDOW)),
                ("objectives", Seq(&OPENSLO_OBJECTIVE)),
            ]),
        ]),
    ),
]);

const V1ALPHA_QUERY: Shape = Map(&[
    ("source", leaf(OneOf(&["prometheus"]))),
    ("queryType", leaf(OneOf(&["promql"]))),
    ("query", leaf(Query)),
]);

const OPENSLO_V1ALPHA: Shape = Map(&[
    ("apiVersion", leaf(OneOf(&["openslo/v1alpha"]))),
    ("kind", leaf(OneOf(&["SLO"]))),
    ("metadata", METADATA),
    (
        "spec",
        Map(&[
            ("service", leaf(Name)),
            ("description", leaf(Text)),
            (
                "budgetingMethod",
                leaf(OneOf(&["Occurrences", "Timeslices"])),
            ),
            (
                "objectives",
                Seq(&Map(&[
                    ("displayName", leaf(Text)),
                    (
                        "ratioMetrics",
                        Map(&[
                            ("good", V1ALPHA_QUERY),
                            ("total", V1ALPHA_QUERY),
                            ("incremental", leaf(Bool)),
                        ]),
                    ),
                    ("target", leaf(Ratio)),
                ])),
            ),
            (
                "timeWindows",
                Seq(&Map(&[
                    ("count", leaf(Count)),
                    ("unit", leaf(OneOf(&["Day", "Week", "Month", "Hour"]))),
                    ("isRolling", leaf(Bool)),
                ])),
            ),
        ]),
    ),
]);

/// Well-formed queries, in every placeholder spelling.
const QUERIES: &[&str] = &[
    "sum(rate(http_requests_total{code=~\"5..\"}[{{window}}]))",
    "sum(rate(http_requests_total[{{window}}]))",
    "sum(rate(http_requests_total{code!~\"5..\"}[{{.window}}]))",
    "sum(rate(http_requests_total[{{ .window }}]))",
    "sum(rate(errors_total[{{window}}])) / sum(rate(requests_total[{{window}}]))",
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[{{window}}])))",
    "http_requests_total{code=~\"5..\"}",
    "http_requests_total",
    "Any",
    "1 - avg_over_time(up[{{window}}])",
];

fn leaf_text(kind: Leaf) -> BoxedStrategy<String> {
    let pick = |values: &'static [&'static str]| {
        prop::sample::select(values)
            .prop_map(str::to_string)
            .boxed()
    };
    let usual = match kind {
        Name => pick(&[
            "availability",
            "latency",
            "financy-api",
            "checkout",
            "svc01",
            "slo1",
            "error-rate",
            "requests",
            "a.b_c",
            "bad name",
            "-lead",
        ]),
        Percent => pick(&[
            "99.9", "99", "95", "99.99", "90", "99.5", "0", "100", "150", "-1", "abc",
        ]),
        Ratio => pick(&[
            "0.999", "0.99", "0.95", "0.9", "1", "0", "99.9", "1.1", "-0.5",
        ]),
        Number => pick(&["1", "1.1", "1.2", "0.9", "500", "-1", "0", ".inf", "2"]),
        Count => pick(&["1", "30", "100", "0", "-5", "1.5", "4294967296"]),
        Bool => pick(&[
            "true", "false", "true", "false", "true", "false", "maybe", "1",
        ]),
        Duration => pick(&[
            "30d", "28d", "7d", "5m", "1h", "2w", "1h30m", "300ms", "0s", "30", "30x", "-1d", "1M",
            "1y",
        ]),
        Query => pick(QUERIES),
        Selector => pick(&[
            "{route=\"/pay\"}",
            "{}",
            "route=\"/pay\"",
            "{route=~\"/p.*\",code!=\"500\"}",
            "{route=}",
        ]),
        Text => pick(&["Availability of the API", "", "99.9% of requests succeed"]),
        OneOf(values) => pick(values),
    };
    prop_oneof![15 => usual, 1 => scalar_text()].boxed()
}

const LABEL_NAMES: &[&str] = &["tier", "owner", "team", "env", "region"];

/// Label names Prometheus or slogate refuse.
const BAD_LABEL_NAMES: &[&str] = &["cost-center", "slo_service", "slo_name", "__meta", "1st"];

/// A document of `shape`, where any value may be replaced by a random node and any key
/// misspelt, and a mapping may gain an unknown field.
fn shaped(shape: &'static Shape) -> BoxedStrategy<Node> {
    match shape {
        Shape::Leaf(kind) => {
            let style = prop_oneof![
                8 => Just(Style::Plain),
                1 => Just(Style::Single),
                1 => Just(Style::Double),
            ];
            prop_oneof![
                80 => (leaf_text(*kind), style)
                    .prop_map(|(text, style)| Node::Scalar(Scalar { text, style })),
                1 => small_node(),
            ]
            .boxed()
        }
        Labels => (
            prop::sample::subsequence(LABEL_NAMES, 0..3),
            prop::option::weighted(0.1, prop::sample::select(BAD_LABEL_NAMES)),
            prop::collection::vec(shaped(&TEXT), 4),
            prop::bool::weighted(0.3),
        )
            .prop_map(|(mut names, bad, values, flow)| {
                names.extend(bad);
                let entries = names
                    .into_iter()
                    .zip(values)
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                Node::Map(entries, flow)
            })
            .boxed(),
        Seq(item) => (
            prop::collection::vec(shaped(item), 0..4),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(items, flow)| Node::Seq(items, flow))
            .boxed(),
        Choice(options) => prop::strategy::Union::new(options.iter().map(shaped)).boxed(),
        Map(fields) => {
            let entries: Vec<BoxedStrategy<Option<(String, Node)>>> = fields
                .iter()
                .map(|(name, field)| {
                    let key = prop_oneof![
                        200 => Just(name.to_string()),
                        1 => key(),
                        1 => Just(format!("{name}x")),
                        1 => Just(name.to_uppercase()),
                    ];
                    prop::option::weighted(0.97, (key, shaped(field))).boxed()
                })
                .collect();
            let extra = prop_oneof![
                40 => Just(Vec::new()),
                1 => prop::collection::vec((key(), small_node()), 1..3),
            ];
            (entries, extra, prop::bool::weighted(0.05))
                .prop_map(|(entries, extra, flow)| {
                    let mut entries: Vec<(String, Node)> = entries.into_iter().flatten().collect();
                    entries.extend(extra);
                    // `spec` may be given twice (an SLI's description and its metric): join them.
                    let mut joined: Vec<(String, Node)> = Vec::new();
                    for (k, v) in entries {
                        match (joined.iter_mut().find(|(j, _)| *j == k), v) {
                            (Some((_, Node::Map(into, _))), Node::Map(more, _)) => {
                                into.extend(more)
                            }
                            (Some(_), _) => {}
                            (None, v) => joined.push((k, v)),
                        }
                    }
                    Node::Map(joined, flow)
                })
                .boxed()
        }
    }
}

/// A document's root entries in one of the formats.
fn format_entries() -> impl Strategy<Value = Vec<(String, Node)>> {
    prop_oneof![
        shaped(&NATIVE),
        shaped(&SLOTH),
        shaped(&SLOTH_K8S),
        shaped(&OPENSLO_SLO),
        shaped(&OPENSLO_SLI),
        shaped(&OPENSLO_V1ALPHA),
    ]
    .prop_map(|node| match node {
        Node::Map(entries, _) => entries,
        // A value of the root replaced by something else: keep it under a key.
        other => vec![("root".to_string(), other)],
    })
}

/// One document: a header, the root mapping's entries, and indentation changes on some lines
/// (line index, new indentation or a tab).
#[derive(Debug, Clone)]
struct Doc {
    header: &'static str,
    entries: Vec<(String, Node)>,
    reindent: Vec<(usize, Option<usize>)>,
}

/// A document: one of the formats (with misspelt keys, wrong values and unknown fields here and
/// there), or a header over keys of every format at random.
fn doc() -> impl Strategy<Value = Doc> {
    let content = prop_oneof![
        3 => format_entries().prop_map(|entries| ("", entries)),
        1 => (
            prop::sample::select(HEADERS),
            prop::collection::vec((key(), node()), 0..8),
        ),
    ];
    let reindent = prop_oneof![
        4 => Just(Vec::new()),
        1 => prop::collection::vec(
            (any::<usize>(), prop::option::weighted(0.9, 0usize..12)),
            1..3,
        ),
    ];
    (content, reindent).prop_map(|((header, entries), reindent)| Doc {
        header,
        entries,
        reindent,
    })
}

fn render_doc(doc: &Doc) -> String {
    let mut body = String::new();
    render_entries(&doc.entries, 0, &mut body);
    let mut lines: Vec<String> = format!("{}{body}", doc.header)
        .lines()
        .map(str::to_string)
        .collect();
    if !lines.is_empty() {
        for (at, indent) in &doc.reindent {
            let i = at % lines.len();
            let line = lines[i].trim_start().to_string();
            lines[i] = match indent {
                Some(n) => format!("{}{line}", " ".repeat(*n)),
                None => format!("\t{line}"),
            };
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

const SEPARATORS: &[&str] = &[
    "---\n",
    "--- \n",
    "---\n---\n",
    "...\n---\n",
    "--- # next\n",
    "---\n# only a comment\n---\n",
    "--- ",
    "---",
];

const PREAMBLES: &[&str] = &[
    "",
    "",
    "",
    "---\n",
    "# comment\n",
    "%YAML 1.2\n---\n",
    "\u{feff}",
];

fn yamlish_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(PREAMBLES),
        prop::collection::vec(
            (
                prop_oneof![6 => Just("---\n"), 1 => prop::sample::select(SEPARATORS)],
                doc(),
            ),
            1..4,
        ),
    )
        .prop_map(|(preamble, docs)| {
            let mut text = preamble.to_string();
            for (i, (separator, doc)) in docs.iter().enumerate() {
                if i > 0 {
                    text.push_str(separator);
                }
                text.push_str(&render_doc(doc));
            }
            text
        })
}

/// A small edit of a text.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    /// Inserts a line of some reference file, re-indented.
    InsertReferenceLine(usize, usize, usize),
    /// Inserts `key: scalar`, indented.
    InsertEntry(usize, usize, String, String),
    DeleteChar(usize),
    InsertChar(usize, char),
    ReplaceChar(usize, char),
}

fn yaml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(&[
            ':', '-', ' ', '\n', '\t', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"',
            '%', '@', '`', ',', '?', '.', '0', '9', '\\', '\r',
        ][..]),
        1 => any::<char>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => any::<usize>().prop_map(Mutation::DeleteLine),
        2 => any::<usize>().prop_map(Mutation::DuplicateLine),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        2 => (any::<usize>(), any::<usize>(), 0usize..14)
            .prop_map(|(at, line, indent)| Mutation::InsertReferenceLine(at, line, indent)),
        2 => (any::<usize>(), 0usize..14, key(), scalar_text())
            .prop_map(|(at, indent, k, v)| Mutation::InsertEntry(at, indent, k, v)),
        3 => any::<usize>().prop_map(Mutation::DeleteChar),
        3 => (any::<usize>(), yaml_char()).prop_map(|(at, c)| Mutation::InsertChar(at, c)),
        2 => (any::<usize>(), yaml_char()).prop_map(|(at, c)| Mutation::ReplaceChar(at, c)),
    ]
}

fn mutate(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut chars: Vec<char> = text.chars().collect();
    let n = lines.len();
    match mutation {
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let line = lines[i % n].clone();
            lines.insert(i % n, line);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % n, b % n),
        Mutation::InsertReferenceLine(at, line, indent) => {
            let all: Vec<&str> = REFERENCE.iter().flat_map(|(_, t)| t.lines()).collect();
            let inserted = format!(
                "{}{}",
                " ".repeat(*indent),
                all[line % all.len()].trim_start()
            );
            lines.insert(at % (n + 1), inserted);
        }
        Mutation::InsertEntry(at, indent, k, v) => {
            lines.insert(at % (n + 1), format!("{}{k}: {v}", " ".repeat(*indent)));
        }
        Mutation::DeleteChar(i) => {
            if !chars.is_empty() {
                let i = i % chars.len();
                chars.remove(i);
            }
            return chars.into_iter().collect();
        }
        Mutation::InsertChar(i, c) => {
            chars.insert(i % (chars.len() + 1), *c);
            return chars.into_iter().collect();
        }
        Mutation::ReplaceChar(i, c) => {
            if !chars.is_empty() {
                let i = i % chars.len();
                chars[i] = *c;
            }
            return chars.into_iter().collect();
        }
    }
    lines.join("\n")
}

/// The length in characters of each line of `text`, lines ending as YAML ends them (`\n`,
/// `\r\n` or a lone `\r`).
fn line_lengths(text: &str) -> Vec<usize> {
    text.replace("\r\n", "\n")
        .split(['\n', '\r'])
        .map(|line| line.chars().count())
        .collect()
}

/// Loads `files` (catching nothing: a panic fails the property) and checks that every
/// diagnostic names one of the files and a position in it: a line and a column counted from 1,
/// at most one past the end of the line.
fn check_report(files: &[(PathBuf, String)]) -> Result<(), TestCaseError> {
    let report = load_texts(files);
    prop_assert_eq!(report.files, files.len());
    for diagnostic in &report.diagnostics {
        let shown = diagnostic.to_string();
        prop_assert!(!diagnostic.message.is_empty(), "empty message: {}", shown);
        let pos = diagnostic.pos;
        prop_assert!(
            pos.line >= 1 && pos.col >= 1,
            "position not counted from 1: {}",
            shown
        );
        let text = files.iter().find(|(file, _)| *file == diagnostic.file);
        prop_assert!(text.is_some(), "diagnostic for a file not given: {}", shown);
        let lines = line_lengths(&text.expect("checked").1);
        prop_assert!(
            lines
                .get(pos.line - 1)
                .is_some_and(|len| pos.col <= len + 1),
            "position outside the file ({} line(s)): {}",
            lines.len(),
            shown
        );
    }
    Ok(())
}

fn one_file(text: String) -> Vec<(PathBuf, String)> {
    vec![(PathBuf::from("spec.yaml"), text)]
}

/// A fixed seed and algorithm, so every run draws the same inputs.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x5105_a7e0),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn random_bytes_never_panic(
        bytes in prop::collection::vec(
            prop_oneof![
                2 => any::<u8>(),
                1 => prop::sample::select(b":-[]{}#&*!|>'\"%@`,? \n\t\r.\\0123456789".to_vec()),
            ],
            0..600,
        )
    ) {
        check_report(&one_file(String::from_utf8_lossy(&bytes).into_owned()))?;
    }

    #[test]
    fn yamlish_texts_never_panic(text in yamlish_text()) {
        check_report(&one_file(text))?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn mutated_reference_specs_never_panic(
        file in 0..REFERENCE.len(),
        mutations in prop::collection::vec(mutation(), 1..5),
        companion in prop::option::weighted(0.3, 0..REFERENCE.len()),
    ) {
        let (name, original) = REFERENCE[file];
        let text = mutations.iter().fold(original.to_string(), |text, m| mutate(&text, m));
        let mut files = vec![(PathBuf::from(name), text)];
        // Read next to an unchanged file: duplicate services and SLO names across files, and
        // OpenSLO SLOs joining a service defined elsewhere.
        if let Some(other) = companion {
            let (other_name, other_text) = REFERENCE[other];
            files.push((PathBuf::from(format!("other-{other_name}")), other_text.to_string()));
        }
        check_report(&files)?;
    }
}

/// Deep nesting, in YAML and in PromQL, and aliases that expand exponentially are refused or read
/// without overflowing the stack or the memory. Run on a thread with the 8 MiB stack that
/// `slogate validate`'s main thread usually has.
///
/// PromQL stays at a depth of 2,000: promql-parser recurses while parsing, and a query nested
/// about 7,300 deep (`sum(sum(...))`, debug build) overflows an 8 MiB stack, which aborts the
/// process (a stack overflow is not a panic that `catch_unwind` could turn into an error).
#[test]
fn deep_nesting_is_refused_or_read_without_overflowing_the_stack() {
    let slo = |query: &str| {
        format!(
            "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: a\nslos:\n  - name: x\n    \
             objective: 99\n    sli:\n      raw:\n        error_ratio: '{query}'\n"
        )
    };
    let window = "sum(rate(e[{{window}}]))";
    let yaml_depth = 20_000;
    let block_depth = 2_000;
    let promql_depth = 2_000;
    let mut laughs = String::from(
        "apiVersion: slogate/v1\nkind: ServiceLevels\nservice: a\nlabels:\n  a0: &a0 x\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        laughs.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    laughs.push_str("slos:\n  - name: x\n    objective: 99\n    labels: *a9\n");
    let texts = vec![
        format!(
            "slos: {}{}\n",
            "[".repeat(yaml_depth),
            "]".repeat(yaml_depth)
        ),
        format!(
            "labels: {}{}\n",
            "{a: ".repeat(yaml_depth),
            "}".repeat(yaml_depth)
        ),
        (0..block_depth)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect(),
        (0..block_depth)
            .map(|i| format!("{}-\n", "  ".repeat(i)))
            .collect(),
        laughs,
        format!("a: {}x\n", "&a ".repeat(yaml_depth)),
        slo(&format!(
            "{}{window}{}",
            "(".repeat(promql_depth),
            ")".repeat(promql_depth)
        )),
        slo(&format!("{}{window}", "-".repeat(promql_depth))),
        slo(&format!("{}{window}", "1 + ".repeat(promql_depth))),
        slo(&format!(
            "{}{window}{}",
            "sum(".repeat(promql_depth),
            ")".repeat(promql_depth)
        )),
        slo(&format!(
            "{}{window}{}",
            "abs(".repeat(promql_depth),
            ")".repeat(promql_depth)
        )),
    ];
    let reading = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            for text in texts {
                if let Err(failure) = check_report(&one_file(text)) {
                    panic!("{failure}");
                }
            }
        })
        .expect("spawn a thread");
    reading
        .join()
        .expect("deep nesting is read without a panic");
}
