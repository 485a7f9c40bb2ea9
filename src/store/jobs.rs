//! Background jobs that one replica at a time runs: the history pruning and the weekly report
//! schedule. Every replica keeps its timers; at each tick it tries to take the job's lease, and
//! a replica that does not get it skips that tick (another replica is doing the work).
//!
//! On PostgreSQL the lease is a session advisory lock (`pg_try_advisory_lock`) on a connection
//! opened for the job and closed after it, outside the pool: r2d2 hands a pooled connection to
//! the next caller with whatever session locks it still holds, so a lock on a pooled connection
//! could outlive the job or be released by a stranger. Closing the connection releases the
//! lock, also when the process dies mid-job (the server notices the closed socket). On SQLite
//! there is one process per file, and the lease is always granted.
//!
//! The jobs stay correct without the lease (report keys are unique in the outbox, pruning is
//! idempotent); the lease only keeps N replicas from doing the same work N times at once.

use std::future::Future;
use std::sync::Arc;

use super::{Store, StoreError};

/// A job that one replica at a time runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Deleting verdicts, sent messages, idle sequential states, idle notification subjects
    /// and expired sessions past their retention.
    Prune,
    /// Gathering and enqueueing the weekly reports that are due.
    Report,
}

impl Job {
    /// The job's name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Job::Prune => "prune",
            Job::Report => "report",
        }
    }

    /// The PostgreSQL advisory lock key: `slogat` in ASCII, then one byte per job, beside the
    /// migrations' key (`slogate`), so no other tool is likely to take the same numbers.
    pub(super) fn lock_key(self) -> i64 {
        const BASE: i64 = 0x0073_6c6f_6761_7400;
        match self {
            Job::Prune => BASE | 0x01,
            Job::Report => BASE | 0x02,
        }
    }
}

/// The right to run a job now; given up on [`JobLease::release`] or on drop.
#[derive(Debug)]
pub struct JobLease {
    /// The job held.
    job: Job,
    /// The PostgreSQL connection that holds the advisory lock; `None` on SQLite.
    held: Option<super::postgres::LockHolder>,
}

impl JobLease {
    /// A lease that needs no lock (SQLite: one process).
    pub(super) fn unshared(job: Job) -> JobLease {
        JobLease { job, held: None }
    }

    /// A lease held by a PostgreSQL session lock.
    pub(super) fn locked(job: Job, holder: super::postgres::LockHolder) -> JobLease {
        JobLease {
            job,
            held: Some(holder),
        }
    }

    /// The job held.
    pub fn job(&self) -> Job {
        self.job
    }

    /// Gives the job up now: closes the lock's connection and waits for it (blocking).
    pub fn release(mut self) {
        if let Some(holder) = self.held.take() {
            holder.close();
        }
    }
}

impl Drop for JobLease {
    fn drop(&mut self) {
        if let Some(holder) = self.held.take() {
            // Closing blocks on the client's own runtime, which panics on a thread that drives
            // async tasks (a job that panicked unwinds there): closed on a thread of its own.
            std::thread::spawn(move || holder.close());
        }
    }
}

impl Store {
    /// Takes `job`'s lease if no other process holds it: `None` when one does. Blocking (on
    /// PostgreSQL it opens a connection).
    pub fn try_job(&self, job: Job) -> Result<Option<JobLease>, StoreError> {
        match &self.backend {
            super::Backend::Sqlite(_) => Ok(Some(JobLease::unshared(job))),
            super::Backend::Postgres(db) => db.try_lock(job),
        }
    }
}

/// Runs `work` if this process gets `job`'s lease, holding it until `work` is done: `Ok(None)`
/// when another process holds it (nothing is run), `Err` when the lease could not be asked for.
pub async fn run_alone<T, F>(
    store: &Arc<Store>,
    job: Job,
    work: impl FnOnce() -> F,
) -> Result<Option<T>, StoreError>
where
    F: Future<Output = T>,
{
    let asking = store.clone();
    let lease = tokio::task::spawn_blocking(move || asking.try_job(job))
        .await
        .map_err(|e| StoreError::Postgres {
            target: store.location(),
            operation: "take a job's lease",
            reason: format!("the store task stopped: {e}"),
        })??;
    let Some(lease) = lease else {
        return Ok(None);
    };
    let done = work().await;
    // Released off the runtime threads; a failed release is a closed connection, which frees
    // the lock all the same.
    let _ = tokio::task::spawn_blocking(move || lease.release()).await;
    Ok(Some(done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn on_sqlite_every_job_runs_since_one_process_owns_the_file() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let held = store.try_job(Job::Prune).unwrap().expect("granted");
        // One process: a second asker in it is not kept out.
        assert!(store.try_job(Job::Prune).unwrap().is_some());
        drop(held);
        let ran = run_alone(&store, Job::Report, || async { 7 })
            .await
            .unwrap();
        assert_eq!(ran, Some(7));
    }
}
