//! What can go wrong talking to Prometheus, sorted by what the caller can do about it, and the
//! redaction that keeps credentials out of every message.

use std::error::Error as _;
use std::time::Duration;

use prometheus_http_query::error::PrometheusErrorType;

/// Why a query gave no values. Every variant names the query, so a verdict's reason can point
/// at the SLO or metric that could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Connection refused / reset / DNS: Prometheus cannot be reached.
    #[error("cannot reach Prometheus for query `{query}`: {reason}")]
    Unreachable {
        /// The PromQL sent.
        query: String,
        /// The network's words (credentials removed).
        reason: String,
    },
    /// No answer within the per-query timeout (after retries).
    #[error("Prometheus did not answer query `{query}` within {after:?}")]
    Timeout {
        /// The PromQL sent.
        query: String,
        /// The per-attempt timeout that ran out.
        after: Duration,
    },
    /// Prometheus refused the query (bad PromQL, 400/422): not retried.
    #[error("Prometheus rejected query `{query}`: {message}")]
    Rejected {
        /// The PromQL sent.
        query: String,
        /// Prometheus' explanation (e.g. the parse error and its position), or the HTTP status.
        message: String,
    },
    /// An answer that says it is incomplete: `warnings` in Prometheus' JSON (Thanos, Cortex and
    /// Mimir partial responses: a store or ingester did not answer). A part of the data is
    /// not evidence, so it is never judged; retried like a failure.
    #[error(
        "Prometheus answered query `{query}` only in part (warnings: {warnings}); a partial answer is not judged"
    )]
    Partial {
        /// The PromQL sent.
        query: String,
        /// The warnings, joined (credentials removed).
        warnings: String,
    },
    /// 5xx or an undecodable answer, after retries.
    #[error("query `{query}` failed: {message}")]
    Failed {
        /// The PromQL sent.
        query: String,
        /// What came back instead of an answer.
        message: String,
    },
}

impl SourceError {
    /// The PromQL of the query that failed.
    pub fn query(&self) -> &str {
        match self {
            SourceError::Unreachable { query, .. }
            | SourceError::Timeout { query, .. }
            | SourceError::Rejected { query, .. }
            | SourceError::Partial { query, .. }
            | SourceError::Failed { query, .. } => query,
        }
    }

    /// Whether the same query could succeed later: everything but a rejection. The source
    /// retries exactly these; a gate reports them as "cannot tell yet" rather than as a fault
    /// of the query.
    pub fn is_transient(&self) -> bool {
        !matches!(self, SourceError::Rejected { .. })
    }
}

/// Settings that cannot make a working source.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The URL does not parse, or is not http(s).
    #[error("invalid Prometheus URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given, credentials removed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A query timeout under a millisecond (Prometheus' `timeout` parameter counts them).
    #[error("the Prometheus query timeout must be at least 1ms (got {timeout:?})")]
    Timeout {
        /// The timeout given.
        timeout: Duration,
    },
    /// The HTTP client could not be built (e.g. no TLS roots).
    #[error("cannot build the HTTP client for Prometheus: {reason}")]
    Client {
        /// The underlying reason.
        reason: String,
    },
    /// A query budget that would leave some queries no permit.
    #[error("{setting}: {message}")]
    Budget {
        /// The setting at fault (`prometheus.reserved_for_gates`).
        setting: &'static str,
        /// Why.
        message: String,
    },
}

/// Sorts a failed attempt of `query` into a [`SourceError`]. `timeout` is the attempt's
/// deadline, reported when Prometheus itself gave up on the query.
pub(super) fn classify(
    query: &str,
    error: prometheus_http_query::Error,
    timeout: Duration,
) -> SourceError {
    let query = query.to_string();
    match error {
        prometheus_http_query::Error::Prometheus(e) => {
            let message = redact(e.message());
            match e.error_type() {
                // 400 (parse errors, bad parameters), 422 (cannot be executed, e.g. too many
                // samples), 404: the same query would fail the same way.
                PrometheusErrorType::BadData
                | PrometheusErrorType::Execution
                | PrometheusErrorType::NotFound => SourceError::Rejected { query, message },
                // Prometheus' own deadline (503): the same as ours running out.
                PrometheusErrorType::Timeout => SourceError::Timeout {
                    query,
                    after: timeout,
                },
                other => SourceError::Failed {
                    query,
                    message: format!("{other}: {message}"),
                },
            }
        }
        prometheus_http_query::Error::Client(e) => {
            let Some(cause) = e.inner() else {
                // No HTTP error behind it: a 2xx answer that is not JSON (a proxy's page).
                return SourceError::Failed {
                    query,
                    message: format!("{e} (not Prometheus' JSON API)"),
                };
            };
            let reason = redact(&causes(cause));
            if cause.is_connect() || is_connection_lost(cause) {
                return SourceError::Unreachable { query, reason };
            }
            if cause.is_timeout() {
                return SourceError::Timeout {
                    query,
                    after: timeout,
                };
            }
            match cause.status() {
                // A non-JSON 4xx: an auth proxy's 401/403, a wrong base path's 404. Trying
                // again cannot help (except for 408 and 429, which ask for exactly that).
                Some(status)
                    if status.is_client_error()
                        && status != reqwest::StatusCode::REQUEST_TIMEOUT
                        && status != reqwest::StatusCode::TOO_MANY_REQUESTS =>
                {
                    SourceError::Rejected {
                        query,
                        message: format!("HTTP {status} (not Prometheus' JSON API)"),
                    }
                }
                Some(status) => SourceError::Failed {
                    query,
                    message: format!("HTTP {status}"),
                },
                None => SourceError::Failed {
                    query,
                    message: format!("{e}: {reason}"),
                },
            }
        }
        other => SourceError::Failed {
            query,
            message: redact(&other.to_string()),
        },
    }
}

/// Whether an established connection broke (reset, closed early): as good as unreachable.
fn is_connection_lost(error: &reqwest::Error) -> bool {
    use std::io::ErrorKind;
    let mut next = error.source();
    while let Some(cause) = next {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::NotConnected
            )
        {
            return true;
        }
        next = cause.source();
    }
    false
}

/// The chain of causes below a reqwest error, `: `-separated. reqwest's own message is left
/// out: it repeats the request URL, which says nothing new and may carry a query string.
pub(super) fn causes(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        next = cause.source();
    }
    if parts.is_empty() {
        // Nothing below: fall back to reqwest's words, URL removed.
        let kind = if error.is_decode() {
            "cannot decode the answer"
        } else if error.is_body() {
            "cannot read the answer"
        } else {
            "request failed"
        };
        return kind.to_string();
    }
    parts.join(": ")
}

/// `text` with the credentials of every URL in it (`scheme://user:password@`) replaced by
/// `***@`, so settings and errors can be shown and logged: the one function every shown URL
/// goes through.
///
/// A password written into a URL by hand may hold anything but a newline: quotes, brackets,
/// spaces, `/`, `#`, even `@`. So the userinfo is taken to run from `://` to the *last* `@`
/// before the end of the line or the next URL. That may hide more than the userinfo (a path
/// or query holding `@`, a sentence after the URL naming an email address); it never shows a
/// piece of the password.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let mut end = tail.find(['\n', '\r']).unwrap_or(tail.len());
        if let Some(next_url) = tail[..end].find("://") {
            end = next_url;
        }
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***@");
                rest = &tail[at + 1..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_cuts_credentials_from_every_url() {
        let cases = [
            ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
            (
                "https://user:hunter2@prom.example/prom",
                "https://***@prom.example/prom",
            ),
            ("http://token@host", "http://***@host"),
            (
                "a http://u:p@x/ and (https://v:q@y)",
                "a http://***@x/ and (https://***@y)",
            ),
            ("http://u:p%40ss@host?x=1", "http://***@host?x=1"),
            ("http://host/api?query=up%20@%201", "http://***@%201"),
            // Characters a hand-written password holds that end a URL in prose.
            ("http://u:it's@host/x", "http://***@host/x"),
            ("http://u:a)b@host/x", "http://***@host/x"),
            ("(http://u:a)b@host)", "(http://***@host)"),
            ("\"http://u:a\"b@host\"", "\"http://***@host\""),
            ("`http://u:two words@host/p`", "`http://***@host/p`"),
            ("http://u:a/b@host/p", "http://***@host/p"),
            ("http://u:a@b@host/p", "http://***@host/p"),
            ("http://u:a#b@host", "http://***@host"),
            ("http://u:a?b@host/p?q=1", "http://***@host/p?q=1"),
            ("http://u:p@x\nhttp://y/z@w", "http://***@x\nhttp://***@w"),
            ("no url here", "no url here"),
            ("sum(rate(x[5m]))", "sum(rate(x[5m]))"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }

    #[test]
    fn only_rejections_are_final() {
        let q = || "up".to_string();
        let after = Duration::from_secs(1);
        assert!(
            !SourceError::Rejected {
                query: q(),
                message: "x".into()
            }
            .is_transient()
        );
        assert!(
            SourceError::Failed {
                query: q(),
                message: "x".into()
            }
            .is_transient()
        );
        assert!(SourceError::Timeout { query: q(), after }.is_transient());
        assert!(
            SourceError::Unreachable {
                query: q(),
                reason: "x".into()
            }
            .is_transient()
        );
        assert_eq!(SourceError::Timeout { query: q(), after }.query(), "up");
    }
}
