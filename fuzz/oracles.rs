// The fuzz targets' oracles, shared by the targets (`include!`d in fuzz_targets/*.rs) and by the
// stable replay of the committed corpus (tests/fuzz_corpus.rs), so both check the same things.
//
// Each takes the fuzzer's bytes and panics when slogate misbehaves on them: a panic inside
// slogate, or an answer that breaks the property named.

/// OTLP decoding: the first byte picks protobuf or JSON and gzip or not; the rest is the body.
/// Never a panic; an export that decodes holds no more spans than the limit counted before
/// decoding allowed, and gives its memory back to the budget when dropped.
#[allow(dead_code)]
pub fn otlp_decode_oracle(data: &[u8]) {
    use slogate::source::traces::{CensusLimits, DecodeBudget, DecodeLimits, Encoding, decode};
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let encoding = if mode & 1 == 0 {
        Encoding::Protobuf
    } else {
        Encoding::Json
    };
    let gzip = mode & 2 != 0;
    let limits = DecodeLimits {
        max_inflated: 1 << 20,
        census: CensusLimits {
            max_spans: 64,
            max_attributes: 256,
        },
    };
    let budget = DecodeBudget::new(64 << 20);
    if let Ok(decoded) = decode(body, encoding, gzip, &limits, &budget) {
        let spans: usize = decoded
            .request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        if encoding == Encoding::Protobuf {
            assert!(spans <= limits.census.max_spans, "{spans} spans decoded");
        }
        drop(decoded);
    }
    assert_eq!(budget.reserved_bytes(), 0, "the budget was not given back");
}

/// The PromQL version-matcher injection: the input is a query and a version value separated by
/// the first newline. When slogate accepts the query, its output parses and every series
/// selector in it holds `label="value"` exactly, in the matchers that always apply.
#[allow(dead_code)]
pub fn promql_version_matcher_oracle(data: &[u8]) {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::Expr;
    use slogate::spec::query::with_label_matcher;

    const LABEL: &str = "rollouts_pod_template_hash";
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (query, value) = text.split_once('\n').unwrap_or((text, "canary-1"));
    let Ok(out) = with_label_matcher(query, LABEL, value) else {
        return;
    };
    let expr = promql_parser::parser::parse(&out)
        .unwrap_or_else(|e| panic!("the output does not parse: {e}\n{out}"));

    fn check(expr: &Expr, value: &str, out: &str) {
        let holds = |m: &promql_parser::label::Matchers| {
            m.or_matchers.is_empty()
                && m.matchers
                    .iter()
                    .any(|m| m.name == LABEL && m.op == MatchOp::Equal && m.value == value)
        };
        match expr {
            Expr::VectorSelector(vs) => assert!(holds(&vs.matchers), "{vs} in {out}"),
            Expr::MatrixSelector(ms) => assert!(holds(&ms.vs.matchers), "{} in {out}", ms.vs),
            Expr::Aggregate(a) => {
                check(&a.expr, value, out);
                if let Some(p) = &a.param {
                    check(p, value, out);
                }
            }
            Expr::Unary(u) => check(&u.expr, value, out),
            Expr::Binary(b) => {
                check(&b.lhs, value, out);
                check(&b.rhs, value, out);
            }
            Expr::Paren(p) => check(&p.expr, value, out),
            Expr::Subquery(s) => check(&s.expr, value, out),
            Expr::Call(c) => c.args.args.iter().for_each(|a| check(a, value, out)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
    check(&expr, value, &out);
}

/// The spec loader, in every format it reads (slogate's own, Sloth, OpenSLO: it tells them by
/// content): never a panic, and every diagnostic names the file it was given and a line in it
/// (1-based, within the text). Lines are counted as YAML counts them: a lone CR breaks a line
/// too (YAML 1.2, 5.4; so do editors such as VS Code). The fuzzer's first find was this
/// oracle counting only LF: `corpus/spec_loader/lone-cr-line-breaks`.
#[allow(dead_code)]
pub fn spec_loader_oracle(data: &[u8]) {
    use slogate::spec::load_texts;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = std::path::PathBuf::from("fuzzed.yaml");
    let report = load_texts(&[(file.clone(), text.to_string())]);
    let lone_crs = text
        .as_bytes()
        .windows(2)
        .filter(|w| w[0] == b'\r' && w[1] != b'\n')
        .count()
        + usize::from(text.ends_with('\r'));
    let lines = text.lines().count().max(1) + 1 + lone_crs;
    for d in &report.diagnostics {
        assert_eq!(d.file, file, "a diagnostic names another file: {d}");
        assert!(
            d.pos.line >= 1 && d.pos.line <= lines,
            "a diagnostic's line {} is outside the text's {lines} lines: {d}",
            d.pos.line
        );
        assert!(!d.message.is_empty(), "a diagnostic says nothing: {d}");
    }
}

/// The gate bodies: the first byte picks the canary (even) or the SLO gate (odd), the rest is
/// the JSON body, checked against a fixed set of definitions. Never a panic; an accepted canary
/// ask has a window of 1 minute to 24 hours ending at most a minute from now, two different
/// versions of the allowed characters, and keeps every critical metric of its profile.
#[allow(dead_code)]
pub fn gate_body_oracle(data: &[u8]) {
    use slogate::server::requests::{CanaryBody, SloBody, canary_gate, parse_json, slo_gate};
    const DEFINITIONS: &str = "apiVersion: slogate/v1
kind: ServiceLevels
service: shop
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(http_requests_total{service=\"shop\",code=~\"5..\"}[{{window}}]))
        total: sum(rate(http_requests_total{service=\"shop\"}[{{window}}]))
canary:
  metrics:
    - name: errors
      errors: sum(increase(http_requests_total{service=\"shop\",code=~\"5..\"}[{{window}}]))
      total: sum(increase(http_requests_total{service=\"shop\"}[{{window}}]))
      critical: true
    - name: latency
      query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service=\"shop\"}[1m])))
";
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    // Loaded once: loading the definitions on every input made the target run at 750 inputs
    // a second instead of tens of thousands.
    static CATALOG: std::sync::LazyLock<slogate::spec::Catalog> = std::sync::LazyLock::new(|| {
        let report = slogate::spec::load_texts(&[("shop.yaml".into(), DEFINITIONS.to_string())]);
        assert!(!report.has_errors(), "{:?}", report.diagnostics);
        report.catalog
    });
    let catalog = &*CATALOG;
    let now = chrono::Utc::now();
    if kind % 2 == 1 {
        if let Ok(body) = parse_json::<SloBody>(body) {
            let _ = slo_gate(catalog, &body, now);
        }
        return;
    }
    let Ok(body) = parse_json::<CanaryBody>(body) else {
        return;
    };
    let Ok(gate) = canary_gate(catalog, &body, now) else {
        return;
    };
    let r = &gate.request;
    let span = r.end - r.start;
    assert!((60..=86_400).contains(&span), "window of {span}s accepted");
    assert!(r.end <= now.timestamp() + 60, "a window ending in the future");
    assert_ne!(r.baseline, r.canary);
    for version in [&r.baseline, &r.canary] {
        assert!(
            !version.is_empty()
                && version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-:+@/".contains(c)),
            "version {version:?} accepted"
        );
    }
    assert!(
        gate.profile.metrics.iter().any(|m| m.name == "errors"),
        "the critical metric was dropped"
    );
}
