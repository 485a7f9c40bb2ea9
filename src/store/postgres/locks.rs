//! Job leases as session advisory locks, each on a connection of its own (see `store::jobs`).

use postgres::NoTls;

use super::PgStore;
use crate::store::StoreError;
use crate::store::jobs::{Job, JobLease};

/// A connection that holds one job's advisory lock for as long as it is open.
pub(crate) struct LockHolder {
    /// Outside the pool: the lock is the session's, and the session ends with this client.
    client: postgres::Client,
}

impl std::fmt::Debug for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockHolder")
    }
}

impl LockHolder {
    /// Closes the connection, which releases the lock. Blocking.
    pub(crate) fn close(self) {
        if let Err(e) = self.client.close() {
            tracing::debug!(error = %e, "closing a job lock's connection");
        }
    }
}

impl PgStore {
    /// Opens a connection and takes `job`'s lock on it without waiting: the lease, or `None`
    /// (the connection closed again) when another session holds the lock.
    pub(in crate::store) fn try_lock(&self, job: Job) -> Result<Option<JobLease>, StoreError> {
        let fail = |operation: &'static str| {
            move |e: postgres::Error| StoreError::Postgres {
                target: self.target.clone(),
                operation,
                reason: e.to_string(),
            }
        };
        let mut client = self
            .client_config
            .connect(NoTls)
            .map_err(fail("connect for a job's lock"))?;
        let taken: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&job.lock_key()])
            .map_err(fail("take a job's lock"))?
            .get(0);
        let holder = LockHolder { client };
        if taken {
            Ok(Some(JobLease::locked(job, holder)))
        } else {
            holder.close();
            Ok(None)
        }
    }
}
