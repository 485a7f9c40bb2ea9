//! Every SLO of the catalog at once, and a short shared cache of those evaluations.
//!
//! The overview page, `GET /api/v1/slos` and the weekly report all want the whole catalog. One
//! evaluation is one query per service and distinct window: at a thousand services, thousands
//! of queries. Evaluating again for every page view, every refresh and every team's report
//! would keep Prometheus busy repeating itself, so an evaluation is kept for a short time
//! (`status_cache_ttl`, 15 s by default) and handed to every request that wants the same thing
//! within it:
//!
//! - a request for "now" takes the newest evaluation of the same definitions made within the
//!   TTL (its age is shown with it); a request for a given time (the report's week end) takes
//!   one made for exactly that time;
//! - concurrent requests for the same key share one evaluation (single flight): the second
//!   waits for the first's instead of starting its own;
//! - the evaluation runs as a task of its own, so a request that gives up (its deadline passed)
//!   does not waste it: the next request finds it done or under way;
//! - a reload of the definitions is a new key (the catalog is compared by identity), so a
//!   status never mixes definitions;
//! - gates never come here: they decide rollouts and always query fresh.
//!
//! Each evaluation reads the recording rules where it can (`evaluation`, [`super::rules`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::rules::{EvaluationMode, Provenance, evaluate_catalog};
use crate::analysis::slo::{GatePolicy, SloStatus};
use crate::source::prometheus::QuerySource;
use crate::spec::Catalog;
use crate::telemetry::names;

/// Every SLO's status at one time.
#[derive(Debug, Clone)]
pub struct CatalogStatus {
    /// The time evaluated (unix seconds).
    pub at: i64,
    /// Every SLO of every service, services in catalog order.
    pub statuses: Vec<SloStatus>,
    /// Which SLOs were read from recording rules, and why others were not.
    pub provenance: Provenance,
}

/// Which evaluation a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// The current state: any evaluation made within the TTL before `now` (unix seconds) will do.
    Latest {
        /// The request's time.
        now: i64,
    },
    /// The state at exactly this time (unix seconds).
    At(i64),
}

/// An evaluation done or under way, shared by everyone who waits for it.
type Pending = Shared<BoxFuture<'static, Result<Arc<CatalogStatus>, String>>>;

/// One cached evaluation.
struct Entry {
    /// The time it evaluates.
    at: i64,
    /// The definitions it evaluates (compared by identity: a reload is a new catalog).
    catalog: Arc<Catalog>,
    /// When it was started; past the TTL it is forgotten.
    started: Instant,
    /// Its result, or the wait for it.
    result: Pending,
}

/// The cache; one per process, shared by the pages, the API and the report.
pub struct StatusCache {
    /// How long an evaluation is handed out; zero turns the cache off.
    ttl: Duration,
    /// Recording rules or raw queries.
    mode: EvaluationMode,
    /// The evaluations within the TTL: a handful (one per TTL, plus the report's times), so a
    /// list searched under a lock held for microseconds.
    entries: Mutex<Vec<Entry>>,
}

impl StatusCache {
    /// A cache keeping evaluations for `ttl` (zero: none kept, every request evaluates),
    /// each made in `mode`.
    pub fn new(ttl: Duration, mode: EvaluationMode) -> Self {
        StatusCache {
            ttl,
            mode,
            entries: Mutex::new(Vec::new()),
        }
    }

    /// How long an evaluation is handed out.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Where evaluations are read from.
    pub fn mode(&self) -> EvaluationMode {
        self.mode
    }

    /// The statuses `wanted` of every SLO of `catalog`: from the cache, from an evaluation
    /// under way, or from a new one. `Err` only when the evaluation's task died (a bug); a
    /// Prometheus failure is in each status' reason, as everywhere.
    pub async fn statuses(
        &self,
        source: &Arc<dyn QuerySource>,
        catalog: &Arc<Catalog>,
        policy: GatePolicy,
        wanted: Wanted,
    ) -> Result<Arc<CatalogStatus>, String> {
        let at = match wanted {
            Wanted::Latest { now } => now,
            Wanted::At(at) => at,
        };
        if self.ttl.is_zero() {
            count("off");
            let (statuses, provenance) =
                evaluate_catalog(source.as_ref(), catalog, &policy, at, self.mode).await;
            return Ok(Arc::new(CatalogStatus {
                at,
                statuses,
                provenance,
            }));
        }
        let pending = {
            let mut entries = match self.entries.lock() {
                Ok(guard) => guard,
                // A panic under this lock cannot leave an entry half-written (push is whole).
                Err(poisoned) => poisoned.into_inner(),
            };
            entries.retain(|e| e.started.elapsed() < self.ttl);
            let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
            let found = entries
                .iter()
                .filter(|e| Arc::ptr_eq(&e.catalog, catalog))
                .filter(|e| match wanted {
                    Wanted::Latest { now } => e.at <= now && now - e.at < ttl.max(1),
                    Wanted::At(t) => e.at == t,
                })
                .max_by_key(|e| e.at);
            match found {
                Some(entry) => {
                    count("hit");
                    entry.result.clone()
                }
                None => {
                    count("miss");
                    let result = spawn(source, catalog, policy, at, self.mode);
                    entries.push(Entry {
                        at,
                        catalog: catalog.clone(),
                        started: Instant::now(),
                        result: result.clone(),
                    });
                    result
                }
            }
        };
        pending.await
    }
}

/// Starts an evaluation as a task of its own (so no request's deadline cuts it short).
fn spawn(
    source: &Arc<dyn QuerySource>,
    catalog: &Arc<Catalog>,
    policy: GatePolicy,
    at: i64,
    mode: EvaluationMode,
) -> Pending {
    let (source, catalog) = (source.clone(), catalog.clone());
    let task = tokio::spawn(async move {
        let (statuses, provenance) =
            evaluate_catalog(source.as_ref(), &catalog, &policy, at, mode).await;
        Arc::new(CatalogStatus {
            at,
            statuses,
            provenance,
        })
    });
    async move {
        task.await
            .map_err(|e| format!("the catalog evaluation stopped: {e}"))
    }
    .boxed()
    .shared()
}

/// Counts a lookup: `hit`, `miss` (a new evaluation) or `off` (no cache).
fn count(result: &'static str) {
    metrics::counter!(names::STATUS_CACHE, "result" => result).increment(1);
}
