//! Publishing saved crash ids to SQS, against moto's SQS server on loopback.

mod support;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use support::free_port;
use support::*;

const QUEUE: &str = "socorro-normal";

struct Moto {
    child: Child,
    port: u16,
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_sqs::Client,
}

impl Moto {
    fn start() -> Moto {
        let port = free_port();
        let child = Command::new(support::program("moto_server"))
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

    fn create_queue(&self) {
        self.runtime
            .block_on(self.client.create_queue().queue_name(QUEUE).send())
            .unwrap();
    }

    fn receive(&self) -> Vec<String> {
        self.runtime.block_on(async {
            let url = self
                .client
                .get_queue_url()
                .queue_name(QUEUE)
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

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CRASHMOVER_CRASHPUBLISH_CLASS", "sqs".into()),
            ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", QUEUE.into()),
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

fn crash(annotations: &serde_json::Value) -> Vec<u8> {
    post(
        &Multipart::new()
            .fields(annotations)
            .dump("upload_file_minidump", b"MDMP")
            .build(),
        "",
    )
}

#[test]
fn saved_crash_ids_are_published_to_sqs() {
    let mut moto = Moto::start();
    let env = moto.env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // No queue yet: start-up refuses, naming queue, region and endpoint.
    let line = refused_start(&pairs);
    assert!(
        line.contains("sqs") && line.contains(&format!("queue {QUEUE}")),
        "{line}"
    );
    assert!(
        line.contains("region us-west-2") && line.contains(&format!("127.0.0.1:{}", moto.port)),
        "{line}"
    );

    moto.create_queue();
    let collector = Collector::start(&pairs);
    let accepted = collector
        .send(&crash(&corpus_annotations("firefox_about_crashes")))
        .crash_id();
    let fake = collector
        .send(&crash(&corpus_annotations("b2g")))
        .crash_id();
    collector.logs_with(&format!("{accepted} published"));
    let messages = moto.receive();
    assert_eq!(messages, ["test".to_owned(), accepted]);
    assert!(!messages.contains(&fake));

    // SQS gone: the crash is still saved and answered; the publish is dropped, the heartbeat
    // reports it.
    let _ = moto.child.kill();
    let _ = moto.child.wait();
    collector.assert_survives_publish_outage("SQSCrashPublish");
}
