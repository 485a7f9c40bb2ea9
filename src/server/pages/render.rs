//! The templates and assets, embedded in the binary, and the HTML answers: pages, and error
//! pages that name what was wrong.
//!
//! Templates are tera 2 files under `templates/pages/`; every name ends in `.html`, so tera
//! escapes every value (autoescape) unless a template marks it `safe` (only the SVG charts,
//! which [`super::chart`] builds with escaped text).

use std::sync::LazyLock;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use tera::{Context, Tera};

use crate::server::error::ApiError;

/// The templates, by name, as compiled in.
const TEMPLATES: [(&str, &str); 8] = [
    (
        "base.html",
        include_str!("../../../templates/pages/base.html"),
    ),
    (
        "overview.html",
        include_str!("../../../templates/pages/overview.html"),
    ),
    (
        "verdicts.html",
        include_str!("../../../templates/pages/verdicts.html"),
    ),
    (
        "verdict.html",
        include_str!("../../../templates/pages/verdict.html"),
    ),
    (
        "slo.html",
        include_str!("../../../templates/pages/slo.html"),
    ),
    (
        "calibration.html",
        include_str!("../../../templates/pages/calibration.html"),
    ),
    (
        "login.html",
        include_str!("../../../templates/pages/login.html"),
    ),
    (
        "error.html",
        include_str!("../../../templates/pages/error.html"),
    ),
];

/// The stylesheet served at `/assets/slogate.css`.
pub const CSS: &str = include_str!("../../../templates/pages/assets/slogate.css");
/// The script served at `/assets/slogate.js` (progressive enhancement only).
pub const JS: &str = include_str!("../../../templates/pages/assets/slogate.js");

/// Parsed once; a template that does not parse is a build mistake, reported on every page
/// (and caught by the unit tests) rather than a panic.
static TERA: LazyLock<Result<Tera, String>> = LazyLock::new(|| {
    let mut tera = Tera::new();
    tera.add_raw_templates(TEMPLATES)
        .map_err(|e| format!("the page templates do not parse: {e}"))?;
    Ok(tera)
});

/// An error answered as an HTML page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Heading.
    pub title: String,
    /// What was wrong, for people.
    pub message: String,
}

impl PageError {
    /// 400 naming the query parameter at fault.
    pub fn bad_request(parameter: &str, message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::BAD_REQUEST,
            title: format!("Bad parameter: {parameter}"),
            message: format!("{parameter}: {}", message.into()),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            title: "Not found".to_string(),
            message: message.into(),
        }
    }

    /// 500 for a page that cannot be drawn.
    fn internal(message: String) -> PageError {
        tracing::error!(error = %message, "a status page could not be rendered");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "The page could not be drawn".to_string(),
            message: "slogate could not render this page; its log says why".to_string(),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        let title = match e.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            _ => "Error",
        };
        let message = match &e.field {
            Some(field) => format!("{field}: {}", e.message),
            None => e.message,
        };
        PageError {
            status: e.status,
            title: title.to_string(),
            message,
        }
    }
}

#[derive(Serialize)]
struct ErrorView<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let view = ErrorView {
            status: self.status.as_u16(),
            message: &self.message,
        };
        match render_text("error.html", &self.title, &view) {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (
                self.status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{}: {}", self.title, self.message),
            )
                .into_response(),
        }
    }
}

/// Renders `template` with the view as `page` and the title as `title`.
pub fn render_text<T: Serialize>(template: &str, title: &str, view: &T) -> Result<String, String> {
    let tera = TERA.as_ref().map_err(Clone::clone)?;
    let mut context = Context::new();
    context.insert("title", title);
    context.insert("page", view);
    tera.render(template, &context)
        .map_err(|e| format!("{template}: {e:?}"))
}

/// [`render_text`] as an answer; a failure is a 500 page (and logged).
pub fn render<T: Serialize>(
    template: &str,
    title: &str,
    view: &T,
) -> Result<Html<String>, PageError> {
    render_text(template, title, view)
        .map(Html)
        .map_err(PageError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        assert!(TERA.is_ok(), "{:?}", TERA.as_ref().err());
    }

    #[test]
    fn an_error_page_names_the_parameter_and_escapes_it() {
        let e = PageError::bad_request("<b>sort</b>", "\"x\": expected budget");
        let html = render_text(
            "error.html",
            &e.title,
            &ErrorView {
                status: 400,
                message: &e.message,
            },
        )
        .unwrap();
        assert!(
            html.contains("&lt;b&gt;sort&lt;&#x2F;b&gt;")
                || html.contains("&lt;b&gt;sort&lt;/b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>sort"), "{html}");
    }
}
