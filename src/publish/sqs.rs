//! AWS SQS publishing (Antenna's production pairing with S3): each saved crash id is one
//! message whose body is the id.
//!
//! The queue's URL is resolved once (GetQueueUrl), by the start-up check; the heartbeat
//! resolves it again as its check, which needs only `sqs:GetQueueUrl`.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::Client;
use tokio::sync::OnceCell;

use super::{CrashPublisher, PublishError, PublishFuture};
use crate::config::SqsConfig;
use crate::crash_id::CrashId;

/// Publishes crash ids to an SQS queue.
#[derive(Debug)]
pub struct SqsPublisher {
    client: Client,
    queue: String,
    /// `queue … region … endpoint …`, for error messages.
    location: String,
    /// Resolved once, by the start-up check (or the first publish).
    queue_url: OnceCell<String>,
}

fn error(
    what: &'static str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> PublishError {
    PublishError::call(what, DisplayErrorContext(&error).to_string(), error)
}

impl SqsPublisher {
    /// Builds the client. Must run on the runtime that will use it (the movers').
    pub async fn new(config: &SqsConfig) -> SqsPublisher {
        SqsPublisher {
            client: Client::new(&crate::aws::sdk_config(&config.connection).await),
            queue: config.queue.clone(),
            location: format!("queue {} {}", config.queue, config.connection.describe()),
            queue_url: OnceCell::new(),
        }
    }

    async fn resolve(&self) -> Result<String, PublishError> {
        let resolved = self
            .client
            .get_queue_url()
            .queue_name(&self.queue)
            .send()
            .await
            .map_err(|e| error("GetQueueUrl", e))?;
        let url = resolved
            .queue_url()
            .ok_or_else(|| PublishError::Refused("GetQueueUrl gave no URL"))?;
        Ok(url.to_owned())
    }

    async fn send(&self, body: &str) -> Result<(), PublishError> {
        let queue_url = self.queue_url.get_or_try_init(|| self.resolve()).await?;
        self.client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| error("SendMessage", e))?;
        Ok(())
    }
}

impl CrashPublisher for SqsPublisher {
    fn name(&self) -> &'static str {
        "SQSCrashPublish"
    }

    fn publish(&self, crash_id: &CrashId) -> PublishFuture<'_> {
        let body = crash_id.to_string();
        Box::pin(async move { self.send(&body).await })
    }

    fn check_health(&self) -> PublishFuture<'_> {
        Box::pin(async move { self.resolve().await.map(drop) })
    }

    /// SPEC §8: resolve the queue, send `test` (consumers ignore it).
    fn verify_at_startup(&self) -> PublishFuture<'_> {
        Box::pin(async move {
            self.send("test")
                .await
                .map_err(|e| e.at(self.location.clone()))
        })
    }
}
