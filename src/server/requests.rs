//! Gate requests as received, and their checks: every refusal names the request field.
//!
//! Values that reach PromQL (the versions) are added to queries through the syntax tree, which
//! escapes them; they are also held to the characters a version label can carry, so an
//! injection attempt is refused with a 400 before any query is built, and nothing is stored.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::evaluate::canary::{BaselineSpan, CanaryRequest};
use crate::spec::{CanaryProfile, Catalog, PromDuration, ServiceLevels};

/// Longest analysis window a canary gate accepts.
pub(super) const MAX_WINDOW_SECS: i64 = 24 * 3600;
/// Shortest analysis window (one scrape or two).
pub(super) const MIN_WINDOW_SECS: i64 = 60;
/// How far past the server's clock a window may end (the caller's clock may run ahead).
pub(super) const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// Parses a JSON body; the error names the line, column and field serde stopped at.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::body(
            "the request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::body(format!("request body: {e}")))
}

/// `POST /api/v1/gates/canary`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryBody {
    /// The service, as its definitions name it.
    pub service: String,
    /// The baseline (stable) version.
    pub baseline: VersionRef,
    /// The canary version.
    pub canary: VersionRef,
    /// How far back from now to look (default: the profile's lookback).
    #[serde(default)]
    pub lookback: Option<String>,
    /// An explicit window instead of a lookback.
    #[serde(default)]
    pub window: Option<WindowBody>,
    /// Adjustments of the service's canary profile for this request (they may only tighten it).
    #[serde(default)]
    pub profile: Option<ProfileOverride>,
    /// `"final": true`: the caller's last ask of this analysis. Evidence that contradicts
    /// itself (all the data tested once say regression, the anytime-valid test does not) is
    /// then inconclusive, for a person to look at, rather than a pass.
    #[serde(default, rename = "final")]
    pub last: bool,
}

/// `{"version": "..."}`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRef {
    /// Value of the profile's version label (e.g. the pod-template hash).
    pub version: String,
}

/// `{"start": ..., "end": ...}`: RFC 3339 or unix seconds.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowBody {
    /// Start of the window.
    pub start: String,
    /// End of the window.
    pub end: String,
}

/// A request's adjustments of the canary profile: stricter thresholds, or a subset of its
/// metrics that keeps every critical one. They may only tighten: a request can neither pass
/// what the definitions would fail nor drop the metrics that decide. Metric definitions
/// themselves only come from the SLO definitions, so a request cannot make slogate run a query
/// of its own.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileOverride {
    /// Score at or above which the canary passes (0-100).
    #[serde(default)]
    pub pass: Option<f64>,
    /// Score at or above which a non-passing canary is inconclusive rather than failed.
    #[serde(default)]
    pub marginal: Option<f64>,
    /// Only these metrics of the profile, by name: a list, or one comma-separated string
    /// (what an Argo template arg holds), `"*"` meaning all of them.
    #[serde(default)]
    pub metrics: Option<MetricNames>,
}

/// The metrics a request names.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum MetricNames {
    /// `["errors", "latency"]`.
    List(Vec<String>),
    /// `"errors,latency"`, or `"*"` for all.
    Text(String),
}

impl MetricNames {
    /// The names, or `None` for all metrics (`"*"`).
    fn names(&self) -> Option<Vec<String>> {
        match self {
            MetricNames::List(names) => Some(names.clone()),
            MetricNames::Text(text) if text.trim() == "*" => None,
            MetricNames::Text(text) => Some(
                text.split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect(),
            ),
        }
    }
}

/// `POST /api/v1/gates/slo` (and the query string of `GET`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SloBody {
    /// The service.
    pub service: String,
    /// Only this SLO.
    #[serde(default)]
    pub slo: Option<String>,
    /// Evaluation time (default: now).
    #[serde(default)]
    pub at: Option<String>,
}

/// Flagger's webhook payload. Unknown fields are accepted: Flagger adds to it over versions.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct FlaggerBody {
    /// The canary's target name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Flagger's phase (`Progressing`, ...).
    #[serde(default)]
    pub phase: Option<String>,
    /// Flagger's hash of the Canary's tracked configs and last applied spec: which revision
    /// was judged, kept with the verdict's inputs.
    #[serde(default)]
    pub checksum: Option<String>,
    /// The webhook's `metadata` map from the Canary resource (its `token` is taken out before
    /// the body is kept anywhere).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A canary gate ready to run.
#[derive(Debug, Clone)]
pub struct CanaryGate {
    /// The service's definitions.
    pub service: ServiceLevels,
    /// The profile, with the request's adjustments.
    pub profile: CanaryProfile,
    /// Versions and window.
    pub request: CanaryRequest,
}

/// Checks a canary body against the definitions in force.
pub fn canary_gate(
    catalog: &Catalog,
    body: &CanaryBody,
    now: DateTime<Utc>,
) -> Result<CanaryGate, ApiError> {
    let service = known_service(catalog, &body.service)?;
    let mut profile = service.canary.clone().ok_or_else(|| {
        ApiError::field(
            "service",
            format!("{} has no canary profile in its definitions", body.service),
        )
    })?;
    let baseline = version("baseline.version", &body.baseline.version)?;
    let canary = version("canary.version", &body.canary.version)?;
    if baseline == canary {
        return Err(ApiError::field(
            "canary.version",
            "baseline and canary name the same version: there is nothing to compare",
        ));
    }
    let (start, end) = match (&body.window, &body.lookback) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "window",
                "give either window or lookback, not both",
            ));
        }
        (Some(w), None) => {
            let (start, end) = (time("window.start", &w.start)?, time("window.end", &w.end)?);
            // A window in the future would move the sequential test's next look past every
            // ask to come, freezing it; a minute of clock skew is allowed.
            if end > now.timestamp() + MAX_CLOCK_SKEW_SECS {
                return Err(ApiError::field(
                    "window.end",
                    format!(
                        "{} is in the future; an analysis judges data already seen",
                        w.end
                    ),
                ));
            }
            (start, end)
        }
        (None, lookback) => {
            let span = match lookback {
                Some(text) => PromDuration::parse(text)
                    .map_err(|e| ApiError::field("lookback", format!("{text:?}: {e}")))?,
                None => profile.lookback,
            };
            let end = now.timestamp();
            let secs = i64::try_from(span.as_secs()).unwrap_or(i64::MAX);
            (end.saturating_sub(secs), end)
        }
    };
    // Both ends are within 1970..=9999 (see `time`), so the difference cannot overflow.
    let span = end - start;
    if !(MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&span) {
        return Err(ApiError::field(
            if body.window.is_some() {
                "window"
            } else {
                "lookback"
            },
            format!("the window is {span}s long; it must be between 1m and 24h"),
        ));
    }
    if let Some(o) = &body.profile {
        apply_override(&mut profile, o)?;
    }
    Ok(CanaryGate {
        service: service.clone(),
        profile,
        request: CanaryRequest {
            baseline,
            canary,
            start,
            end,
            last: body.last,
            baseline_span: BaselineSpan::Same,
        },
    })
}

fn apply_override(profile: &mut CanaryProfile, o: &ProfileOverride) -> Result<(), ApiError> {
    let score = |field: &str, v: f64| {
        if (0.0..=100.0).contains(&v) {
            Ok(v)
        } else {
            Err(ApiError::field(
                field,
                format!("{v} is not a score between 0 and 100"),
            ))
        }
    };
    let tighter = |field: &str, v: f64, defined: f64| {
        if v < defined {
            Err(ApiError::field(
                field,
                format!("{v} is below the definitions' {defined}: a request may only tighten"),
            ))
        } else {
            Ok(v)
        }
    };
    if let Some(pass) = o.pass {
        let pass = score("profile.pass", pass)?;
        profile.pass_score = tighter("profile.pass", pass, profile.pass_score)?;
    }
    if let Some(marginal) = o.marginal {
        let marginal = score("profile.marginal", marginal)?;
        profile.marginal_score = tighter("profile.marginal", marginal, profile.marginal_score)?;
    }
    if profile.marginal_score > profile.pass_score {
        return Err(ApiError::field(
            "profile.marginal",
            format!(
                "marginal {} is above pass {}",
                profile.marginal_score, profile.pass_score
            ),
        ));
    }
    if let Some(names) = o.metrics.as_ref().and_then(MetricNames::names) {
        let names = &names;
        if names.is_empty() {
            return Err(ApiError::field("profile.metrics", "names no metric"));
        }
        for (i, name) in names.iter().enumerate() {
            if !profile.metrics.iter().any(|m| &m.name == name) {
                let known: Vec<&str> = profile.metrics.iter().map(|m| m.name.as_str()).collect();
                return Err(ApiError::field(
                    &format!("profile.metrics[{i}]"),
                    format!(
                        "the profile has no metric {name:?} (it has {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        if let Some(critical) = profile
            .metrics
            .iter()
            .find(|m| m.critical && !names.contains(&m.name))
        {
            return Err(ApiError::field(
                "profile.metrics",
                format!(
                    "leaves out the critical metric {:?}: a request may not drop the metrics \
                     that decide",
                    critical.name
                ),
            ));
        }
        profile.metrics.retain(|m| names.contains(&m.name));
    }
    Ok(())
}

/// Checks an SLO gate body; returns the service and the evaluation time.
pub fn slo_gate<'a>(
    catalog: &'a Catalog,
    body: &SloBody,
    now: DateTime<Utc>,
) -> Result<(&'a ServiceLevels, DateTime<Utc>), ApiError> {
    let service = known_service(catalog, &body.service)?;
    if let Some(slo) = &body.slo
        && !service.slos.iter().any(|s| &s.name == slo)
    {
        return Err(ApiError::not_found(
            "unknown_slo",
            format!("service {} has no SLO {slo:?}", service.service),
        ));
    }
    let at = match &body.at {
        Some(text) => time("at", text)?,
        None => now.timestamp(),
    };
    let at = Utc
        .timestamp_opt(at, 0)
        .single()
        .ok_or_else(|| ApiError::field("at", "out of range"))?;
    Ok((service, at))
}

/// A service of the catalog, or 404 naming it.
pub fn known_service<'a>(catalog: &'a Catalog, name: &str) -> Result<&'a ServiceLevels, ApiError> {
    if name.is_empty() {
        return Err(ApiError::field("service", "is empty"));
    }
    catalog.service(name).ok_or_else(|| {
        let shown: String = name.chars().take(64).collect();
        ApiError::not_found(
            "unknown_service",
            format!("no service {shown:?} in the SLO definitions"),
        )
    })
}

/// A version label value: the characters of pod-template hashes, image tags and Kubernetes
/// names, nothing PromQL could read as syntax.
pub(super) fn version(field: &str, value: &str) -> Result<String, ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-:+@/".contains(c);
    if value.is_empty() || value.len() > 253 {
        return Err(ApiError::field(field, "must be 1 to 253 characters"));
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(ApiError::field(
            field,
            format!("contains {bad:?}: a version may hold letters, digits and . _ - : + @ / only"),
        ));
    }
    Ok(value.to_string())
}

/// The latest time a request may name: 9999-12-31T23:59:59Z, the end of RFC 3339's range.
/// Unix seconds past it (or before 1970) are refused, so no window arithmetic can overflow.
const LATEST_UNIX_SECS: i64 = 253_402_300_799;

/// RFC 3339 or unix seconds, from 1970 to the end of year 9999.
pub(super) fn time(field: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(secs) = text.parse::<i64>() {
        if !(0..=LATEST_UNIX_SECS).contains(&secs) {
            return Err(ApiError::field(
                field,
                format!("{secs} is out of range: unix seconds from 0 to {LATEST_UNIX_SECS}"),
            ));
        }
        return Ok(secs);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| {
            ApiError::field(
                field,
                format!("{text:?} is not RFC 3339 (2026-11-22T05:00:00Z) or unix seconds"),
            )
        })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::spec::load_texts;

    const SPEC: &str = r#"
apiVersion: slogate/v1
kind: ServiceLevels
service: shop
canary:
  metrics:
    - name: errors
      errors: sum(increase(http_requests_total{code="500"}[{{window}}]))
      total: sum(increase(http_requests_total[{{window}}]))
      critical: true
    - name: latency
      query: histogram_quantile(0.95, sum by (le)(rate(http_request_duration_seconds_bucket[1m])))
"#;

    fn catalog() -> Catalog {
        let report = load_texts(&[(PathBuf::from("shop.yaml"), SPEC.to_string())]);
        assert!(!report.has_errors(), "{:#?}", report.diagnostics);
        report.catalog
    }

    fn body(extra: serde_json::Value) -> CanaryBody {
        let mut value = serde_json::json!({
            "service": "shop", "baseline": {"version": "a"}, "canary": {"version": "b"}
        });
        for (k, v) in extra.as_object().unwrap() {
            value[k] = v.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    fn refused(extra: serde_json::Value) -> String {
        let err = canary_gate(&catalog(), &body(extra), Utc::now()).unwrap_err();
        format!("{err:?}")
    }

    #[test]
    fn a_profile_override_may_tighten_but_never_loosen() {
        let gate = canary_gate(
            &catalog(),
            &body(serde_json::json!({"profile": {"pass": 99, "marginal": 80}})),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            (gate.profile.pass_score, gate.profile.marginal_score),
            (99.0, 80.0)
        );
        let why = refused(serde_json::json!({"profile": {"pass": 0, "marginal": 0}}));
        assert!(
            why.contains("profile.pass") && why.contains("only tighten"),
            "{why}"
        );
        let why = refused(serde_json::json!({"profile": {"metrics": ["latency"]}}));
        assert!(why.contains("critical metric \\\"errors\\\""), "{why}");
        let gate = canary_gate(
            &catalog(),
            &body(serde_json::json!({"profile": {"metrics": ["errors"]}})),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(gate.profile.metrics.len(), 1);
    }

    #[test]
    fn a_window_ending_in_the_future_is_refused_and_final_is_read() {
        let now = Utc::now().timestamp();
        let ahead = now + 86_400;
        let why = refused(serde_json::json!({
            "window": {"start": (ahead - 600).to_string(), "end": ahead.to_string()}
        }));
        assert!(
            why.contains("window.end") && why.contains("in the future"),
            "{why}"
        );
        let gate = canary_gate(
            &catalog(),
            &body(serde_json::json!({"final": true, "lookback": "10m"})),
            Utc::now(),
        )
        .unwrap();
        assert!(gate.request.last);
    }

    #[test]
    fn extreme_timestamps_are_refused_by_name_not_overflowed() {
        for (start, end, field) in [
            ("-9223372036854775808", "0", "window.start"),
            ("0", "9223372036854775807", "window.end"),
            ("-1", "600", "window.start"),
        ] {
            let why = refused(serde_json::json!({"window": {"start": start, "end": end}}));
            assert!(why.contains(field) && why.contains("out of range"), "{why}");
        }
        let why = refused(serde_json::json!({"lookback": "100000000y"}));
        assert!(why.contains("lookback"), "{why}");
        let body = SloBody {
            service: "shop".into(),
            slo: None,
            at: Some("9223372036854775807".into()),
        };
        let why = match slo_gate(&catalog(), &body, Utc::now()) {
            Err(e) => e.message,
            Ok(_) => panic!("accepted"),
        };
        assert!(why.contains("out of range"), "{why}");
    }
}
