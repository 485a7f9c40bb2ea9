//! Reading `slogate judge`'s sample files: a JSON array of numbers, or one number per line.
//!
//! A sample can hold millions of values, and reading them was most of the command's time. The
//! common case, an array of numbers, is checked by serde_json as borrowed raw elements (no
//! `serde_json::Value` per element) and each number parsed by the standard library, which
//! rounds exactly, as Python, numpy and R read the same text. (serde_json's own float parsing
//! is exact only with its `float_roundtrip` feature, which the test builds get from a
//! dev-dependency and the release build did not: a tenth of shortest-form doubles came out one
//! unit in the last place off.) Anything else is read again as general JSON, only to say
//! where the syntax broke or which element is not a finite number.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserializer as _;
use serde::de::{SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Reads both sides, the baseline on another thread: each file is parsed on its own core.
/// Errors come out as if the files were read in turn, the baseline's first.
pub(super) fn read_pair(baseline: &Path, canary: &Path) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let (b, c) = std::thread::scope(|s| {
        let b = s.spawn(|| read_sample(baseline));
        let c = read_sample(canary);
        (b.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), c)
    });
    Ok((b?, c?))
}

/// Reads a sample: a JSON array of numbers, or one number per line.
fn read_sample(path: &Path) -> anyhow::Result<Vec<f64>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let file = path.display();
    let values = if text.trim_start().starts_with('[') {
        match json_numbers(&text) {
            Some(values) => values,
            None => return Err(json_error(&text, path)),
        }
    } else {
        let mut values = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let item = line.split('#').next().unwrap_or("").trim();
            if item.is_empty() {
                continue;
            }
            match item.parse::<f64>() {
                Ok(x) if x.is_finite() => values.push(x),
                Ok(_) => bail!("{file}:{}: `{item}` is not a finite number", i + 1),
                Err(_) => bail!("{file}:{}: `{item}` is not a number", i + 1),
            }
        }
        values
    };
    if values.is_empty() {
        bail!("{file}: no values (expected a JSON array of numbers or one number per line)");
    }
    Ok(values)
}

/// The values of a JSON array of finite numbers; `None` for anything else.
fn json_numbers(text: &str) -> Option<Vec<f64>> {
    // One value per comma, plus one: the vector is allocated once, at its final size.
    let capacity = text.bytes().filter(|b| *b == b',').count() + 1;
    let mut de = serde_json::Deserializer::from_str(text);
    let values = de.deserialize_seq(Numbers(capacity)).ok()?;
    de.end().ok()?;
    Some(values)
}

/// Reads a JSON array element by element, each number parsed as it is met, so that nothing
/// but the values is kept: the capacity to reserve.
struct Numbers(usize);

impl<'de> Visitor<'de> for Numbers {
    type Value = Vec<f64>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of finite numbers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
        let mut values = Vec::with_capacity(self.0);
        while let Some(item) = seq.next_element::<&RawValue>()? {
            let raw = item.get();
            // serde_json checked the syntax: an element starting like a number is a JSON
            // number, whose grammar Rust's float parser accepts. Too large for a double, it
            // parses to infinity, which is refused like any non-finite value.
            let number = raw.starts_with(|c: char| c == '-' || c.is_ascii_digit());
            match number.then(|| raw.parse::<f64>()) {
                Some(Ok(v)) if v.is_finite() => values.push(v),
                _ => return Err(serde::de::Error::custom("not a finite number")),
            }
        }
        Ok(values)
    }
}

/// Why `text` is not a JSON array of finite numbers: the syntax error with its position, or
/// the first element that is not a finite number.
fn json_error(text: &str, path: &Path) -> anyhow::Error {
    let file = path.display();
    let items: Vec<serde_json::Value> = match serde_json::from_str(text) {
        Ok(items) => items,
        Err(e) => {
            // serde_json appends " at line L column C"; the position goes in front instead.
            let message = e.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            return anyhow::anyhow!("{file}:{}:{}: {message}", e.line(), e.column());
        }
    };
    match items
        .iter()
        .enumerate()
        .find(|(_, v)| !v.as_f64().is_some_and(f64::is_finite))
    {
        Some((i, v)) => {
            anyhow::anyhow!("{file}: element {} (`{v}`) is not a finite number", i + 1)
        }
        // Not reached: an array json_numbers refuses has a non-number or is not an array.
        None => anyhow::anyhow!("{file}: expected a JSON array of finite numbers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_serde_json_parses_them_exactly() {
        let text = "[0.1, -0, 1e-400, -1e-400, 18446744073709551616, 9007199254740993, \
                    2.2250738585072011e-308, 0.30000000000000004, 1E5, -7]";
        let got = json_numbers(text).unwrap();
        // Each element as the exact parse (serde_json's float_roundtrip, Python's float)
        // gives it, bit for bit: -0 stays negative, tiny values round to zero.
        let expected: Vec<f64> = vec![
            0.1,
            -0.0,
            0.0,
            -0.0,
            18446744073709551616.0,
            9007199254740992.0,
            2.225073858507201e-308,
            0.30000000000000004,
            100000.0,
            -7.0,
        ];
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&expected));
    }

    #[test]
    fn anything_but_finite_numbers_is_left_to_the_general_reader() {
        for text in [
            "[1, \"2\"]",
            "[1, null]",
            "[1e400]",
            "[[1]]",
            "[1, 2",
            "[1,]",
            "{}",
        ] {
            assert_eq!(json_numbers(text), None, "{text}");
        }
        assert_eq!(json_numbers(" [ 1 , 2.5 ] \n"), Some(vec![1.0, 2.5]));
        assert_eq!(json_numbers("[]"), Some(vec![]));
    }
}
