//! The drainer: moves spooled crashes to storage, oldest first, and publishes journalled
//! ids, while the backends work.
//!
//! It keeps at most four saves in flight (oldest entries first), next to the movers'
//! `CRASHMOVER_CONCURRENT_CRASHMOVERS`: live saves keep their room. An
//! entry is deleted only after its save succeeded (a kill between the two saves it again,
//! under the same id with the same bytes: harmless), and its id is published after that.
//! When storage fails, the drainer waits, doubling the pause up to half a minute. It starts
//! with the process, so whatever a killed collector left in the spool is drained on restart.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinSet;

use super::{Crashmover, Step};
use crate::crash_id::CrashId;
use crate::metrics::{Counter, Gauge};
use crate::spool::{Entry, SpoolError};

/// Saves the drainer has in flight at once: enough to drain at several times one save's
/// pace, few enough that live saves (`CRASHMOVER_CONCURRENT_CRASHMOVERS`) keep their room.
const DRAIN_CONCURRENCY: usize = 4;
/// Longest pause between drain passes while storage keeps failing.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// Pause after the first failure, and between idle checks.
const MIN_PAUSE: Duration = Duration::from_millis(200);
/// An idle drainer looks at the spool at least this often (entries left by another run).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What one pass achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Nothing to do.
    Idle,
    /// Everything listed was handled.
    Done,
    /// A backend failed; try again later.
    Blocked,
}

impl Crashmover {
    pub(super) async fn run_drainer(self: Arc<Self>) {
        let mut pause = MIN_PAUSE;
        loop {
            let notified = self.spooled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.drain_pass().await {
                Pass::Done => pause = MIN_PAUSE,
                Pass::Idle => {
                    pause = MIN_PAUSE;
                    let _ = tokio::time::timeout(IDLE_CHECK, notified).await;
                }
                Pass::Blocked => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
            if self.closing.load(Ordering::Acquire) {
                return;
            }
        }
    }

    async fn drain_pass(self: &Arc<Self>) -> Pass {
        let publishes = self.republish().await;
        let entries = match self.on_spool(|spool| spool.entries()).await {
            Ok(entries) => entries,
            Err(error) => {
                tracing::error!("drainer: {error}");
                return Pass::Blocked;
            }
        };
        if entries.is_empty() {
            return publishes;
        }
        // A few saves in flight, taken oldest first.
        let mut saves = JoinSet::new();
        let mut pass = Pass::Done;
        for entry in entries {
            while saves.len() >= DRAIN_CONCURRENCY {
                if let Some(Ok(Pass::Blocked)) = saves.join_next().await {
                    pass = Pass::Blocked;
                }
            }
            if pass == Pass::Blocked || self.closing.load(Ordering::Acquire) {
                break;
            }
            saves.spawn(Arc::clone(self).drain_one(entry));
        }
        while let Some(done) = saves.join_next().await {
            if let Ok(Pass::Blocked) = done {
                pass = Pass::Blocked;
            }
        }
        pass
    }

    /// Saves one spooled crash, then deletes its entry, then publishes its id.
    async fn drain_one(self: Arc<Self>, entry: Entry) -> Pass {
        let listed = entry.clone();
        let (crash, publish) = match self.on_spool(move |spool| spool.load(&listed)).await {
            Ok(loaded) => loaded,
            Err(error @ SpoolError::Corrupt { .. }) => {
                tracing::error!("drainer: {error}; moved to corrupt/");
                let _ = self.on_spool(move |spool| spool.quarantine(&entry)).await;
                return Pass::Done;
            }
            Err(error) => {
                tracing::error!("drainer: {error}");
                return Pass::Blocked;
            }
        };
        let crash = Arc::new(crash);
        let saved = self
            .with_retries(Step::Save, 1, || self.storage.save(Arc::clone(&crash)))
            .await;
        if !saved {
            return Pass::Blocked;
        }
        crate::fault::point("drain.saved");
        if let Err(error) = self.on_spool(move |spool| spool.remove(&entry)).await {
            // Saved but still listed: it is saved again on the next pass.
            tracing::error!("drainer: {error}");
            return Pass::Blocked;
        }
        crate::fault::point("drain.removed");
        tracing::info!("{} unspooled", crash.crash_id);
        self.metrics.incr(Counter::Unspooled, None);
        if publish {
            self.publish_saved(&crash.crash_id).await;
        }
        Pass::Done
    }

    /// Publishes the journalled ids, oldest first, until one fails.
    async fn republish(&self) -> Pass {
        if !self.publisher.is_enabled() {
            return Pass::Idle;
        }
        let ids = match self.on_spool(|spool| spool.pending_publishes()).await {
            Ok(ids) => ids,
            Err(error) => {
                tracing::error!("drainer: {error}");
                return Pass::Blocked;
            }
        };
        if ids.is_empty() {
            return Pass::Idle;
        }
        for text in ids {
            if let Ok(id) = CrashId::parse_strict(&text) {
                let published = self
                    .with_retries(Step::Publish, 1, || self.publisher.publish(&id))
                    .await;
                if !published {
                    return Pass::Blocked;
                }
                tracing::info!("{id} published");
            }
            crate::fault::point("drain.published");
            if let Err(error) = self
                .on_spool(move |spool| spool.remove_publish(&text))
                .await
            {
                tracing::error!("drainer: {error}");
                return Pass::Blocked;
            }
        }
        Pass::Done
    }

    /// Sends the queue and spool gauges.
    pub(super) async fn report_gauges(&self) {
        self.metrics
            .gauge(Gauge::SaveQueueSize, self.queue_depth() as u64);
        let stats = self.spool.stats();
        self.metrics.gauge(Gauge::SpoolSize, stats.crashes);
        self.metrics.gauge(Gauge::SpoolBytes, stats.bytes);
        let oldest = if stats.crashes == 0 {
            0
        } else {
            let entries = self.on_spool(|spool| spool.entries()).await;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_millis() as u64);
            entries
                .ok()
                .and_then(|entries| entries.first().map(|e| now.saturating_sub(e.spooled_at_ms)))
                .unwrap_or(0)
                / 1000
        };
        self.metrics.gauge(Gauge::SpoolOldestAge, oldest);
    }
}
