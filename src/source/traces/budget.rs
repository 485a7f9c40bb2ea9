//! The memory budget shared by every OTLP decode in flight.
//!
//! Per-export limits alone multiply by the exports decoded at once; the budget bounds their
//! sum. Each decode reserves, before it allocates, the inflated body as it grows and then the
//! bound of what decoding will take ([`super::census`]); the reservation is returned when the
//! decoded request is dropped (after its spans went into the windows). A decode that does not
//! fit now is refused at once (the receiver answers 503 and the exporter retries later); one
//! that could never fit is refused as too large.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::decode::DecodeError;

/// The budget, counted in KiB (a semaphore's permits).
#[derive(Debug, Clone)]
pub struct DecodeBudget {
    /// One permit per KiB not reserved.
    free: Arc<Semaphore>,
    /// The whole budget, in KiB.
    total_kib: u32,
}

impl DecodeBudget {
    /// A budget of `bytes` (rounded down to KiB, at least one KiB).
    pub fn new(bytes: usize) -> Self {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        DecodeBudget {
            free: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// The whole budget in bytes.
    pub fn bytes(&self) -> usize {
        self.total_kib as usize * 1024
    }

    /// The bytes reserved by decodes in flight now.
    pub fn reserved_bytes(&self) -> usize {
        (self.total_kib as usize).saturating_sub(self.free.available_permits()) * 1024
    }

    /// An empty reservation to grow.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: None,
            kib: 0,
        }
    }
}

/// Memory one decode holds from the budget, returned on drop.
#[derive(Debug)]
pub struct Reservation {
    /// Where it comes from.
    budget: DecodeBudget,
    /// The permits held.
    held: Option<OwnedSemaphorePermit>,
    /// How many, in KiB.
    kib: u32,
}

impl Reservation {
    /// Reserves `bytes` more: [`DecodeError::OverBudget`] when the whole would not fit in the
    /// budget even alone, [`DecodeError::Busy`] when it does not fit beside the decodes in
    /// flight.
    pub fn grow(&mut self, bytes: usize) -> Result<(), DecodeError> {
        let more = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let wanted = self.kib.saturating_add(more);
        if wanted > self.budget.total_kib {
            return Err(DecodeError::OverBudget {
                needed: wanted as usize * 1024,
                budget: self.budget.bytes(),
            });
        }
        if more == 0 {
            return Ok(());
        }
        let permit = self
            .budget
            .free
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| DecodeError::Busy {
                budget: self.budget.bytes(),
            })?;
        match self.held.as_mut() {
            Some(held) => held.merge(permit),
            None => self.held = Some(permit),
        }
        self.kib = wanted;
        Ok(())
    }

    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.kib as usize * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back_on_drop() {
        let budget = DecodeBudget::new(10 * 1024);
        let mut first = budget.reservation();
        first.grow(6 * 1024).unwrap();
        first.grow(1).unwrap();
        assert_eq!(first.bytes(), 7 * 1024);
        let mut second = budget.reservation();
        assert!(matches!(
            second.grow(4 * 1024),
            Err(DecodeError::Busy { .. })
        ));
        second.grow(3 * 1024).unwrap();
        assert_eq!(budget.reserved_bytes(), 10 * 1024);
        drop(first);
        assert_eq!(budget.reserved_bytes(), 3 * 1024);
        assert!(matches!(
            second.grow(8 * 1024),
            Err(DecodeError::OverBudget { .. })
        ));
        drop(second);
        assert_eq!(budget.reserved_bytes(), 0);
    }
}
