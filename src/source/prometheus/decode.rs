//! Prometheus' answers turned into slogate's plain [`Sample`]s and [`Series`].

use std::collections::BTreeMap;

use super::answer::Data;
use super::{Sample, Series, SourceError};

/// An instant query's answer: a vector as it is, a scalar as one unlabelled sample. A matrix
/// (the query was a range selector such as `x[5m]`) is a mistake in the query, not in
/// Prometheus, so it is rejected rather than reported as a failure worth retrying.
pub(super) fn instant(query: &str, result: Data) -> Result<Vec<Sample>, SourceError> {
    match result {
        Data::Vector(samples) => Ok(samples),
        Data::Scalar(value) => Ok(vec![Sample {
            labels: BTreeMap::new(),
            value,
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
pub(super) fn range(query: &str, result: Data) -> Result<Vec<Series>, SourceError> {
    match result {
        Data::Matrix(series) => Ok(series),
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
