//! The report as an email: `multipart/alternative` of the plain text and a
//! `multipart/related` holding the HTML and the chart, which the HTML shows by Content-ID
//! (`cid:`), so nothing is fetched from the network when it is read.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::render::{CHART_CID, Rendered};

/// The email could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the report email: {0}")]
pub struct EmailError(String);

impl EmailError {
    /// An address that does not parse.
    pub fn from_address(e: &lettre::address::AddressError) -> EmailError {
        EmailError(e.to_string())
    }
}

/// The whole message (RFC 5322 bytes, as stored in the outbox and sent as they are).
pub fn build(
    rendered: &Rendered,
    chart_png: &[u8],
    from: &Mailbox,
    to: &[Mailbox],
    message_id: &str,
    date: SystemTime,
) -> Result<Vec<u8>, EmailError> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(rendered.subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .date(date)
        .user_agent(format!("slogate {}", env!("CARGO_PKG_VERSION")));
    for mailbox in to {
        builder = builder.to(mailbox.clone());
    }
    let png = ContentType::parse("image/png").map_err(|e| EmailError(e.to_string()))?;
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(rendered.text.clone()))
        .multipart(
            MultiPart::related()
                .singlepart(SinglePart::html(rendered.html.clone()))
                .singlepart(
                    Attachment::new_inline_with_name(
                        CHART_CID.to_string(),
                        "burn-down.png".to_string(),
                    )
                    .body(chart_png.to_vec(), png),
                ),
        );
    let message = builder
        .multipart(body)
        .map_err(|e| EmailError(e.to_string()))?;
    Ok(message.formatted())
}

/// A Message-ID local part from a report key (`report/payments/2026-W07` ->
/// `report.payments.2026-W07@slogate`): the same report always has the same id, so a mail
/// system that sees it twice can tell.
pub fn message_id(key: &str) -> String {
    let local: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!("{local}@slogate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_is_alternative_with_the_chart_inline_by_content_id() {
        let rendered = Rendered {
            subject: "SLO report 2026-W07 for payments".into(),
            text: "plain".into(),
            html: format!("<img src=\"cid:{CHART_CID}\">"),
        };
        let eml = build(
            &rendered,
            b"\x89PNG fake",
            &"slogate <slogate@example.com>".parse().unwrap(),
            &["pay@example.com".parse().unwrap()],
            &message_id("report/payments/2026-W07"),
            SystemTime::now(),
        )
        .unwrap();
        let text = String::from_utf8_lossy(&eml);
        for part in [
            "multipart/alternative",
            "multipart/related",
            "text/plain",
            "text/html",
            "image/png",
            &format!("Content-ID: <{CHART_CID}>"),
            "Message-ID: <report.payments.2026-W07@slogate>",
        ] {
            assert!(text.contains(part), "{part} missing:\n{text}");
        }
    }
}
