//! The `GrafanaDashboard` resource the Grafana Operator reads, and its YAML.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Dashboard, dashboard_json};
use crate::spec::KubernetesMetadata;

/// A `grafana.integreatly.org/v1beta1` `GrafanaDashboard` resource named `name` holding
/// `dashboard`, for Grafana instances labelled `dashboards: grafana`.
///
/// The model goes in `spec.json` as a string (the CRD's type for it); `spec.uid` pins the
/// dashboard's uid so the operator never invents another one.
pub fn grafana_dashboard_resource(name: &str, dashboard: &Dashboard) -> GrafanaDashboard {
    GrafanaDashboard {
        api_version: "grafana.integreatly.org/v1beta1",
        kind: "GrafanaDashboard",
        metadata: ResourceMetadata {
            annotations: BTreeMap::new(),
            labels: BTreeMap::from([(MANAGED_BY.to_string(), "slogate".to_string())]),
            name: name.to_string(),
            namespace: None,
        },
        spec: DashboardSpec {
            instance_selector: InstanceSelector {
                match_labels: GrafanaLabel {
                    dashboards: "grafana",
                },
            },
            json: dashboard_json(dashboard),
            uid: dashboard.uid.clone(),
        },
    }
}

/// A `GrafanaDashboard` custom resource (Grafana Operator). Fields in byte order of their
/// keys, as the YAML was written when this was a `serde_json::Value`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaDashboard {
    /// `grafana.integreatly.org/v1beta1`.
    api_version: &'static str,
    /// `GrafanaDashboard`.
    kind: &'static str,
    /// Name and labels.
    metadata: ResourceMetadata,
    /// Which Grafana, and the dashboard.
    spec: DashboardSpec,
}

/// The label that marks a resource as slogate's.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// Metadata of a generated resource (fields in byte order of their keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct ResourceMetadata {
    /// From the settings.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    /// `app.kubernetes.io/managed-by: slogate`, and the settings' labels.
    labels: BTreeMap<String, String>,
    /// Object name.
    name: String,
    /// From the settings; `kubectl`'s when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
}

/// The resource's spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct DashboardSpec {
    /// Grafana instances that load the dashboard.
    instance_selector: InstanceSelector,
    /// The dashboard model as JSON text (the CRD's type for it).
    json: String,
    /// The dashboard's uid, which the operator keeps immutable.
    uid: String,
}

/// Selects Grafana instances by label.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceSelector {
    /// Labels the instances carry.
    match_labels: GrafanaLabel,
}

/// `dashboards: grafana`: the label of Grafana instances that take slogate's dashboards.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct GrafanaLabel {
    /// Always `grafana`.
    dashboards: &'static str,
}

impl GrafanaDashboard {
    /// The resource with the settings' namespace, labels and annotations (slogate's label wins
    /// a clash).
    pub fn with_metadata(mut self, settings: &KubernetesMetadata) -> Self {
        let meta = &mut self.metadata;
        meta.namespace.clone_from(&settings.namespace);
        let own = std::mem::replace(&mut meta.labels, settings.labels.clone());
        meta.labels.extend(own);
        meta.annotations.clone_from(&settings.annotations);
        self
    }

    /// Appends the resource as YAML to `out`: the bytes serde-saphyr writes for it with the
    /// writer's options (block scalars preferred), and `true`. Returns `false` and writes
    /// nothing when serde-saphyr would write a value otherwise than plain or as a literal
    /// block (a name it would quote, a character a block cannot hold): the caller then
    /// serialises with serde-saphyr.
    ///
    /// Why not always serde-saphyr: it checks and copies the 200 kB of JSON a service's
    /// dashboard holds character by character, 0.55 s for 1,000 dashboards on one core
    /// (0.1 s here). The shape here is fixed; the test
    /// `every_dashboard_resource_is_written_as_serde_saphyr_writes_it` holds the bytes equal.
    pub fn write_yaml(&self, out: &mut String) -> bool {
        // Plain for certain: no keyword, number or indicator starts with these prefixes,
        // and the rest holds no space, `:` or `#`.
        let name_plain =
            self.metadata.name.starts_with("slo-")
                && self.metadata.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
        let uid_plain = self.spec.uid.starts_with("slogate-")
            && self
                .spec
                .uid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        // A literal block without indentation or chomping indicators: several lines, the
        // first not indented, no final line break, every character one a block can hold.
        let json = &self.spec.json;
        let json_literal = json.starts_with('{')
            && json.contains('\n')
            && !json.ends_with('\n')
            && block_safe_text(json);
        // Metadata beyond slogate's own label goes through serde-saphyr.
        let meta = &self.metadata;
        let plain_meta =
            meta.annotations.is_empty() && meta.namespace.is_none() && meta.labels.len() == 1;
        if !(name_plain && uid_plain && json_literal && plain_meta) {
            return false;
        }
        out.reserve(json.len() + json.len() / 4 + 512);
        for line in [
            "apiVersion: ",
            self.api_version,
            "\nkind: ",
            self.kind,
            "\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: ",
            &self.metadata.labels[MANAGED_BY],
            "\n  name: ",
            &self.metadata.name,
            "\nspec:\n  instanceSelector:\n    matchLabels:\n      dashboards: ",
            self.spec.instance_selector.match_labels.dashboards,
            "\n  json: |-\n",
        ] {
            out.push_str(line);
        }
        for line in json.split('\n') {
            // As serde-saphyr writes block lines: empty ones without indentation.
            if !line.is_empty() {
                out.push_str("    ");
                out.push_str(line);
            }
            out.push('\n');
        }
        out.push_str("  uid: ");
        out.push_str(&self.spec.uid);
        out.push('\n');
        true
    }
}

/// Whether every character of `text` is [`block_safe`].
fn block_safe_text(text: &str) -> bool {
    if text.is_ascii() {
        // Without an early exit, so the loop is vectorised: the text is some 200 kB.
        let printable = |b: u8| (b' '..=b'~').contains(&b) | (b == b'\n') | (b == b'\t');
        text.bytes().fold(true, |all, b| all & printable(b))
    } else {
        text.chars().all(block_safe)
    }
}

/// Whether serde-saphyr writes `c` as itself in a block scalar (its
/// `is_block_scalar_content_safe`): printable, and not a line or paragraph separator or BOM.
fn block_safe(c: char) -> bool {
    match c {
        '\n' | '\t' => true,
        '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' => false,
        c => matches!(
            c as u32,
            0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x0010_FFFF
        ),
    }
}
