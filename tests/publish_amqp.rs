//! Publishing saved crash ids to a real RabbitMQ broker that the test starts itself.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::BasicGetOptions;
use lapin::{Connection, ConnectionProperties};
use serde_json::json;
use support::free_port;
use support::*;

const QUEUE: &str = "socorro.normal";

/// A private RabbitMQ node on loopback: its own name, ports and data directory.
struct Broker {
    child: Option<Child>,
    node: String,
    port: u16,
    dist_port: u16,
    dir: TempDir,
}

impl Broker {
    fn start() -> Broker {
        let _ = Command::new(support::program("epmd"))
            .args(["-address", "127.0.0.1", "-daemon"])
            .status();
        let mut broker = Broker {
            child: None,
            node: format!("antenna-test-{}@localhost", std::process::id()),
            port: free_port(),
            dist_port: free_port(),
            dir: TempDir::new(),
        };
        broker.restart();
        broker
    }

    fn restart(&mut self) {
        // The Debian server script runs the node as the `rabbitmq` user: its directories
        // must be writable by it.
        for sub in ["mnesia", "log"] {
            std::fs::create_dir_all(self.dir.0.join(sub)).unwrap();
        }
        let _ = Command::new("chmod")
            .args(["-R", "777"])
            .arg(&self.dir.0)
            .status();
        let base = self.dir.0.display().to_string();
        let child = Command::new(support::program("rabbitmq-server"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", format!("{base}/mnesia"))
            .env("RABBITMQ_LOG_BASE", format!("{base}/log"))
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rabbitmq-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ready = Command::new(support::program("rabbitmqctl"))
                .args(["-n", &self.node, "await_startup", "--timeout", "5"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "RabbitMQ did not start");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn stop(&mut self) {
        let _ = Command::new(support::program("rabbitmqctl"))
            .args(["-n", &self.node, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Takes every message waiting in the queue.
    fn drain(&self) -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let properties = ConnectionProperties::default()
                .with_executor(tokio_executor_trait::Tokio::current())
                .with_reactor(tokio_reactor_trait::Tokio);
            let connection = Connection::connect(&self.url(), properties).await.unwrap();
            let channel = connection.create_channel().await.unwrap();
            let mut messages = Vec::new();
            let options = BasicGetOptions { no_ack: true };
            while let Some(message) = channel.basic_get(QUEUE, options).await.unwrap() {
                messages.push(String::from_utf8(message.delivery.data.clone()).unwrap());
            }
            let _ = connection.close(0, "done").await;
            messages
        })
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
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

fn wait_for_messages(broker: &Broker, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut messages = Vec::new();
    while messages.len() < count && Instant::now() < deadline {
        messages.extend(broker.drain());
        std::thread::sleep(Duration::from_millis(50));
    }
    messages
}

#[test]
fn saved_crash_ids_are_published_and_outages_are_survived() {
    let mut broker = Broker::start();
    let url = broker.url();
    let env = [
        ("CRASHMOVER_CRASHPUBLISH_CLASS", "amqp"),
        ("CRASHMOVER_CRASHPUBLISH_QUEUE_NAME", QUEUE),
        ("CRASHMOVER_CRASHPUBLISH_AMQP_URL", url.as_str()),
        ("CRASHMOVER_MAX_ATTEMPTS", "2"),
        ("CRASHMOVER_RETRY_SLEEP_SECONDS", "0.1"),
        ("BREAKPAD_THROTTLER_RULES", "mozilla"),
    ];
    let collector = Collector::start(&env);

    // Start-up published `test`; an accepted crash publishes its id and nothing else;
    // rejected and fake-accepted crashes publish nothing.
    let accepted = collector
        .send(&crash(&corpus_annotations("firefox_about_crashes")))
        .crash_id();
    let fake = collector
        .send(&crash(&corpus_annotations("b2g")))
        .crash_id();
    let rejected = collector.send(&crash(&corpus_annotations("unsupported_product")));
    assert_eq!(rejected.text(), "Discarded=rule_unsupported_product");
    assert_eq!(
        wait_for_messages(&broker, 2),
        ["test".to_owned(), accepted.clone()]
    );
    assert!(!broker.drain().contains(&fake));
    let logs = collector.logs_with(&format!("{accepted} published"));
    assert!(logs.contains(&format!("{accepted} published")), "{logs}");

    // Broker down: crashes are still saved and answered; the publish is dropped and the
    // heartbeat says so.
    broker.stop();
    collector.assert_survives_publish_outage("AmqpCrashPublish");

    // Broker back: publishing resumes without a restart.
    broker.restart();
    let after = collector
        .send(&crash(
            &json!({"ProductName": "Firefox", "Throttleable": "0"}),
        ))
        .crash_id();
    assert_eq!(wait_for_messages(&broker, 1), [after]);
    drop(collector);

    // A collector that cannot publish refuses to start, naming the broker and queue.
    broker.stop();
    let line = refused_start(&env);
    assert!(
        line.contains("amqp") && line.contains(QUEUE) && line.contains("guest:*****@127.0.0.1"),
        "{line}"
    );
    assert!(!line.contains("guest:guest"), "{line}");
}
