//! Telling processors that a crash is saved: its id is published to a queue (SPEC §5).
//! [`CrashPublisher`] is the seam; backends: `none` (default), `sqs` and `amqp` (RabbitMQ).
//!
//! Publishing happens after the save, with the same retries; a publish that keeps failing
//! is counted and logged but does not fail the HTTP answer, since the crash is stored and
//! downstream republishes what it missed.

use std::future::Future;
use std::pin::Pin;

use crate::crash_id::CrashId;

pub mod amqp;
pub mod sqs;

/// A boxed future, so backends can be used behind `dyn CrashPublisher`.
pub type PublishFuture<'a> = Pin<Box<dyn Future<Output = Result<(), PublishError>> + Send + 'a>>;

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PublishError(pub String);

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
