//! Sending chosen report rows now, for `slogate report`: one attempt each through the
//! dispatcher's own `send` (claimed, then recorded as sent, rejected, or due again after the
//! backoff), so a report that fails here is retried by `slogate serve` later.
//!
//! The command does not run the whole dispatcher: that would also attempt the Slack and
//! PagerDuty rows of the same database without their transports and push them back.

use std::sync::Arc;
use std::time::Duration;

use crate::notify::{Backoff, Dispatcher, Transport};
use crate::store::{MessageState, OutboxMessage, Store, StoreError};

/// Attempts each pending row with one of `keys` once, through a dispatcher that has only
/// `transport` (so it claims each row as `serve`'s would, and records the result the same
/// way); returns every row with those keys as it stands afterwards.
pub async fn send_now(
    store: Arc<Store>,
    transport: Arc<dyn Transport>,
    keys: &[String],
    backoff: Backoff,
    timeout: Duration,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let (dispatcher, _) = Dispatcher::new(store.clone(), vec![transport], backoff, timeout);
    let mut after = Vec::new();
    for key in keys {
        let Some(row) = by_key(&store, key).await? else {
            continue;
        };
        if row.state == MessageState::Pending {
            // `false`: `serve` holds the row right now; it records the attempt itself.
            dispatcher.send(row).await?;
        }
        if let Some(row) = by_key(&store, key).await? {
            after.push(row);
        }
    }
    Ok(after)
}

async fn by_key(store: &Arc<Store>, key: &str) -> Result<Option<OutboxMessage>, StoreError> {
    let (store, key) = (store.clone(), key.to_string());
    match tokio::task::spawn_blocking(move || store.outbox_by_key(&key)).await {
        Ok(result) => result,
        Err(e) => Err(StoreError::Unwritable {
            path: "outbox".into(),
            operation: "report",
            reason: format!("the store task stopped: {e}"),
        }),
    }
}
