//! The Argo Rollouts `argoproj.io/v1alpha1` AnalysisTemplate fields slogate writes, named as
//! Argo names them (camelCase); unset optional fields are left out.

use std::collections::BTreeMap;

use serde::Serialize;

/// An `argoproj.io/v1alpha1` AnalysisTemplate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplate {
    /// Always [`API_VERSION`](super::API_VERSION).
    pub api_version: &'static str,
    /// Always [`KIND`](super::KIND).
    pub kind: &'static str,
    /// Name, labels and the annotation explaining verdicts.
    pub metadata: ObjectMeta,
    /// Args and metrics.
    pub spec: AnalysisTemplateSpec,
}

impl AnalysisTemplate {
    /// The file name under [`DIR`](super::DIR): the template's name with `.yaml`.
    pub fn file_name(&self) -> String {
        format!("{}.yaml", self.metadata.name)
    }
}

/// Kubernetes object metadata of a template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectMeta {
    /// The name Rollouts refer to (`templateName`).
    pub name: String,
    /// Who manages the object and which service it gates, for `kubectl -l`.
    pub labels: BTreeMap<String, String>,
    /// Notes for people reading the object in the cluster.
    pub annotations: BTreeMap<String, String>,
}

/// What an AnalysisRun made from the template does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisTemplateSpec {
    /// Inputs: given by the Rollout, or read from a Secret.
    pub args: Vec<Argument>,
    /// The measurements.
    pub metrics: Vec<Metric>,
}

/// One template argument, referred to as `{{args.<name>}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    /// The argument's name.
    pub name: String,
    /// Its default, used when the Rollout gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where the value comes from when the Rollout does not give it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
}

/// A value read at analysis time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueFrom {
    /// A key of a Secret in the Rollout's namespace.
    pub secret_key_ref: SecretKeyRef,
}

/// A key of a Kubernetes Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key within the Secret.
    pub key: String,
}

/// One metric: how often to measure and how to judge a measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// The metric's name, shown in the AnalysisRun.
    pub name: String,
    /// Time between measurements (Go duration); absent for a single measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Wait before the first measurement (Go duration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<String>,
    /// How many measurements.
    pub count: u32,
    /// Failed measurements tolerated before the metric fails.
    pub failure_limit: u32,
    /// Inconclusive measurements tolerated before the metric is Inconclusive (and the
    /// rollout pauses).
    pub inconclusive_limit: u32,
    /// Consecutive errored measurements (slogate unreachable) tolerated before the run errs
    /// and the rollout aborts; absent means Argo's default of 4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_error_limit: Option<u32>,
    /// A measurement is Successful when this holds.
    pub success_condition: String,
    /// A measurement is Failed when this holds.
    pub failure_condition: String,
    /// Where the measurement comes from.
    pub provider: MetricProvider,
}

/// A metric's provider: always the web provider here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricProvider {
    /// An HTTP call whose JSON answer is the measurement.
    pub web: WebMetric,
}

/// Argo's `web` metric provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebMetric {
    /// HTTP method.
    pub method: &'static str,
    /// The gate's URL.
    pub url: String,
    /// Request headers (content type, bearer token).
    pub headers: Vec<WebMetricHeader>,
    /// The JSON request body, with `{{args.*}}` placeholders Argo fills in. A string rather
    /// than `jsonBody`, which only recent Argo Rollouts releases know.
    pub body: String,
    /// Request timeout.
    pub timeout_seconds: u32,
    /// What of the answer becomes `result`: the whole verdict.
    pub json_path: &'static str,
}

/// One HTTP header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebMetricHeader {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: String,
}
