//! Small checks shared by every format's loader. Each takes the value and the field path it
//! came from, records what is wrong, and returns the checked value when there is one.

use std::collections::BTreeMap;

use super::diagnostic::Issues;
use super::duration::PromDuration;
use super::query::QueryTemplate;

/// Checks a name that becomes a label value and part of file and rule names.
pub fn name(issues: &mut Issues, path: &str, what: &str, value: &str) -> bool {
    let ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        issues.error(
            path,
            format!(
                "{what} `{value}` must start with an ASCII letter or digit and contain only ASCII letters, digits, `-`, `_` and `.`"
            ),
        );
    }
    ok
}

/// Checks an objective given in percent: above 0 and below 100.
pub fn objective_percent(issues: &mut Issues, path: &str, value: f64) -> Option<f64> {
    if value.is_finite() && value > 0.0 && value < 100.0 {
        return Some(value);
    }
    let hint = if value >= 100.0 && value.is_finite() {
        " (100% leaves no error budget)"
    } else {
        ""
    };
    issues.error(
        path,
        format!(
            "objective {value} is out of range: it is a percentage above 0 and below 100{hint}"
        ),
    );
    None
}

/// Checks an objective given as a ratio (OpenSLO's `target`): above 0 and below 1.
pub fn objective_ratio(issues: &mut Issues, path: &str, value: f64) -> Option<f64> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        return Some(value * 100.0);
    }
    let hint = if value > 1.0 && value < 100.0 {
        format!(" (did you mean {}?)", crate::numfmt::short(value / 100.0))
    } else {
        String::new()
    };
    issues.error(
        path,
        format!("target {value} is out of range: it is a ratio above 0 and below 1{hint}"),
    );
    None
}

/// Checks a Prometheus duration.
pub fn duration(issues: &mut Issues, path: &str, what: &str, text: &str) -> Option<PromDuration> {
    match PromDuration::parse(text) {
        Ok(d) => Some(d),
        Err(reason) => {
            issues.error(path, format!("{what}: {reason}"));
            None
        }
    }
}

/// Checks a PromQL query (and its `{{window}}` placeholder when required).
pub fn query(
    issues: &mut Issues,
    path: &str,
    text: &str,
    window_required: bool,
) -> Option<QueryTemplate> {
    match QueryTemplate::parse(text, window_required) {
        Ok(q) => Some(q),
        Err(err) => {
            issues.error(path, err.to_string());
            None
        }
    }
}

/// Checks that the bad (or good) query differs from the total query: if they are the same,
/// the ratio is constant and the SLO measures nothing. Returns false when they are the same.
pub fn distinct_from_total(
    issues: &mut Issues,
    path: &str,
    what: &str,
    counted: &QueryTemplate,
    total: &QueryTemplate,
) -> bool {
    if !counted.same_as(total) {
        return true;
    }
    issues.error(path, same_as_total_message(what));
    false
}

/// The message for a counted query equal to the total query.
pub fn same_as_total_message(what: &str) -> String {
    let example = if what == "good" {
        "code!~\"5..\""
    } else {
        "code=~\"5..\""
    };
    format!(
        "the {what} query is the same as the total query, so the ratio is constant; select only the {what} events (e.g. {example})"
    )
}

/// Checks label names (Prometheus' rules) and that no label is reserved by slogate.
pub fn labels(issues: &mut Issues, path: &str, labels: &BTreeMap<String, String>) {
    for key in labels.keys() {
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let key_path = format!("{path}.{key}");
        if !valid {
            issues.error(
                key_path,
                format!("`{key}` is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
            );
        } else if key.starts_with("__") {
            issues.error(
                key_path,
                format!("`{key}`: label names starting with `__` are reserved by Prometheus"),
            );
        } else if crate::conventions::RESERVED_LABELS.contains(&key.as_str()) {
            issues.error(
                key_path,
                format!("`{key}` is set by slogate on every series; choose another label name"),
            );
        }
    }
}

/// Checks an optional effect-size ratio bound.
pub fn ratio_bound(issues: &mut Issues, path: &str, value: f64, increase: bool) -> Option<f64> {
    let ok = value.is_finite()
        && if increase {
            value >= 1.0
        } else {
            value > 0.0 && value <= 1.0
        };
    if ok {
        return Some(value);
    }
    let rule = if increase {
        "a canary/baseline ratio of at least 1 (1.10 tolerates 10% more)"
    } else {
        "a canary/baseline ratio above 0 and at most 1 (0.90 tolerates 10% less)"
    };
    issues.error(path, format!("{value} is out of range: it is {rule}"));
    None
}
