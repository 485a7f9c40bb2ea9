//! Two `Store`s on one PostgreSQL database, as two replicas of slogate would be: what one
//! claims, saves or tells, the other sees, and of two racing writers exactly one wins.

use std::sync::{Arc, Barrier};
use std::thread;

use chrono::{TimeZone, Utc};

use crate::store::testing::postgres_config;
use crate::store::{Channel, Enqueued, NewMessage, Store, StoredSequential};
use crate::verdict::Outcome;

/// Two replicas on one new database, opened at the same time (both migrate at once).
fn replicas() -> (Arc<Store>, Arc<Store>) {
    let config = postgres_config();
    let start = Arc::new(Barrier::new(2));
    let open = |start: Arc<Barrier>, config: crate::store::PostgresConfig| {
        thread::spawn(move || {
            start.wait();
            Store::open_postgres(&config).unwrap()
        })
    };
    let a = open(start.clone(), config.clone());
    let b = open(start, config);
    (Arc::new(a.join().unwrap()), Arc::new(b.join().unwrap()))
}

/// Runs `f` on both replicas at once (released together by a barrier); their answers.
fn race<T: Send + 'static>(
    a: &Arc<Store>,
    b: &Arc<Store>,
    f: impl Fn(&Store) -> T + Send + Sync + 'static,
) -> (T, T) {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(2));
    let run = |store: Arc<Store>| {
        let (f, start) = (f.clone(), start.clone());
        thread::spawn(move || {
            start.wait();
            f(&store)
        })
    };
    let (ta, tb) = (run(a.clone()), run(b.clone()));
    (ta.join().unwrap(), tb.join().unwrap())
}

fn at(s: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600 + s, 0).unwrap()
}

fn message(key: &str) -> NewMessage {
    NewMessage {
        key: key.to_string(),
        channel: Channel::Slack,
        target: "payments".to_string(),
        summary: key.to_string(),
        payload: key.as_bytes().to_vec(),
    }
}

#[test]
fn replicas_starting_together_migrate_once() {
    let (a, b) = replicas();
    let crate::store::Backend::Postgres(pg) = &a.backend else {
        panic!("not postgres")
    };
    assert_eq!(super::schema::applied(pg), [1, 2]);
    assert_eq!(b.count().unwrap(), 0);
}

#[test]
fn each_outbox_message_is_claimed_by_exactly_one_replica() {
    let (a, b) = replicas();
    let ids: Vec<i64> = (0..40)
        .map(
            |i| match a.enqueue(&message(&format!("m{i}")), at(0)).unwrap() {
                Enqueued::New(id) => id,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    // Both read the same due rows, then both try to claim every one of them.
    let (won_a, won_b) = race(&a, &b, |store| {
        let due = store.due(at(1), 100).unwrap();
        due.iter()
            .filter(|m| store.claim(m.id, m.next_attempt_at, at(60)).unwrap())
            .map(|m| m.id)
            .collect::<Vec<_>>()
    });
    let mut all: Vec<i64> = won_a.iter().chain(&won_b).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all, ids,
        "every message claimed once: a {won_a:?}, b {won_b:?}"
    );
    assert!(
        b.due(at(59), 100).unwrap().is_empty(),
        "claimed rows are leased"
    );
    // The same key enqueued by both replicas is one row.
    let (x, y) = race(&a, &b, |store| {
        store.enqueue(&message("same"), at(2)).unwrap()
    });
    assert!(
        matches!((x, y), (Enqueued::New(i), Enqueued::Duplicate(j)) | (Enqueued::Duplicate(j), Enqueued::New(i)) if i == j),
        "{x:?} {y:?}"
    );
}

#[test]
fn of_two_replicas_saving_the_same_look_one_wins_and_the_other_is_told() {
    let (a, b) = replicas();
    let state = |looks: u64, by: &str| StoredSequential {
        looks,
        state: serde_json::json!({"looks": looks, "by": by}),
    };
    let (x, y) = race(&a, &b, move |store| {
        let by = format!("{:p}", store);
        store
            .save_sequential("k", "checkout", None, &state(1, &by), at(0))
            .unwrap()
    });
    assert!(x ^ y, "exactly one first look is saved: {x} {y}");
    for look in 1..20 {
        let (x, y) = race(&a, &b, move |store| {
            let seen = store.sequential_state("k").unwrap().unwrap().looks;
            let saved = store
                .save_sequential("k", "checkout", Some(seen), &state(seen + 1, "r"), at(1))
                .unwrap();
            (seen, saved)
        });
        // Both may read the same look (then exactly one saves), or one may read the other's.
        if x.0 == y.0 {
            assert!(x.1 ^ y.1, "look {look}: {x:?} {y:?}");
        }
    }
    let final_looks = a.sequential_state("k").unwrap().unwrap().looks;
    assert_eq!(b.sequential_state("k").unwrap().unwrap().looks, final_looks);
    // The loser, told `false`, reads the winner's state and goes on from it.
    let stale = final_looks - 1;
    assert!(
        !b.save_sequential(
            "k",
            "checkout",
            Some(stale),
            &state(final_looks, "late"),
            at(2)
        )
        .unwrap()
    );
    assert_eq!(a.sequential_state("k").unwrap().unwrap().looks, final_looks);
}

#[test]
fn a_change_of_outcome_is_told_once_whichever_replica_judges_it() {
    let (a, b) = replicas();
    for (round, outcome) in [Outcome::Fail, Outcome::Pass, Outcome::Fail]
        .into_iter()
        .enumerate()
    {
        let (x, y) = race(&a, &b, move |store| {
            let last = store.last_notified("canary/checkout/a..b").unwrap();
            // As the gate decides: no change of outcome, nothing to tell.
            if last.as_ref().is_some_and(|(o, _)| *o == outcome) {
                return None;
            }
            let id = format!("v{round}-{:p}", store);
            store
                .notify_transition_from(
                    "canary/checkout/a..b",
                    last.as_ref(),
                    outcome,
                    &id,
                    &[message(&format!("notify/canary/checkout/a..b/{id}/slack"))],
                    at(round as i64),
                )
                .unwrap()
        });
        assert!(x.is_some() ^ y.is_some(), "round {round}: {x:?} {y:?}");
    }
    assert_eq!(a.outbox_with_prefix("notify/").unwrap().len(), 3);
    assert_eq!(
        b.last_notified("canary/checkout/a..b").unwrap().unwrap().0,
        Outcome::Fail
    );
}

#[test]
fn history_calibrations_and_sessions_written_by_one_replica_are_read_by_the_other() {
    let (a, b) = replicas();
    let rec = crate::store::history::tests::record(
        crate::store::history::tests::verdict(
            "v1",
            "checkout",
            crate::verdict::VerdictKind::Canary,
            Outcome::Pass,
        ),
        1_767_225_600_000,
    );
    a.record(&rec).unwrap();
    assert_eq!(b.get("v1").unwrap().unwrap().inputs, rec.inputs);
    assert!(matches!(
        b.record(&rec),
        Err(crate::store::StoreError::Duplicate { .. })
    ));
    a.open_session("h", "fp", at(0), at(60)).unwrap();
    assert_eq!(b.session_token("h", at(1)).unwrap().as_deref(), Some("fp"));
    assert_eq!(b.prune(at(0) + chrono::Duration::days(1)).unwrap(), 1);
    assert_eq!(a.count().unwrap(), 0);
}

#[test]
fn one_replica_at_a_time_holds_a_job_and_the_other_takes_it_once_released() {
    use crate::store::jobs::Job;
    let (a, b) = replicas();
    let lease = a
        .try_job(Job::Prune)
        .unwrap()
        .expect("a free job is granted");
    assert!(b.try_job(Job::Prune).unwrap().is_none(), "held by a");
    assert!(
        a.try_job(Job::Prune).unwrap().is_none(),
        "a lease is per connection: not even its own process takes it twice"
    );
    // Another job is another lock.
    let report = b.try_job(Job::Report).unwrap().expect("report is free");
    lease.release();
    let taken = b.try_job(Job::Prune).unwrap().expect("released by a");
    assert_eq!(taken.job(), Job::Prune);
    drop(report);
    drop(taken);
}

#[test]
fn two_replicas_ticking_together_never_run_a_job_at_the_same_time() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::store::jobs::{Job, run_alone};
    let (a, b) = replicas();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        // Four tickers per replica, forty ticks each: many overlapping attempts.
        for store in [&a, &b, &a, &b, &a, &b, &a, &b] {
            let (store, running, most, ran) =
                (store.clone(), running.clone(), most.clone(), ran.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..40 {
                    let work = || async {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        ran.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        // A job's own store call while it holds the lease.
                        let s = store.clone();
                        tokio::task::spawn_blocking(move || s.count().unwrap())
                            .await
                            .unwrap();
                        running.fetch_sub(1, Ordering::SeqCst);
                    };
                    run_alone(&store, Job::Prune, work).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(most.load(Ordering::SeqCst), 1, "two ran the job at once");
    assert!(ran.load(Ordering::SeqCst) > 0);
    // Every lease was given back.
    assert!(a.try_job(Job::Prune).unwrap().is_some());
}
