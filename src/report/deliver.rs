//! Sending chosen report rows now, for `slogate report`: one attempt each, recorded in the
//! outbox exactly as the dispatcher records it (sent, rejected, or due again after the
//! backoff), so a report that fails here is retried by `slogate serve` later.
//!
//! The command does not run the whole dispatcher: that would also attempt the Slack and
//! PagerDuty rows of the same database without their transports and push them back.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::notify::{Backoff, Delivery, Transport};
use crate::store::{MessageState, OutboxMessage, Store, StoreError};

/// Attempts each pending row with one of `keys` once; returns every row with those keys as it
/// stands afterwards.
pub async fn send_now(
    store: Arc<Store>,
    transport: &dyn Transport,
    keys: &[String],
    backoff: Backoff,
    timeout: Duration,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut after = Vec::new();
    for key in keys {
        let Some(row) = blocking(&store, {
            let key = key.clone();
            move |s| s.outbox_by_key(&key)
        })
        .await?
        else {
            continue;
        };
        if row.state == MessageState::Pending {
            let delivery = match tokio::time::timeout(timeout, transport.deliver(&row)).await {
                Ok(d) => d,
                Err(_) => Delivery::Retry {
                    reason: format!("no answer within {timeout:?}"),
                    after: None,
                },
            };
            let now = Utc::now();
            let (id, attempts) = (row.id, row.attempts + 1);
            blocking(&store, move |s| match delivery {
                Delivery::Delivered => s.mark_sent(id, now),
                Delivery::Rejected { reason } => s.mark_rejected(id, &reason, now),
                Delivery::Retry { reason, after } => {
                    let wait = backoff.delay(attempts).max(after.unwrap_or_default());
                    let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    s.mark_retry(id, &reason, next)
                }
            })
            .await?;
        }
        let key = key.clone();
        if let Some(row) = blocking(&store, move |s| s.outbox_by_key(&key)).await? {
            after.push(row);
        }
    }
    Ok(after)
}

async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(result) => result,
        Err(e) => Err(StoreError::Unwritable {
            path: "outbox".into(),
            operation: "report",
            reason: format!("the store task stopped: {e}"),
        }),
    }
}
