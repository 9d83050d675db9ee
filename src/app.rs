//! Building the collector from its configuration, and stopping it in order.
//!
//! Start-up order matters: storage is built and verified on the movers' runtime (where it
//! will be used) before any socket is bound, so a collector that cannot store crashes
//! never takes one. Shutdown runs the other way: stop accepting, finish in-flight requests,
//! drain the save queues, stop the movers.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::runtime::Runtime;

use crate::config::Config;
use crate::crashmover::{Crashmover, MoverPool, MoverSettings, RetryPolicy};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::publish::{self, CrashPublisher, PublishError};
use crate::server::{self, AcceptorSettings, Acceptors};
use crate::spool::{Spool, SpoolError};
use crate::storage::{self, CrashStorage, StorageError};
use crate::submit::Submitter;

/// What the request handlers share.
#[derive(Debug)]
pub struct App {
    /// `POST /submit`.
    pub submitter: Submitter,
    /// Health endpoints.
    pub health: Health,
}

/// Why the collector cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The storage backend failed its start-up check.
    #[error("crash storage {backend} failed its start-up check: {source}")]
    Storage {
        /// Backend name and location.
        backend: String,
        /// What failed.
        source: StorageError,
    },
    /// The publisher failed its start-up check (publishing the message `test`).
    #[error("crash publisher {backend} failed its start-up check: {source}")]
    Publisher {
        /// Backend name.
        backend: String,
        /// What failed.
        source: PublishError,
    },
    /// The spool directory cannot be used.
    #[error("spool {dir} failed its start-up check: {source}")]
    Spool {
        /// `CRASHMOVER_SPOOL_DIR`.
        dir: String,
        /// What failed.
        source: SpoolError,
    },
    /// A socket could not be bound, or a thread or runtime not started.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running collector.
#[derive(Debug)]
pub struct Running {
    acceptors: Acceptors,
    movers: MoverPool,
    /// Where it listens.
    pub local_addr: SocketAddr,
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartupError {
    let what = what.into();
    move |source| StartupError::Io { what, source }
}

/// The runtime the movers and the storage and publisher clients run on: one thread per
/// four acceptors (one on a 2-core node). Saving is waiting, mostly: on more threads a
/// save, the SDK's connection tasks and their wake-ups hop between threads, which cost
/// S3 saves 20% more CPU and 40% more context switches per crash on two cores
/// (`loadtest/run-benchmarks.sh`, section 11); one thread saves ~3,000 crashes/s to S3.
pub fn movers_runtime(config: &Config) -> Result<Runtime, StartupError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers.div_ceil(4).clamp(1, 4))
        .thread_name("crashmover")
        .enable_all()
        .build()
        .map_err(io_error("starting the crashmover runtime"))
}

/// Builds the configured storage and publisher, then the collector ([`build`]), then
/// binds and serves.
pub fn start(config: &Config) -> Result<Running, StartupError> {
    let runtime = movers_runtime(config)?;
    let metrics = Metrics::statsd(&config.statsd_host, config.statsd_port, &config.hostname)
        .map_err(io_error(format!(
            "statsd at {}:{}",
            config.statsd_host, config.statsd_port
        )))?;
    let storage = runtime
        .block_on(storage::build(&config.storage, &config.dump_field))
        .map_err(|source| StartupError::Storage {
            backend: config.storage.label(),
            source,
        })?;
    let publisher = runtime.block_on(publish::build(&config.publish));
    build(config, runtime, storage, publisher, metrics)?.serve(config)
}

/// The collector without its sockets: verifies `storage` and `publisher` on `runtime` (the
/// runtime they were built on), starts the movers there, and builds the handlers. Tests
/// and benchmarks plug any backend in here.
pub fn build(
    config: &Config,
    runtime: Runtime,
    storage: Arc<dyn CrashStorage>,
    publisher: Arc<dyn CrashPublisher>,
    metrics: Metrics,
) -> Result<Collector, StartupError> {
    runtime
        .block_on(storage.verify_at_startup())
        .map_err(|source| StartupError::Storage {
            backend: config.storage.label(),
            source,
        })?;
    runtime
        .block_on(publisher.verify_at_startup())
        .map_err(|source| StartupError::Publisher {
            backend: config.publish.label().to_owned(),
            source,
        })?;
    let spool = Spool::open(&config.spool_dir, config.spool_max_bytes).map_err(|source| {
        StartupError::Spool {
            dir: config.spool_dir.display().to_string(),
            source,
        }
    })?;
    let settings = MoverSettings {
        queues: config.workers,
        capacity: config.queue_capacity,
        policy: RetryPolicy {
            max_attempts: config.max_attempts,
            sleep: config.retry_sleep,
        },
        shutdown_timeout: config.shutdown_timeout,
    };
    let crashmover = Arc::new(Crashmover::new(
        storage,
        publisher,
        Arc::new(spool),
        metrics.clone(),
        settings,
        runtime.handle().clone(),
    ));
    let movers = MoverPool::start(
        runtime,
        Arc::clone(&crashmover),
        config.concurrent_crashmovers,
    );
    let app = Arc::new(App {
        submitter: Submitter::new(config, Arc::clone(&crashmover), metrics.clone()),
        health: Health::new(config, crashmover, movers.handle(), metrics),
    });
    Ok(Collector { app, movers })
}

/// A built collector: handlers and running movers, not yet listening.
#[derive(Debug)]
pub struct Collector {
    /// The request handlers.
    pub app: Arc<App>,
    movers: MoverPool,
}

impl Collector {
    /// Binds the listeners and starts the acceptors.
    pub fn serve(self, config: &Config) -> Result<Running, StartupError> {
        let addr = SocketAddr::new(config.host, config.port);
        let listeners = server::listener::bind(addr, config.workers, config.backlog)
            .map_err(io_error(format!("binding {addr}")))?;
        let local_addr =
            server::local_addr(&listeners).map_err(io_error("reading the bound address"))?;
        let settings = AcceptorSettings {
            max_connections: config.worker_connections,
            header_read_timeout: config.header_read_timeout,
            shutdown_timeout: config.shutdown_timeout,
        };
        let acceptors = Acceptors::start(listeners, &self.app, settings, config.runtime)
            .map_err(io_error("starting acceptors"))?;
        Ok(Running {
            acceptors,
            movers: self.movers,
            local_addr,
        })
    }

    /// Saves what is queued and stops the movers (for collectors never served).
    pub fn shutdown(self) {
        self.movers.shutdown();
    }
}

impl Running {
    /// Stops in order; every crash that was acknowledged or queued is saved first.
    pub fn shutdown(self) {
        self.acceptors.shutdown();
        self.movers.shutdown();
    }
}
