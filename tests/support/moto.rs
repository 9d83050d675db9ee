//! moto's server on loopback, as the SQS (and S3) endpoint, with SDK clients to read its
//! queues and buckets.

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
    s3: aws_sdk_s3::Client,
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
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "k", "s", None, None, "test",
            ))
            .force_path_style(true)
            .build();
        Moto {
            child,
            port,
            runtime,
            client,
            s3: aws_sdk_s3::Client::from_conf(s3),
        }
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.runtime
            .block_on(self.s3.create_bucket().bucket(bucket).send())
            .unwrap();
    }

    /// The bytes of object `key` in `bucket`, if stored.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.runtime.block_on(async {
            let object = self
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .ok()?;
            Some(object.body.collect().await.ok()?.into_bytes().to_vec())
        })
    }

    /// The collector settings that store into `bucket` here.
    pub fn s3_env(&self, bucket: &str) -> Vec<(&'static str, String)> {
        vec![
            ("CRASHMOVER_CRASHSTORAGE_CLASS", "s3".into()),
            ("CRASHMOVER_CRASHSTORAGE_BUCKET_NAME", bucket.into()),
            ("CRASHMOVER_CRASHSTORAGE_REGION", "us-east-1".into()),
            (
                "CRASHMOVER_CRASHSTORAGE_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("CRASHMOVER_CRASHSTORAGE_ACCESS_KEY", "k".into()),
            ("CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY", "s".into()),
        ]
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
