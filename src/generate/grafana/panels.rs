//! Building blocks of Grafana panels: layout, Prometheus targets, thresholds and the options
//! of the four panel types slogate uses (timeseries, stat and table).
//!
//! Every builder emits the strict subset the reference schemas accept (Grafana foundation SDK,
//! schemaVersion 42): every required option key is written out, and nothing the schemas would
//! reject (overrides with non-object values, `cellOptions` whose `oneOf` matches several
//! variants) is used, so the same JSON loads in Grafana and validates in tests.

use std::borrow::Cow;

use super::fields::{
    Custom, FieldConfig, FieldDefaults, Footer, Legend, Matcher, Mode, Names, Options, Override,
    Property, ReduceOptions, SortBy, StatOptions, Step, TableCustom, TableOptions, Thresholds,
    TimeseriesCustom, TimeseriesOptions, Tooltip,
};
use super::model::{GridItem, GridPos, PROMETHEUS, Panel, Row, Target};

/// A Prometheus query over the dashboard's range (one series per label set over time).
pub(super) fn range_target(
    ref_id: impl Into<Cow<'static, str>>,
    expr: String,
    legend: impl Into<Cow<'static, str>>,
) -> Target {
    target(ref_id.into(), expr, "time_series", false, legend.into())
}

/// A Prometheus query evaluated once, at the end of the range: for "now" values such as
/// firing alerts, which must not show a value that was true earlier in the range.
pub(super) fn instant_target(
    ref_id: impl Into<Cow<'static, str>>,
    expr: String,
    legend: impl Into<Cow<'static, str>>,
) -> Target {
    target(ref_id.into(), expr, "time_series", true, legend.into())
}

/// An instant query returned as a table (one row per label set, labels as columns), for
/// table panels that join several queries by their labels.
pub(super) fn table_target(ref_id: &'static str, expr: String) -> Target {
    target(ref_id.into(), expr, "table", true, "__auto".into())
}

fn target(
    ref_id: Cow<'static, str>,
    expr: String,
    format: &'static str,
    instant: bool,
    legend_format: Cow<'static, str>,
) -> Target {
    Target {
        datasource: PROMETHEUS,
        editor_mode: "code",
        expr,
        format,
        instant,
        legend_format,
        range: !instant,
        ref_id,
    }
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
pub(super) fn thresholds(steps: &[Step]) -> Thresholds {
    let mut steps = steps.to_vec();
    steps.sort_by(|a, b| match (a.value, b.value) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(a), Some(b)) => a.total_cmp(&b),
    });
    Thresholds {
        mode: "absolute",
        steps,
    }
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

    fn defaults(&self, color_mode: &'static str, custom: Option<Custom>) -> FieldDefaults {
        FieldDefaults {
            color: Mode { mode: color_mode },
            custom,
            decimals: self.decimals,
            mappings: [],
            max: self.max,
            min: self.min,
            no_value: self.no_value.clone(),
            thresholds: thresholds(&self.steps),
            unit: self.unit,
        }
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
    title: &'static str,
    description: String,
    targets: Vec<Target>,
    field: &Field,
    lines: ThresholdLines,
    axis_label: &'static str,
) -> Panel {
    let style = match lines {
        ThresholdLines::Off => "off",
        ThresholdLines::Dashed => "dashed",
    };
    let custom = Custom::Timeseries(TimeseriesCustom::lines(axis_label, style));
    panel(
        "timeseries",
        title,
        description,
        targets,
        field.defaults("palette-classic", Some(custom)),
        Vec::new(),
        Options::Timeseries(TimeseriesOptions {
            legend: Legend {
                calcs: ["lastNotNull", "min", "max"],
                display_mode: "table",
                placement: "bottom",
                show_legend: true,
            },
            tooltip: Tooltip {
                mode: "multi",
                sort: "desc",
            },
        }),
    )
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
    title: &'static str,
    description: String,
    targets: Vec<Target>,
    field: &Field,
    look: StatLook,
) -> Panel {
    let (graph_mode, color_mode, text_mode) = match look {
        StatLook::ValueWithTrend => ("area", "value", "auto"),
        StatLook::State => ("none", "background", "value_and_name"),
    };
    panel(
        "stat",
        title,
        description,
        targets,
        field.defaults("thresholds", None),
        Vec::new(),
        Options::Stat(StatOptions {
            color_mode,
            graph_mode,
            justify_mode: "auto",
            orientation: "auto",
            percent_change_color_mode: "standard",
            reduce_options: ReduceOptions {
                calcs: ["lastNotNull"],
                fields: "",
                values: false,
            },
            show_percent_change: false,
            text_mode,
            wide_layout: true,
        }),
    )
}

/// Thresholds for the named columns of a table (see [`Override`] for why only these).
pub(super) fn column_thresholds(columns: &[&'static str], steps: &[Step]) -> Override {
    Override {
        matcher: Matcher {
            id: "byNames",
            options: Names {
                mode: "include",
                names: columns.to_vec(),
            },
        },
        properties: [Property {
            id: "thresholds",
            value: thresholds(steps),
        }],
    }
}

/// A table panel whose cells are colored by thresholds (text color), sorted by a column.
pub(super) fn table(
    title: &'static str,
    description: String,
    targets: Vec<Target>,
    transformations: Vec<serde_json::Value>,
    field: &Field,
    overrides: Vec<Override>,
    sort_by: Option<(&'static str, bool)>,
) -> Panel {
    let custom = Custom::Table(TableCustom {
        align: "auto",
        display_mode: "color-text",
        filterable: false,
        inspect: false,
    });
    let mut table = panel(
        "table",
        title,
        description,
        targets,
        field.defaults("thresholds", Some(custom)),
        overrides,
        Options::Table(TableOptions {
            cell_height: "sm",
            footer: Footer {
                count_rows: false,
                reducer: ["sum"],
                show: false,
            },
            frame_index: 0,
            show_header: true,
            sort_by: sort_by
                .map(|(display_name, desc)| SortBy { desc, display_name })
                .into_iter()
                .collect(),
        }),
    );
    table.transformations = Some(transformations);
    table
}

/// A panel reading the dashboard's data source, not yet placed (see [`Layout`]).
fn panel(
    kind: &'static str,
    title: &'static str,
    description: String,
    targets: Vec<Target>,
    defaults: FieldDefaults,
    overrides: Vec<Override>,
    options: Options,
) -> Panel {
    Panel {
        datasource: PROMETHEUS,
        description,
        field_config: FieldConfig {
            defaults,
            overrides,
        },
        grid_pos: GridPos::default(),
        id: 0,
        options,
        targets,
        title,
        transformations: None,
        kind,
    }
}

/// Places panels on Grafana's 24-column grid, top to bottom, and numbers them.
#[derive(Debug, Default)]
pub(super) struct Layout {
    /// The panels placed so far, rows included, in display order.
    panels: Vec<GridItem>,
    /// The next free grid line.
    y: u32,
    /// The last panel id used (ids must be unique within a dashboard).
    id: u32,
}

impl Layout {
    /// An expanded row: its panels follow it at the top level, as Grafana stores them.
    pub fn row(&mut self, title: String) {
        self.id += 1;
        self.panels.push(GridItem::Row(Row {
            collapsed: false,
            grid_pos: GridPos {
                h: 1,
                w: 24,
                x: 0,
                y: self.y,
            },
            id: self.id,
            panels: [],
            title,
            kind: "row",
        }));
        self.y += 1;
    }

    /// One line of panels of the given height, each `(width, panel)`, left to right.
    pub fn line<const N: usize>(&mut self, height: u32, panels: [(u32, Panel); N]) {
        let mut x = 0;
        for (width, mut panel) in panels {
            self.id += 1;
            panel.id = self.id;
            panel.grid_pos = GridPos {
                h: height,
                w: width,
                x,
                y: self.y,
            };
            self.panels.push(GridItem::Panel(Box::new(panel)));
            x += width;
        }
        self.y += height;
    }

    /// The placed panels.
    pub fn finish(self) -> Vec<GridItem> {
        self.panels
    }
}
