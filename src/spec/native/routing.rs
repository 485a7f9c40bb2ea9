//! The `AlertRouting` document as written (`apiVersion: slogate/v1`, `kind: AlertRouting`),
//! mapped into [`AlertRouting`] with every field checked where it is written.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::alerts;
use crate::spec::alert::{SeverityMap, Tier};
use crate::spec::check;
use crate::spec::diagnostic::Issues;
use crate::spec::duration::PromDuration;
use crate::spec::model::Route;
use crate::spec::routing::{AlertRouting, InhibitSpec, KubernetesMetadata, Smtp, TeamRouting};
use crate::spec::yaml::{join_index, join_key};

/// The `kind` of the document.
pub const KIND: &str = "AlertRouting";

/// An `AlertRouting` document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlertRoutingDoc {
    /// `slogate/v1`.
    pub api_version: String,
    /// `AlertRouting`.
    pub kind: String,
    /// The receiver of alerts no route takes.
    #[serde(default, rename = "default_receiver")]
    default_receiver: Option<RouteDoc>,
    #[serde(default, rename = "group_by")]
    group_by: Option<Vec<String>>,
    #[serde(default, rename = "group_wait")]
    group_wait: Option<String>,
    #[serde(default, rename = "group_interval")]
    group_interval: Option<String>,
    #[serde(default, rename = "repeat_interval")]
    repeat_interval: Option<String>,
    #[serde(default, rename = "page_repeat_interval")]
    page_repeat_interval: Option<String>,
    #[serde(default)]
    severities: Option<BTreeMap<String, String>>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    smtp: Option<SmtpDoc>,
    #[serde(default)]
    teams: BTreeMap<String, TeamDoc>,
    #[serde(default, rename = "inhibit_rules")]
    inhibit_rules: Vec<InhibitDoc>,
    #[serde(default)]
    kubernetes: Option<KubernetesDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KubernetesDoc {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDoc {
    route: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmtpDoc {
    smarthost: String,
    from: String,
    #[serde(default)]
    auth_username: Option<String>,
    #[serde(default)]
    require_tls: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamDoc {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    group_wait: Option<String>,
    #[serde(default)]
    group_interval: Option<String>,
    #[serde(default)]
    repeat_interval: Option<String>,
    #[serde(default)]
    page_repeat_interval: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InhibitDoc {
    source_matchers: Vec<String>,
    target_matchers: Vec<String>,
    #[serde(default)]
    equal: Vec<String>,
}

/// Maps the document into the model, recording every problem in `issues`.
pub fn load(doc: AlertRoutingDoc, issues: &mut Issues) -> Option<AlertRouting> {
    let defaults = AlertRouting::default();
    let duration = |issues: &mut Issues, field: &str, text: &Option<String>, default| match text {
        None => Some(default),
        Some(text) => check::duration(issues, field, field, text),
    };
    let group_wait = duration(issues, "group_wait", &doc.group_wait, defaults.group_wait);
    let group_interval = duration(
        issues,
        "group_interval",
        &doc.group_interval,
        defaults.group_interval,
    );
    let repeat_interval = duration(
        issues,
        "repeat_interval",
        &doc.repeat_interval,
        defaults.repeat_interval,
    );
    let page_repeat_interval = duration(
        issues,
        "page_repeat_interval",
        &doc.page_repeat_interval,
        defaults.page_repeat_interval,
    );
    let default_receiver = match doc.default_receiver {
        None => Some(defaults.default_receiver),
        Some(r) => {
            let path = "default_receiver";
            let route = alerts::route(
                issues,
                path,
                Some(&r.route),
                r.channel,
                r.to,
                Route::PagerDuty,
            );
            if matches!(route, Some(Route::Email { to: None })) {
                issues.error(
                    join_key(path, "to"),
                    "the default email receiver needs `to`",
                );
            }
            route
        }
    };
    let group_by = doc.group_by.unwrap_or(defaults.group_by);
    for (i, label) in group_by.iter().enumerate() {
        if !label_name(label) && label != "..." {
            issues.error(
                join_index("group_by", i),
                format!("`{label}` is not a label name (or `...` for every label)"),
            );
        }
    }
    let severities = match doc.severities {
        None => Some(defaults.severities),
        Some(map) => severities(issues, map),
    };
    let secret = doc.secret.unwrap_or(defaults.secret);
    if !secret_name(&secret) {
        issues.error(
            "secret",
            format!("`{secret}` is not a Kubernetes Secret name (lower-case letters, digits, `-` and `.`)"),
        );
    }
    let smtp = doc.smtp.map(|s| {
        if !s.smarthost.contains(':') {
            issues.error(
                "smtp.smarthost",
                format!(
                    "`{}` needs a port: write host:port (e.g. smtp.example.com:587)",
                    s.smarthost
                ),
            );
        }
        alerts::email_addresses(issues, "smtp.from", &s.from);
        Smtp {
            smarthost: s.smarthost,
            from: s.from,
            auth_username: s.auth_username,
            require_tls: s.require_tls.unwrap_or(true),
        }
    });
    let mut teams = BTreeMap::new();
    for (name, team) in doc.teams {
        let path = join_key("teams", &name);
        check::name(issues, &path, "team", &name);
        teams.insert(name, load_team(issues, &path, team));
    }
    let inhibit_rules = doc
        .inhibit_rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| load_inhibit(issues, &join_index("inhibit_rules", i), rule))
        .collect();
    let kubernetes = load_kubernetes(issues, doc.kubernetes.unwrap_or_default());
    if issues.has_errors() {
        return None;
    }
    Some(AlertRouting {
        default_receiver: default_receiver?,
        group_by,
        group_wait: group_wait?,
        group_interval: group_interval?,
        repeat_interval: repeat_interval?,
        page_repeat_interval: page_repeat_interval?,
        severities: severities?,
        secret,
        smtp,
        teams: teams
            .into_iter()
            .map(|(k, v)| v.map(|v| (k, v)))
            .collect::<Option<_>>()?,
        inhibit_rules,
        kubernetes,
    })
}

fn load_kubernetes(issues: &mut Issues, doc: KubernetesDoc) -> KubernetesMetadata {
    if let Some(ns) = &doc.namespace {
        let ok = ns.len() <= 63 && secret_name(ns) && !ns.contains('.');
        if !ok {
            issues.error(
                "kubernetes.namespace",
                format!("`{ns}` is not a Kubernetes namespace name (lower-case letters, digits and `-`, at most 63)"),
            );
        }
    }
    for (field, map) in [("labels", &doc.labels), ("annotations", &doc.annotations)] {
        for key in map.keys() {
            if !qualified_name(key) {
                issues.error(
                    join_key(&join_key("kubernetes", field), key),
                    format!("`{key}` is not a Kubernetes key (an optional DNS prefix and `/`, then letters, digits, `-`, `_`, `.`)"),
                );
            }
        }
    }
    for (key, value) in &doc.labels {
        let ok = value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && (value.is_empty()
                || value.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && value.ends_with(|c: char| c.is_ascii_alphanumeric()));
        if !ok {
            issues.error(
                join_key("kubernetes.labels", key),
                format!("`{value}` is not a Kubernetes label value (at most 63 letters, digits, `-`, `_`, `.`)"),
            );
        }
    }
    KubernetesMetadata {
        namespace: doc.namespace,
        labels: doc.labels,
        annotations: doc.annotations,
    }
}

/// A Kubernetes label or annotation key: `[prefix/]name`, the name at most 63 characters.
fn qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    name_ok && prefix.is_none_or(secret_name)
}

fn severities(issues: &mut Issues, map: BTreeMap<String, String>) -> Option<SeverityMap> {
    let mut out = BTreeMap::new();
    for (name, tier) in map {
        match Tier::parse(&tier) {
            Some(t) => {
                out.insert(name, t);
            }
            None => issues.error(
                join_key("severities", &name),
                format!("severity `{name}` maps to `{tier}`; expected `page` or `ticket`"),
            ),
        }
    }
    if out.is_empty() {
        issues.error(
            "severities",
            "name at least one severity (e.g. critical: page)",
        );
        return None;
    }
    Some(SeverityMap(out))
}

fn load_team(issues: &mut Issues, path: &str, doc: TeamDoc) -> Option<TeamRouting> {
    let at = |field: &str| join_key(path, field);
    let mut duration = |field: &str, text: &Option<String>| -> Option<Option<PromDuration>> {
        match text {
            None => Some(None),
            Some(text) => check::duration(issues, &at(field), field, text).map(Some),
        }
    };
    let group_wait = duration("group_wait", &doc.group_wait);
    let group_interval = duration("group_interval", &doc.group_interval);
    let repeat_interval = duration("repeat_interval", &doc.repeat_interval);
    let page_repeat_interval = duration("page_repeat_interval", &doc.page_repeat_interval);
    if let Some(email) = &doc.email {
        alerts::email_addresses(issues, &at("email"), email);
    }
    Some(TeamRouting {
        email: doc.email,
        group_wait: group_wait?,
        group_interval: group_interval?,
        repeat_interval: repeat_interval?,
        page_repeat_interval: page_repeat_interval?,
    })
}

fn load_inhibit(issues: &mut Issues, path: &str, doc: InhibitDoc) -> InhibitSpec {
    for (field, matchers) in [
        ("source_matchers", &doc.source_matchers),
        ("target_matchers", &doc.target_matchers),
    ] {
        if matchers.is_empty() {
            issues.error(
                join_key(path, field),
                "give at least one matcher: an empty list would match every alert",
            );
        }
        for (i, m) in matchers.iter().enumerate() {
            if let Err(why) = matcher(m) {
                issues.error(join_index(&join_key(path, field), i), why);
            }
        }
    }
    for (i, label) in doc.equal.iter().enumerate() {
        if !label_name(label) {
            issues.error(
                join_index(&join_key(path, "equal"), i),
                format!("`{label}` is not a label name"),
            );
        }
    }
    InhibitSpec {
        source_matchers: doc.source_matchers,
        target_matchers: doc.target_matchers,
        equal: doc.equal,
    }
}

/// Checks one Alertmanager matcher: `label`, one of `=`, `!=`, `=~`, `!~`, and a
/// double-quoted value.
fn matcher(text: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{text}` is not a matcher; write label=\"value\" (operators =, !=, =~, !~, value in double quotes)"
        )
    };
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(bad)?;
    let (name, rest) = text.split_at(name_end);
    let value = ["=~", "!~", "!=", "="]
        .iter()
        .find_map(|op| rest.strip_prefix(op))
        .ok_or_else(bad)?;
    let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
    if !label_name(name) || !quoted {
        return Err(bad());
    }
    Ok(())
}

fn label_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Kubernetes Secret name (an RFC 1123 subdomain), which is also its mount directory.
fn secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_need_a_label_an_operator_and_a_quoted_value() {
        for good in [
            r#"severity="critical""#,
            r#"slo_name=~".+""#,
            r#"team!="""#,
            r#"a!~"x|y""#,
        ] {
            assert_eq!(matcher(good), Ok(()), "{good}");
        }
        for bad in [
            "severity=critical",
            "=\"x\"",
            "sev-erity=\"x\"",
            "severity",
            "severity==\"x\"",
        ] {
            assert!(matcher(bad).is_err(), "{bad}");
        }
    }
}
