//! Slack messages: Block Kit with a plain `text` fallback (notifications and clients without
//! blocks show it), within Slack's limits.
//!
//! Limits (Slack's Block Kit reference): a header's plain text <= 150 characters, a section's
//! text <= 3000, <= 10 fields of <= 2000 each, <= 50 blocks, the message `text` <= 40000. Longer
//! text is cut with an ellipsis; extra checks are counted in one last line. User text (service
//! names, reasons, versions) is escaped for mrkdwn (`&`, `<`, `>`), so it can neither mention
//! `@channel` nor forge a link.

use serde_json::{Value, json};

use super::event::{Change, Judged, truncate};

/// Longest header text.
pub const HEADER_MAX: usize = 150;
/// Longest section text.
pub const SECTION_MAX: usize = 3000;
/// Most fields in a section.
pub const FIELDS_MAX: usize = 10;
/// Longest field text.
pub const FIELD_MAX: usize = 2000;
/// Most blocks in a message.
pub const BLOCKS_MAX: usize = 50;
/// Longest `text` fallback.
pub const TEXT_MAX: usize = 40000;

/// Blocks used besides the failed checks: header, summary, fields, numbers, link, "more".
const FIXED_BLOCKS: usize = 6;

/// `&`, `<` and `>` as Slack's mrkdwn wants them.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes, then cuts to `max` characters without leaving half an entity behind.
fn escaped(text: &str, max: usize) -> String {
    cut_escaped(escape(text), max)
}

/// Cuts already escaped text to `max` characters without leaving half an entity behind.
fn cut_escaped(full: String, max: usize) -> String {
    if full.chars().count() <= max {
        return full;
    }
    let mut cut: String = full.chars().take(max.saturating_sub(1)).collect();
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

/// The webhook body for `change` of `judged`; `channel` overrides a legacy webhook's channel.
pub fn message(
    judged: &Judged,
    change: Change,
    status_url: Option<&str>,
    channel: Option<&str>,
) -> Value {
    let v = &judged.verdict;
    let title = judged.title(change);
    let icon = match change {
        Change::Failed => ":red_circle:",
        Change::Inconclusive => ":large_yellow_circle:",
        Change::Recovered => ":large_green_circle:",
    };
    let mut blocks = vec![
        json!({"type": "header",
               "text": {"type": "plain_text", "text": truncate(&title, HEADER_MAX), "emoji": true}}),
        json!({"type": "section",
               "text": mrkdwn(escaped(&format!("{icon} {}", v.summary), SECTION_MAX))}),
    ];
    let mut fields = vec![
        ("Service", v.service.clone()),
        ("Verdict", format!("{} ({})", v.verdict, judged.kind())),
        ("Gate", judged.what()),
        ("Window", format!("{} to {}", v.window.start, v.window.end)),
    ];
    if let Some(team) = &judged.team {
        fields.insert(1, ("Team", team.clone()));
    }
    let fields: Vec<Value> = fields
        .into_iter()
        .take(FIELDS_MAX)
        .map(|(k, val)| mrkdwn(escaped(&format!("*{k}*\n{val}"), FIELD_MAX)))
        .collect();
    blocks.push(json!({"type": "section", "fields": fields}));

    let problems = if change == Change::Recovered {
        Vec::new()
    } else {
        judged.problems()
    };
    let room = BLOCKS_MAX - FIXED_BLOCKS;
    for p in problems.iter().take(room) {
        blocks.push(json!({"type": "section", "text": mrkdwn(escaped(p, SECTION_MAX))}));
    }
    if problems.len() > room {
        let more = problems.len() - room;
        blocks.push(json!({"type": "context",
            "elements": [mrkdwn(format!("and {more} more checks that did not pass"))]}));
    }
    let numbers = judged.numbers();
    if !numbers.is_empty() {
        let lines: Vec<String> = numbers
            .iter()
            .map(|(k, val)| format!("• *{}*: {}", escape(k), escape(val)))
            .collect();
        let text = format!("*Key numbers*\n{}", lines.join("\n"));
        // Escaped line by line already: only cut here.
        blocks.push(json!({"type": "section", "text": mrkdwn(cut_escaped(text, SECTION_MAX))}));
    }
    let link = judged.link(status_url);
    let reference = match &link {
        Some(url) => format!("<{url}|Verdict {}>", v.id),
        None => format!("Verdict {}", v.id),
    };
    blocks.push(json!({"type": "context", "elements": [mrkdwn(reference)]}));
    blocks.truncate(BLOCKS_MAX);

    let mut text = vec![title, v.summary.clone()];
    text.extend(problems.iter().cloned());
    text.extend(numbers.iter().map(|(k, val)| format!("{k}: {val}")));
    text.push(link.unwrap_or_else(|| format!("verdict {}", v.id)));
    let mut body = json!({
        "text": escaped(&text.join("\n"), TEXT_MAX),
        "blocks": blocks,
    });
    if let Some(channel) = channel {
        body["channel"] = json!(channel);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::Rollout;
    use crate::verdict::{Check, Outcome, Verdict, VerdictKind, Window};

    fn check(name: &str, reason: &str) -> Check {
        Check {
            name: name.into(),
            source: "prometheus".into(),
            verdict: Outcome::Fail,
            classification: "high".into(),
            baseline: None,
            canary: None,
            effect: Some(3.0),
            interval: Some([0.5, 1.5]),
            p_value: None,
            threshold: "x".into(),
            reason: reason.into(),
            sequential: None,
        }
    }

    fn judged(service: &str, checks: Vec<Check>) -> Judged {
        Judged {
            verdict: Verdict {
                id: "v-1".into(),
                kind: VerdictKind::Canary,
                verdict: Outcome::Fail,
                score: 0.0,
                summary: format!("{service} fail: <b>&"),
                service: service.into(),
                window: Window {
                    start: "2026-01-01T00:00:00Z".into(),
                    end: "2026-01-01T00:10:00Z".into(),
                },
                checks,
                evaluated_at: "2026-01-01T00:10:00Z".into(),
            },
            team: Some("payments".into()),
            rollout: Rollout::Canary {
                baseline: "a".into(),
                canary: "b".into(),
            },
            slos: vec![],
        }
    }

    fn all_texts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(t)) = m.get("text") {
                    out.push(t.clone());
                }
                m.values().for_each(|x| all_texts(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| all_texts(x, out)),
            _ => {}
        }
    }

    #[test]
    fn user_text_is_escaped_and_the_verdict_is_linked() {
        let j = judged(
            "checkout",
            vec![check("error-rate", "<!channel> rose & stayed")],
        );
        let m = message(
            &j,
            Change::Failed,
            Some("https://s.example"),
            Some("#deploys"),
        );
        let text = serde_json::to_string(&m).unwrap();
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(
            text.contains("&lt;!channel&gt; rose &amp; stayed"),
            "{text}"
        );
        assert!(
            text.contains("<https://s.example/verdicts/v-1|Verdict v-1>"),
            "{text}"
        );
        assert_eq!(m["channel"], "#deploys");
        assert!(m["text"].as_str().unwrap().contains("error-rate"));
    }

    #[test]
    fn huge_input_stays_within_every_slack_limit() {
        let long = "x&".repeat(5000);
        let checks = (0..80)
            .map(|i| check(&format!("m{i}{long}"), &long))
            .collect();
        let m = message(&judged(&long, checks), Change::Failed, None, None);
        let blocks = m["blocks"].as_array().unwrap();
        assert!(blocks.len() <= BLOCKS_MAX);
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(header.chars().count() <= HEADER_MAX && header.ends_with('…'));
        for b in blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= SECTION_MAX);
                let body = t.trim_end_matches('…');
                if b["text"]["type"] == "mrkdwn"
                    && let Some(amp) = body.rfind('&')
                {
                    assert!(
                        body[amp..].contains(';'),
                        "half an entity at the end of a cut"
                    );
                }
            }
            if let Some(fields) = b["fields"].as_array() {
                assert!(fields.len() <= FIELDS_MAX);
                for f in fields {
                    assert!(f["text"].as_str().unwrap().chars().count() <= FIELD_MAX);
                }
            }
        }
        assert!(m["text"].as_str().unwrap().chars().count() <= TEXT_MAX);
        let mut texts = Vec::new();
        all_texts(&m, &mut texts);
        assert!(texts.iter().any(|t| t.contains("more checks")));
    }
}
