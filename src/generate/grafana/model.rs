//! The dashboard JSON model as typed values: the dashboard, its annotations, variables, rows,
//! panels and targets. Panel options and field configs are in [`super::fields`].
//!
//! Dashboards used to be `serde_json::Value` trees: a dashboard of ten SLOs was some 20,000
//! small allocations (every key a `String`, every object a `BTreeMap`) built only to be
//! written out. These structs hold just what varies; fixed strings are `&'static str`, and
//! serde writes them straight into the file's buffer.
//!
//! Field order is the key order of the JSON. Every struct declares its fields in byte order
//! of their JSON names, the order serde_json gives a `Value`'s keys: the files stay
//! byte-identical to those written from `Value`s, so regenerating never shows a diff that
//! only moves keys. `tests/grafana_dashboards.rs` checks every dashboard against its own
//! `Value` round trip.

use serde::Serialize;

use super::fields::{FieldConfig, Options};

/// A Grafana dashboard (JSON model, schemaVersion 42), ready to serialise.
///
/// Build it with [`super::service_dashboard`] or [`super::overview_dashboard`]; serialise it
/// with serde (`serde_json::to_value` gives the `Value` to inspect it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Grafana's built-in annotation, then (on service dashboards) when SLO alerts fired.
    pub(super) annotations: List<Annotation>,
    /// What the dashboard shows; it carries the generated mark (JSON has no comments).
    pub(super) description: String,
    /// Always false: edits are overwritten by the next generation.
    pub(super) editable: bool,
    /// 0: periods start in January.
    pub(super) fiscal_year_start_month: u32,
    /// 1: a shared crosshair, so the SLI and burn panels of a row line up in time.
    pub(super) graph_tooltip: u32,
    /// Always `None` (null): Grafana assigns database ids; the uid identifies the dashboard.
    pub(super) id: Option<u32>,
    /// Links to the other slogate dashboards.
    pub(super) links: [Link; 1],
    /// Always false: recorded series change once per evaluation, streaming adds nothing.
    pub(super) live_now: bool,
    /// Rows and panels, top to bottom.
    pub(super) panels: Vec<GridItem>,
    /// Refresh interval.
    pub(super) refresh: &'static str,
    /// [`super::SCHEMA_VERSION`].
    pub(super) schema_version: u32,
    /// [`super::TAGS`]: the links find the other dashboards by them.
    pub(super) tags: [&'static str; 2],
    /// The dashboard's variables.
    pub(super) templating: List<Variable>,
    /// Default time range.
    pub(super) time: TimeRange,
    /// Times shown in the viewer's time zone.
    pub(super) timezone: &'static str,
    /// Dashboard title.
    pub(super) title: String,
    /// Stable uid (see [`super::dashboard_uid`]): links and the operator's `spec.uid` use it.
    pub(super) uid: String,
    /// Empty: the viewer's locale decides.
    pub(super) week_start: &'static str,
}

impl Dashboard {
    /// The dashboard's uid.
    pub fn uid(&self) -> &str {
        &self.uid
    }
}

/// `{"list": [...]}`: how the model wraps annotations and variables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct List<T> {
    /// The items, in display order.
    pub list: Vec<T>,
}

/// A data source reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(super) struct Datasource {
    /// Plugin type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Data source uid, or a variable naming one.
    pub uid: &'static str,
}

/// The dashboard's `datasource` variable: every panel, target and query variable reads
/// through it, so one dashboard works against any Prometheus.
pub(super) const PROMETHEUS: Datasource = Datasource {
    kind: "prometheus",
    uid: "${datasource}",
};

/// An annotation query.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(super) enum Annotation {
    /// Grafana's own annotations and alerts.
    BuiltIn(BuiltInAnnotation),
    /// A Prometheus query whose series mark events.
    Query(QueryAnnotation),
}

/// Grafana's built-in "Annotations & Alerts" entry, which every dashboard carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BuiltInAnnotation {
    /// 1: marks the entry as Grafana's own.
    pub built_in: u32,
    /// Grafana's annotation store.
    pub datasource: Datasource,
    /// Shown.
    pub enable: bool,
    /// Hidden from the annotation toggles.
    pub hide: bool,
    /// Marker color.
    pub icon_color: &'static str,
    /// Toggle name.
    pub name: &'static str,
    /// `dashboard`: annotations made on this dashboard.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl BuiltInAnnotation {
    /// Grafana's default entry.
    pub fn grafana() -> Self {
        BuiltInAnnotation {
            built_in: 1,
            datasource: Datasource {
                kind: "grafana",
                uid: "-- Grafana --",
            },
            enable: true,
            hide: true,
            icon_color: "rgba(0, 211, 255, 1)",
            name: "Annotations & Alerts",
            kind: "dashboard",
        }
    }
}

/// A Prometheus annotation: one marker per series of `expr`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct QueryAnnotation {
    /// Where `expr` runs.
    pub datasource: Datasource,
    /// Shown.
    pub enable: bool,
    /// The query.
    pub expr: String,
    /// Shown among the annotation toggles.
    pub hide: bool,
    /// Marker color.
    pub icon_color: &'static str,
    /// Toggle name.
    pub name: &'static str,
    /// Query resolution.
    pub step: &'static str,
    /// Labels shown as tags, comma-separated.
    pub tag_keys: String,
    /// Marker text, from labels.
    pub text_format: String,
    /// Marker title, from labels.
    pub title_format: String,
    /// Whether the sample value is the event time.
    pub use_value_for_time: bool,
}

/// The link menu to every slogate dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Link {
    /// A dropdown rather than one link per dashboard.
    pub as_dropdown: bool,
    /// Icon name.
    pub icon: &'static str,
    /// Whether variables carry over.
    pub include_vars: bool,
    /// Whether the time range carries over.
    pub keep_time: bool,
    /// Dashboards with these tags are listed.
    pub tags: [&'static str; 1],
    /// Whether links open in a new tab.
    pub target_blank: bool,
    /// Menu title.
    pub title: &'static str,
    /// Menu tooltip.
    pub tooltip: &'static str,
    /// `dashboards`: a list of dashboards by tag.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A time range, in Grafana's relative syntax.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct TimeRange {
    /// Start (`now-7d`).
    pub from: &'static str,
    /// End (`now`).
    pub to: &'static str,
}

/// A dashboard variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(super) enum Variable {
    /// Chooses the data source.
    Datasource(DatasourceVariable),
    /// Takes its values from a query.
    Query(QueryVariable),
}

/// A variable's selected value(s), filled in so the schema and first load see a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Current<T> {
    /// Whether the value was chosen by someone.
    pub selected: bool,
    /// What is shown.
    pub text: T,
    /// What is substituted.
    pub value: T,
}

/// A data source variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DatasourceVariable {
    /// The data source chosen until someone picks one.
    pub current: Current<&'static str>,
    /// 0: shown with its label.
    pub hide: u32,
    /// No "All" entry: a panel reads one data source.
    pub include_all: bool,
    /// Shown name.
    pub label: &'static str,
    /// One data source at a time.
    pub multi: bool,
    /// Variable name (`$datasource`).
    pub name: &'static str,
    /// Always empty: Grafana lists the data sources itself.
    pub options: [(); 0],
    /// Data source plugin type offered.
    pub query: &'static str,
    /// 1: refreshed on load.
    pub refresh: u32,
    /// No filter.
    pub regex: &'static str,
    /// Kept in the URL.
    pub skip_url_sync: bool,
    /// `datasource`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A query variable (label values), multi-valued with "All".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct QueryVariable {
    /// What "All" stands for, when not the list of every value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_value: Option<&'static str>,
    /// "All" until someone picks values.
    pub current: Current<[&'static str; 1]>,
    /// Where the query runs.
    pub datasource: Datasource,
    /// The query as shown in the editor.
    pub definition: String,
    /// 0: shown with its label.
    pub hide: u32,
    /// Offers "All".
    pub include_all: bool,
    /// Shown name.
    pub label: &'static str,
    /// Several values at once.
    pub multi: bool,
    /// Variable name.
    pub name: &'static str,
    /// Always empty: the query fills them.
    pub options: [(); 0],
    /// The query.
    pub query: String,
    /// 2: refreshed when the time range changes.
    pub refresh: u32,
    /// No filter.
    pub regex: &'static str,
    /// Kept in the URL.
    pub skip_url_sync: bool,
    /// 1: values sorted alphabetically.
    pub sort: u32,
    /// `query`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// What sits on the dashboard's grid: a row or a panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(super) enum GridItem {
    /// A row heading the panels after it.
    Row(Row),
    /// A panel.
    Panel(Box<Panel>),
}

/// An expanded row: its panels follow it at the top level, as Grafana stores them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Row {
    /// Always false: expanded.
    pub collapsed: bool,
    /// Position on the grid.
    pub grid_pos: GridPos,
    /// Unique within the dashboard.
    pub id: u32,
    /// Always empty: an expanded row holds no panels.
    pub panels: [(); 0],
    /// Row title.
    pub title: String,
    /// `row`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A panel: what it shows and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Panel {
    /// Where its targets run.
    pub datasource: Datasource,
    /// Panel help text.
    pub description: String,
    /// How values are shown.
    pub field_config: FieldConfig,
    /// Position on the grid, set by the layout.
    pub grid_pos: GridPos,
    /// Unique within the dashboard, set by the layout.
    pub id: u32,
    /// Options of the panel's type.
    pub options: Options,
    /// Its queries.
    pub targets: Vec<Target>,
    /// Panel title (tests and people find panels by it).
    pub title: &'static str,
    /// Table transformations (joins, renames): free-form maps, only on the overview.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transformations: Option<Vec<serde_json::Value>>,
    /// Panel type (`timeseries`, `stat`, `table`).
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A position on Grafana's 24-column grid.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(super) struct GridPos {
    /// Height, in grid lines.
    pub h: u32,
    /// Width, in columns.
    pub w: u32,
    /// Left column.
    pub x: u32,
    /// Top line.
    pub y: u32,
}

/// A Prometheus query of a panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Target {
    /// Where the query runs.
    pub datasource: Datasource,
    /// `code`: the query is shown as written.
    pub editor_mode: &'static str,
    /// The query.
    pub expr: String,
    /// `time_series` or `table`.
    pub format: &'static str,
    /// Evaluated once, at the end of the range.
    pub instant: bool,
    /// Series name, from labels.
    pub legend_format: std::borrow::Cow<'static, str>,
    /// Evaluated over the range.
    pub range: bool,
    /// Id, unique within the panel (`A`, `B`, ...).
    pub ref_id: std::borrow::Cow<'static, str>,
}
