//! Building the collector from its configuration, and stopping it in order.
//!
//! Start-up order matters: storage is built and verified on the movers' runtime (where it
//! will be used) before any socket is bound, so a collector that cannot store crashes
//! never takes one. Shutdown runs the other way: stop accepting, finish in-flight requests,
//! drain the save queues, stop the movers.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{Config, PublishConfig, StorageConfig};
use crate::crashmover::{Crashmover, MoverPool, RetryPolicy};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::publish::amqp::AmqpPublisher;
use crate::publish::sqs::SqsPublisher;
use crate::publish::{CrashPublisher, NonePublisher, PublishError};
use crate::server::{self, AcceptorSettings, Acceptors};
use crate::storage::fs::FsStorage;
use crate::storage::noop::NoopStorage;
use crate::storage::s3::S3Storage;
use crate::storage::{CrashStorage, StorageError};
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

/// Builds storage, verifies it, starts the movers and the acceptors.
pub fn start(config: &Config) -> Result<Running, StartupError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers.clamp(1, 4))
        .thread_name("crashmover")
        .enable_all()
        .build()
        .map_err(io_error("starting the crashmover runtime"))?;
    let metrics = Metrics::statsd(&config.statsd_host, config.statsd_port, &config.hostname)
        .map_err(io_error(format!(
            "statsd at {}:{}",
            config.statsd_host, config.statsd_port
        )))?;
    let (storage, backend): (Arc<dyn CrashStorage>, String) = match &config.storage {
        StorageConfig::Fs { root } => (
            Arc::new(FsStorage::new(root)),
            format!("fs (root {})", root.display()),
        ),
        StorageConfig::Noop => (Arc::new(NoopStorage), "noop".to_owned()),
        StorageConfig::S3(s3) => (
            Arc::new(runtime.block_on(S3Storage::connect(s3, &config.dump_field))),
            "s3".to_owned(),
        ),
    };
    runtime
        .block_on(storage.verify_at_startup())
        .map_err(|source| StartupError::Storage { backend, source })?;

    let publisher: Arc<dyn CrashPublisher> = match &config.publish {
        PublishConfig::None => Arc::new(NonePublisher),
        PublishConfig::Amqp(amqp) => {
            let publisher = AmqpPublisher::new(amqp.clone());
            runtime
                .block_on(publisher.verify())
                .map_err(|source| StartupError::Publisher {
                    backend: "amqp".to_owned(),
                    source,
                })?;
            Arc::new(publisher)
        }
        PublishConfig::Sqs(sqs) => {
            let publisher = runtime
                .block_on(SqsPublisher::connect(sqs))
                .map_err(|source| StartupError::Publisher {
                    backend: "sqs".to_owned(),
                    source,
                })?;
            Arc::new(publisher)
        }
    };

    let crashmover = Arc::new(Crashmover::new(
        storage,
        publisher,
        metrics.clone(),
        config.workers,
        config.queue_capacity,
        RetryPolicy {
            max_attempts: config.max_attempts,
            sleep: config.retry_sleep,
        },
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
    let acceptors = Acceptors::start(listeners, &app, settings, config.runtime)
        .map_err(io_error("starting acceptors"))?;
    Ok(Running {
        acceptors,
        movers,
        local_addr,
    })
}

impl Running {
    /// Stops in order; every crash that was acknowledged or queued is saved first.
    pub fn shutdown(self) {
        self.acceptors.shutdown();
        self.movers.shutdown();
    }
}
