//! AWS SQS publishing (Antenna's production pairing with S3): each saved crash id is one
//! message whose body is the id.
//!
//! The queue's URL is resolved once (GetQueueUrl) at start-up; the heartbeat resolves it
//! again as its check, which needs only `sqs:GetQueueUrl`.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::Client;

use super::{CrashPublisher, PublishError, PublishFuture};
use crate::config::SqsConfig;
use crate::crash_id::CrashId;

/// Publishes crash ids to an SQS queue.
#[derive(Debug)]
pub struct SqsPublisher {
    client: Client,
    queue: String,
    queue_url: String,
}

fn error(context: &str, error: impl std::error::Error) -> PublishError {
    PublishError(format!("{context}: {}", DisplayErrorContext(error)))
}

impl SqsPublisher {
    /// Connects and runs the start-up check of SPEC §8: resolve the queue, send `test`.
    /// Must run on the runtime that will use the client (the movers').
    pub async fn connect(config: &SqsConfig) -> Result<SqsPublisher, PublishError> {
        let location = format!("queue {} {}", config.queue, config.connection.describe());
        let client = Client::new(&crate::aws::sdk_config(&config.connection).await);
        let checked = async {
            let resolved = client
                .get_queue_url()
                .queue_name(&config.queue)
                .send()
                .await
                .map_err(|e| error("GetQueueUrl", e))?;
            let queue_url = resolved
                .queue_url()
                .ok_or_else(|| PublishError("GetQueueUrl gave no URL".into()))?
                .to_owned();
            let publisher = SqsPublisher {
                client,
                queue: config.queue.clone(),
                queue_url,
            };
            publisher.send("test").await?;
            Ok(publisher)
        };
        checked
            .await
            .map_err(|e: PublishError| PublishError(format!("{location}: {e}")))
    }

    async fn send(&self, body: &str) -> Result<(), PublishError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
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
        Box::pin(async move {
            self.client
                .get_queue_url()
                .queue_name(&self.queue)
                .send()
                .await
                .map_err(|e| error("GetQueueUrl", e))?;
            Ok(())
        })
    }
}
