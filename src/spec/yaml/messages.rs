//! serde-saphyr's messages, said the way a person editing an SLO file needs them.

/// serde-saphyr appends " at line L, column C" to its messages; the diagnostic prints the
/// position itself, in front.
pub(super) fn strip_location_suffix(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(", column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// Rewrites serde-saphyr's terse messages into ones that say what was expected and what was
/// found (`found` is the offending scalar, when there is one).
pub(super) fn explain(message: &str, found: Option<&str>) -> String {
    let found_text = found.map(|f| format!(", found `{f}`")).unwrap_or_default();
    let expected = |what: &str| format!("expected {what}{found_text}");
    match message {
        "invalid floating point" => return expected("a number"),
        "invalid boolean" => return expected("true or false"),
        "expected sequence start" => return expected("a list"),
        "expected mapping start" => return expected("a mapping of fields"),
        "expected string scalar" => return expected("text"),
        _ => {}
    }
    if let Some(kind) = message.strip_prefix("invalid ")
        && matches!(kind, "u8" | "u16" | "u32" | "u64" | "usize")
    {
        return expected("a whole number, 0 or more");
    }
    if let Some(kind) = message.strip_prefix("invalid ")
        && matches!(kind, "i8" | "i16" | "i32" | "i64" | "isize")
    {
        return expected("a whole number");
    }
    if message.contains("non-finite") {
        return expected("a finite number");
    }
    if message.starts_with("budget breached") {
        return "the document is nested too deeply or expands too far (aliases) to be an SLO definition".to_string();
    }
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return format!("duplicate key `{key}`: a field may appear only once");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_was_expected_and_found() {
        assert_eq!(
            explain("invalid floating point", Some("abc")),
            "expected a number, found `abc`"
        );
        assert_eq!(
            explain("invalid u64", Some("-5")),
            "expected a whole number, 0 or more, found `-5`"
        );
        assert_eq!(
            explain(
                "duplicate mapping key: objective, set DuplicateKeyPolicy in Options if acceptable",
                None
            ),
            "duplicate key `objective`: a field may appear only once"
        );
        assert_eq!(
            explain("unknown field `x`, expected one of a, b", None),
            "unknown field `x`, expected one of a, b"
        );
    }
}
