//! Group commit: many writers, one `syncfs(2)` for all of them.
//!
//! A writer finishes its writes (files written and renamed into place), then calls
//! [`GroupCommit::commit`], which returns once a sync that *started after* those writes has
//! completed. If no sync is running, the caller runs one; if one is running, the caller waits
//! for it and, since that sync may have started before its writes, for the next one, which
//! the first waiter to see the finished sync starts on behalf of everyone waiting. Under load,
//! one sync covers every save that finished during the previous one: the fsync cost is paid
//! per batch, not per crash.
//!
//! `syncfs` flushes the whole file system the root lives on, data and metadata (the
//! crash's files and the directory entries of their renames), and reports write-back errors
//! (Linux 5.8+). On a dedicated data volume that is exactly the crash files being written.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Condvar, Mutex, PoisonError};

/// Shares `syncfs` calls between concurrent writers on one file system.
#[derive(Debug)]
pub struct GroupCommit {
    /// An open directory on the file system to sync.
    anchor: File,
    state: Mutex<State>,
    synced: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out so far; a writer's ticket is taken after its writes.
    issued: u64,
    /// Every ticket up to this one is covered by a completed sync.
    durable_through: u64,
    /// A sync is running.
    syncing: bool,
    /// Syncs run so far (for tests and the README's figures).
    syncs: u64,
}

impl GroupCommit {
    /// Group commit for the file system holding `dir` (which must exist).
    pub fn open(dir: &Path) -> std::io::Result<GroupCommit> {
        Ok(GroupCommit {
            anchor: File::open(dir)?,
            state: Mutex::new(State::default()),
            synced: Condvar::new(),
        })
    }

    /// Returns once everything the caller wrote before calling is on stable storage.
    pub fn commit(&self) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.issued += 1;
        let ticket = state.issued;
        loop {
            if state.durable_through >= ticket {
                return Ok(());
            }
            if !state.syncing {
                // Run a sync for every ticket issued so far (ours included).
                state.syncing = true;
                let covers = state.issued;
                drop(state);
                let result = self.syncfs();
                state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                state.syncing = false;
                state.syncs += 1;
                if result.is_ok() {
                    state.durable_through = state.durable_through.max(covers);
                }
                self.synced.notify_all();
                // On failure, the caller's save fails (and is retried); waiters whose
                // tickets it would have covered run the next sync themselves.
                result?;
                continue;
            }
            state = self
                .synced
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// How many syncs have run.
    pub fn syncs(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .syncs
    }

    fn syncfs(&self) -> std::io::Result<()> {
        // SAFETY: syncfs(2) takes any open file descriptor and touches no memory of ours;
        // `anchor` keeps the descriptor open for the duration of the call.
        let rc = unsafe { libc::syncfs(self.anchor.as_raw_fd()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn concurrent_writers_share_syncs() {
        let dir = std::env::temp_dir().join(format!("antenna-gc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let commit = Arc::new(GroupCommit::open(&dir).unwrap());
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let (commit, dir) = (Arc::clone(&commit), dir.clone());
                std::thread::spawn(move || {
                    for round in 0..10 {
                        std::fs::write(dir.join(format!("{i}-{round}")), b"crash").unwrap();
                        commit.commit().unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let syncs = commit.syncs();
        // 160 commits from 16 threads at once: waiters share the sync that runs meanwhile.
        assert!((1..160).contains(&syncs), "{syncs}");
        // A lone writer always gets a sync of its own.
        let before = commit.syncs();
        commit.commit().unwrap();
        assert_eq!(commit.syncs(), before + 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
