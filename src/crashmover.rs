//! The save pipeline: per-acceptor bounded queues drained by a pool of crashmover tasks.
//!
//! Each acceptor thread pushes into its own lock-free `ArrayQueue`, so acceptors never
//! contend with each other; every mover takes from all queues in turn, starting after the
//! queue it took from last, so a busy acceptor cannot starve a quiet one. The queues are
//! bounded: when one is full the request is answered 503 at once instead of holding more
//! crash bytes in memory (the bound is `ANTENNA_WORKERS × CRASHMOVER_QUEUE_CAPACITY`).
//!
//! The client's answer waits for the save: an acceptor hands each crash over with a oneshot
//! sender and answers when the outcome comes back, so nobody holds a `CrashID` for a crash
//! we do not have. A save that keeps failing is retried `CRASHMOVER_MAX_ATTEMPTS` times with
//! a jittered pause, then the client gets a 500 and keeps its crash.
//!
//! The movers run on their own multi-threaded runtime, where the storage clients were built
//! (SDK clients keep connection pools bound to the runtime that created them).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use rand::Rng;
use tokio::runtime::Runtime;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::crash::CrashReport;
use crate::metrics::{Counter, Gauge, Metrics, Timer};
use crate::publish::CrashPublisher;
use crate::storage::CrashStorage;

/// How a save ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Stored.
    Saved,
    /// Every attempt failed; the crash is not stored.
    Dropped,
}

/// The queue of the submitting acceptor is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("save queue full")]
pub struct QueueFull;

/// One acceptor's save queue: the producer side of the pipeline.
#[derive(Debug, Clone)]
pub struct SaveQueue {
    crashmover: Arc<Crashmover>,
    index: usize,
}

impl SaveQueue {
    /// Queues `crash`; the receiver yields the outcome once a mover is done with it.
    /// `publish` is false for DEFER crashes.
    pub fn enqueue(
        &self,
        crash: CrashReport,
        publish: bool,
    ) -> Result<oneshot::Receiver<SaveOutcome>, QueueFull> {
        self.crashmover.enqueue(self.index, crash, publish)
    }
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

struct SaveJob {
    crash: Arc<CrashReport>,
    /// False for DEFER crashes: stored, never queued for processing.
    publish: bool,
    done: oneshot::Sender<SaveOutcome>,
}

/// The queues and the policy shared by acceptors (producers) and movers (consumers).
pub struct Crashmover {
    queues: Box<[ArrayQueue<SaveJob>]>,
    work: Notify,
    closing: AtomicBool,
    storage: Arc<dyn CrashStorage>,
    publisher: Arc<dyn CrashPublisher>,
    metrics: Metrics,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Crashmover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crashmover")
            .field("queues", &self.queues.len())
            .field("depth", &self.queue_depth())
            .field("storage", &self.storage.name())
            .field("publisher", &self.publisher.name())
            .finish()
    }
}

impl Crashmover {
    /// `queues` queues (one per acceptor) of `capacity` crashes each.
    pub fn new(
        storage: Arc<dyn CrashStorage>,
        publisher: Arc<dyn CrashPublisher>,
        metrics: Metrics,
        queues: usize,
        capacity: usize,
        policy: RetryPolicy,
    ) -> Crashmover {
        Crashmover {
            queues: (0..queues.max(1))
                .map(|_| ArrayQueue::new(capacity.max(1)))
                .collect(),
            work: Notify::new(),
            closing: AtomicBool::new(false),
            storage,
            publisher,
            metrics,
            policy,
        }
    }

    /// The handle to save queue `index` (an acceptor's index; wraps around the count).
    pub fn save_queue(self: &Arc<Self>, index: usize) -> SaveQueue {
        SaveQueue {
            crashmover: Arc::clone(self),
            index: index % self.queues.len(),
        }
    }

    fn enqueue(
        &self,
        queue: usize,
        crash: CrashReport,
        publish: bool,
    ) -> Result<oneshot::Receiver<SaveOutcome>, QueueFull> {
        let (done, outcome) = oneshot::channel();
        let job = SaveJob {
            crash: Arc::new(crash),
            publish,
            done,
        };
        self.queues[queue].push(job).map_err(|_| QueueFull)?;
        self.work.notify_one();
        Ok(outcome)
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
                // The client may have gone; the crash is saved (or dropped) all the same.
                let _ = job.done.send(outcome);
                continue;
            }
            if self.closing.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Saves, then publishes, one crash.
    async fn handle(&self, job: &SaveJob) -> SaveOutcome {
        let started = Instant::now();
        let crash = &job.crash;
        let id = &crash.crash_id;
        let saved = self
            .with_retries(Step::Save, || self.storage.save(Arc::clone(crash)))
            .await;
        if !saved {
            tracing::error!("{id}: too many errors trying to save; dropped");
            self.metrics.incr(Counter::SaveCrashDropped, None);
            return SaveOutcome::Dropped;
        }
        tracing::info!("{id} saved");
        if job.publish && self.publisher.is_enabled() {
            let published = self
                .with_retries(Step::Publish, || self.publisher.publish(id))
                .await;
            if published {
                tracing::info!("{id} published");
            } else {
                // The crash is stored; downstream finds unpublished crashes by listing.
                tracing::error!("{id}: too many errors trying to publish; dropped");
                self.metrics.incr(Counter::PublishCrashDropped, None);
            }
        }
        self.metrics.incr(Counter::SaveCrash, None);
        self.metrics
            .time(Timer::CrashHandling, started.elapsed(), None);
        SaveOutcome::Saved
    }

    /// Runs `attempt` up to `max_attempts` times with jittered pauses; true on success.
    async fn with_retries<F, E>(&self, step: Step, attempt: impl Fn() -> F) -> bool
    where
        F: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let (what, timer, retry_tag) = step.facts();
        for number in 0..self.policy.max_attempts {
            let started = Instant::now();
            match attempt().await {
                Ok(()) => {
                    self.metrics.time(timer, started.elapsed(), None);
                    return true;
                }
                Err(error) => {
                    tracing::warn!("crashmover {what}: {error}, retry attempt {number}");
                    if number + 1 < self.policy.max_attempts {
                        self.metrics
                            .incr(Counter::RetryCount, Some(("count", retry_tag)));
                        let jitter = rand::rng().random_range(0.5..1.5);
                        tokio::time::sleep(self.policy.sleep.mul_f64(jitter)).await;
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

/// How often the queue-depth gauge is sent and batched metrics are flushed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(1);

/// The running movers and their runtime.
#[derive(Debug)]
pub struct MoverPool {
    runtime: Runtime,
    movers: Vec<JoinHandle<()>>,
    crashmover: Arc<Crashmover>,
}

impl MoverPool {
    /// Starts `movers` mover tasks on `runtime` (the runtime the storage was built on).
    pub fn start(runtime: Runtime, crashmover: Arc<Crashmover>, movers: usize) -> MoverPool {
        let queues = crashmover.queues.len();
        let movers = (0..movers.max(1))
            .map(|index| runtime.spawn(Arc::clone(&crashmover).run_mover(index % queues)))
            .collect();
        let reporter = Arc::clone(&crashmover);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(GAUGE_INTERVAL);
            loop {
                ticks.tick().await;
                let depth = reporter.queue_depth() as u64;
                reporter.metrics.gauge(Gauge::SaveQueueSize, depth);
                reporter.metrics.flush();
            }
        });
        MoverPool {
            runtime,
            movers,
            crashmover,
        }
    }

    /// The movers' runtime, for work that must use the storage clients (health checks).
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }

    /// Saves everything still queued, then stops the movers. Call once nothing enqueues
    /// any more (after the acceptors have stopped).
    pub fn shutdown(self) {
        self.crashmover.closing.store(true, Ordering::Release);
        self.crashmover.work.notify_waiters();
        let movers = self.movers;
        self.runtime.block_on(async move {
            for mover in movers {
                let _ = mover.await;
            }
        });
        self.crashmover.metrics.flush();
        self.runtime.shutdown_timeout(Duration::from_secs(5));
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

    fn pool(
        storage: Arc<MemoryStorage>,
        publisher: Arc<MemoryPublisher>,
        attempts: u32,
    ) -> (Arc<Crashmover>, MoverPool) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let policy = RetryPolicy {
            max_attempts: attempts,
            sleep: Duration::ZERO,
        };
        let mover = Arc::new(Crashmover::new(
            storage,
            publisher,
            Metrics::disabled(),
            2,
            4,
            policy,
        ));
        let pool = MoverPool::start(runtime, Arc::clone(&mover), 2);
        (mover, pool)
    }

    #[test]
    fn deferred_crashes_are_saved_but_not_published() {
        let (storage, publisher) = (
            Arc::new(MemoryStorage::new()),
            Arc::new(MemoryPublisher::new()),
        );
        let (mover, pool) = pool(Arc::clone(&storage), Arc::clone(&publisher), 1);
        let accepted = crash(IdKind::Accept);
        let deferred = crash(IdKind::Defer);
        let (a, d) = (accepted.crash_id.to_string(), deferred.crash_id.to_string());
        let first = mover.save_queue(0).enqueue(accepted, true).unwrap();
        let second = mover.save_queue(1).enqueue(deferred, false).unwrap();
        assert_eq!(first.blocking_recv(), Ok(SaveOutcome::Saved));
        assert_eq!(second.blocking_recv(), Ok(SaveOutcome::Saved));
        pool.shutdown();
        let mut expected = vec![a.clone(), d];
        expected.sort();
        assert_eq!(storage.saved_ids(), expected);
        assert_eq!(publisher.published(), [a]);
    }

    #[test]
    fn saves_are_retried_then_dropped() {
        let storage = Arc::new(MemoryStorage::new());
        storage.fail_next(2);
        let (mover, pool) = pool(Arc::clone(&storage), Arc::new(MemoryPublisher::new()), 3);
        let outcome = mover
            .save_queue(0)
            .enqueue(crash(IdKind::Accept), true)
            .unwrap();
        assert_eq!(
            outcome.blocking_recv(),
            Ok(SaveOutcome::Saved),
            "third attempt saves"
        );
        storage.fail_next(5);
        let outcome = mover
            .save_queue(0)
            .enqueue(crash(IdKind::Accept), true)
            .unwrap();
        assert_eq!(outcome.blocking_recv(), Ok(SaveOutcome::Dropped));
        pool.shutdown();
        assert_eq!(storage.saved_ids().len(), 1);
    }

    #[test]
    fn full_queue_refuses_at_once() {
        let storage = Arc::new(MemoryStorage::new());
        let runtime_less = Arc::new(Crashmover::new(
            storage,
            Arc::new(MemoryPublisher::new()),
            Metrics::disabled(),
            1,
            2,
            RetryPolicy {
                max_attempts: 1,
                sleep: Duration::ZERO,
            },
        ));
        let queue = runtime_less.save_queue(0);
        // No movers: the queue only fills.
        let _a = queue.enqueue(crash(IdKind::Accept), true).unwrap();
        let _b = queue.enqueue(crash(IdKind::Accept), true).unwrap();
        assert_eq!(
            queue.enqueue(crash(IdKind::Accept), true).err(),
            Some(QueueFull)
        );
        assert_eq!(runtime_less.queue_depth(), 2);
    }
}
