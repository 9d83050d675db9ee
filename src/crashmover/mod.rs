//! The save pipeline: per-acceptor bounded queues drained by a pool of crashmover tasks,
//! with the spool behind them (SPEC §9).
//!
//! Each acceptor thread pushes into its own lock-free `ArrayQueue`, so acceptors never
//! contend with each other; every mover takes from all queues in turn, starting after the
//! queue it took from last, so a busy acceptor cannot starve a quiet one. The queues are
//! bounded, so queued crash bytes are bounded too
//! (`ANTENNA_WORKERS × CRASHMOVER_QUEUE_CAPACITY` crashes).
//!
//! The client's answer waits until the crash is durable, never longer: an acceptor hands
//! each crash over with a oneshot sender and answers when the outcome comes back, so nobody
//! holds a `CrashID` for a crash we do not have. With remote storage (S3), a crash whose
//! save fails, or that finds its queue full, is written to the local [`Spool`] and answered
//! at once; the [drainer](drain) saves it later. Only when the spool cannot take it either
//! does the client get a 500 (or 503). With local storage (fs) the spool would be the same
//! disk, so a failing save is retried `CRASHMOVER_MAX_ATTEMPTS` times as before.
//!
//! Publishing happens after the answer: one attempt right after the save; an id whose
//! publish fails is journalled in the spool and published by the drainer once the broker is
//! back, also after a restart (at least once).
//!
//! The movers run on their own multi-threaded runtime, where the storage clients were built
//! (SDK clients keep connection pools bound to the runtime that created them); spool I/O runs
//! on that runtime's blocking pool, never on an acceptor's thread.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use rand::Rng;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::crash::CrashReport;
use crate::crash_id::CrashId;
use crate::metrics::{Counter, Metrics, Timer};
use crate::publish::CrashPublisher;
use crate::spool::{Spool, SpoolError};
use crate::storage::CrashStorage;

pub mod drain;

/// How a save ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Stored.
    Saved,
    /// Durable in the spool; the drainer stores it later.
    Spooled,
    /// Every attempt failed and the spool could not take it; the crash is not kept.
    Dropped,
}

/// Why a crash was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotSaved {
    /// The acceptor's queue is full and the spool cannot take the crash: back-pressure.
    #[error("save queue full")]
    QueueFull,
    /// Storage kept failing and the spool could not take it.
    #[error("storage failed")]
    Failed,
}

/// Retries of a failing save.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub max_attempts: u32,
    /// Pause between attempts, jittered ±50% so that many movers failing together do not
    /// retry in lockstep against a recovering backend.
    pub sleep: Duration,
}

/// Sizes and policies of the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct MoverSettings {
    /// Save queues (one per acceptor).
    pub queues: usize,
    /// Crashes each queue holds.
    pub capacity: usize,
    /// Retries of a failing save.
    pub policy: RetryPolicy,
    /// On shutdown, how long queued crashes may wait for storage before they are spooled.
    pub shutdown_timeout: Duration,
}

struct SaveJob {
    crash: Arc<CrashReport>,
    /// False for DEFER crashes: stored, never queued for processing.
    publish: bool,
    done: oneshot::Sender<SaveOutcome>,
}

/// One acceptor's save queue: the producer side of the pipeline.
#[derive(Debug, Clone)]
pub struct SaveQueue {
    crashmover: Arc<Crashmover>,
    index: usize,
}

impl SaveQueue {
    /// Hands `crash` over and waits until it is durable (saved or spooled). `publish` is
    /// false for DEFER crashes.
    pub async fn save(&self, crash: CrashReport, publish: bool) -> Result<SaveOutcome, NotSaved> {
        let crashmover = &self.crashmover;
        let (done, outcome) = oneshot::channel();
        let job = SaveJob {
            crash: Arc::new(crash),
            publish,
            done,
        };
        match crashmover.queues[self.index].push(job) {
            Ok(()) => {
                crashmover.work.notify_one();
                match outcome.await {
                    Ok(SaveOutcome::Saved) => Ok(SaveOutcome::Saved),
                    Ok(SaveOutcome::Spooled) => Ok(SaveOutcome::Spooled),
                    Ok(SaveOutcome::Dropped) | Err(_) => Err(NotSaved::Failed),
                }
            }
            Err(job) if crashmover.spools_crashes() => match crashmover.spool_job(&job).await {
                Ok(()) => Ok(SaveOutcome::Spooled),
                Err(error) => {
                    tracing::error!("{}: queue full, and {error}", job.crash.crash_id);
                    Err(NotSaved::QueueFull)
                }
            },
            Err(_) => Err(NotSaved::QueueFull),
        }
    }
}

/// The queues, the backends and the policy shared by acceptors (producers), movers and the
/// drainer (consumers).
pub struct Crashmover {
    queues: Box<[ArrayQueue<SaveJob>]>,
    work: Notify,
    closing: AtomicBool,
    /// Set when the shutdown timeout has passed: queued crashes go straight to the spool.
    spilling: AtomicBool,
    storage: Arc<dyn CrashStorage>,
    publisher: Arc<dyn CrashPublisher>,
    spool: Arc<Spool>,
    /// Wakes the drainer when something was spooled.
    spooled: Notify,
    /// The movers' runtime: spool I/O runs on its blocking pool.
    runtime: Handle,
    metrics: Metrics,
    settings: MoverSettings,
}

impl std::fmt::Debug for Crashmover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crashmover")
            .field("queues", &self.queues.len())
            .field("depth", &self.queue_depth())
            .field("storage", &self.storage.name())
            .field("publisher", &self.publisher.name())
            .field("spool", &self.spool.dir())
            .finish()
    }
}

impl Crashmover {
    /// The pipeline over `storage`, `publisher` and `spool`; spool I/O runs on `runtime`
    /// (the movers').
    pub fn new(
        storage: Arc<dyn CrashStorage>,
        publisher: Arc<dyn CrashPublisher>,
        spool: Arc<Spool>,
        metrics: Metrics,
        settings: MoverSettings,
        runtime: Handle,
    ) -> Crashmover {
        Crashmover {
            queues: (0..settings.queues.max(1))
                .map(|_| ArrayQueue::new(settings.capacity.max(1)))
                .collect(),
            work: Notify::new(),
            closing: AtomicBool::new(false),
            spilling: AtomicBool::new(false),
            storage,
            publisher,
            spool,
            spooled: Notify::new(),
            runtime,
            metrics,
            settings,
        }
    }

    /// The handle to save queue `index` (an acceptor's index; wraps around the count).
    pub fn save_queue(self: &Arc<Self>, index: usize) -> SaveQueue {
        SaveQueue {
            crashmover: Arc::clone(self),
            index: index % self.queues.len(),
        }
    }

    /// Crashes waiting in all queues.
    pub fn queue_depth(&self) -> usize {
        self.queues.iter().map(ArrayQueue::len).sum()
    }

    /// The storage backend, for health checks.
    pub fn storage(&self) -> &Arc<dyn CrashStorage> {
        &self.storage
    }

    /// The publisher, for health checks.
    pub fn publisher(&self) -> &Arc<dyn CrashPublisher> {
        &self.publisher
    }

    /// The spool, for health checks.
    pub fn spool(&self) -> &Arc<Spool> {
        &self.spool
    }

    /// Whether failing crashes go to the spool (remote storage) or are retried in place.
    fn spools_crashes(&self) -> bool {
        !self.storage.is_local()
    }

    /// Runs blocking spool I/O on the movers' blocking pool.
    async fn on_spool<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Spool) -> Result<T, SpoolError> + Send + 'static,
    ) -> Result<T, SpoolError> {
        let spool = Arc::clone(&self.spool);
        self.runtime
            .spawn_blocking(move || work(&spool))
            .await
            .unwrap_or_else(|error| {
                Err(SpoolError::Io {
                    op: "run spool task",
                    path: std::path::PathBuf::new(),
                    source: std::io::Error::other(error.to_string()),
                })
            })
    }

    /// Writes a job's crash to the spool and wakes the drainer.
    async fn spool_job(&self, job: &SaveJob) -> Result<(), SpoolError> {
        let (crash, publish) = (Arc::clone(&job.crash), job.publish);
        self.on_spool(move |spool| spool.write(&crash, publish))
            .await?;
        tracing::info!("{} spooled", job.crash.crash_id);
        self.metrics.incr(Counter::Spooled, None);
        self.spooled.notify_one();
        Ok(())
    }

    /// Takes a job from the first non-empty queue at or after `cursor`, round-robin.
    fn pop(&self, cursor: &mut usize) -> Option<SaveJob> {
        let count = self.queues.len();
        for step in 0..count {
            let index = (*cursor + step) % count;
            if let Some(job) = self.queues[index].pop() {
                *cursor = (index + 1) % count;
                return Some(job);
            }
        }
        None
    }

    async fn run_mover(self: Arc<Self>, mut cursor: usize) {
        loop {
            // Register for a wake-up before looking, so a push between the look and the
            // wait is not missed.
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(job) = self.pop(&mut cursor) {
                let outcome = self.handle(&job).await;
                // The client may have gone; the crash is durable (or dropped) all the same.
                let _ = job.done.send(outcome);
                if outcome == SaveOutcome::Saved && job.publish {
                    self.publish_saved(&job.crash.crash_id).await;
                }
                continue;
            }
            if self.closing.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Makes one crash durable: saved, else spooled (remote storage), else dropped.
    async fn handle(&self, job: &SaveJob) -> SaveOutcome {
        let started = Instant::now();
        let id = &job.crash.crash_id;
        let save = || self.storage.save(Arc::clone(&job.crash));
        let policy = self.settings.policy;
        let saved = if self.spools_crashes() {
            // One try, then the spool: the client does not wait through the retry schedule.
            if !self.spilling.load(Ordering::Acquire)
                && self.with_retries(Step::Save, 1, save).await
            {
                true
            } else {
                match self.spool_job(job).await {
                    Ok(()) => return SaveOutcome::Spooled,
                    Err(error) => {
                        tracing::error!("{id}: save failed and {error}; retrying the save");
                        let left = policy.max_attempts.saturating_sub(1).max(1);
                        self.with_retries(Step::Save, left, save).await
                    }
                }
            }
        } else {
            self.with_retries(Step::Save, policy.max_attempts, save)
                .await
        };
        if !saved {
            tracing::error!("{id}: too many errors trying to save; dropped");
            self.metrics.incr(Counter::SaveCrashDropped, None);
            return SaveOutcome::Dropped;
        }
        tracing::info!("{id} saved");
        self.metrics.incr(Counter::SaveCrash, None);
        self.metrics
            .time(Timer::CrashHandling, started.elapsed(), None);
        SaveOutcome::Saved
    }

    /// Publishes a saved crash's id once; if that fails, journals it for the drainer.
    async fn publish_saved(&self, id: &CrashId) {
        if !self.publisher.is_enabled() {
            return;
        }
        if self
            .with_retries(Step::Publish, 1, || self.publisher.publish(id))
            .await
        {
            tracing::info!("{id} published");
            return;
        }
        let text = id.to_string();
        match self.on_spool(move |spool| spool.add_publish(&text)).await {
            Ok(()) => {
                tracing::warn!("{id}: publish failed; kept in the spool to publish later");
                self.metrics.incr(Counter::PublishSpooled, None);
                self.spooled.notify_one();
            }
            Err(error) => {
                // The crash is stored; downstream finds unpublished crashes by listing.
                tracing::error!("{id}: publish failed and {error}; dropped");
                self.metrics.incr(Counter::PublishCrashDropped, None);
            }
        }
    }

    /// Runs `attempt` up to `attempts` times with jittered pauses; true on success.
    async fn with_retries<F, E>(&self, step: Step, attempts: u32, attempt: impl Fn() -> F) -> bool
    where
        F: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let (what, timer, retry_tag) = step.facts();
        for number in 0..attempts {
            let started = Instant::now();
            match attempt().await {
                Ok(()) => {
                    self.metrics.time(timer, started.elapsed(), None);
                    return true;
                }
                Err(error) => {
                    tracing::warn!("crashmover {what}: {error}, retry attempt {number}");
                    if number + 1 < attempts {
                        self.metrics
                            .incr(Counter::RetryCount, Some(("count", retry_tag)));
                        let jitter = rand::rng().random_range(0.5..1.5);
                        let pause = self.settings.policy.sleep.mul_f64(jitter);
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
        false
    }
}

/// A retried step of handling a crash.
#[derive(Debug, Clone, Copy)]
enum Step {
    Save,
    Publish,
}

impl Step {
    /// Log name, success timer, and the `retry_count` metric's `count` tag (Antenna's).
    fn facts(self) -> (&'static str, Timer, &'static str) {
        match self {
            Step::Save => ("save_crash", Timer::CrashSave, "save_crash_exception.count"),
            Step::Publish => (
                "publish_crash",
                Timer::CrashPublish,
                "publish_crash_exception.count",
            ),
        }
    }
}

/// How often the gauges are sent and batched metrics are flushed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(1);

/// The running movers, the drainer and their runtime.
#[derive(Debug)]
pub struct MoverPool {
    runtime: Runtime,
    movers: Vec<JoinHandle<()>>,
    drainer: JoinHandle<()>,
    crashmover: Arc<Crashmover>,
}

impl MoverPool {
    /// Starts `movers` mover tasks and the drainer on `runtime` (the runtime the storage was
    /// built on, and the one `crashmover` was given).
    pub fn start(runtime: Runtime, crashmover: Arc<Crashmover>, movers: usize) -> MoverPool {
        let queues = crashmover.queues.len();
        let movers = (0..movers.max(1))
            .map(|index| runtime.spawn(Arc::clone(&crashmover).run_mover(index % queues)))
            .collect();
        let drainer = runtime.spawn(Arc::clone(&crashmover).run_drainer());
        let reporter = Arc::clone(&crashmover);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(GAUGE_INTERVAL);
            loop {
                ticks.tick().await;
                reporter.report_gauges().await;
                reporter.metrics.flush();
            }
        });
        MoverPool {
            runtime,
            movers,
            drainer,
            crashmover,
        }
    }

    /// The movers' runtime, for work that must use the storage clients (health checks).
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }

    /// Saves everything still queued, then stops the movers and the drainer. Call once
    /// nothing enqueues any more (after the acceptors have stopped). Crashes still queued
    /// after the shutdown timeout go to the spool (remote storage) instead of waiting for
    /// storage.
    pub fn shutdown(self) {
        let crashmover = self.crashmover;
        crashmover.closing.store(true, Ordering::Release);
        crashmover.work.notify_waiters();
        self.drainer.abort();
        let timeout = crashmover.settings.shutdown_timeout;
        let movers = self.movers;
        let spill = Arc::clone(&crashmover);
        self.runtime.block_on(async move {
            let all = futures_join_all(movers);
            tokio::pin!(all);
            if tokio::time::timeout(timeout, &mut all).await.is_err() {
                tracing::warn!("shutdown timeout: spooling the crashes still queued");
                spill.spilling.store(true, Ordering::Release);
                spill.work.notify_waiters();
                all.await;
            }
        });
        crashmover.metrics.flush();
        self.runtime.shutdown_timeout(Duration::from_secs(5));
    }
}

/// Waits for every task.
async fn futures_join_all(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::crash_id::{CrashId, IdKind};
    use crate::publish::memory::MemoryPublisher;
    use crate::storage::memory::MemoryStorage;
    use crate::timestamp::Date;

    fn crash(kind: IdKind) -> CrashReport {
        let date = Date::new(2026, 11, 27).unwrap();
        CrashReport {
            crash_id: CrashId::generate(&mut rand::rng(), kind, date),
            raw_crash: serde_json::Map::new(),
            dumps: BTreeMap::new(),
        }
    }

    /// A spool directory removed on drop.
    struct SpoolDir(std::path::PathBuf);

    impl SpoolDir {
        fn new() -> SpoolDir {
            use std::sync::atomic::AtomicUsize;
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let n = COUNT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("antenna-mover-{}-{n}", std::process::id()));
            SpoolDir(path)
        }

        fn open(&self, max_bytes: u64) -> Arc<Spool> {
            Arc::new(Spool::open(&self.0, max_bytes).unwrap())
        }
    }

    impl Drop for SpoolDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn settings(attempts: u32, capacity: usize) -> MoverSettings {
        MoverSettings {
            queues: 2,
            capacity,
            policy: RetryPolicy {
                max_attempts: attempts,
                sleep: Duration::ZERO,
            },
            shutdown_timeout: Duration::from_secs(5),
        }
    }

    fn runtime() -> Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    fn pool(
        storage: Arc<dyn CrashStorage>,
        publisher: Arc<MemoryPublisher>,
        spool: Arc<Spool>,
        attempts: u32,
    ) -> (Arc<Crashmover>, MoverPool) {
        let runtime = runtime();
        let mover = Arc::new(Crashmover::new(
            storage,
            publisher,
            spool,
            Metrics::disabled(),
            settings(attempts, 4),
            runtime.handle().clone(),
        ));
        let pool = MoverPool::start(runtime, Arc::clone(&mover), 2);
        (mover, pool)
    }

    /// Saves `crash` through `queue` from outside the runtime, as an acceptor would.
    fn save(queue: &SaveQueue, crash: CrashReport, publish: bool) -> Result<SaveOutcome, NotSaved> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(queue.save(crash, publish))
    }

    /// Waits (bounded) until `done` holds.
    fn eventually(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn deferred_crashes_are_saved_but_not_published() {
        let dir = SpoolDir::new();
        let storage = Arc::new(MemoryStorage::new());
        let publisher = Arc::new(MemoryPublisher::new());
        let (mover, pool) = pool(
            storage.clone(),
            Arc::clone(&publisher),
            dir.open(1 << 20),
            1,
        );
        let accepted = crash(IdKind::Accept);
        let deferred = crash(IdKind::Defer);
        let (a, d) = (accepted.crash_id.to_string(), deferred.crash_id.to_string());
        assert_eq!(
            save(&mover.save_queue(0), accepted, true),
            Ok(SaveOutcome::Saved)
        );
        assert_eq!(
            save(&mover.save_queue(1), deferred, false),
            Ok(SaveOutcome::Saved)
        );
        eventually("the publish", || !publisher.published().is_empty());
        pool.shutdown();
        let mut expected = vec![a.clone(), d];
        expected.sort();
        assert_eq!(storage.saved_ids(), expected);
        assert_eq!(publisher.published(), [a]);
    }

    #[test]
    fn local_saves_are_retried_then_dropped() {
        let dir = SpoolDir::new();
        let storage = Arc::new(MemoryStorage::local());
        storage.fail_next(2);
        let publisher = Arc::new(MemoryPublisher::new());
        let (mover, pool) = pool(storage.clone(), publisher, dir.open(1 << 20), 3);
        let queue = mover.save_queue(0);
        let third_attempt = save(&queue, crash(IdKind::Accept), true);
        assert_eq!(third_attempt, Ok(SaveOutcome::Saved));
        storage.fail_next(5);
        assert_eq!(
            save(&queue, crash(IdKind::Accept), true),
            Err(NotSaved::Failed)
        );
        pool.shutdown();
        assert_eq!(storage.saved_ids().len(), 1);
        assert_eq!(
            mover.spool().stats().crashes,
            0,
            "local storage never spools"
        );
    }

    #[test]
    fn remote_failures_are_spooled_answered_and_drained() {
        let dir = SpoolDir::new();
        let storage = Arc::new(MemoryStorage::new());
        let publisher = Arc::new(MemoryPublisher::new());
        storage.fail_next(usize::MAX);
        let (mover, pool) = pool(
            storage.clone(),
            Arc::clone(&publisher),
            dir.open(1 << 20),
            5,
        );
        let queue = mover.save_queue(0);
        let spooled: Vec<String> = (0..3)
            .map(|_| {
                let crash = crash(IdKind::Accept);
                let id = crash.crash_id.to_string();
                assert_eq!(save(&queue, crash, true), Ok(SaveOutcome::Spooled));
                id
            })
            .collect();
        assert_eq!(mover.spool().stats().crashes, 3);
        assert!(storage.saved_ids().is_empty());
        storage.recover();
        eventually("the drain", || storage.saved_ids().len() == 3);
        eventually("the spool to empty", || mover.spool().stats().crashes == 0);
        eventually("the publishes", || publisher.published().len() == 3);
        pool.shutdown();
        let mut expected = spooled.clone();
        expected.sort();
        assert_eq!(storage.saved_ids(), expected);
        let mut published = publisher.published();
        published.sort();
        assert_eq!(published, expected);
    }

    #[test]
    fn failed_publishes_are_journalled_and_published_later() {
        let dir = SpoolDir::new();
        let storage = Arc::new(MemoryStorage::new());
        let publisher = Arc::new(MemoryPublisher::new());
        publisher.fail_next(usize::MAX);
        let (mover, pool) = pool(
            storage.clone(),
            Arc::clone(&publisher),
            dir.open(1 << 20),
            5,
        );
        let crash = crash(IdKind::Accept);
        let id = crash.crash_id.to_string();
        assert_eq!(
            save(&mover.save_queue(0), crash, true),
            Ok(SaveOutcome::Saved)
        );
        eventually("the journal", || {
            mover.spool().pending_publishes().unwrap() == [id.clone()]
        });
        publisher.recover();
        eventually("the publish", || publisher.published() == [id.clone()]);
        eventually("the journal to empty", || {
            mover.spool().pending_publishes().unwrap().is_empty()
        });
        pool.shutdown();
    }

    #[test]
    fn a_full_spool_gives_the_old_answers() {
        let dir = SpoolDir::new();
        let storage = Arc::new(MemoryStorage::new());
        storage.fail_next(usize::MAX);
        let publisher = Arc::new(MemoryPublisher::new());
        let (mover, pool) = pool(storage.clone(), publisher, dir.open(1024), 2);
        let big = |kind| {
            let mut crash = crash(kind);
            crash.dumps.insert(
                "upload_file_minidump".into(),
                bytes::Bytes::from(vec![7; 2048]),
            );
            crash
        };
        assert_eq!(
            save(&mover.save_queue(0), big(IdKind::Accept), true),
            Err(NotSaved::Failed)
        );
        pool.shutdown();
    }

    #[test]
    fn a_full_queue_spools_remote_crashes_and_refuses_local_ones() {
        let dir = SpoolDir::new();
        let runtime = runtime();
        for local in [false, true] {
            let storage: Arc<dyn CrashStorage> = if local {
                Arc::new(MemoryStorage::local())
            } else {
                Arc::new(MemoryStorage::new())
            };
            let unstarted = Arc::new(Crashmover::new(
                storage,
                Arc::new(MemoryPublisher::new()),
                dir.open(1 << 20),
                Metrics::disabled(),
                settings(1, 1),
                runtime.handle().clone(),
            ));
            // No movers: the queue only fills; the first crash waits in it.
            let queue = unstarted.save_queue(0);
            let waiting = queue.clone();
            let first = crash(IdKind::Accept);
            runtime.spawn(async move { waiting.save(first, true).await });
            eventually("the queue to fill", || unstarted.queue_depth() == 1);
            let before = unstarted.spool().stats().crashes;
            let second = save(&queue, crash(IdKind::Accept), true);
            if local {
                assert_eq!(second, Err(NotSaved::QueueFull));
            } else {
                assert_eq!(second, Ok(SaveOutcome::Spooled));
                assert_eq!(unstarted.spool().stats().crashes, before + 1);
            }
        }
    }
}
