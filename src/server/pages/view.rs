//! What every page shows the same way: numbers in words, outcome badges (an icon and a word
//! next to the colour, never the colour alone), the budget bar, escaped URLs.

use serde::Serialize;

use crate::verdict::Outcome;

/// A state shown as an icon, a word and a colour class: the word carries the meaning, the
/// colour only repeats it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Badge {
    /// A symbol that reads without colour (`✓`, `✕`, `?`, `!`).
    pub icon: &'static str,
    /// The word (`pass`, `fail`, ...).
    pub word: String,
    /// CSS class suffix: `ok`, `bad`, `warn`, `none`.
    pub tone: &'static str,
}

impl Badge {
    /// A verdict's outcome.
    pub fn outcome(outcome: Outcome) -> Badge {
        let (icon, tone) = match outcome {
            Outcome::Pass => ("✓", "ok"),
            Outcome::Fail => ("✕", "bad"),
            Outcome::Inconclusive => ("?", "warn"),
        };
        Badge {
            icon,
            word: outcome.to_string(),
            tone,
        }
    }

    /// An alert tier that would fire (`page`, `ticket`).
    pub fn alert(tier: &str) -> Badge {
        let tone = if tier == "page" { "bad" } else { "warn" };
        Badge {
            icon: "!",
            word: tier.to_string(),
            tone,
        }
    }
}

/// The error budget left, as a bar and in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetBar {
    /// Width of the filled part, percent of the bar (0..=100; an overspent budget is empty).
    pub width: String,
    /// The number, e.g. `42.5% left` or `overspent by 12%`.
    pub text: String,
    /// `ok` (a quarter or more left), `warn` (less), `bad` (none left).
    pub tone: &'static str,
    /// The word behind the tone, for readers who do not see colour.
    pub word: &'static str,
}

impl BudgetBar {
    /// The bar of a remaining share (1 = untouched, negative = overspent).
    pub fn of(remaining: f64) -> BudgetBar {
        let width = (remaining * 100.0).clamp(0.0, 100.0);
        let (tone, word) = if remaining <= 0.0 {
            ("bad", "exhausted")
        } else if remaining < 0.25 {
            ("warn", "low")
        } else {
            ("ok", "healthy")
        };
        let text = if remaining < 0.0 {
            format!("overspent by {}", percent(-remaining, 1))
        } else {
            format!("{} left", percent(remaining, 1))
        };
        BudgetBar {
            width: format!("{width:.1}"),
            text,
            tone,
            word,
        }
    }
}

/// A share as a percentage with `decimals` places (`0.4251` -> `42.5%`).
pub fn percent(share: f64, decimals: usize) -> String {
    if !share.is_finite() {
        return "n/a".to_string();
    }
    let text = format!("{:.*}", decimals, share * 100.0);
    // `-0.0` reads as a negative zero.
    let text = if text.trim_start_matches(['-', '0', '.']).is_empty() {
        text.trim_start_matches('-').to_string()
    } else {
        text
    };
    format!("{text}%")
}

/// An SLI (good share) with enough places to tell it from its objective: one more than the
/// objective has (99.9 -> 3 places, 95 -> 1).
pub fn sli_text(sli: f64, objective: f64) -> String {
    let objective_places = crate::numfmt::short(objective)
        .split_once('.')
        .map_or(0, |(_, d)| d.len());
    percent(sli, (objective_places + 1).clamp(1, 4))
}

/// A burn rate (`0.25×`, `14.4×`), two significant places under 10.
pub fn burn_text(rate: f64) -> String {
    if !rate.is_finite() {
        return "n/a".to_string();
    }
    if rate.abs() >= 10.0 {
        format!("{rate:.1}×")
    } else {
        format!("{rate:.2}×")
    }
}

/// A number as measured (latencies, rates): four significant places.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let places = (3 - magnitude).clamp(0, 8) as usize;
    let text = format!("{value:.places$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Text made safe inside HTML or SVG, in element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value (everything but unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A query string from the pairs whose value is set (`?a=1&b=2`, or empty).
pub fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// An option of a `<select>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// The value sent.
    pub value: String,
    /// The text shown.
    pub label: String,
    /// Whether it is the current one.
    pub selected: bool,
}

/// The options of a filter: "all" first (empty value), then each value.
pub fn choices(values: impl IntoIterator<Item = String>, current: Option<&str>) -> Vec<Choice> {
    let mut out = vec![Choice {
        value: String::new(),
        label: "All".to_string(),
        selected: current.is_none(),
    }];
    out.extend(values.into_iter().map(|v| Choice {
        selected: current == Some(v.as_str()),
        label: v.clone(),
        value: v,
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_bar_is_as_wide_as_the_budget_left_and_never_outside_the_track() {
        assert_eq!(BudgetBar::of(0.425).width, "42.5");
        assert_eq!(BudgetBar::of(0.425).text, "42.5% left");
        assert_eq!(BudgetBar::of(1.0).width, "100.0");
        let overspent = BudgetBar::of(-1.2);
        assert_eq!(overspent.width, "0.0");
        assert_eq!(overspent.text, "overspent by 120.0%");
        assert_eq!((overspent.tone, overspent.word), ("bad", "exhausted"));
        assert_eq!(BudgetBar::of(0.1).word, "low");
        assert_eq!(BudgetBar::of(0.5).word, "healthy");
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(percent(0.99951, 3), "99.951%");
        assert_eq!(percent(-0.00001, 1), "0.0%");
        assert_eq!(sli_text(0.99951, 99.9), "99.95%");
        assert_eq!(sli_text(0.951, 95.0), "95.1%");
        assert_eq!(burn_text(0.251), "0.25×");
        assert_eq!(burn_text(14.44), "14.4×");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(1234.6), "1235");
        assert_eq!(number(f64::NAN), "n/a");
    }

    #[test]
    fn urls_are_encoded_and_empty_filters_left_out() {
        assert_eq!(encode("a b/<c>"), "a%20b%2F%3Cc%3E");
        assert_eq!(
            query_string(&[
                ("team", Some("pay ments")),
                ("service", None),
                ("x", Some(""))
            ]),
            "?team=pay%20ments"
        );
        assert_eq!(query_string(&[]), "");
    }
}
