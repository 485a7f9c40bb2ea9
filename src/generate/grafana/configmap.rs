//! Dashboards as ConfigMaps for the Grafana sidecar (kube-prometheus-stack's
//! `grafana.sidecar.dashboards`): the sidecar loads every ConfigMap labelled
//! `grafana_dashboard: "1"` (its default label) into Grafana, one file per `data` key. For
//! teams whose Grafana is not run by the Grafana Operator.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::generate::rules::K8sMetadata;

use super::{Dashboard, dashboard_json};
use crate::spec::KubernetesMetadata;

/// The label (and value) the sidecar selects ConfigMaps by, as kube-prometheus-stack sets it.
pub const SIDECAR_LABEL: (&str, &str) = ("grafana_dashboard", "1");

/// A `v1` ConfigMap holding one dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardConfigMap {
    api_version: &'static str,
    kind: &'static str,
    metadata: K8sMetadata,
    data: BTreeMap<String, String>,
}

/// The ConfigMap `name` holding `dashboard` as `<stem>.json`, with the settings' namespace,
/// labels and annotations (the sidecar label and slogate's own win a clash).
pub fn dashboard_config_map(
    name: &str,
    stem: &str,
    dashboard: &Dashboard,
    settings: &KubernetesMetadata,
) -> DashboardConfigMap {
    let mut labels = settings.labels.clone();
    labels.insert(SIDECAR_LABEL.0.to_string(), SIDECAR_LABEL.1.to_string());
    labels.insert(
        "app.kubernetes.io/managed-by".to_string(),
        "slogate".to_string(),
    );
    DashboardConfigMap {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: K8sMetadata {
            name: name.to_string(),
            namespace: settings.namespace.clone(),
            labels,
            annotations: settings.annotations.clone(),
        },
        data: BTreeMap::from([(format!("{stem}.json"), dashboard_json(dashboard))]),
    }
}
