//! Reading Prometheus' JSON answer ourselves, for what the client library drops: `warnings`.
//!
//! Thanos, Cortex and Mimir answer `"status": "success"` with `warnings` when a store or an
//! ingester did not answer (a partial response); Prometheus itself adds them for remote-read
//! failures. Such an answer holds part of the data, and a canary or SLO judged on part of the
//! data could pass on what was missing, so it is an error ([`SourceError::Partial`]), never
//! values. `infos` (PromQL's notes on the query, Prometheus 2.45+) are not about missing data
//! and are ignored.
//!
//! A successful answer is decoded straight into slogate's [`Sample`]s and [`Series`] by typed
//! serde structs: a catalog read from recording rules brings answers of 10,000 series, and
//! going through a JSON tree and then the client library's untagged types cost twice the
//! parsing and most of the allocations (measured: a third of an overview's time was spent
//! faulting in the memory of those copies).

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_http_query::error::PrometheusError;
use serde::Deserialize;
use serde_json::Value;

use super::error::{self, SourceError};
use super::{Sample, Series};

/// A successful answer's data.
#[derive(Debug, PartialEq)]
pub(super) enum Data {
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector (matrix).
    Matrix(Vec<Series>),
    /// A scalar.
    Scalar(f64),
}

/// The envelope, without the data (decoded on its own once the status is known).
#[derive(Deserialize)]
struct Envelope<'a> {
    status: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
}

/// `data` as Prometheus writes it: `resultType` names the shape of `result`.
#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum RawData {
    Vector(Vec<RawSample>),
    Matrix(Vec<RawSeries>),
    Scalar(RawPoint),
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct RawSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Absent for native-histogram samples, which slogate never asks for: read as NaN.
    value: Option<RawPoint>,
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<RawPoint>,
}

/// `[unix seconds, "value"]`.
#[derive(Deserialize)]
struct RawPoint(f64, String);

impl RawPoint {
    fn value(&self) -> f64 {
        match self.1.as_str() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            text => text.parse().unwrap_or(f64::NAN),
        }
    }
}

/// Largest answer read (a range query of 11,000 points on many series stays far below).
const MAX_ANSWER_BYTES: usize = 256 << 20;

/// The answer of one attempt: its data, or why there is none.
pub(super) async fn read(
    query: &str,
    response: reqwest::Response,
    timeout: Duration,
) -> Result<Data, SourceError> {
    let status = response.status();
    let json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if response.content_length().unwrap_or(0) > MAX_ANSWER_BYTES as u64 {
        return Err(failed(
            query,
            format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
        ));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| SourceError::Unreachable {
            query: query.to_string(),
            reason: error::redact(&error::causes(&e)),
        })?;
    if !json {
        return Err(failed(
            query,
            format!("HTTP {status}, not Prometheus' JSON API"),
        ));
    }
    parse(query, &body, timeout)
}

/// The answer's body, parsed: see the module documentation.
fn parse(query: &str, body: &[u8], timeout: Duration) -> Result<Data, SourceError> {
    let answer: Envelope = serde_json::from_slice(body)
        .map_err(|e| failed(query, format!("the answer is not JSON: {e}")))?;
    match answer.status.as_deref() {
        Some("success") => {}
        Some("error") => {
            // Rare: decoded through the client library, which knows the error types.
            let error: PrometheusError = serde_json::from_slice::<Value>(body)
                .and_then(serde_json::from_value)
                .map_err(|e| failed(query, format!("an error answer that does not decode: {e}")))?;
            return Err(error::classify(
                query,
                prometheus_http_query::Error::Prometheus(error),
                timeout,
            ));
        }
        other => return Err(failed(query, format!("the answer's status is {other:?}"))),
    }
    if !answer.warnings.is_empty() {
        return Err(SourceError::Partial {
            query: query.to_string(),
            warnings: error::redact(&answer.warnings.join("; ")),
        });
    }
    let data = answer
        .data
        .ok_or_else(|| failed(query, "the answer has no data".to_string()))?;
    let raw: RawData = serde_json::from_str(data.get())
        .map_err(|e| failed(query, format!("the answer's data does not decode: {e}")))?;
    Ok(match raw {
        RawData::Vector(samples) => Data::Vector(
            samples
                .into_iter()
                .map(|s| Sample {
                    value: s.value.as_ref().map_or(f64::NAN, RawPoint::value),
                    labels: s.metric,
                })
                .collect(),
        ),
        RawData::Matrix(series) => Data::Matrix(
            series
                .into_iter()
                .map(|s| Series {
                    // Prometheus' timestamps are float seconds; with whole-second steps and
                    // start they are whole, and rounding only removes float noise.
                    points: s
                        .values
                        .iter()
                        .map(|p| (p.0.round() as i64, p.value()))
                        .collect(),
                    labels: s.metric,
                })
                .collect(),
        ),
        RawData::Scalar(point) => Data::Scalar(point.value()),
        RawData::String(_) => {
            return Err(failed(
                query,
                "the query returns a string, not a number".to_string(),
            ));
        }
    })
}

fn failed(query: &str, message: String) -> SourceError {
    SourceError::Failed {
        query: query.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(3);

    #[test]
    fn data_without_warnings_decodes_and_infos_are_ignored() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"job":"a"},"value":[1700000000,"0.5"]}]},
            "infos":["PromQL info: metric might not be a counter"]}"#;
        let result = parse("up", body, T).unwrap();
        assert_eq!(
            result,
            Data::Vector(vec![Sample {
                labels: [("job".to_string(), "a".to_string())].into(),
                value: 0.5
            }])
        );
    }

    #[test]
    fn a_partial_answer_is_an_error_naming_its_warnings() {
        let body = br#"{"status":"success","warnings":["partial response: store eu-1 unavailable"],
            "data":{"resultType":"vector","result":[]}}"#;
        let err = parse("up", body, T).unwrap_err();
        assert!(matches!(err, SourceError::Partial { .. }), "{err:?}");
        assert!(err.is_transient());
        assert!(err.to_string().contains("store eu-1 unavailable"), "{err}");
    }

    #[test]
    fn error_answers_keep_their_classification() {
        let bad = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        let err = parse("up(", bad, T).unwrap_err();
        assert!(matches!(err, SourceError::Rejected { .. }), "{err:?}");
        let timeout = br#"{"status":"error","errorType":"timeout","error":"query timed out"}"#;
        assert!(matches!(
            parse("up", timeout, T).unwrap_err(),
            SourceError::Timeout { .. }
        ));
        for garbage in [
            &b"<html>"[..],
            br#"{"status":"maybe"}"#,
            br#"{"status":"success","data":7}"#,
        ] {
            assert!(matches!(
                parse("up", garbage, T).unwrap_err(),
                SourceError::Failed { .. }
            ));
        }
    }
}

#[cfg(test)]
mod shapes {
    use super::*;

    const T: Duration = Duration::from_secs(3);

    #[test]
    fn every_result_type_and_special_value_decodes() {
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"value":[1,"NaN"]},{"metric":{"a":"b"},"value":[1,"+Inf"]},
            {"metric":{"a":"c"},"value":[1,"-Inf"]},{"metric":{"a":"d"},"value":[1,"1e-3"]}]}}"#;
        let Data::Vector(samples) = parse("q", vector, T).unwrap() else {
            panic!("a vector")
        };
        let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
        assert!(values[0].is_nan());
        assert_eq!(values[1..], [f64::INFINITY, f64::NEG_INFINITY, 0.001]);
        assert_eq!(samples[1].labels["a"], "b");

        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"x":"y"},"values":[[1700000000,"1"],[1700000060.0000001,"2"]]}]}}"#;
        assert_eq!(
            parse("q", matrix, T).unwrap(),
            Data::Matrix(vec![Series {
                labels: [("x".to_string(), "y".to_string())].into(),
                points: vec![(1_700_000_000, 1.0), (1_700_000_060, 2.0)],
            }])
        );

        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"42"]}}"#;
        assert_eq!(parse("q", scalar, T).unwrap(), Data::Scalar(42.0));

        // `result` before `resultType` (another engine's order) decodes too.
        let reordered = br#"{"data":{"result":[1,"7"],"resultType":"scalar"},"status":"success"}"#;
        assert_eq!(parse("q", reordered, T).unwrap(), Data::Scalar(7.0));

        let string = br#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
        assert!(matches!(
            parse("q", string, T).unwrap_err(),
            SourceError::Failed { .. }
        ));
    }
}
