//! Storage that keeps nothing: for benchmarks of everything but storage, and smoke tests.

use std::sync::Arc;

use super::{CrashStorage, StorageFuture};
use crate::crash::CrashReport;

/// Accepts every save and drops the crash.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopStorage;

impl CrashStorage for NoopStorage {
    fn name(&self) -> &'static str {
        "NoOpCrashStorage"
    }

    fn save(&self, crash: Arc<CrashReport>) -> StorageFuture<'_> {
        Box::pin(async move {
            tracing::debug!("crash storage no-op: {}", crash.crash_id);
            Ok(())
        })
    }

    fn is_local(&self) -> bool {
        true
    }

    fn check_health(&self) -> StorageFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    fn verify_at_startup(&self) -> StorageFuture<'_> {
        Box::pin(async { Ok(()) })
    }
}
