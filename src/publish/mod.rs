//! Telling processors that a crash is saved: its id is published to a queue (SPEC §5).
//! [`CrashPublisher`] is the seam; backends: `none` (default), `sqs` and `amqp` (RabbitMQ).
//!
//! Publishing happens after the save, with the same retries; a publish that keeps failing
//! is counted and logged but does not fail the HTTP answer, since the crash is stored and
//! downstream republishes what it missed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::PublishConfig;
use crate::crash_id::CrashId;
use crate::BoxError;

pub mod amqp;
pub mod memory;
pub mod sqs;

/// A boxed future, so backends can be used behind `dyn CrashPublisher`.
pub type PublishFuture<'a> = Pin<Box<dyn Future<Output = Result<(), PublishError>> + Send + 'a>>;

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A call to the broker or queue service failed.
    #[error("{what}: {detail}")]
    Call {
        /// The call.
        what: &'static str,
        /// The cause with its context, for the log line.
        detail: String,
        /// The client library's error.
        #[source]
        source: BoxError,
    },
    /// The backend answered, but not as publishing needs.
    #[error("{0}")]
    Refused(&'static str),
    /// A failure of the start-up check, with where it published.
    #[error("{location}: {source}")]
    At {
        /// Backend location (never a password).
        location: String,
        /// What failed.
        #[source]
        source: Box<PublishError>,
    },
}

impl PublishError {
    /// A failed call; `detail` is the cause as the log should show it.
    pub fn call(what: &'static str, detail: String, source: impl Into<BoxError>) -> PublishError {
        PublishError::Call {
            what,
            detail,
            source: source.into(),
        }
    }

    /// This error, said to have happened at `location`.
    pub fn at(self, location: String) -> PublishError {
        PublishError::At {
            location,
            source: Box::new(self),
        }
    }
}

/// Builds the publisher `config` asks for. Must run on the runtime that will use it (the
/// movers'); nothing is contacted until [`CrashPublisher::verify_at_startup`].
pub async fn build(config: &PublishConfig) -> Arc<dyn CrashPublisher> {
    match config {
        PublishConfig::None => Arc::new(NonePublisher),
        PublishConfig::Amqp(amqp) => Arc::new(amqp::AmqpPublisher::new(amqp.clone())),
        PublishConfig::Sqs(sqs) => Arc::new(sqs::SqsPublisher::new(sqs).await),
    }
}

/// A queue that processors read crash ids from.
pub trait CrashPublisher: Send + Sync + 'static {
    /// Short name shown in `/__heartbeat__` errors.
    fn name(&self) -> &'static str;

    /// Publishes one crash id (the message body is the id and nothing else).
    fn publish(&self, crash_id: &CrashId) -> PublishFuture<'_>;

    /// A cheap check for `/__heartbeat__`.
    fn check_health(&self) -> PublishFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    /// The start-up check (SPEC §8: publish the message `test`); failing it stops
    /// start-up.
    fn verify_at_startup(&self) -> PublishFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    /// False for the `none` backend: the crashmover then skips publishing altogether (no
    /// `published` log line, no publish timing), since nothing is published.
    fn is_enabled(&self) -> bool {
        true
    }
}

/// Publishes nothing: the default, for deployments where processors find crashes by
/// listing storage.
#[derive(Debug, Default, Clone, Copy)]
pub struct NonePublisher;

impl CrashPublisher for NonePublisher {
    fn name(&self) -> &'static str {
        "NoOpCrashPublish"
    }

    fn publish(&self, crash_id: &CrashId) -> PublishFuture<'_> {
        tracing::debug!("crash publish no-op: {crash_id}");
        Box::pin(async { Ok(()) })
    }

    fn is_enabled(&self) -> bool {
        false
    }
}
