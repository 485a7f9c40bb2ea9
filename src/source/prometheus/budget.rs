//! The process-wide query budget: how many Prometheus queries slogate has in flight at once,
//! whoever asks, and who goes first when that is all of them.
//!
//! Prometheus evaluates at most `--query.max-concurrency` queries at once (20 by default) and
//! queues the rest, without regard to who sent them; rule evaluation and dashboards share those
//! slots. Without a limit of its own, one status page over many services would put hundreds of
//! slogate queries into that queue, and a gate a rollout waits on would queue behind them past
//! its deadline. So every query of the process takes a permit here first (each attempt, not the
//! retries' pauses), and:
//!
//! - at most [`BudgetSettings::max_concurrent`] are in flight, whatever asks;
//! - [`Priority::Status`] queries (pages, the status API, the weekly report, readiness) share
//!   `max_concurrent - reserved_for_gates` permits: however many page views arrive, the last
//!   `reserved_for_gates` permits stay free for gates;
//! - [`Priority::Gate`] queries take a reserved permit, or any shared one that is free, whichever
//!   comes first: a gate never waits for a page query while a reserved permit is free, and
//!   waits only behind other gates once the reserve is taken.
//!
//! Two tokio semaphores make it (FIFO within each pool, cancel-safe: a request that gives up
//! leaves its place in the queue and loses no permit).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Who a query serves, and so which permits it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// A gate a rollout waits on (error-budget, canary, Flagger): any free permit.
    Gate,
    /// Everything else: status pages, the status API, the weekly report, readiness, the CLI.
    Status,
}

/// The budget's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSettings {
    /// Queries in flight at most, all priorities together (`prometheus.max_concurrent_queries`).
    pub max_concurrent: usize,
    /// Of those, how many only gates may take (`prometheus.reserved_for_gates`); smaller than
    /// `max_concurrent`, so status queries always have at least one.
    pub reserved_for_gates: usize,
}

impl Default for BudgetSettings {
    /// 10 in flight (half of Prometheus' default `--query.max-concurrency` of 20, leaving the
    /// rest to rule evaluation and dashboards), 4 of them kept for gates: a canary gate's
    /// queries for one metric go out at once, and pages still get 6.
    fn default() -> Self {
        BudgetSettings {
            max_concurrent: 10,
            reserved_for_gates: 4,
        }
    }
}

impl BudgetSettings {
    /// Why these settings cannot be used, as `(setting, message)`; `None` when they can.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.max_concurrent == 0 {
            return Some((
                "prometheus.max_concurrent_queries",
                "must be at least 1".to_string(),
            ));
        }
        if self.reserved_for_gates >= self.max_concurrent {
            return Some((
                "prometheus.reserved_for_gates",
                format!(
                    "{} is not smaller than prometheus.max_concurrent_queries {}: status pages and \
                     reports would never get a query through",
                    self.reserved_for_gates, self.max_concurrent
                ),
            ));
        }
        None
    }
}

/// The permits; clones share them (one budget per process).
#[derive(Debug, Clone)]
pub struct QueryBudget {
    /// Permits any query may take: `max_concurrent - reserved_for_gates`.
    shared: Arc<Semaphore>,
    /// Permits only gates may take.
    reserved: Arc<Semaphore>,
    /// The size, for [`QueryBudget::in_flight`].
    settings: BudgetSettings,
}

/// A query's right to be in flight; the permit goes back when this drops.
#[derive(Debug)]
pub struct QueryPermit {
    /// Held only to be released on drop.
    _permit: OwnedSemaphorePermit,
}

impl QueryBudget {
    /// A budget of `settings` (checked by [`BudgetSettings::problem`]; a reserve not under the
    /// total is cut to leave status queries one permit).
    pub fn new(settings: BudgetSettings) -> Self {
        let max = settings.max_concurrent.max(1);
        let reserved = settings.reserved_for_gates.min(max - 1);
        QueryBudget {
            shared: Arc::new(Semaphore::new(max - reserved)),
            reserved: Arc::new(Semaphore::new(reserved)),
            settings: BudgetSettings {
                max_concurrent: max,
                reserved_for_gates: reserved,
            },
        }
    }

    /// Waits for a permit for a query of `priority`. Cancel-safe: dropping the future gives up
    /// its place in the queue.
    pub async fn acquire(&self, priority: Priority) -> QueryPermit {
        let permit = match priority {
            Priority::Status => self.shared.clone().acquire_owned().await,
            Priority::Gate => {
                if let Ok(permit) = self.reserved.clone().try_acquire_owned() {
                    Ok(permit)
                } else if let Ok(permit) = self.shared.clone().try_acquire_owned() {
                    Ok(permit)
                } else {
                    // Queued on both pools; the first permit wins and the other wait is
                    // dropped (tokio hands back a permit it had assigned to a dropped waiter).
                    tokio::select! {
                        biased;
                        permit = self.reserved.clone().acquire_owned() => permit,
                        permit = self.shared.clone().acquire_owned() => permit,
                    }
                }
            }
        };
        // The semaphores are owned here and never closed, so acquiring cannot fail.
        QueryPermit {
            _permit: permit.expect("the budget's semaphores are never closed"),
        }
    }

    /// Queries holding a permit now.
    pub fn in_flight(&self) -> usize {
        let s = self.settings;
        s.max_concurrent - self.shared.available_permits() - self.reserved.available_permits()
    }

    /// The size this budget was built with.
    pub fn settings(&self) -> BudgetSettings {
        self.settings
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
