//! Prometheus durations (`5m`, `1h30m`, `30d`), parsed exactly as Prometheus parses them.

use std::fmt;
use std::time::Duration;

/// A positive duration written in Prometheus notation.
///
/// Kept as a `std::time::Duration` and printed back in Prometheus' canonical form, so a
/// period of `720h` and one of `30d` are the same value and both print as `30d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(Duration);

impl PromDuration {
    /// Builds a duration from whole seconds (used by tables of defaults and by tests).
    pub const fn from_secs(secs: u64) -> Self {
        PromDuration(Duration::from_secs(secs))
    }

    /// The duration as a `std::time::Duration`.
    pub fn as_std(&self) -> Duration {
        self.0
    }

    /// The duration in whole seconds.
    pub fn as_secs(&self) -> u64 {
        self.0.as_secs()
    }

    /// Parses Prometheus notation. A bare number is refused: PromQL would read `30` as thirty
    /// seconds, which in an SLO file is nearly always a forgotten `d`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration".to_string());
        }
        // Checked before promql-parser sees it: its float branch panics on negative or
        // infinite numbers, and a unitless period is a mistake in any case.
        if text.parse::<f64>().is_ok() {
            return Err(format!(
                "`{text}` has no unit; write it as a Prometheus duration such as `{text}d`, `{text}h` or `{text}m`"
            ));
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!(
                "`{text}` is not a Prometheus duration (expected e.g. 5m, 1h30m, 28d)"
            ));
        }
        match promql_parser::util::parse_duration(text) {
            Ok(d) if d.is_zero() => Err("duration must be greater than zero".to_string()),
            Ok(d) => Ok(PromDuration(d)),
            Err(e) if e.contains("greater than") => {
                Err("duration must be greater than zero".to_string())
            }
            Err(_) => Err(format!(
                "`{text}` is not a Prometheus duration (expected e.g. 5m, 1h30m, 28d; units y w d h m s ms)"
            )),
        }
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&promql_parser::util::display_duration(&self.0))
    }
}

impl std::str::FromStr for PromDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PromDuration::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_prometheus_notation() {
        for (text, secs, printed) in [
            ("5m", 300, "5m"),
            ("1h30m", 5400, "1h30m"),
            ("30d", 2_592_000, "30d"),
            ("720h", 2_592_000, "30d"),
            ("4w", 2_419_200, "4w"),
            ("28d", 2_419_200, "4w"),
        ] {
            let d = PromDuration::parse(text).unwrap();
            assert_eq!(d.as_secs(), secs, "{text}");
            assert_eq!(d.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn refuses_what_prometheus_refuses_and_bare_numbers() {
        for text in [
            "", "30", "-1", "1e400", "inf", "NaN", "0s", "5 m", "1h-5m", "3x", "m5",
        ] {
            assert!(
                PromDuration::parse(text).is_err(),
                "{text:?} should be refused"
            );
        }
    }
}
