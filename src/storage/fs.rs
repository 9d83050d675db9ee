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
//! With fsync on (the default, `CRASHMOVER_CRASHSTORAGE_FS_FSYNC`), a save returns only once
//! its files and their directory entries are on stable storage: after the renames, the save
//! joins a group commit ([`super::group_commit`]), so concurrent saves share one sync. With
//! it off, a crash survives the collector dying (the page cache has it) but not the machine
//! losing power before the kernel flushes it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rand::RngCore;

use super::group_commit::GroupCommit;
use super::{CrashStorage, StorageError, StorageFuture};
use crate::crash::CrashReport;

/// Where each file of a crash lives under a root: the one place that knows the layout
/// (storage, tests and the load harness all ask it).
#[derive(Debug, Clone)]
pub struct FsLayout {
    root: PathBuf,
}

impl FsLayout {
    /// The layout under `root`.
    pub fn new(root: impl Into<PathBuf>) -> FsLayout {
        FsLayout { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<YYYYMMDD>`: the directory of the day a crash id ends with.
    pub fn day(&self, crash_id: &str) -> PathBuf {
        let yymmdd = crash_id
            .get(crash_id.len().saturating_sub(6)..)
            .unwrap_or("");
        self.root.join(format!("20{yymmdd}"))
    }

    /// The raw crash, written last.
    pub fn raw_crash(&self, crash_id: &str) -> PathBuf {
        self.day(crash_id)
            .join("raw_crash")
            .join(format!("{crash_id}.json"))
    }

    /// The sorted list of dump names.
    pub fn dump_names(&self, crash_id: &str) -> PathBuf {
        self.day(crash_id)
            .join("dump_names")
            .join(format!("{crash_id}.json"))
    }

    /// The dump `name`; the empty name stores directly under the day, as Antenna does.
    pub fn dump(&self, name: &str, crash_id: &str) -> PathBuf {
        let day = self.day(crash_id);
        if name.is_empty() {
            return day.join(crash_id);
        }
        day.join(name).join(crash_id)
    }

    /// The ids of every stored raw crash, sorted.
    pub fn crash_ids(&self) -> std::io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for day in fs::read_dir(&self.root)?.flatten() {
            let Ok(entries) = fs::read_dir(day.path().join("raw_crash")) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(id) = name
                    .strip_suffix(".json")
                    .filter(|_| !name.starts_with('.'))
                {
                    ids.push(id.to_owned());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// Stores crashes under a root directory.
#[derive(Debug, Clone)]
pub struct FsStorage {
    layout: FsLayout,
    fsync: bool,
    /// Opened by the start-up check (the root exists from then on).
    commit: Arc<OnceLock<GroupCommit>>,
    /// Held while a save writes its files (not while it syncs). Every crash of a day goes
    /// into the same three directories, and each file create and rename takes its
    /// directory's lock in the kernel: concurrent writers spin on it (ext4's
    /// `rwsem_spin_on_owner` was 16% of the collector's CPU with eight), so they take turns
    /// here, asleep, instead.
    writing: Arc<Mutex<()>>,
}

impl FsStorage {
    /// Storage under `root` (created at start-up if missing); with `fsync`, saves are
    /// durable when they return.
    pub fn new(root: impl Into<PathBuf>, fsync: bool) -> FsStorage {
        FsStorage {
            layout: FsLayout::new(root),
            fsync,
            commit: Arc::new(OnceLock::new()),
            writing: Arc::new(Mutex::new(())),
        }
    }

    /// Syncs run so far (0 with fsync off).
    pub fn syncs(&self) -> u64 {
        self.commit.get().map_or(0, GroupCommit::syncs)
    }

    fn make_durable(&self) -> Result<(), StorageError> {
        if !self.fsync {
            return Ok(());
        }
        let root = self.layout.root();
        let commit = match self.commit.get() {
            Some(commit) => commit,
            None => {
                let opened = GroupCommit::open(root).map_err(io("open", root))?;
                self.commit.get_or_init(|| opened)
            }
        };
        commit.commit().map_err(io("syncfs", root))
    }

    fn save_blocking(&self, crash: &CrashReport) -> Result<(), StorageError> {
        let id = crash.crash_id.as_str();
        let (names, raw) = (crash.dump_names_json(), crash.raw_crash_json());
        {
            // A writer that panicked left no state to distrust: the lock guards no data.
            let _turn = self
                .writing
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            write_atomic(&self.layout.dump_names(id), names.as_bytes())?;
            for (name, bytes) in &crash.dumps {
                write_atomic(&self.layout.dump(name, id), bytes)?;
            }
            write_atomic(&self.layout.raw_crash(id), raw.as_bytes())?;
        }
        self.make_durable()
    }

    fn verify_blocking(&self) -> Result<(), StorageError> {
        let root = self.layout.root();
        fs::create_dir_all(root).map_err(io("create directory", root))?;
        let probe = root.join(format!(".antenna-probe-{:016x}", rand::rng().next_u64()));
        write_atomic(&probe, b"test")?;
        fs::remove_file(&probe).map_err(io("remove", &probe))?;
        self.make_durable()
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Writes `final_path` through a temporary file in the same directory and a rename.
fn write_atomic(final_path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let (Some(dir), Some(name)) = (final_path.parent(), final_path.file_name()) else {
        return Err(StorageError::Backend(format!(
            "{} is not a file path",
            final_path.display()
        )));
    };
    let name = name.to_string_lossy();
    let temp_path = dir.join(format!(".{name}.{:08x}.tmp", rand::rng().next_u32()));
    let write = || -> std::io::Result<()> {
        let result = fs::File::create(&temp_path)
            .and_then(|mut file| file.write_all(bytes))
            .and_then(|()| fs::rename(&temp_path, final_path));
        if result.is_err() {
            let _ = fs::remove_file(&temp_path);
        }
        result
    };
    match write() {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            // The day's directory does not exist yet: make it and try once more.
            fs::create_dir_all(dir).map_err(io("create directory", dir))?;
            write().map_err(io("write", final_path))
        }
        result => result.map_err(io("write", final_path)),
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

    fn is_local(&self) -> bool {
        true
    }

    fn check_health(&self) -> StorageFuture<'_> {
        let root = self.layout.root().to_owned();
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
