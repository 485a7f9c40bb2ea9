//! Reading Prometheus' JSON answer ourselves, for what the client library drops: `warnings`.
//!
//! Thanos, Cortex and Mimir answer `"status": "success"` with `warnings` when a store or an
//! ingester did not answer (a partial response); Prometheus itself adds them for remote-read
//! failures. Such an answer holds part of the data, and a canary or SLO judged on part of the
//! data could pass on what was missing, so it is an error ([`SourceError::Partial`]), never
//! values. `infos` (PromQL's notes on the query, Prometheus 2.45+) are not about missing data
//! and are ignored.

use std::time::Duration;

use prometheus_http_query::error::PrometheusError;
use prometheus_http_query::response::PromqlResult;
use serde_json::Value;

use super::error::{self, SourceError};

/// Largest answer read (a range query of 11,000 points on many series stays far below).
const MAX_ANSWER_BYTES: usize = 256 << 20;

/// The answer of one attempt: its data, or why there is none.
pub(super) async fn read(
    query: &str,
    response: reqwest::Response,
    timeout: Duration,
) -> Result<PromqlResult, SourceError> {
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
fn parse(query: &str, body: &[u8], timeout: Duration) -> Result<PromqlResult, SourceError> {
    let mut answer: Value = serde_json::from_slice(body)
        .map_err(|e| failed(query, format!("the answer is not JSON: {e}")))?;
    match answer["status"].as_str() {
        Some("success") => {}
        Some("error") => {
            let error: PrometheusError = serde_json::from_value(answer)
                .map_err(|e| failed(query, format!("an error answer that does not decode: {e}")))?;
            return Err(error::classify(
                query,
                prometheus_http_query::Error::Prometheus(error),
                timeout,
            ));
        }
        other => return Err(failed(query, format!("the answer's status is {other:?}"))),
    }
    let warnings: Vec<&str> = answer["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !warnings.is_empty() {
        return Err(SourceError::Partial {
            query: query.to_string(),
            warnings: error::redact(&warnings.join("; ")),
        });
    }
    serde_json::from_value(answer["data"].take())
        .map_err(|e| failed(query, format!("the answer's data does not decode: {e}")))
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
        assert!(format!("{:?}", result.data()).contains("0.5"));
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
