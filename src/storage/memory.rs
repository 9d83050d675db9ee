//! Storage in memory that fails on demand: the test double for our own retry, spool and
//! shutdown logic, and the storage of in-process benchmarks. Not selectable by
//! configuration: a collector that forgets crashes on restart has no place in production.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{CrashStorage, StorageError, StorageFuture};
use crate::crash::CrashReport;
use crate::fail_on_demand::FailOnDemand;

/// Keeps every saved crash by id; fails the next saves while failures are armed.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    failures: FailOnDemand,
    saved: Mutex<BTreeMap<String, Arc<CrashReport>>>,
    /// Behaves as local storage (fs): failing saves are retried, never spooled.
    local: bool,
}

impl MemoryStorage {
    /// An empty store that works, standing in for remote storage (S3).
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// An empty store that works, standing in for local storage (fs).
    pub fn local() -> MemoryStorage {
        MemoryStorage {
            local: true,
            ..MemoryStorage::default()
        }
    }

    /// The next `count` saves fail with a backend error (`usize::MAX`: until
    /// [`recover`](Self::recover)).
    pub fn fail_next(&self, count: usize) {
        self.failures.arm(count);
    }

    /// Saves work again.
    pub fn recover(&self) {
        self.fail_next(0);
    }

    /// Ids of the saved crashes, sorted.
    pub fn saved_ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The crash saved under `crash_id`, if any.
    pub fn get(&self, crash_id: &str) -> Option<Arc<CrashReport>> {
        self.lock().get(crash_id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<CrashReport>>> {
        // A panicking test thread must not hide what was saved from the others.
        self.saved.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CrashStorage for MemoryStorage {
    fn name(&self) -> &'static str {
        "MemoryCrashStorage"
    }

    fn save(&self, crash: Arc<CrashReport>) -> StorageFuture<'_> {
        Box::pin(async move {
            if self.failures.take() {
                return Err(StorageError::Backend(
                    "memory storage: failure on demand".into(),
                ));
            }
            self.lock().insert(crash.crash_id.to_string(), crash);
            Ok(())
        })
    }

    fn check_health(&self) -> StorageFuture<'_> {
        Box::pin(async move {
            if self.failures.armed() {
                return Err(StorageError::Backend(
                    "memory storage: failing on demand".into(),
                ));
            }
            Ok(())
        })
    }

    fn verify_at_startup(&self) -> StorageFuture<'_> {
        self.check_health()
    }

    fn is_local(&self) -> bool {
        self.local
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash_id::{CrashId, IdKind};
    use crate::timestamp::Date;

    fn crash() -> Arc<CrashReport> {
        let date = Date::new(2026, 12, 2).unwrap();
        Arc::new(CrashReport {
            crash_id: CrashId::generate(&mut rand::rng(), IdKind::Accept, date),
            raw_crash: serde_json::Map::new(),
            dumps: BTreeMap::new(),
        })
    }

    #[tokio::test]
    async fn fails_exactly_as_armed() {
        let storage = MemoryStorage::new();
        storage.fail_next(2);
        assert!(storage.save(crash()).await.is_err());
        assert!(storage.check_health().await.is_err());
        assert!(storage.save(crash()).await.is_err());
        let kept = crash();
        storage.save(Arc::clone(&kept)).await.unwrap();
        assert_eq!(storage.saved_ids(), [kept.crash_id.to_string()]);
        storage.fail_next(usize::MAX);
        for _ in 0..3 {
            assert!(storage.save(crash()).await.is_err());
        }
        storage.recover();
        storage.save(crash()).await.unwrap();
        assert_eq!(storage.saved_ids().len(), 2);
    }
}
