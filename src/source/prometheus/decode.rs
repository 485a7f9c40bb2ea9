//! Prometheus' answers turned into slogate's plain [`Sample`]s and [`Series`].

use std::collections::{BTreeMap, HashMap};

use prometheus_http_query::response::{Data, PromqlResult};

use super::{Sample, Series, SourceError};

/// An instant query's answer: a vector as it is, a scalar as one unlabelled sample. A matrix
/// (the query was a range selector such as `x[5m]`) is a mistake in the query, not in
/// Prometheus, so it is rejected rather than reported as a failure worth retrying.
pub(super) fn instant(query: &str, result: PromqlResult) -> Result<Vec<Sample>, SourceError> {
    match result.into_inner().0 {
        Data::Vector(vector) => Ok(vector
            .into_iter()
            .map(|series| {
                let (labels, sample) = series.into_inner();
                Sample {
                    labels: sorted(labels),
                    value: sample.value(),
                }
            })
            .collect()),
        Data::Scalar(sample) => Ok(vec![Sample {
            labels: BTreeMap::new(),
            value: sample.value(),
        }]),
        Data::Matrix(_) => Err(SourceError::Rejected {
            query: query.to_string(),
            message: "the query returns a range vector; an instant query needs an instant \
                      vector or a scalar (apply a function such as rate() to the range)"
                .to_string(),
        }),
    }
}

/// A range query's answer, which Prometheus always gives as a matrix.
pub(super) fn range(query: &str, result: PromqlResult) -> Result<Vec<Series>, SourceError> {
    match result.into_inner().0 {
        Data::Matrix(matrix) => Ok(matrix
            .into_iter()
            .map(|series| {
                let (labels, samples) = series.into_inner();
                Series {
                    labels: sorted(labels),
                    points: samples
                        .iter()
                        // Prometheus' timestamps are float seconds; with whole-second steps
                        // and start they are whole, and rounding only removes float noise.
                        .map(|s| (s.timestamp().round() as i64, s.value()))
                        .collect(),
                }
            })
            .collect()),
        other => Err(SourceError::Failed {
            query: query.to_string(),
            message: format!(
                "a range query answered with a {} instead of a matrix",
                match other {
                    Data::Vector(_) => "vector",
                    _ => "scalar",
                }
            ),
        }),
    }
}

fn sorted(labels: HashMap<String, String>) -> BTreeMap<String, String> {
    labels.into_iter().collect()
}
