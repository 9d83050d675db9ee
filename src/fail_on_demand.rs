//! A switch that makes the next calls of a test double fail: shared by the in-memory
//! storage and publisher.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many of the next calls fail; `usize::MAX` means every call until reset.
#[derive(Debug, Default)]
pub struct FailOnDemand(AtomicUsize);

impl FailOnDemand {
    /// The next `count` calls fail (`usize::MAX`: every call until [`arm`](Self::arm)`(0)`).
    pub fn arm(&self, count: usize) {
        self.0.store(count, Ordering::SeqCst);
    }

    /// Whether failures are armed now.
    pub fn armed(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }

    /// Whether this call fails; takes one armed failure if so.
    pub fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                0 => None,
                usize::MAX => Some(usize::MAX),
                n => Some(n - 1),
            })
            .is_ok()
    }
}
