//! moto's server on loopback, as the SQS endpoint, with an SDK client to read its queues.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};

use super::{free_port, program};

/// A running moto server.
pub struct Moto {
    pub child: Child,
    pub port: u16,
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_sqs::Client,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new(program("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(Credentials::new("k", "s", None, None, "test"))
            .build();
        let client = aws_sdk_sqs::Client::from_conf(config);
        Moto {
            child,
            port,
            runtime,
            client,
        }
    }

    pub fn create_queue(&self, queue: &str) {
        self.runtime
            .block_on(self.client.create_queue().queue_name(queue).send())
            .unwrap();
    }

    /// Every message waiting in `queue`.
    pub fn receive(&self, queue: &str) -> Vec<String> {
        self.runtime.block_on(async {
            let url = self
                .client
                .get_queue_url()
                .queue_name(queue)
                .send()
                .await
                .unwrap();
            let url = url.queue_url().unwrap().to_owned();
            let mut bodies = Vec::new();
            loop {
                let received = self
                    .client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .unwrap();
                let batch: Vec<String> = received
                    .messages()
                    .iter()
                    .filter_map(|m| m.body().map(str::to_owned))
                    .collect();
                if batch.is_empty() {
                    return bodies;
                }
                bodies.extend(batch);
            }
        })
    }

    /// The collector settings that publish to `queue` here.
    pub fn env(&self, queue: &str) -> Vec<(&'static str, String)> {
        vec![
            ("CRASHMOVER_CRASHPUBLISH_CLASS", "sqs".into()),
            ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", queue.into()),
            (
                "CRASHMOVER_CRASHPUBLISH_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("CRASHMOVER_CRASHPUBLISH_ACCESS_KEY", "k".into()),
            ("CRASHMOVER_CRASHPUBLISH_SECRET_ACCESS_KEY", "s".into()),
            ("CRASHMOVER_MAX_ATTEMPTS", "2".into()),
            ("CRASHMOVER_RETRY_SLEEP_SECONDS", "0.1".into()),
            ("BREAKPAD_THROTTLER_RULES", "mozilla".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
