//! The history on both backends: order, pages, filters, cursors, pruning.

use super::*;
use crate::store::Store;
use crate::store::testing::each_backend;
use serde_json::json;

/// A verdict with one canary check, for `service`, `kind` and `outcome`.
pub(in crate::store) fn verdict(
    id: &str,
    service: &str,
    kind: VerdictKind,
    outcome: Outcome,
) -> Verdict {
    serde_json::from_value(json!({
        "id": id, "kind": kind, "verdict": outcome, "score": 87.5,
        "summary": format!("{service}: {outcome}"), "service": service,
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:10:00Z"},
        "checks": [{"name": "error-rate", "source": "prometheus", "verdict": outcome,
            "classification": "pass", "baseline": {"n": 120, "value": 0.01},
            "canary": {"n": 118, "value": 0.012}, "effect": 1.2, "interval": [-0.01, 0.02],
            "p_value": 0.31, "threshold": "allowed increase 1.10",
            "reason": "no significant difference"}],
        "evaluated_at": "2026-01-01T00:10:01Z",
    }))
    .unwrap()
}

/// A record at `ms` unix milliseconds.
pub(in crate::store) fn record(verdict: Verdict, ms: i64) -> VerdictRecord {
    VerdictRecord {
        inputs: json!({"request": {"service": verdict.service}, "queries": ["up"]}),
        verdict,
        recorded_at: DateTime::from_timestamp_millis(ms).unwrap(),
    }
}

/// 30 verdicts over 3 services, both kinds, all outcomes; 3 rows share each millisecond,
/// so ties are ordered by id.
fn seeded(store: &Store) -> Vec<VerdictRecord> {
    let outcomes = [Outcome::Pass, Outcome::Fail, Outcome::Inconclusive];
    let kinds = [VerdictKind::Canary, VerdictKind::Slo];
    let services = ["checkout", "payments", "search"];
    let records: Vec<VerdictRecord> = (0..30)
        .map(|i| {
            let v = verdict(
                &format!("v{i:02}"),
                services[i % 3],
                kinds[i % 2],
                outcomes[i / 3 % 3],
            );
            record(v, 1_767_225_600_000 + (i / 3) as i64)
        })
        .collect();
    for r in &records {
        store.record(r).unwrap();
    }
    records
}

/// Walks every page of `filter`, 4 rows at a time.
fn all_pages(store: &Store, mut filter: HistoryFilter) -> Vec<String> {
    filter.limit = 4;
    let mut seen = Vec::new();
    loop {
        let page = store.list(&filter).unwrap();
        assert!(page.verdicts.len() <= 4);
        seen.extend(page.verdicts.iter().map(|r| r.verdict.id.clone()));
        match page.next {
            Some(next) => filter.before = Some(next),
            None => return seen,
        }
    }
}

/// What `filter` should return, computed without SQL: its rows newest first, ties by id.
fn expected(records: &[VerdictRecord], filter: &HistoryFilter) -> Vec<String> {
    let mut rows: Vec<&VerdictRecord> = records
        .iter()
        .filter(|r| {
            filter
                .service
                .as_ref()
                .is_none_or(|s| *s == r.verdict.service)
        })
        .filter(|r| filter.outcome.is_none_or(|o| o == r.verdict.verdict))
        .filter(|r| filter.kind.is_none_or(|k| k == r.verdict.kind))
        .collect();
    rows.sort_by(|a, b| {
        b.recorded_at
            .cmp(&a.recorded_at)
            .then(a.verdict.id.cmp(&b.verdict.id))
    });
    rows.iter().map(|r| r.verdict.id.clone()).collect()
}

#[test]
fn pages_cover_every_row_exactly_once_newest_first_under_each_filter() {
    each_backend(|store| {
        let records = seeded(store);
        let filter = |service: Option<&str>, outcome, kind| HistoryFilter {
            service: service.map(str::to_string),
            outcome,
            kind,
            ..HistoryFilter::default()
        };
        let filters = [
            filter(None, None, None),
            filter(Some("payments"), None, None),
            filter(None, Some(Outcome::Fail), None),
            filter(None, None, Some(VerdictKind::Slo)),
            filter(
                Some("checkout"),
                Some(Outcome::Pass),
                Some(VerdictKind::Canary),
            ),
            filter(Some("nobody"), None, None),
        ];
        for filter in filters.clone() {
            let want = expected(&records, &filter);
            assert_eq!(all_pages(store, filter.clone()), want, "{filter:?}");
            // One big page holds the same rows as the paged walk, and says it is the last.
            let one = store
                .list(&HistoryFilter {
                    limit: 1000,
                    ..filter
                })
                .unwrap();
            assert_eq!(
                one.verdicts
                    .iter()
                    .map(|r| &r.verdict.id)
                    .collect::<Vec<_>>(),
                want.iter().collect::<Vec<_>>()
            );
            assert_eq!(one.next, None);
        }
        assert_eq!(expected(&records, &filters[0]).len(), 30);
    });
}

#[test]
fn rows_recorded_between_pages_do_not_shift_the_next_page() {
    each_backend(|store| {
        let records = seeded(store);
        let first = store
            .list(&HistoryFilter {
                limit: 4,
                ..Default::default()
            })
            .unwrap();
        let newer = record(
            verdict("new", "checkout", VerdictKind::Slo, Outcome::Pass),
            1_767_225_700_000,
        );
        store.record(&newer).unwrap();
        let second = HistoryFilter {
            limit: 4,
            before: first.next,
            ..Default::default()
        };
        let ids: Vec<String> = store
            .list(&second)
            .unwrap()
            .verdicts
            .into_iter()
            .map(|r| r.verdict.id)
            .collect();
        assert_eq!(ids, expected(&records, &HistoryFilter::default())[4..8]);
    });
}

#[test]
fn limit_is_capped_and_zero_gives_an_empty_page() {
    each_backend(|store| {
        seeded(store);
        let all = store
            .list(&HistoryFilter {
                limit: usize::MAX,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.verdicts.len(), 30);
        let none = store
            .list(&HistoryFilter {
                limit: 0,
                ..Default::default()
            })
            .unwrap();
        assert!(none.verdicts.is_empty());
        assert_eq!(none.next, None);
    });
}

#[test]
fn a_cursor_round_trips_through_text_and_bad_ones_are_refused() {
    let cursor = Cursor {
        recorded_at_ms: 1_767_225_600_000,
        id: "a.b-c".to_string(),
    };
    assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
    each_backend(|store| {
        for bad in ["", "nodot", "x.id", "123."] {
            let filter = HistoryFilter {
                before: Some(bad.to_string()),
                ..Default::default()
            };
            let err = store.list(&filter).unwrap_err();
            assert!(
                matches!(err, StoreError::BadCursor { .. }),
                "{bad:?}: {err}"
            );
        }
    });
}

#[test]
fn prune_removes_only_rows_recorded_before_the_cutoff() {
    each_backend(|store| {
        let records = seeded(store);
        // Rows 9..12 share this time: the cutoff keeps them (strictly before is removed).
        let cutoff = records[9].recorded_at;
        assert_eq!(store.prune(cutoff).unwrap(), 9);
        assert_eq!(store.count().unwrap(), 21);
        let left = store
            .list(&HistoryFilter {
                limit: 1000,
                ..Default::default()
            })
            .unwrap();
        assert!(left.verdicts.iter().all(|r| r.recorded_at >= cutoff));
        assert_eq!(store.prune(cutoff).unwrap(), 0);
    });
}

#[test]
fn stored_names_are_the_serde_names() {
    for o in [Outcome::Pass, Outcome::Fail, Outcome::Inconclusive] {
        assert_eq!(json!(o), json!(outcome_name(o)));
    }
    for k in [VerdictKind::Canary, VerdictKind::Slo] {
        assert_eq!(json!(k), json!(kind_name(k)));
    }
}
