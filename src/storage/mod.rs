//! Where accepted crashes go. [`CrashStorage`] is the seam; backends are picked once at
//! start-up from `CRASHMOVER_CRASHSTORAGE_CLASS`.
//!
//! Every backend writes the dumps and the dump-name list first and the raw crash last, so a
//! processor that sees a raw crash can rely on the rest being there (SPEC §4).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::StorageConfig;
use crate::crash::CrashReport;

pub mod fs;
pub mod group_commit;
pub mod memory;
pub mod noop;
pub mod s3;

/// A boxed future, so backends can be used behind `dyn CrashStorage`.
pub type StorageFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StorageError>> + Send + 'a>>;

/// Why a storage call failed. Saves retry on every kind: from the collector's side each is
/// transient (a full disk gets freed, S3 comes back).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The backend answered with an error, could not be reached, or is not usable.
    #[error("{0}")]
    Backend(String),
    /// The save task died (panicked or was cancelled at shutdown).
    #[error("save task failed: {0}")]
    Task(String),
}

/// A crash store.
pub trait CrashStorage: Send + Sync + 'static {
    /// Short name shown in `/__heartbeat__` errors.
    fn name(&self) -> &'static str;

    /// Stores one crash: dumps and dump names first, the raw crash last.
    fn save(&self, crash: Arc<CrashReport>) -> StorageFuture<'_>;

    /// A cheap check for `/__heartbeat__`.
    fn check_health(&self) -> StorageFuture<'_>;

    /// A thorough check at start-up (write access included); failing it stops start-up.
    fn verify_at_startup(&self) -> StorageFuture<'_>;

    /// Whether the storage is this machine's disk (fs, noop). For remote storage a crash
    /// whose save fails is spooled locally; for local storage the spool would be the same
    /// disk, so the save is retried instead.
    fn is_local(&self) -> bool {
        false
    }
}

/// Builds the storage `config` asks for; `dump_field` is the form field stored as the main
/// dump. Must run on the runtime that will use it (the movers'); nothing is touched until
/// [`CrashStorage::verify_at_startup`].
pub async fn build(
    config: &StorageConfig,
    dump_field: &str,
) -> Result<Arc<dyn CrashStorage>, StorageError> {
    Ok(match config {
        StorageConfig::Fs { root, fsync } => Arc::new(fs::FsStorage::new(root, *fsync)),
        StorageConfig::Noop => Arc::new(noop::NoopStorage),
        StorageConfig::S3(s3) => Arc::new(s3::S3Storage::connect(s3, dump_field).await?),
    })
}
