//! One budget for every body byte in flight (`ANTENNA_MAX_INFLIGHT_BYTES`, SPEC §9).
//!
//! Each request holds a [`Reservation`] that grows as its body arrives, so the bytes of all
//! bodies being received or parsed can never pass the limit, however many clients connect
//! and however much they declare. A request that would pass it waits a little for others to
//! finish (the budget frees as requests end), then is refused with 503 + Retry-After. A node
//! therefore cannot be pushed out of memory — taking its queued crashes with it — by slow or
//! stalled clients.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The shared budget.
#[derive(Debug)]
pub struct InflightBudget {
    limit: usize,
    used: AtomicUsize,
    freed: Notify,
}

impl InflightBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<InflightBudget> {
        Arc::new(InflightBudget {
            limit,
            used: AtomicUsize::new(0),
            freed: Notify::new(),
        })
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// An empty reservation for one request.
    pub fn reserve(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: Arc::clone(self),
            held: 0,
        }
    }

    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }
}

/// The bytes one request holds; given back when it is dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<InflightBudget>,
    held: usize,
}

impl Reservation {
    /// Takes `bytes` more, waiting up to `patience` for room; false if there was none.
    pub async fn grow(&mut self, bytes: usize, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        loop {
            let freed = self.budget.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.budget.try_take(bytes) {
                self.held += bytes;
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, freed).await.is_err() {
                return false;
            }
        }
    }

    /// Bytes held.
    pub fn held(&self) -> usize {
        self.held
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held > 0 {
            self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
            self.budget.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_the_line_and_frees_on_drop() {
        let budget = InflightBudget::new(100);
        let mut first = budget.reserve();
        assert!(first.grow(60, Duration::ZERO).await);
        let mut second = budget.reserve();
        assert!(!second.grow(50, Duration::from_millis(20)).await);
        assert!(second.grow(40, Duration::ZERO).await);
        assert_eq!(budget.used(), 100);
        let waiter = tokio::spawn(async move {
            let mut third = budget.reserve();
            let taken = third.grow(30, Duration::from_secs(5)).await;
            (taken, budget)
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        let (taken, budget) = waiter.await.unwrap();
        assert!(taken, "a waiting request gets the room freed by another");
        drop(second);
        assert_eq!(budget.used(), 0);
    }
}
