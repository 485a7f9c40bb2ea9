//! PromQL query templates: user queries with a `{{window}}` placeholder, checked with
//! promql-parser so that a typo is caught by `slogate validate`, not by Prometheus at 3 a.m.

use std::fmt;

use promql_parser::parser::{self, value::ValueType};

/// The placeholder slogate replaces with a window (`5m`, `1h`, the analysis window).
pub const WINDOW_PLACEHOLDER: &str = "{{window}}";

/// A PromQL query in which every window placeholder is written `{{window}}`.
///
/// Sloth writes the placeholder `{{.window}}`; imports normalise it, so the rest of slogate
/// knows one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryTemplate(String);

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Empty or blank.
    #[error("the query is empty")]
    Empty,
    /// A `{{...}}` placeholder other than the window.
    #[error("unknown placeholder `{0}`; the only placeholder is {{{{window}}}}")]
    UnknownPlaceholder(String),
    /// `{{` without a closing `}}`.
    #[error("unclosed placeholder: `{{{{` without `}}}}`")]
    UnclosedPlaceholder,
    /// The window placeholder is needed but missing.
    #[error(
        "the query has no {{{{window}}}} placeholder; slogate fills it with each window it evaluates (write e.g. rate(metric[{{{{window}}}}]))"
    )]
    MissingWindow,
    /// promql-parser refused the query.
    #[error("invalid PromQL: {0}")]
    Invalid(String),
    /// The query is too long or too deeply nested to be parsed safely.
    #[error("the query is too complex to check: {0}")]
    TooComplex(String),
    /// A selector with `or` between its matchers (`{code="500" or code="503"}`): Prometheus
    /// refuses it, and a matcher slogate adds (the canary's version) could not hold in every
    /// branch of it.
    #[error(
        "the selector `{0}` uses `or` between label matchers, which Prometheus does not run; write one matcher with a regular expression (code=~\"500|503\") or `or` between whole selectors"
    )]
    OrMatchers(String),
    /// The query parses but does not return an instant vector (or scalar).
    #[error("the query returns a {0}; it must return an instant vector")]
    NotInstantVector(String),
}

impl QueryTemplate {
    /// Normalises placeholders and checks the query parses once a window is filled in.
    /// `window_required`: the query must contain `{{window}}`.
    pub fn parse(text: &str, window_required: bool) -> Result<Self, QueryError> {
        if text.trim().is_empty() {
            return Err(QueryError::Empty);
        }
        let normalized = normalize_placeholders(text.trim())?;
        let template = QueryTemplate(normalized);
        if window_required && !template.uses_window() {
            return Err(QueryError::MissingWindow);
        }
        template.check_syntax()?;
        Ok(template)
    }

    /// Wraps an already-normalised text (built by slogate itself from checked parts).
    pub(crate) fn from_normalized(text: String) -> Self {
        QueryTemplate(text)
    }

    /// Whether the query contains the window placeholder.
    pub fn uses_window(&self) -> bool {
        self.0.contains(WINDOW_PLACEHOLDER)
    }

    /// The query with `{{window}}` replaced by `window` (a Prometheus duration).
    pub fn render(&self, window: &str) -> String {
        self.0.replace(WINDOW_PLACEHOLDER, window)
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether any series selector of the query matches on `label` itself (read through the
    /// syntax tree; a query that does not parse selects nothing).
    pub fn selects_label(&self, label: &str) -> bool {
        let Ok(mut expr) = parse_promql(&self.render("5m")) else {
            return false;
        };
        let mut found = false;
        for_each_selector(&mut expr, &mut |vs| {
            found |= vs.matchers.matchers.iter().any(|m| m.name == label);
        });
        found
    }

    /// Same query modulo whitespace (for "errors equals total" checks).
    pub fn same_as(&self, other: &QueryTemplate) -> bool {
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        squash(&self.0) == squash(&other.0)
    }

    fn check_syntax(&self) -> Result<(), QueryError> {
        let rendered = self.render("5m");
        let expr = parse_promql(&rendered)?;
        match expr.value_type() {
            ValueType::Vector | ValueType::Scalar => Ok(()),
            ValueType::Matrix => Err(QueryError::NotInstantVector("range vector".into())),
            ValueType::String => Err(QueryError::NotInstantVector("string".into())),
        }
    }
}

impl fmt::Display for QueryTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest query slogate accepts. Real SLO queries are a few hundred bytes.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Deepest bracket nesting slogate accepts.
pub const MAX_NESTING: usize = 64;
/// Most arithmetic operators slogate accepts in one query.
pub const MAX_OPERATORS: usize = 256;

/// Parses PromQL, turning a panic inside the parser into an error: validation must never
/// crash on a user's file, whatever the parser's own robustness. The parser recurses once per
/// nesting level and per operator, and a stack overflow cannot be caught, so absurdly long or
/// deep queries are refused before it sees them.
pub fn parse_promql(text: &str) -> Result<parser::Expr, QueryError> {
    check_size(text)?;
    let owned = text.to_string();
    let mut expr = match std::panic::catch_unwind(move || parser::parse(&owned)) {
        Ok(Ok(expr)) => expr,
        Ok(Err(message)) => return Err(QueryError::Invalid(one_line(&message))),
        Err(_) => {
            return Err(QueryError::Invalid(
                "the PromQL parser could not read this query".into(),
            ));
        }
    };
    let mut or_selector = None;
    for_each_selector(&mut expr, &mut |vs| {
        if !vs.matchers.or_matchers.is_empty() && or_selector.is_none() {
            or_selector = Some(vs.to_string());
        }
    });
    match or_selector {
        Some(selector) => Err(QueryError::OrMatchers(selector)),
        None => Ok(expr),
    }
}

/// Calls `f` on every series selector of `expr` (those inside range selectors too).
fn for_each_selector(
    expr: &mut parser::Expr,
    f: &mut impl FnMut(&mut promql_parser::parser::VectorSelector),
) {
    use promql_parser::parser::Expr;
    match expr {
        Expr::VectorSelector(vs) => f(vs),
        Expr::MatrixSelector(ms) => f(&mut ms.vs),
        Expr::Aggregate(a) => {
            for_each_selector(&mut a.expr, f);
            if let Some(p) = a.param.as_mut() {
                for_each_selector(p, f);
            }
        }
        Expr::Unary(u) => for_each_selector(&mut u.expr, f),
        Expr::Binary(b) => {
            for_each_selector(&mut b.lhs, f);
            for_each_selector(&mut b.rhs, f);
        }
        Expr::Paren(p) => for_each_selector(&mut p.expr, f),
        Expr::Subquery(s) => for_each_selector(&mut s.expr, f),
        Expr::Call(c) => c.args.args.iter_mut().for_each(|a| for_each_selector(a, f)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Adds `label="value"` to every series selector of a (rendered) query, through the syntax
/// tree: the value is never spliced into PromQL text, so any value (quotes, braces, `}` or
/// newlines) selects exactly that label value. A selector that already matches the label keeps
/// its own matcher and gets this one too (both must hold).
pub fn with_label_matcher(query: &str, label: &str, value: &str) -> Result<String, QueryError> {
    use promql_parser::label::{MatchOp, Matcher};

    // `parse_promql` refuses `or` between matchers, so `matchers` is every selector's one
    // conjunction and the added matcher holds for all it selects.
    let mut expr = parse_promql(query)?;
    let matcher = Matcher::new(MatchOp::Equal, label, value);
    for_each_selector(&mut expr, &mut |vs| {
        vs.matchers.matchers.push(matcher.clone())
    });
    let out = expr.to_string();
    // promql-parser prints some inputs it reads in a form it does not read back (`x offset -0`
    // becomes `offset -0s`, found by fuzzing): such a query is refused here, before it can
    // reach Prometheus without its version matcher or not at all.
    parse_promql(&out).map_err(|e| {
        QueryError::Invalid(format!(
            "with the version matcher added it no longer parses ({e})"
        ))
    })?;
    Ok(out)
}

fn check_size(text: &str) -> Result<(), QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooComplex(format!(
            "it is {} bytes long (at most {MAX_QUERY_BYTES})",
            text.len()
        )));
    }
    let (mut depth, mut deepest, mut operators) = (0usize, 0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '^' => operators += 1,
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(QueryError::TooComplex(format!(
            "it nests brackets {deepest} deep (at most {MAX_NESTING})"
        )));
    }
    if operators > MAX_OPERATORS {
        return Err(QueryError::TooComplex(format!(
            "it has {operators} operators (at most {MAX_OPERATORS})"
        )));
    }
    Ok(())
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Rewrites `{{ window }}`, `{{.window}}` and `{{ .window }}` as `{{window}}`.
fn normalize_placeholders(text: &str) -> Result<String, QueryError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(QueryError::UnclosedPlaceholder)?;
        let name = after[..end].trim();
        match name {
            "window" | ".window" => out.push_str(WINDOW_PLACEHOLDER),
            other => return Err(QueryError::UnknownPlaceholder(format!("{{{{{other}}}}}"))),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_sloth_placeholders() {
        let q = QueryTemplate::parse(
            "sum(rate(x[{{ .window }}])) / sum(rate(y[{{.window}}]))",
            true,
        )
        .unwrap();
        assert_eq!(
            q.as_str(),
            "sum(rate(x[{{window}}])) / sum(rate(y[{{window}}]))"
        );
        assert_eq!(q.render("1h"), "sum(rate(x[1h])) / sum(rate(y[1h]))");
    }

    #[test]
    fn refuses_bad_queries_with_reasons() {
        let cases: &[(&str, bool, &str)] = &[
            ("", true, "the query is empty"),
            ("sum(rate(x[5m]))", true, "no {{window}} placeholder"),
            (
                "sum(rate(x[{{win}}]))",
                true,
                "unknown placeholder `{{win}}`",
            ),
            ("sum(rate(x[{{window]))", true, "unclosed placeholder"),
            ("sum(rate(x[{{window}}])", true, "invalid PromQL"),
            ("x[{{window}}]", true, "returns a range vector"),
            (
                &format!("{}x[{{{{window}}}}]{}", "sum(".repeat(65), ")".repeat(65)),
                true,
                "nests brackets 66 deep",
            ),
        ];
        for (text, needs_window, expected) in cases {
            let err = QueryTemplate::parse(text, *needs_window)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn adds_the_version_matcher_to_every_selector_through_the_syntax_tree() {
        let q = "sum(increase(http_requests_total{service=\"api\",code=~\"5..\"}[10m])) / sum(increase(http_requests_total{service=\"api\"}[10m]))";
        let out = with_label_matcher(q, "rollouts_pod_template_hash", "abc123").unwrap();
        assert_eq!(
            out.matches("rollouts_pod_template_hash=\"abc123\"").count(),
            2,
            "{out}"
        );
        // Hostile values stay values: the result parses and selects exactly that value.
        let hostile = "x\"} or vector(1) or {a=\"";
        let out = with_label_matcher("up", "v", hostile).unwrap();
        let expr = parse_promql(&out).unwrap();
        let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
            panic!("{out}")
        };
        assert_eq!(vs.matchers.matchers.last().unwrap().value, hostile);
    }

    #[test]
    fn or_between_label_matchers_is_refused_with_the_selector() {
        for query in [
            r#"sum(rate(http_requests_total{code="500" or code="503"}[5m]))"#,
            r#"sum(rate(x[5m])) / sum(rate(y{a="1" or b="2"}[5m]))"#,
            r#"up{a="1" or a="2"} or up"#,
        ] {
            let error = parse_promql(query).unwrap_err();
            assert!(
                matches!(error, QueryError::OrMatchers(_)),
                "{query}: {error}"
            );
            assert!(
                QueryTemplate::parse(&query.replace("5m", "{{window}}"), true).is_err(),
                "{query}"
            );
            assert!(with_label_matcher(query, "v", "canary").is_err(), "{query}");
        }
        // `or` between whole selectors is PromQL, and each side gets the matcher.
        let out = with_label_matcher(r#"up{a="1"} or up{a="2"}"#, "v", "canary").unwrap();
        assert_eq!(out.matches(r#"v="canary""#).count(), 2, "{out}");
    }

    #[test]
    fn compares_modulo_whitespace() {
        let a = QueryTemplate::parse("sum(rate(x[{{window}}]))", true).unwrap();
        let b = QueryTemplate::parse("sum( rate(x[{{ window }}]) )", true).unwrap();
        assert!(a.same_as(&b));
    }

    #[test]
    fn a_query_whose_printed_form_does_not_parse_back_is_refused_not_sent() {
        let err = with_label_matcher("x offset -0", "rollouts_pod_template_hash", "c1");
        assert!(
            matches!(&err, Err(QueryError::Invalid(why)) if why.contains("no longer parses")),
            "{err:?}"
        );
    }
}
