//! The outbox on both backends: idempotent keys, due order, claims, pruning.

use super::*;
use crate::store::testing::each_backend;
use crate::verdict::Outcome;
use chrono::Duration;

pub(in crate::store) fn message(key: &str) -> NewMessage {
    NewMessage {
        key: key.to_string(),
        channel: Channel::PagerDuty,
        target: "payments".to_string(),
        summary: "checkout canary fail".to_string(),
        payload: br#"{"event_action":"trigger"}"#.to_vec(),
    }
}

pub(in crate::store) fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600 + s, 0).unwrap()
}

#[test]
fn a_key_is_stored_once_and_a_second_enqueue_returns_the_first_row() {
    each_backend(|store| {
        let first = store.enqueue(&message("k"), at(0)).unwrap();
        let Enqueued::New(id) = first else {
            panic!("{first:?}")
        };
        assert_eq!(
            store.enqueue(&message("k"), at(5)).unwrap(),
            Enqueued::Duplicate(id)
        );
        assert_eq!(store.outbox_counts().unwrap().pending, 1);
        let row = store.outbox_message(id).unwrap().unwrap();
        assert_eq!(row.created_at, at(0));
        assert_eq!(row.payload, message("k").payload);
        assert_eq!(row.state, MessageState::Pending);
    });
}

#[test]
fn only_due_pending_rows_are_handed_out_oldest_due_first() {
    each_backend(|store| {
        let ids: Vec<i64> = ["a", "b", "c"]
            .iter()
            .map(|k| match store.enqueue(&message(k), at(0)).unwrap() {
                Enqueued::New(id) => id,
                other => panic!("{other:?}"),
            })
            .collect();
        store.mark_retry(ids[0], "HTTP 500", at(60)).unwrap();
        store.mark_sent(ids[1], at(1)).unwrap();
        let due: Vec<i64> = store.due(at(1), 10).unwrap().iter().map(|m| m.id).collect();
        assert_eq!(due, [ids[2]]);
        let due: Vec<i64> = store
            .due(at(60), 10)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(due, [ids[2], ids[0]]);
        assert_eq!(store.next_due().unwrap(), Some(at(0)));
        let retried = store.outbox_message(ids[0]).unwrap().unwrap();
        assert_eq!(retried.attempts, 1);
        assert_eq!(retried.last_error.as_deref(), Some("HTTP 500"));
    });
}

#[test]
fn only_one_claim_on_what_was_read_wins() {
    each_backend(|store| {
        let Enqueued::New(id) = store.enqueue(&message("k"), at(0)).unwrap() else {
            panic!()
        };
        let seen = store.due(at(0), 1).unwrap()[0].next_attempt_at;
        assert!(store.claim(id, seen, at(40)).unwrap());
        assert!(
            !store.claim(id, seen, at(40)).unwrap(),
            "a second claim on the same read"
        );
        assert!(
            store.due(at(39), 10).unwrap().is_empty(),
            "claimed rows are not due"
        );
        assert_eq!(
            store.due(at(40), 10).unwrap().len(),
            1,
            "due again after the lease"
        );
        store.mark_sent(id, at(1)).unwrap();
        assert!(
            !store.claim(id, at(40), at(80)).unwrap(),
            "a sent row is never claimed"
        );
    });
}

#[test]
fn a_finished_row_is_not_changed_again() {
    each_backend(|store| {
        let Enqueued::New(id) = store.enqueue(&message("k"), at(0)).unwrap() else {
            panic!()
        };
        store.mark_rejected(id, "HTTP 400: invalid", at(1)).unwrap();
        store.mark_sent(id, at(2)).unwrap();
        store.mark_retry(id, "late", at(3)).unwrap();
        let row = store.outbox_message(id).unwrap().unwrap();
        assert_eq!(row.state, MessageState::Rejected);
        assert_eq!(row.done_at, Some(at(1)));
        assert_eq!(row.last_error.as_deref(), Some("HTTP 400: invalid"));
        assert!(store.due(at(10), 10).unwrap().is_empty());
        assert_eq!(store.next_due().unwrap(), None);
    });
}

#[test]
fn pruning_keeps_pending_rows_and_reports() {
    each_backend(|store| {
        let id = |e| match e {
            Enqueued::New(id) => id,
            other => panic!("{other:?}"),
        };
        let sent = id(store.enqueue(&message("sent"), at(0)).unwrap());
        let _pending = id(store.enqueue(&message("pending"), at(0)).unwrap());
        let mut report = message("report/payments/2026-W48");
        report.channel = Channel::Email;
        let report = id(store.enqueue(&report, at(0)).unwrap());
        store.mark_sent(sent, at(1)).unwrap();
        store.mark_sent(report, at(1)).unwrap();
        assert_eq!(store.prune_outbox(at(1) + Duration::days(1)).unwrap(), 1);
        assert_eq!(
            store.outbox_counts().unwrap(),
            OutboxCounts {
                pending: 1,
                sent: 1,
                rejected: 0
            }
        );
        assert_eq!(store.outbox_with_prefix("report/").unwrap().len(), 1);
        assert_eq!(store.outbox_with_prefix("repo").unwrap().len(), 1);
        assert_eq!(store.outbox_with_prefix("report/x").unwrap().len(), 0);
    });
}

#[test]
fn pruning_keeps_the_messages_of_a_failure_still_open_until_it_passes() {
    each_backend(|store| {
        let open = message("notify/canary/checkout/a..b/v1/pagerduty/payments");
        let closed = message("notify/canary/search/c..d/v2/pagerduty/search");
        store
            .notify_transition("canary/checkout/a..b", Outcome::Fail, "v1", &[open], at(0))
            .unwrap();
        store
            .notify_transition("canary/search/c..d", Outcome::Fail, "v2", &[closed], at(0))
            .unwrap();
        store
            .notify_transition("canary/search/c..d", Outcome::Pass, "v3", &[], at(1))
            .unwrap();
        for m in store.due(at(2), 10).unwrap() {
            store.mark_sent(m.id, at(2)).unwrap();
        }
        assert_eq!(store.prune_outbox(at(3)).unwrap(), 1);
        let left = store.outbox_with_prefix("notify/").unwrap();
        assert_eq!(left.len(), 1);
        assert!(left[0].key.starts_with("notify/canary/checkout/a..b/v1/"));
    });
}
