//! The local spool: where a crash goes when remote storage cannot take it now (its save
//! failed, or the save queue is full), so the client can be answered `CrashID=` at once and
//! the drainer saves it later (SPEC §9). It also keeps the ids whose publish failed.
//!
//! ```text
//! <dir>/tmp/                        writes in progress; whatever is here at start-up was
//!                                   never answered and is removed
//! <dir>/crashes/<ms>-<id>.crash     one file per crash (see [`entry`]); <ms> is when it was
//!                                   spooled, so names sort oldest first
//! <dir>/publish/<id>                ids still to publish
//! <dir>/corrupt/                    entries that could not be read back (kept for a person)
//! ```
//!
//! A crash is durable once [`Spool::write`] returns: the entry is written in `tmp/`, fsync'd,
//! renamed into `crashes/`, and `crashes/` is fsync'd. Every call blocks on the disk: call
//! it from a blocking thread, never on an acceptor's runtime.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rand::RngCore;

use crate::crash::CrashReport;

pub mod entry;

/// Why the spool could not take or give back a crash.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Taking the crash would pass `CRASHMOVER_SPOOL_MAX_BYTES`.
    #[error("spool full ({used} of {max} bytes used, entry of {size})")]
    Full {
        /// Bytes in the spool now.
        used: u64,
        /// The limit.
        max: u64,
        /// The entry that did not fit.
        size: u64,
    },
    /// A file operation failed.
    #[error("spool {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An entry's bytes do not decode.
    #[error("spool entry {}: {source}", path.display())]
    Corrupt {
        /// The entry.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: entry::DecodeError,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// One spooled crash, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its file.
    pub path: PathBuf,
    /// The crash id (from the file name).
    pub crash_id: String,
    /// When it was spooled, in milliseconds since the epoch.
    pub spooled_at_ms: u64,
    /// File size in bytes.
    pub size: u64,
}

/// What the spool holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolStats {
    /// Crashes waiting.
    pub crashes: u64,
    /// Their bytes.
    pub bytes: u64,
    /// `CRASHMOVER_SPOOL_MAX_BYTES`.
    pub max_bytes: u64,
}

/// A spool directory with a byte limit.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    bytes: AtomicU64,
    crashes: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// fsync of a directory: makes the renames and unlinks in it durable.
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io("fsync", dir))
}

impl Spool {
    /// Opens (creating) the spool at `dir`: removes unfinished writes, counts what is
    /// spooled, and checks that it can write.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Spool, SpoolError> {
        let spool = Spool {
            dir: dir.into(),
            max_bytes,
            bytes: AtomicU64::new(0),
            crashes: AtomicU64::new(0),
        };
        for sub in ["tmp", "crashes", "publish", "corrupt"] {
            let path = spool.dir.join(sub);
            fs::create_dir_all(&path).map_err(io("create directory", &path))?;
        }
        let tmp = spool.dir.join("tmp");
        for unfinished in fs::read_dir(&tmp).map_err(io("list", &tmp))?.flatten() {
            let path = unfinished.path();
            tracing::warn!("spool: removing unfinished write {}", path.display());
            fs::remove_file(&path).map_err(io("remove", &path))?;
        }
        let probe = tmp.join(format!("probe-{:016x}", rand::rng().next_u64()));
        fs::write(&probe, b"test").map_err(io("write", &probe))?;
        fs::remove_file(&probe).map_err(io("remove", &probe))?;
        let entries = spool.entries()?;
        spool.crashes.store(entries.len() as u64, Ordering::Relaxed);
        spool
            .bytes
            .store(entries.iter().map(|e| e.size).sum(), Ordering::Relaxed);
        Ok(spool)
    }

    /// Where it is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `crash` durably. Fails when it would pass the byte limit.
    pub fn write(&self, crash: &CrashReport, publish: bool) -> Result<Entry, SpoolError> {
        let bytes = entry::encode(crash, publish);
        let size = bytes.len() as u64;
        let used = self.bytes.fetch_add(size, Ordering::AcqRel);
        if used + size > self.max_bytes {
            self.bytes.fetch_sub(size, Ordering::AcqRel);
            return Err(SpoolError::Full {
                used,
                max: self.max_bytes,
                size,
            });
        }
        match self.write_durably(crash, &bytes) {
            Ok(entry) => {
                self.crashes.fetch_add(1, Ordering::AcqRel);
                Ok(entry)
            }
            Err(error) => {
                self.bytes.fetch_sub(size, Ordering::AcqRel);
                Err(error)
            }
        }
    }

    fn write_durably(&self, crash: &CrashReport, bytes: &[u8]) -> Result<Entry, SpoolError> {
        let spooled_at_ms = now_ms();
        let crash_id = crash.crash_id.as_str();
        let name = format!("{spooled_at_ms:013}-{crash_id}.crash");
        let temp = self.dir.join("tmp").join(&name);
        let path = self.dir.join("crashes").join(&name);
        let written = File::create(&temp)
            .and_then(|mut file| {
                file.write_all(bytes)?;
                crate::fault::point("spool.written");
                file.sync_all()
            })
            .map_err(io("write", &temp))
            .and_then(|()| {
                crate::fault::point("spool.synced");
                fs::rename(&temp, &path).map_err(io("rename", &temp))
            });
        if let Err(error) = written {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
        crate::fault::point("spool.renamed");
        sync_dir(&self.dir.join("crashes"))?;
        Ok(Entry {
            path,
            crash_id: crash_id.to_owned(),
            spooled_at_ms,
            size: bytes.len() as u64,
        })
    }

    /// Every spooled crash, oldest first.
    pub fn entries(&self) -> Result<Vec<Entry>, SpoolError> {
        let dir = self.dir.join("crashes");
        let mut entries = Vec::new();
        for found in fs::read_dir(&dir).map_err(io("list", &dir))?.flatten() {
            let name = found.file_name().to_string_lossy().into_owned();
            let Some((ms, crash_id)) = name
                .strip_suffix(".crash")
                .and_then(|stem| stem.split_once('-'))
            else {
                continue;
            };
            let (Ok(spooled_at_ms), Ok(metadata)) = (ms.parse(), found.metadata()) else {
                continue;
            };
            entries.push(Entry {
                path: found.path(),
                crash_id: crash_id.to_owned(),
                spooled_at_ms,
                size: metadata.len(),
            });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// Reads an entry back: the crash, and whether to publish it once saved.
    pub fn load(&self, entry: &Entry) -> Result<(CrashReport, bool), SpoolError> {
        let bytes = fs::read(&entry.path).map_err(io("read", &entry.path))?;
        entry::decode(Bytes::from(bytes)).map_err(|source| SpoolError::Corrupt {
            path: entry.path.clone(),
            source,
        })
    }

    /// Deletes an entry (after its save succeeded). Not fsync'd: after a power cut the
    /// entry may come back and be saved again, under the same id with the same bytes.
    pub fn remove(&self, entry: &Entry) -> Result<(), SpoolError> {
        fs::remove_file(&entry.path).map_err(io("remove", &entry.path))?;
        self.forget(entry);
        Ok(())
    }

    /// Moves an unreadable entry to `corrupt/`, out of the drainer's way.
    pub fn quarantine(&self, entry: &Entry) -> Result<(), SpoolError> {
        let name = entry.path.file_name().unwrap_or_default();
        let target = self.dir.join("corrupt").join(name);
        fs::rename(&entry.path, &target).map_err(io("rename", &entry.path))?;
        self.forget(entry);
        sync_dir(&self.dir.join("crashes"))
    }

    fn forget(&self, entry: &Entry) {
        let _ = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(b.saturating_sub(entry.size))
            });
        let _ = self
            .crashes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// Records, durably, that `crash_id` is still to be published.
    pub fn add_publish(&self, crash_id: &str) -> Result<(), SpoolError> {
        let dir = self.dir.join("publish");
        let path = dir.join(crash_id);
        File::create(&path)
            .and_then(|file| file.sync_all())
            .map_err(io("write", &path))?;
        sync_dir(&dir)
    }

    /// Ids still to publish, oldest first.
    pub fn pending_publishes(&self) -> Result<Vec<String>, SpoolError> {
        let dir = self.dir.join("publish");
        let mut found: Vec<(SystemTime, String)> = fs::read_dir(&dir)
            .map_err(io("list", &dir))?
            .flatten()
            .filter_map(|entry| {
                let modified = entry.metadata().and_then(|m| m.modified()).ok()?;
                Some((modified, entry.file_name().to_string_lossy().into_owned()))
            })
            .collect();
        found.sort();
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    /// Drops `crash_id` from the ids to publish (it was published). Not fsync'd: after a
    /// power cut the id may be published again, which at-least-once allows.
    pub fn remove_publish(&self, crash_id: &str) -> Result<(), SpoolError> {
        let path = self.dir.join("publish").join(crash_id);
        match fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(io("remove", &path)(error))
            }
            _ => Ok(()),
        }
    }

    /// What it holds now.
    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            crashes: self.crashes.load(Ordering::Acquire),
            bytes: self.bytes.load(Ordering::Acquire),
            max_bytes: self.max_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::crash_id::{CrashId, IdKind};
    use crate::timestamp::Date;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> Dir {
        let path =
            std::env::temp_dir().join(format!("antenna-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        Dir(path)
    }

    fn crash(dump: &'static [u8]) -> CrashReport {
        let crash_id = CrashId::generate(
            &mut rand::rng(),
            IdKind::Accept,
            Date::new(2026, 12, 2).unwrap(),
        );
        let mut raw_crash = serde_json::Map::new();
        raw_crash.insert("uuid".into(), crash_id.as_str().into());
        let mut dumps = BTreeMap::new();
        dumps.insert("upload_file_minidump".to_owned(), Bytes::from_static(dump));
        CrashReport {
            crash_id,
            raw_crash,
            dumps,
        }
    }

    #[test]
    fn keeps_crashes_oldest_first_across_reopening() {
        let dir = dir("order");
        let spool = Spool::open(&dir.0, 1 << 20).unwrap();
        let first = crash(b"MDMP first");
        spool.write(&first, true).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = crash(b"MDMP second");
        spool.write(&second, false).unwrap();
        // A write that never finished (the process died mid-write).
        fs::write(dir.0.join("tmp").join("123-x.crash"), b"half").unwrap();
        drop(spool);

        let spool = Spool::open(&dir.0, 1 << 20).unwrap();
        assert!(fs::read_dir(dir.0.join("tmp")).unwrap().next().is_none());
        let entries = spool.entries().unwrap();
        let ids: Vec<_> = entries.iter().map(|e| e.crash_id.clone()).collect();
        assert_eq!(
            ids,
            [first.crash_id.to_string(), second.crash_id.to_string()]
        );
        assert_eq!(spool.stats().crashes, 2);
        let (loaded, publish) = spool.load(&entries[0]).unwrap();
        assert!(publish);
        assert_eq!(loaded.dumps, first.dumps);
        spool.remove(&entries[0]).unwrap();
        assert_eq!(spool.entries().unwrap().len(), 1);
        assert_eq!(spool.stats().crashes, 1);
        assert_eq!(spool.stats().bytes, entries[1].size);
    }

    #[test]
    fn refuses_past_its_limit() {
        let dir = dir("full");
        let spool = Spool::open(&dir.0, 200).unwrap();
        spool.write(&crash(b"MDMP"), true).unwrap();
        let error = spool.write(&crash(&[7; 150]), true).unwrap_err();
        assert!(matches!(error, SpoolError::Full { .. }), "{error}");
        assert_eq!(spool.stats().crashes, 1);
    }

    #[test]
    fn pending_publishes_survive_reopening() {
        let dir = dir("publish");
        let spool = Spool::open(&dir.0, 1 << 20).unwrap();
        spool.add_publish("a").unwrap();
        spool.add_publish("b").unwrap();
        drop(spool);
        let spool = Spool::open(&dir.0, 1 << 20).unwrap();
        let mut pending = spool.pending_publishes().unwrap();
        pending.sort();
        assert_eq!(pending, ["a", "b"]);
        spool.remove_publish("a").unwrap();
        spool.remove_publish("a").unwrap();
        assert_eq!(spool.pending_publishes().unwrap(), ["b"]);
    }
}
