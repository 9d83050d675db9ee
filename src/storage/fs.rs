//! File-system storage, the embedded default (`./crashdata`), in Antenna's layout:
//!
//! ```text
//! <root>/<YYYYMMDD>/dump_names/<crash id>.json
//! <root>/<YYYYMMDD>/<dump name>/<crash id>
//! <root>/<YYYYMMDD>/raw_crash/<crash id>.json
//! ```
//!
//! Every file is written to a hidden temporary name in its final directory and renamed into
//! place, so a reader never sees half a file; the raw crash is renamed last, so a reader
//! that sees it sees a whole crash. Writes run on tokio's blocking pool: file I/O would
//! otherwise stall the crashmover runtime's threads.
//!
//! Files are not fsync'd: a crash survives the collector dying (the page cache has it) but
//! not the machine losing power before the kernel flushes it. Production runs S3.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;

use super::{CrashStorage, StorageError, StorageFuture};
use crate::crash::CrashReport;

/// Stores crashes under a root directory.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
}

impl FsStorage {
    /// Storage under `root` (created at start-up if missing).
    pub fn new(root: impl Into<PathBuf>) -> FsStorage {
        FsStorage { root: root.into() }
    }

    fn save_blocking(&self, crash: &CrashReport) -> Result<(), StorageError> {
        let id = crash.crash_id.as_str();
        let day = self.root.join(crash.crash_id.date_key());
        write_atomic(
            &day.join("dump_names"),
            &format!("{id}.json"),
            crash.dump_names_json().as_bytes(),
        )?;
        for (name, bytes) in &crash.dumps {
            // The empty dump name stores directly under the day, as Antenna does.
            write_atomic(&day.join(name), id, bytes)?;
        }
        write_atomic(
            &day.join("raw_crash"),
            &format!("{id}.json"),
            crash.raw_crash_json().as_bytes(),
        )
    }

    fn verify_blocking(&self) -> Result<(), StorageError> {
        fs::create_dir_all(&self.root).map_err(io("create directory", &self.root))?;
        let probe = format!(".antenna-probe-{:016x}", rand::rng().next_u64());
        write_atomic(&self.root, &probe, b"test")?;
        let path = self.root.join(&probe);
        fs::remove_file(&path).map_err(io("remove", &path))
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Writes `dir/name` through a temporary file and a rename.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
    let final_path = dir.join(name);
    let temp_path = dir.join(format!(".{name}.{:08x}.tmp", rand::rng().next_u32()));
    let write = || -> std::io::Result<()> {
        let result = fs::File::create(&temp_path)
            .and_then(|mut file| file.write_all(bytes))
            .and_then(|()| fs::rename(&temp_path, &final_path));
        if result.is_err() {
            let _ = fs::remove_file(&temp_path);
        }
        result
    };
    match write() {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            // The day's directory does not exist yet: make it and try once more.
            fs::create_dir_all(dir).map_err(io("create directory", dir))?;
            write().map_err(io("write", &final_path))
        }
        result => result.map_err(io("write", &final_path)),
    }
}

impl CrashStorage for FsStorage {
    fn name(&self) -> &'static str {
        "FSCrashStorage"
    }

    fn save(&self, crash: Arc<CrashReport>) -> StorageFuture<'_> {
        let storage = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || storage.save_blocking(&crash))
                .await
                .map_err(|error| StorageError::Task(error.to_string()))?
        })
    }

    fn check_health(&self) -> StorageFuture<'_> {
        let root = self.root.clone();
        Box::pin(async move {
            let metadata =
                tokio::task::spawn_blocking(move || fs::metadata(&root).map_err(io("stat", &root)))
                    .await
                    .map_err(|error| StorageError::Task(error.to_string()))??;
            if metadata.permissions().readonly() {
                return Err(StorageError::Backend("storage root is read-only".into()));
            }
            Ok(())
        })
    }

    fn verify_at_startup(&self) -> StorageFuture<'_> {
        let storage = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || storage.verify_blocking())
                .await
                .map_err(|error| StorageError::Task(error.to_string()))?
        })
    }
}
