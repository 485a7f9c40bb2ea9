//! The guard of unauthenticated loopback mode (no API token, listening on a loopback address:
//! a developer's machine) against the developer's own browser.
//!
//! Without a token, anything that can make a request to 127.0.0.1 can ask the gates, reload
//! and read history. A web page the developer opens can, in two ways:
//! - a cross-site "simple" request (a form post, or `fetch` with `text/plain`), which browsers
//!   send without asking first: so a POST to the API must say `Content-Type:
//!   application/json`, which a browser only sends cross-site after a CORS preflight that
//!   slogate never grants;
//! - DNS rebinding (a hostile name that resolves to 127.0.0.1, so the page's own origin reaches
//!   slogate and reads the answers): so the `Host` header must name a loopback host
//!   (`localhost`, `*.localhost`, a 127.0.0.0/8 or `::1` address), as a browser sends the name
//!   it resolved.
//!
//! With tokens, or on a non-loopback address served with `--allow-unauthenticated` (a choice to
//! let anyone who reaches it in), the guard stands aside.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;

/// Middleware: refuses what a browser could send on a page's behalf in loopback mode.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.settings.tokens.is_empty() || !state.settings.listen.ip().is_loopback() {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if !host.is_some_and(is_loopback_host) {
        return ApiError {
            status: StatusCode::MISDIRECTED_REQUEST,
            code: "not_loopback_host",
            message: format!(
                "Host {:?} is not a loopback name or address: without an API token slogate \
                 answers only requests addressed to localhost, 127.0.0.1 or [::1]",
                host.unwrap_or("")
            ),
            field: None,
        }
        .into_response();
    }
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if request.method() == Method::POST && request.uri().path().starts_with("/api/") && !json {
        return ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: "send Content-Type: application/json (without an API token, slogate \
                      refuses the content types a browser may post from another site)"
                .to_string(),
            field: None,
        }
        .into_response();
    }
    next.run(request).await
}

/// Whether a `Host` header names this machine: `localhost` or a name under `.localhost`
/// (RFC 6761 reserves them for loopback), or a loopback address, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // [::1]:8080
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_with_or_without_ports_pass_and_others_do_not() {
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.",
            "app.localhost:3000",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:8080",
            "[::2]:80",
            "",
            "localhost:80:80",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
