//! AMQP 0-9-1 publishing (RabbitMQ, as in Socorro's pipeline): each saved crash id is one
//! persistent message on a durable queue.
//!
//! The channel runs in publisher-confirm mode, so a publish succeeds only once the broker
//! has taken the message. A broken connection is replaced on the next publish (the
//! crashmover's retries give it several chances), so a broker restart needs no collector
//! restart. lapin runs on the movers' tokio runtime through its executor/reactor traits.

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

use super::{CrashPublisher, PublishError, PublishFuture};
use crate::config::AmqpConfig;
use crate::crash_id::CrashId;

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// Publishes crash ids to a RabbitMQ queue.
#[derive(Debug)]
pub struct AmqpPublisher {
    config: AmqpConfig,
    /// The open connection and its confirm-mode channel; `None` after a failure.
    link: Mutex<Option<(Connection, Channel)>>,
}

fn error(what: &'static str, error: lapin::Error) -> PublishError {
    PublishError::call(what, error.to_string(), error)
}

impl AmqpPublisher {
    /// A publisher for `config`; connects on first use (the start-up check).
    pub fn new(config: AmqpConfig) -> AmqpPublisher {
        AmqpPublisher {
            config,
            link: Mutex::new(None),
        }
    }

    /// Where this publishes, for messages (the URL without its password).
    pub fn location(&self) -> String {
        format!(
            "broker {} exchange {:?} routing key {:?} queue {}",
            self.config.redacted_url(),
            self.config.exchange,
            self.config.routing_key,
            self.config.queue
        )
    }

    async fn connect(&self) -> Result<(Connection, Channel), PublishError> {
        let properties = ConnectionProperties::default()
            .with_connection_name("antenna".into())
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        let connection = Connection::connect(&self.config.url, properties)
            .await
            .map_err(|e| error("connecting", e))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| error("opening a channel", e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| error("enabling publisher confirms", e))?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(&self.config.queue, durable, FieldTable::default())
            .await
            .map_err(|e| error("declaring the queue", e))?;
        // The default exchange routes by queue name and takes no bindings.
        if !self.config.exchange.is_empty() {
            channel
                .queue_bind(
                    &self.config.queue,
                    &self.config.exchange,
                    &self.config.routing_key,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|e| error("binding the queue to the exchange", e))?;
        }
        Ok((connection, channel))
    }

    /// Publishes `body`, connecting first if there is no healthy connection.
    async fn send(&self, body: &[u8]) -> Result<(), PublishError> {
        let mut link = self.link.lock().await;
        let healthy = link.as_ref().is_some_and(|(connection, channel)| {
            connection.status().connected() && channel.status().connected()
        });
        if !healthy {
            *link = Some(self.connect().await?);
        }
        let Some((_, channel)) = link.as_ref() else {
            return Err(PublishError::Refused("no channel"));
        };
        let properties = BasicProperties::default().with_delivery_mode(PERSISTENT);
        let sent = async {
            let confirm = channel
                .basic_publish(
                    &self.config.exchange,
                    &self.config.routing_key,
                    BasicPublishOptions::default(),
                    body,
                    properties,
                )
                .await
                .map_err(|e| error("publishing", e))?;
            match confirm
                .await
                .map_err(|e| error("waiting for the confirm", e))?
            {
                Confirmation::Ack(_) | Confirmation::NotRequested => Ok(()),
                Confirmation::Nack(_) => {
                    Err(PublishError::Refused("the broker refused the message"))
                }
            }
        }
        .await;
        if sent.is_err() {
            *link = None;
        }
        sent
    }
}

impl CrashPublisher for AmqpPublisher {
    fn name(&self) -> &'static str {
        "AmqpCrashPublish"
    }

    fn publish(&self, crash_id: &CrashId) -> PublishFuture<'_> {
        let body = crash_id.as_str().as_bytes().to_vec();
        Box::pin(async move { self.send(&body).await })
    }

    fn check_health(&self) -> PublishFuture<'_> {
        Box::pin(async move {
            let mut link = self.link.lock().await;
            if link
                .as_ref()
                .is_some_and(|(connection, _)| connection.status().connected())
            {
                return Ok(());
            }
            // Not connected now: report healthy only if a new connection works.
            *link = Some(self.connect().await?);
            Ok(())
        })
    }

    /// SPEC §8: publish the message `test` (consumers ignore it).
    fn verify_at_startup(&self) -> PublishFuture<'_> {
        Box::pin(async move { self.send(b"test").await.map_err(|e| e.at(self.location())) })
    }
}
