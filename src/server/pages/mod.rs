//! The status pages: server-rendered HTML over the same data as the JSON API.
//!
//! - [`overview`] `GET /`, [`verdicts`] `GET /verdicts`, [`verdict`] `GET /verdicts/{id}`,
//!   [`slo`] `GET /slos/{service}/{slo}`, [`calibration`] `GET /calibration`: one file per
//!   page, each a handler that only fetches (through `evaluate` and the store, as the API
//!   does) and a plain function that shapes the view (unit-tested).
//! - [`render`]: the embedded tera templates, HTML error pages; [`chart`]: SVG charts;
//!   [`view`]: shared formatting.
//!
//! Access: when API tokens are configured the pages ask for one too (they show deploy
//! history): a bearer header, or the session cookie the login form sets ([`session`]:
//! a random id, HttpOnly, SameSite=Strict, expiring, ended at sign-out), unless
//! `pages.public` says an authenticating proxy stands in front.
//! Every page answers with a Content-Security-Policy that allows only slogate itself.

pub mod calibration;
pub mod chart;
pub mod overview;
pub mod render;
pub mod session;
pub mod slo;
pub mod verdict;
pub mod verdicts;
pub mod view;

use axum::Router;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::state::AppState;
use crate::tokens::Scope;
use render::{CSS, JS, render_text};

/// Only slogate's own styles, scripts and images; no framing, no plugins.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The pages' routes (merged into the service's router).
pub fn routes(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(overview::page))
        .route("/verdicts", get(verdicts::page))
        .route("/verdicts/{id}", get(verdict::page))
        .route("/slos/{service}/{slo}", get(slo::page))
        .route("/calibration", get(calibration::page))
        .route_layer(middleware::from_fn_with_state(state, require_viewer));
    Router::new()
        .merge(pages)
        .route("/login", get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
        .layer(middleware::from_fn(page_headers))
        .route("/assets/slogate.css", get(css))
        .route("/assets/slogate.js", get(js))
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Security headers of every page: CSP, no sniffing, no referrer, never cached (they show
/// deploy history).
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The bearer token of `Authorization`, if any.
fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
}

/// The session id of the sign-in cookie, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == session::COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether the pages are open to this request: no tokens configured, public pages, a bearer
/// token with the read scope, or an open session.
async fn allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let tokens = &state.settings.tokens;
    if tokens.is_empty() || state.settings.pages.public {
        return true;
    }
    if let Some(token) = bearer(headers) {
        return tokens.check(&token, Scope::Read).is_ok();
    }
    match session_cookie(headers) {
        Some(id) => session::valid(state, &id).await,
        None => false,
    }
}

/// Middleware: the page, or the login form (401) that comes back to it.
async fn require_viewer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if allowed(&state, request.headers()).await {
        return next.run(request).await;
    }
    let back = request
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    login_page(StatusCode::UNAUTHORIZED, &back, None)
}

#[derive(Serialize)]
struct LoginView<'a> {
    next: &'a str,
    error: Option<&'a str>,
}

fn login_page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let view = LoginView {
        next: safe_next(next),
        error,
    };
    match render_text("login.html", "Sign in", &view) {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(e) => render::PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Sign in".into(),
            message: e,
        }
        .into_response(),
    }
}

/// Only a path of this site (never `//host` or a full URL: no open redirect). Browsers drop
/// tabs and newlines from a URL and read `\\` as `/`, so `/<TAB>/evil.example` would become
/// `//evil.example`: a target holding a control character or a backslash anywhere is refused
/// as a whole, not cleaned.
fn safe_next(next: &str) -> &str {
    let same_site = next.starts_with('/') && !next.starts_with("//");
    let plain = !next.chars().any(|c| c.is_control() || c == '\\');
    if same_site && plain { next } else { "/" }
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
struct LoginForm {
    /// The API token.
    token: String,
    /// Where to go after.
    #[serde(default)]
    next: String,
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if allowed(&state, &headers).await {
        return Redirect::to("/").into_response();
    }
    login_page(StatusCode::OK, "/", None)
}

/// `POST /login`: a valid token opens a session, sets its cookie and goes back; a wrong one
/// shows the form again.
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let token = form.token.trim();
    let next = safe_next(&form.next).to_string();
    if state.settings.tokens.is_empty() || state.settings.pages.public {
        return Redirect::to(&next).into_response();
    }
    // The pages need the read scope: an exporter's or a gate's token does not open them.
    if token.is_empty() || state.settings.tokens.check(token, Scope::Read).is_err() {
        metrics::counter!(crate::telemetry::names::ERRORS, "kind" => "auth").increment(1);
        return login_page(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That token is not valid."),
        );
    }
    let id = match session::open(&state, token).await {
        Ok(id) => id,
        Err(why) => {
            tracing::error!(error = %why, "a sign-in could not open its session");
            return login_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &next,
                Some("Signing in is not possible now: the session could not be stored."),
            );
        }
    };
    // Secure when the request came over HTTPS (through a proxy that says so).
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        session::COOKIE,
        state.settings.pages.session_ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `POST /logout`: ends the session in the store (a copy of the cookie opens nothing after)
/// and forgets the cookie.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        session::close(&state, &id).await;
    }
    let mut response = Redirect::to("/login").into_response();
    let expired = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        session::COOKIE
    );
    if let Ok(v) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_only_goes_back_to_a_path_of_this_site() {
        assert_eq!(safe_next("/verdicts?service=a"), "/verdicts?service=a");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
    }

    #[test]
    fn a_control_character_or_backslash_anywhere_sends_the_login_home() {
        for hostile in [
            "/\t/evil.example/x",
            "/\n/evil.example/x",
            "/\r\n/evil.example/x",
            "\t//evil.example/x",
            "/\u{0}/evil.example/x",
            "/\u{7f}/evil.example/x",
            "/./\\evil.example/x",
        ] {
            assert_eq!(safe_next(hostile), "/", "{hostile:?}");
        }
        assert_eq!(safe_next("/slos/a/b?x=1#c"), "/slos/a/b?x=1#c");
    }

    #[test]
    fn the_bearer_token_and_the_session_cookie_are_read_apart() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; slogate_session=abc; slogate_token=old; b=2"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer xyz"),
        );
        assert_eq!(bearer(&h).as_deref(), Some("xyz"));
    }
}
