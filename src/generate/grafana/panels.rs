//! Building blocks of Grafana panels: layout, Prometheus targets, thresholds and the options
//! of the four panel types slogate uses (timeseries, stat and table).
//!
//! Every builder emits the strict subset the reference schemas accept (Grafana foundation SDK,
//! schemaVersion 42): every required option key is written out, and nothing the schemas would
//! reject (overrides with non-object values, `cellOptions` whose `oneOf` matches several
//! variants) is used, so the same JSON loads in Grafana and validates in tests.

use serde_json::{Map, Value, json};

/// The data source every panel, target and variable query goes through: the dashboard's
/// `datasource` variable, so one dashboard works against any Prometheus.
pub(super) fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// A Prometheus query over the dashboard's range (one series per label set over time).
pub(super) fn range_target(ref_id: &str, expr: String, legend: &str) -> Value {
    json!({
        "datasource": datasource(),
        "editorMode": "code",
        "expr": expr,
        "format": "time_series",
        "instant": false,
        "legendFormat": legend,
        "range": true,
        "refId": ref_id,
    })
}

/// A Prometheus query evaluated once, at the end of the range: for "now" values such as
/// firing alerts, which must not show a value that was true earlier in the range.
pub(super) fn instant_target(ref_id: &str, expr: String, legend: &str) -> Value {
    json!({
        "datasource": datasource(),
        "editorMode": "code",
        "expr": expr,
        "format": "time_series",
        "instant": true,
        "legendFormat": legend,
        "range": false,
        "refId": ref_id,
    })
}

/// An instant query returned as a table (one row per label set, labels as columns), for
/// table panels that join several queries by their labels.
pub(super) fn table_target(ref_id: &str, expr: String) -> Value {
    json!({
        "datasource": datasource(),
        "editorMode": "code",
        "expr": expr,
        "format": "table",
        "instant": true,
        "legendFormat": "__auto",
        "range": false,
        "refId": ref_id,
    })
}

/// One threshold step: from `value` upwards (`None` is the base, -Infinity) use `color`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Step {
    /// Lower bound of the step; `None` for the base step.
    pub value: Option<f64>,
    /// A Grafana color name.
    pub color: &'static str,
}

/// A base step.
pub(super) fn base(color: &'static str) -> Step {
    Step { value: None, color }
}

/// A step from `value` upwards.
pub(super) fn from(value: f64, color: &'static str) -> Step {
    Step {
        value: Some(value),
        color,
    }
}

/// Absolute thresholds, sorted as Grafana requires (base first, then ascending).
pub(super) fn thresholds(steps: &[Step]) -> Value {
    let mut steps = steps.to_vec();
    steps.sort_by(|a, b| match (a.value, b.value) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(a), Some(b)) => a.total_cmp(&b),
    });
    let steps: Vec<Value> = steps
        .iter()
        .map(|s| json!({"color": s.color, "value": s.value}))
        .collect();
    json!({"mode": "absolute", "steps": steps})
}

/// The field defaults a panel shows its values with.
#[derive(Debug, Clone)]
pub(super) struct Field {
    /// Grafana unit id (`percentunit`, `short`, `suffix:×`).
    pub unit: &'static str,
    /// Decimals shown; Grafana's automatic choice rounds 99.95% to 100.0%, so SLO values
    /// always set it.
    pub decimals: Option<u32>,
    /// Fixed axis or gauge minimum.
    pub min: Option<f64>,
    /// Fixed axis or gauge maximum.
    pub max: Option<f64>,
    /// Threshold steps: colors of stats and table cells, lines on time series.
    pub steps: Vec<Step>,
    /// Text shown when the query returns nothing.
    pub no_value: Option<String>,
}

impl Field {
    /// A field in `unit` with no thresholds but a neutral base.
    pub fn new(unit: &'static str) -> Self {
        Field {
            unit,
            decimals: None,
            min: None,
            max: None,
            steps: vec![base("green")],
            no_value: None,
        }
    }

    fn defaults(&self, color_mode: &str, custom: Option<Value>) -> Value {
        let mut d = Map::new();
        d.insert("unit".into(), json!(self.unit));
        if let Some(decimals) = self.decimals {
            d.insert("decimals".into(), json!(decimals));
        }
        if let Some(min) = self.min {
            d.insert("min".into(), json!(min));
        }
        if let Some(max) = self.max {
            d.insert("max".into(), json!(max));
        }
        d.insert("thresholds".into(), thresholds(&self.steps));
        d.insert("color".into(), json!({"mode": color_mode}));
        d.insert("mappings".into(), json!([]));
        if let Some(text) = &self.no_value {
            d.insert("noValue".into(), json!(text));
        }
        if let Some(custom) = custom {
            d.insert("custom".into(), custom);
        }
        Value::Object(d)
    }
}

/// How a time series panel draws its threshold steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ThresholdLines {
    /// Not drawn (they still color nothing: series use the palette).
    Off,
    /// Dashed lines at each step: objectives and burn factors to compare series against.
    Dashed,
}

/// A time series panel. Series take palette colors; thresholds only draw lines.
pub(super) fn timeseries(
    title: &str,
    description: &str,
    targets: Vec<Value>,
    field: &Field,
    lines: ThresholdLines,
    axis_label: &str,
) -> Value {
    let custom = json!({
        "axisBorderShow": false,
        "axisCenteredZero": false,
        "axisColorMode": "text",
        "axisLabel": axis_label,
        "axisPlacement": "auto",
        "barAlignment": 0,
        "drawStyle": "line",
        "fillOpacity": 10,
        "gradientMode": "none",
        "hideFrom": {"legend": false, "tooltip": false, "viz": false},
        "insertNulls": false,
        "lineInterpolation": "linear",
        "lineWidth": 1,
        "pointSize": 4,
        "scaleDistribution": {"type": "linear"},
        "showPoints": "never",
        "spanNulls": false,
        "stacking": {"group": "A", "mode": "none"},
        "thresholdsStyle": {"mode": match lines {
            ThresholdLines::Off => "off",
            ThresholdLines::Dashed => "dashed",
        }},
    });
    json!({
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": datasource(),
        "targets": targets,
        "fieldConfig": {
            "defaults": field.defaults("palette-classic", Some(custom)),
            "overrides": [],
        },
        "options": {
            "legend": {
                "calcs": ["lastNotNull", "min", "max"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": true,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    })
}

/// How a stat panel shows its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatLook {
    /// The value colored by thresholds, with a sparkline of the range behind it.
    ValueWithTrend,
    /// The background colored by thresholds, value and series name, no sparkline: states.
    State,
}

/// A stat panel reducing each series to its last value.
pub(super) fn stat(
    title: &str,
    description: &str,
    targets: Vec<Value>,
    field: &Field,
    look: StatLook,
) -> Value {
    let (graph, color, text) = match look {
        StatLook::ValueWithTrend => ("area", "value", "auto"),
        StatLook::State => ("none", "background", "value_and_name"),
    };
    json!({
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": datasource(),
        "targets": targets,
        "fieldConfig": {
            "defaults": field.defaults("thresholds", None),
            "overrides": [],
        },
        "options": {
            "colorMode": color,
            "graphMode": graph,
            "justifyMode": "auto",
            "orientation": "auto",
            "percentChangeColorMode": "standard",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
            "showPercentChange": false,
            "textMode": text,
            "wideLayout": true,
        },
    })
}

/// A column override: thresholds for the named columns of a table. The reference schema only
/// accepts object values in overrides, so columns are matched with `byNames` (whose options
/// are an object) and only object-valued properties (thresholds) are overridden.
pub(super) fn column_thresholds(columns: &[&str], steps: &[Step]) -> Value {
    json!({
        "matcher": {"id": "byNames", "options": {"mode": "include", "names": columns}},
        "properties": [{"id": "thresholds", "value": thresholds(steps)}],
    })
}

/// A table panel whose cells are colored by thresholds (text color), sorted by a column.
pub(super) fn table(
    title: &str,
    description: &str,
    targets: Vec<Value>,
    transformations: Vec<Value>,
    field: &Field,
    overrides: Vec<Value>,
    sort_by: Option<(&str, bool)>,
) -> Value {
    // `displayMode` rather than `cellOptions`: the reference schema's `cellOptions` is a
    // `oneOf` that any `{type: ...}` object matches more than once, and Grafana migrates
    // `displayMode` into `cellOptions` on load.
    let custom = json!({
        "align": "auto",
        "displayMode": "color-text",
        "filterable": false,
        "inspect": false,
    });
    let sort_by: Vec<Value> = sort_by
        .map(|(name, desc)| json!({"displayName": name, "desc": desc}))
        .into_iter()
        .collect();
    json!({
        "type": "table",
        "title": title,
        "description": description,
        "datasource": datasource(),
        "targets": targets,
        "transformations": transformations,
        "fieldConfig": {
            "defaults": field.defaults("thresholds", Some(custom)),
            "overrides": overrides,
        },
        "options": {
            "cellHeight": "sm",
            "footer": {"countRows": false, "reducer": ["sum"], "show": false},
            "frameIndex": 0,
            "showHeader": true,
            "sortBy": sort_by,
        },
    })
}

/// Places panels on Grafana's 24-column grid, top to bottom, and numbers them.
#[derive(Debug, Default)]
pub(super) struct Layout {
    /// The panels placed so far, rows included, in display order.
    panels: Vec<Value>,
    /// The next free grid line.
    y: u32,
    /// The last panel id used (ids must be unique within a dashboard).
    id: u32,
}

impl Layout {
    /// An expanded row: its panels follow it at the top level, as Grafana stores them.
    pub fn row(&mut self, title: &str) {
        self.id += 1;
        self.panels.push(json!({
            "type": "row",
            "id": self.id,
            "title": title,
            "collapsed": false,
            "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
        }));
        self.y += 1;
    }

    /// One line of panels of the given height, each `(width, panel)`, left to right.
    pub fn line(&mut self, height: u32, panels: Vec<(u32, Value)>) {
        let mut x = 0;
        for (width, mut panel) in panels {
            self.id += 1;
            if let Value::Object(p) = &mut panel {
                p.insert("id".into(), json!(self.id));
                p.insert(
                    "gridPos".into(),
                    json!({"h": height, "w": width, "x": x, "y": self.y}),
                );
            }
            self.panels.push(panel);
            x += width;
        }
        self.y += height;
    }

    /// The placed panels.
    pub fn finish(self) -> Vec<Value> {
        self.panels
    }
}
