//! slogate's generated recording rules backfilled into a real Prometheus with
//! `promtool tsdb create-blocks-from rules`, as an operator would after deploying them.
//!
//! promtool evaluates each rule against the server's existing data only, so a rule that reads
//! another rule's series (the period ratio reads the shortest window's recordings) needs that
//! series loaded first. The rules are therefore cut into levels by what they read, and each
//! level is backfilled and loaded before the next.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::Command;

use slogate::generate::rules::{Rule, RuleFile};

use super::prometheus::PrometheusGuard;

/// Backfills every recording rule of `files` from `start` to `end` (unix seconds) at one
/// evaluation a minute (Prometheus' default `evaluation_interval`), level by level.
pub fn backfill(prometheus: &mut PrometheusGuard, files: &[RuleFile], start: i64, end: i64) {
    let recordings: Vec<(&str, &str, &slogate::generate::rules::Labels)> = files
        .iter()
        .flat_map(|f| &f.groups)
        .flat_map(|g| &g.rules)
        .filter_map(|r| match r {
            Rule::Record {
                record,
                expr,
                labels,
            } => Some((record.as_str(), expr.as_str(), labels)),
            Rule::Alert { .. } => None,
        })
        .collect();
    let levels = levels(
        &recordings
            .iter()
            .map(|(r, e, _)| (*r, *e))
            .collect::<Vec<_>>(),
    );
    let deepest = levels.iter().copied().max().unwrap_or(0);
    for level in 0..=deepest {
        let mut yaml = format!("groups:\n- name: level-{level}\n  rules:\n");
        for ((record, expr, labels), _) in
            recordings.iter().zip(&levels).filter(|(_, l)| **l == level)
        {
            writeln!(yaml, "  - record: {record}\n    expr: |-").unwrap();
            for line in expr.lines() {
                writeln!(yaml, "      {line}").unwrap();
            }
            yaml.push_str("    labels:\n");
            for (k, v) in labels.iter() {
                writeln!(yaml, "      {k}: {}", serde_json::to_string(v).unwrap()).unwrap();
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.yaml");
        std::fs::write(&rules, &yaml).unwrap();
        let blocks = dir.path().join("blocks");
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "rules", "--quiet"])
            .arg(format!("--url={}", prometheus.url))
            .arg(format!("--start={start}"))
            .arg(format!("--end={end}"))
            .arg("--eval-interval=1m")
            .arg(format!("--output-dir={}", blocks.display()))
            .arg(&rules)
            .output()
            .expect("promtool is installed (scripts/test installs it)");
        assert!(
            out.status.success(),
            "promtool rules backfill of level {level} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        prometheus.add_blocks(&blocks);
    }
}

/// Each rule's level: 0 when it reads no recorded series, else one more than the deepest rule
/// whose series it reads.
fn levels(rules: &[(&str, &str)]) -> Vec<usize> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (record, _)) in rules.iter().enumerate() {
        by_name.entry(record).or_default().push(i);
    }
    let mut level = vec![0usize; rules.len()];
    // Rules form a DAG; as many passes as rules settle it.
    for _ in 0..rules.len() {
        let mut changed = false;
        for (i, (_, expr)) in rules.iter().enumerate() {
            let deepest = by_name
                .iter()
                .filter(|(name, _)| reads(expr, name))
                .flat_map(|(_, ids)| ids.iter().map(|j| level[*j] + 1))
                .max()
                .unwrap_or(0);
            if deepest != level[i] {
                level[i] = deepest;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    level
}

/// Whether `expr` names the metric `name` (not as a prefix of a longer name).
fn reads(expr: &str, name: &str) -> bool {
    expr.match_indices(name).any(|(at, _)| {
        let next = expr[at + name.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    })
}
