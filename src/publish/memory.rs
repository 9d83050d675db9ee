//! A publisher in memory that fails on demand: the test double for our own publish retries
//! and republishing. Not selectable by configuration.

use std::sync::{Mutex, PoisonError};

use super::{CrashPublisher, PublishError, PublishFuture};
use crate::crash_id::CrashId;
use crate::fail_on_demand::FailOnDemand;

/// Records every published id, in order; fails the next publishes while failures are armed.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    failures: FailOnDemand,
    published: Mutex<Vec<String>>,
}

impl MemoryPublisher {
    /// A publisher that works.
    pub fn new() -> MemoryPublisher {
        MemoryPublisher::default()
    }

    /// The next `count` publishes fail (`usize::MAX`: until [`recover`](Self::recover)).
    pub fn fail_next(&self, count: usize) {
        self.failures.arm(count);
    }

    /// Publishes work again.
    pub fn recover(&self) {
        self.fail_next(0);
    }

    /// The ids published so far, in order.
    pub fn published(&self) -> Vec<String> {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl CrashPublisher for MemoryPublisher {
    fn name(&self) -> &'static str {
        "MemoryCrashPublish"
    }

    fn publish(&self, crash_id: &CrashId) -> PublishFuture<'_> {
        let failed = self.failures.take();
        if !failed {
            self.published
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(crash_id.to_string());
        }
        Box::pin(async move {
            if failed {
                return Err(PublishError::Refused("memory publisher: failure on demand"));
            }
            Ok(())
        })
    }
}
