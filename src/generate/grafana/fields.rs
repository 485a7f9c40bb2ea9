//! Panel options and field configs as typed values: thresholds, the `custom` field config of
//! time series and tables, column overrides, and the options of each panel type.
//!
//! As in [`super::model`], fields are declared in byte order of their JSON names (serde_json's
//! key order for a `Value`), so the written files do not change.

use serde::Serialize;

/// A panel's field config: defaults for every field, overrides for some.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct FieldConfig {
    /// What every field of the panel uses.
    pub defaults: FieldDefaults,
    /// Per-column settings (tables only).
    pub overrides: Vec<Override>,
}

/// The field defaults a panel shows its values with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FieldDefaults {
    /// Color scheme: `palette-classic` for series, `thresholds` for stats and tables.
    pub color: Mode,
    /// Options of the panel type's own (stat defines none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom>,
    /// Decimals shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// Always empty: no value mappings.
    pub mappings: [(); 0],
    /// Fixed axis maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Fixed axis minimum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Text shown when the query returns nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_value: Option<String>,
    /// Threshold steps.
    pub thresholds: Thresholds,
    /// Grafana unit id.
    pub unit: &'static str,
}

/// `{"mode": ...}`: the shape of several one-key options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Mode {
    /// The mode.
    pub mode: &'static str,
}

/// The `custom` field config of a panel type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(super) enum Custom {
    /// Of a time series.
    Timeseries(TimeseriesCustom),
    /// Of a table.
    Table(TableCustom),
}

/// How a time series draws its lines. Every option the reference schema requires is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TimeseriesCustom {
    /// No border along the axis.
    pub axis_border_show: bool,
    /// Zero is not centered.
    pub axis_centered_zero: bool,
    /// Axis drawn in the text color.
    pub axis_color_mode: &'static str,
    /// Axis label (empty for none).
    pub axis_label: &'static str,
    /// Axis side chosen by Grafana.
    pub axis_placement: &'static str,
    /// Bars (unused) centered.
    pub bar_alignment: i32,
    /// Lines.
    pub draw_style: &'static str,
    /// Light fill under lines.
    pub fill_opacity: u32,
    /// No gradient.
    pub gradient_mode: &'static str,
    /// Series hidden nowhere.
    pub hide_from: HideFrom,
    /// Gaps left as they are.
    pub insert_nulls: bool,
    /// Straight lines between samples.
    pub line_interpolation: &'static str,
    /// Thin lines.
    pub line_width: u32,
    /// Point size, when shown.
    pub point_size: u32,
    /// Linear scale.
    pub scale_distribution: Kind,
    /// Points never drawn.
    pub show_points: &'static str,
    /// Gaps not bridged: missing data shows as missing.
    pub span_nulls: bool,
    /// Series not stacked.
    pub stacking: Stacking,
    /// How threshold steps are drawn (`off`, `dashed`).
    pub thresholds_style: Mode,
}

impl TimeseriesCustom {
    /// Lines in palette colors, thresholds drawn as `thresholds_style` says.
    pub fn lines(axis_label: &'static str, thresholds_style: &'static str) -> Self {
        TimeseriesCustom {
            axis_border_show: false,
            axis_centered_zero: false,
            axis_color_mode: "text",
            axis_label,
            axis_placement: "auto",
            bar_alignment: 0,
            draw_style: "line",
            fill_opacity: 10,
            gradient_mode: "none",
            hide_from: HideFrom {
                legend: false,
                tooltip: false,
                viz: false,
            },
            insert_nulls: false,
            line_interpolation: "linear",
            line_width: 1,
            point_size: 4,
            scale_distribution: Kind { kind: "linear" },
            show_points: "never",
            span_nulls: false,
            stacking: Stacking {
                group: "A",
                mode: "none",
            },
            thresholds_style: Mode {
                mode: thresholds_style,
            },
        }
    }
}

/// Where a series is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct HideFrom {
    /// From the legend.
    pub legend: bool,
    /// From the tooltip.
    pub tooltip: bool,
    /// From the graph.
    pub viz: bool,
}

/// `{"type": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Kind {
    /// The type.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// How series stack.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Stacking {
    /// Stacking group.
    pub group: &'static str,
    /// `none`: not stacked.
    pub mode: &'static str,
}

/// How a table shows its cells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TableCustom {
    /// Cell alignment.
    pub align: &'static str,
    /// `color-text`: cells colored by thresholds. Not `cellOptions`: the reference schema's
    /// `cellOptions` is a `oneOf` that any `{type: ...}` object matches more than once, and
    /// Grafana migrates `displayMode` into `cellOptions` on load.
    pub display_mode: &'static str,
    /// No column filters.
    pub filterable: bool,
    /// No cell inspection.
    pub inspect: bool,
}

/// Absolute thresholds, base first then ascending.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Thresholds {
    /// `absolute`.
    pub mode: &'static str,
    /// The steps.
    pub steps: Vec<Step>,
}

/// One threshold step: from `value` upwards (`None` is the base, -Infinity) use `color`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Step {
    /// A Grafana color name.
    pub color: &'static str,
    /// Lower bound of the step; `None` (null) for the base step.
    pub value: Option<f64>,
}

/// A column override: thresholds for the named columns of a table. The reference schema only
/// accepts object values in overrides, so columns are matched with `byNames` (whose options
/// are an object) and only object-valued properties (thresholds) are overridden.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Override {
    /// Which columns.
    pub matcher: Matcher,
    /// What changes for them.
    pub properties: [Property; 1],
}

/// Columns matched by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Matcher {
    /// `byNames`.
    pub id: &'static str,
    /// The names.
    pub options: Names,
}

/// The columns a `byNames` matcher includes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Names {
    /// `include`.
    pub mode: &'static str,
    /// Column names.
    pub names: Vec<&'static str>,
}

/// An overridden property.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Property {
    /// `thresholds`.
    pub id: &'static str,
    /// The columns' thresholds.
    pub value: Thresholds,
}

/// The options of a panel, by type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(super) enum Options {
    /// Of a time series.
    Timeseries(TimeseriesOptions),
    /// Of a stat.
    Stat(StatOptions),
    /// Of a table.
    Table(TableOptions),
}

/// A time series' legend and tooltip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct TimeseriesOptions {
    /// The legend.
    pub legend: Legend,
    /// The tooltip.
    pub tooltip: Tooltip,
}

/// A legend table with the last, lowest and highest value of each series.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Legend {
    /// Values shown per series.
    pub calcs: [&'static str; 3],
    /// `table`.
    pub display_mode: &'static str,
    /// Below the graph.
    pub placement: &'static str,
    /// Shown.
    pub show_legend: bool,
}

/// A tooltip listing every series, highest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Tooltip {
    /// `multi`: every series.
    pub mode: &'static str,
    /// `desc`: highest first.
    pub sort: &'static str,
}

/// How a stat panel shows its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatOptions {
    /// What thresholds color (`value`, `background`).
    pub color_mode: &'static str,
    /// Sparkline (`area`) or none.
    pub graph_mode: &'static str,
    /// Layout chosen by Grafana.
    pub justify_mode: &'static str,
    /// Orientation chosen by Grafana.
    pub orientation: &'static str,
    /// Percent change colors (unused).
    pub percent_change_color_mode: &'static str,
    /// Each series reduced to its last value.
    pub reduce_options: ReduceOptions,
    /// No percent change.
    pub show_percent_change: bool,
    /// What text shows (`auto`, `value_and_name`).
    pub text_mode: &'static str,
    /// Wide layout.
    pub wide_layout: bool,
}

/// How a stat reduces a series to one value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct ReduceOptions {
    /// The reducer.
    pub calcs: [&'static str; 1],
    /// Every numeric field.
    pub fields: &'static str,
    /// Reduced, not every value.
    pub values: bool,
}

/// How a table shows its rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TableOptions {
    /// Small cells.
    pub cell_height: &'static str,
    /// No footer.
    pub footer: Footer,
    /// The first frame (after the merge, the only one).
    pub frame_index: u32,
    /// Column headers shown.
    pub show_header: bool,
    /// Initial sort (at most one column).
    pub sort_by: Vec<SortBy>,
}

/// A table footer (hidden).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Footer {
    /// No row count.
    pub count_rows: bool,
    /// Reducer, if shown.
    pub reducer: [&'static str; 1],
    /// Hidden.
    pub show: bool,
}

/// A column a table is sorted by.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SortBy {
    /// Descending.
    pub desc: bool,
    /// Column name.
    pub display_name: &'static str,
}
