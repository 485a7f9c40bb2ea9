//! `GET /verdicts`: the verdict history, newest first, filtered by service and outcome, a
//! page at a time (the store's keyset cursor).

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Serialize;

use super::render::{PageError, render};
use super::view::{Badge, Choice, choices, encode, query_string};
use crate::server::state::AppState;
use crate::store::{HistoryFilter, StoreError, StoredVerdict};
use crate::verdict::{Outcome, VerdictKind};

/// Rows per page.
pub const PAGE_SIZE: usize = 50;

/// One verdict in the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictRow {
    /// Link to the verdict's page.
    pub href: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// Service.
    pub service: String,
    /// `canary` or `slo`.
    pub kind: &'static str,
    /// Outcome.
    pub outcome: Badge,
    /// Score, `87`.
    pub score: String,
    /// Summary line.
    pub summary: String,
}

/// The list page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictsView {
    /// Rows, newest first.
    pub rows: Vec<VerdictRow>,
    /// Service filter options.
    pub services: Vec<Choice>,
    /// Outcome filter options.
    pub outcomes: Vec<Choice>,
    /// Link to the next (older) page, when there may be one.
    pub older: Option<String>,
    /// Whether this is a later page (a link back to the newest).
    pub paged: bool,
    /// Link to the first page with the same filters.
    pub newest: String,
}

/// The filter of a query string: `service`, `outcome`, `before`; others are refused by name.
pub fn filter(params: &BTreeMap<String, String>) -> Result<HistoryFilter, (String, String)> {
    let mut f = HistoryFilter {
        limit: PAGE_SIZE,
        ..HistoryFilter::default()
    };
    for (key, value) in params {
        let value = value.trim();
        let set = (!value.is_empty()).then(|| value.to_string());
        match key.as_str() {
            "service" => f.service = set,
            "before" => f.before = set,
            "outcome" => {
                f.outcome = match value {
                    "" => None,
                    "pass" => Some(Outcome::Pass),
                    "fail" => Some(Outcome::Fail),
                    "inconclusive" => Some(Outcome::Inconclusive),
                    other => {
                        return Err((
                            key.clone(),
                            format!("{other:?}: expected pass, fail or inconclusive"),
                        ));
                    }
                }
            }
            other => {
                return Err((
                    other.to_string(),
                    "unknown parameter: expected service, outcome or before".to_string(),
                ));
            }
        }
    }
    Ok(f)
}

/// The view of one page of history.
pub fn view(
    verdicts: &[StoredVerdict],
    next: Option<String>,
    filter: &HistoryFilter,
    services: Vec<String>,
) -> VerdictsView {
    let outcome = filter.outcome.map(|o| o.to_string());
    let rows = verdicts
        .iter()
        .map(|s| VerdictRow {
            href: format!("/verdicts/{}", encode(&s.verdict.id)),
            recorded_at: crate::verdict::rfc3339(s.recorded_at),
            service: s.verdict.service.clone(),
            kind: match s.verdict.kind {
                VerdictKind::Canary => "canary",
                VerdictKind::Slo => "slo",
            },
            outcome: Badge::outcome(s.verdict.verdict),
            score: format!("{:.0}", s.verdict.score),
            summary: s.verdict.summary.clone(),
        })
        .collect();
    let link = |before: Option<&str>| {
        format!(
            "/verdicts{}",
            query_string(&[
                ("service", filter.service.as_deref()),
                ("outcome", outcome.as_deref()),
                ("before", before),
            ])
        )
    };
    VerdictsView {
        rows,
        services: choices(services, filter.service.as_deref()),
        outcomes: choices(
            ["pass", "fail", "inconclusive"].map(String::from),
            outcome.as_deref(),
        ),
        older: next.as_deref().map(|n| link(Some(n))),
        paged: filter.before.is_some(),
        newest: link(None),
    }
}

/// `GET /verdicts`.
pub async fn page(
    State(state): State<AppState>,
    params: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    let Query(params) = params.map_err(|e| PageError::bad_request("query", e.body_text()))?;
    let filter = filter(&params).map_err(|(p, m)| PageError::bad_request(&p, m))?;
    let store = state.store.clone();
    let wanted = filter.clone();
    let page = tokio::task::spawn_blocking(move || store.list(&wanted))
        .await
        .map_err(|e| {
            crate::server::error::ApiError::unavailable(format!("the history reader stopped: {e}"))
        })?
        .map_err(|e| match e {
            StoreError::BadCursor { .. } => PageError::bad_request("before", e.to_string()),
            e => crate::server::error::ApiError::store("the history cannot be read", &e).into(),
        })?;
    let next = (page.verdicts.len() == filter.limit)
        .then_some(page.next)
        .flatten();
    let services = state
        .catalog()
        .services
        .iter()
        .map(|s| s.service.clone())
        .collect();
    render(
        "verdicts.html",
        "Verdicts",
        &view(&page.verdicts, next, &filter, services),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_filter_reads_service_outcome_and_cursor_and_refuses_the_rest_by_name() {
        let f = filter(&params(&[
            ("service", "checkout"),
            ("outcome", "fail"),
            ("before", ""),
        ]))
        .unwrap();
        assert_eq!(
            (f.service.as_deref(), f.outcome, f.before),
            (Some("checkout"), Some(Outcome::Fail), None)
        );
        assert_eq!(
            filter(&params(&[("outcome", "bad")])).unwrap_err().0,
            "outcome"
        );
        assert_eq!(filter(&params(&[("page", "2")])).unwrap_err().0, "page");
    }

    #[test]
    fn the_older_link_keeps_the_filters() {
        let f = filter(&params(&[("service", "a b"), ("outcome", "fail")])).unwrap();
        let v = view(&[], Some("1.x".into()), &f, vec!["a b".into()]);
        assert_eq!(
            v.older.as_deref(),
            Some("/verdicts?service=a%20b&outcome=fail&before=1.x")
        );
        assert!(v.services.iter().any(|c| c.selected && c.value == "a b"));
        assert!(!v.paged);
    }
}
