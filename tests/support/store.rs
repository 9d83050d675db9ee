//! What a collector under test stored, read through the fs layout the collector itself
//! uses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use antenna::storage::fs::FsLayout;

use super::Collector;

impl Collector {
    /// The fs storage root of this collector.
    pub fn crash_root(&self) -> PathBuf {
        self.data.0.join("crashes")
    }

    /// The fs layout under [`crash_root`](Self::crash_root).
    pub fn layout(&self) -> FsLayout {
        FsLayout::new(self.crash_root())
    }

    /// Every stored file of `crash_id`: relative path → bytes.
    pub fn stored(&self, crash_id: &str) -> HashMap<String, Vec<u8>> {
        let mut out = HashMap::new();
        walk(&self.crash_root(), &mut |path| {
            let name = path.file_name().unwrap().to_string_lossy();
            if name == crash_id || name == format!("{crash_id}.json") {
                let relative = path.strip_prefix(self.crash_root()).unwrap();
                out.insert(relative.display().to_string(), std::fs::read(path).unwrap());
            }
        });
        out
    }

    /// The stored dump `name` of `crash_id`.
    pub fn dump(&self, name: &str, crash_id: &str) -> Vec<u8> {
        let path = self.layout().dump(name, crash_id);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The stored raw crash of `crash_id`, as bytes.
    pub fn raw_crash_bytes(&self, crash_id: &str) -> Vec<u8> {
        let path = self.layout().raw_crash(crash_id);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The stored raw crash of `crash_id`, parsed.
    pub fn raw_crash(&self, crash_id: &str) -> serde_json::Value {
        serde_json::from_slice(&self.raw_crash_bytes(crash_id)).unwrap()
    }

    /// Every stored file, relative paths.
    pub fn all_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.crash_root(), &mut |path| {
            out.push(
                path.strip_prefix(self.crash_root())
                    .unwrap()
                    .display()
                    .to_string(),
            )
        });
        out.sort();
        out
    }
}

pub fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, visit);
        } else {
            visit(&path);
        }
    }
}
