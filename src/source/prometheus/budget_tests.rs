//! The budget's rules, on permits taken and released by hand: one poll of an acquire future
//! says whether it got a permit (no runtime, no timing).

use std::pin::pin;

use futures::FutureExt;

use super::*;
use crate::source::traces::SplitMix64;

fn budget(max_concurrent: usize, reserved_for_gates: usize) -> QueryBudget {
    QueryBudget::new(BudgetSettings {
        max_concurrent,
        reserved_for_gates,
    })
}

/// A permit if one is free right now.
fn take(budget: &QueryBudget, priority: Priority) -> Option<QueryPermit> {
    budget.acquire(priority).now_or_never()
}

#[test]
fn status_queries_never_take_the_permits_kept_for_gates() {
    let b = budget(10, 4);
    let pages: Vec<QueryPermit> = (0..6)
        .map(|_| take(&b, Priority::Status).unwrap())
        .collect();
    assert!(
        take(&b, Priority::Status).is_none(),
        "the 7th page query waits"
    );
    let gates: Vec<QueryPermit> = (0..4).map(|_| take(&b, Priority::Gate).unwrap()).collect();
    assert_eq!(b.in_flight(), 10);
    assert!(
        take(&b, Priority::Gate).is_none(),
        "the limit holds for gates too"
    );
    drop(gates);
    drop(pages);
    assert_eq!(b.in_flight(), 0, "every permit came back");
}

#[test]
fn gates_also_take_free_shared_permits() {
    let b = budget(3, 1);
    let held: Vec<QueryPermit> = (0..3).map(|_| take(&b, Priority::Gate).unwrap()).collect();
    assert_eq!(b.in_flight(), 3);
    assert!(take(&b, Priority::Status).is_none());
    drop(held);
}

#[test]
fn a_waiting_gate_is_served_before_an_earlier_waiting_page_when_a_reserved_permit_frees() {
    let b = budget(3, 1);
    let gate = take(&b, Priority::Gate).unwrap();
    let (s1, s2) = (
        take(&b, Priority::Status).unwrap(),
        take(&b, Priority::Status).unwrap(),
    );
    let mut page = pin!(b.acquire(Priority::Status));
    assert!(page.as_mut().now_or_never().is_none(), "queued first");
    let mut waiting_gate = pin!(b.acquire(Priority::Gate));
    assert!(
        waiting_gate.as_mut().now_or_never().is_none(),
        "queued second"
    );
    drop(gate);
    let second_gate = waiting_gate.as_mut().now_or_never();
    assert!(
        second_gate.is_some(),
        "the freed reserved permit goes to the gate"
    );
    assert!(
        page.as_mut().now_or_never().is_none(),
        "the page still waits"
    );
    drop(s1);
    assert!(
        page.as_mut().now_or_never().is_some(),
        "a shared permit goes to the page"
    );
    drop(s2);
}

#[test]
fn a_waiting_gate_takes_a_freed_shared_permit_in_its_turn() {
    let b = budget(3, 1);
    let held: Vec<QueryPermit> = (0..3).map(|_| take(&b, Priority::Gate).unwrap()).collect();
    let mut gate = pin!(b.acquire(Priority::Gate));
    assert!(gate.as_mut().now_or_never().is_none());
    let mut page = pin!(b.acquire(Priority::Status));
    assert!(page.as_mut().now_or_never().is_none());
    // held[1] is a shared permit (the reserve went to held[0]); the gate queued before the page.
    let mut held = held.into_iter();
    let (reserved, shared) = (held.next(), held.next());
    drop(shared);
    let gate_permit = gate.as_mut().now_or_never();
    assert!(gate_permit.is_some());
    assert!(page.as_mut().now_or_never().is_none());
    drop(reserved);
    assert!(
        page.as_mut().now_or_never().is_none(),
        "a reserved permit never goes to a page"
    );
    drop(held);
    assert!(page.as_mut().now_or_never().is_some());
    drop(gate_permit);
}

#[test]
fn a_request_that_gives_up_waiting_loses_no_permit() {
    let b = budget(2, 1);
    let held: Vec<QueryPermit> = (0..2).map(|_| take(&b, Priority::Gate).unwrap()).collect();
    {
        let mut gate = pin!(b.acquire(Priority::Gate));
        assert!(gate.as_mut().now_or_never().is_none());
        let mut page = pin!(b.acquire(Priority::Status));
        assert!(page.as_mut().now_or_never().is_none());
    }
    drop(held);
    assert_eq!(b.in_flight(), 0);
    let again: Vec<QueryPermit> = (0..2).map(|_| take(&b, Priority::Gate).unwrap()).collect();
    assert_eq!(again.len(), 2);
}

#[test]
fn random_takes_and_releases_match_the_model_of_two_pools() {
    for (seed, (max, reserved)) in [(1u64, (10, 4)), (2, (3, 1)), (3, (5, 0)), (4, (1, 0))] {
        let b = budget(max, reserved);
        let mut rng = SplitMix64::new(seed);
        let mut below = |n: usize| rng.below(n as u64) as usize;
        // Each permit held, with the pool the model says it came from (true: the reserve).
        let mut held: Vec<(QueryPermit, bool, Priority)> = Vec::new();
        for step in 0..5_000 {
            let reserved_used = held.iter().filter(|h| h.1).count();
            let shared_used = held.len() - reserved_used;
            if below(3) < 2 {
                let priority = if below(2) == 0 {
                    Priority::Gate
                } else {
                    Priority::Status
                };
                let expected = match priority {
                    Priority::Gate if reserved_used < reserved => Some(true),
                    _ if shared_used < max - reserved => Some(false),
                    _ => None,
                };
                let got = take(&b, priority);
                assert_eq!(got.is_some(), expected.is_some(), "seed {seed} step {step}");
                if let (Some(permit), Some(from_reserve)) = (got, expected) {
                    held.push((permit, from_reserve, priority));
                }
            } else if !held.is_empty() {
                let i = below(held.len());
                held.swap_remove(i);
            }
            assert_eq!(b.in_flight(), held.len(), "seed {seed} step {step}");
            assert!(held.len() <= max);
            let status = held.iter().filter(|h| h.2 == Priority::Status).count();
            assert!(status <= max - reserved, "seed {seed} step {step}");
        }
    }
}

#[test]
fn settings_that_leave_pages_no_permit_are_refused_by_name() {
    let ok = BudgetSettings::default();
    assert_eq!(ok.problem(), None);
    assert!(ok.max_concurrent < 20, "under Prometheus' own default");
    let none = BudgetSettings {
        max_concurrent: 0,
        reserved_for_gates: 0,
    };
    assert_eq!(
        none.problem().unwrap().0,
        "prometheus.max_concurrent_queries"
    );
    let all = BudgetSettings {
        max_concurrent: 4,
        reserved_for_gates: 4,
    };
    assert_eq!(all.problem().unwrap().0, "prometheus.reserved_for_gates");
}
