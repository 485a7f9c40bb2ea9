//! Numbers as people (and PromQL) read them: `0.001`, not `0.0009999999999999432`; reasons
//! with four significant digits.

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

/// Four significant digits, for reasons; a million and more in scientific notation
/// (`6.653e131`), so an overwhelming e-value stays one short word.
pub fn sig(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e6 {
        return format!("{x:.3e}");
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = (4 - 1 - x.abs().log10().floor() as i32).max(0) as usize;
    short(format!("{x:.digits$}").parse().unwrap_or(x))
}

#[cfg(test)]
mod tests {
    use super::{short, sig};

    #[test]
    fn rounds_float_noise_away() {
        assert_eq!(short(1.0 - 0.999), "0.001");
        assert_eq!(short(99.9 / 100.0), "0.999");
        assert_eq!(short(0.1 * 28.0 / 3.0), "0.933333333333");
        assert_eq!(short(14.4), "14.4");
        assert_eq!(short(30.0), "30");
        assert_eq!(short(-0.0), "0");
    }

    #[test]
    fn numbers_in_reasons_have_four_significant_digits_and_huge_ones_an_exponent() {
        assert_eq!(sig(0.012345), "0.01235");
        assert_eq!(sig(341.2499999), "341.2");
        assert_eq!(sig(99.99999999999991), "100");
        assert_eq!(sig(6.6533226292462375e131), "6.653e131");
        assert_eq!(sig(f64::INFINITY), "inf");
        assert_eq!(sig(0.0), "0");
    }
}
