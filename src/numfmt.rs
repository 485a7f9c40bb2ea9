//! Numbers as people (and PromQL) read them: `0.001`, not `0.0009999999999999432`.

/// A float rounded to 12 significant decimals, without trailing zeros: exact enough for
/// objectives and burn factors, short enough to read in a rule or a message.
pub fn short(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let rounded = format!("{value:.12}");
    let trimmed = rounded.trim_end_matches('0').trim_end_matches('.');
    match trimmed {
        "" | "-" | "-0" => "0".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn rounds_float_noise_away() {
        assert_eq!(short(1.0 - 0.999), "0.001");
        assert_eq!(short(99.9 / 100.0), "0.999");
        assert_eq!(short(0.1 * 28.0 / 3.0), "0.933333333333");
        assert_eq!(short(14.4), "14.4");
        assert_eq!(short(30.0), "30");
        assert_eq!(short(-0.0), "0");
    }
}
