//! A private RabbitMQ node on loopback, started and stopped by the test.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lapin::options::BasicGetOptions;
use lapin::{Connection, ConnectionProperties};

use super::{free_port, program, TempDir};

static NODES: AtomicUsize = AtomicUsize::new(0);

/// A private RabbitMQ node on loopback: its own name, ports and data directory.
pub struct Broker {
    child: Option<Child>,
    node: String,
    port: u16,
    dist_port: u16,
    dir: TempDir,
}

impl Broker {
    pub fn start() -> Broker {
        let _ = Command::new(program("epmd"))
            .args(["-address", "127.0.0.1", "-daemon"])
            .status();
        let mut broker = Broker {
            child: None,
            // One node per broker: tests in one process run side by side.
            node: format!(
                "antenna-test-{}-{}@localhost",
                std::process::id(),
                NODES.fetch_add(1, Ordering::Relaxed)
            ),
            port: free_port(),
            dist_port: free_port(),
            dir: TempDir::new(),
        };
        broker.restart();
        broker
    }

    pub fn restart(&mut self) {
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
        let child = Command::new(program("rabbitmq-server"))
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
            let ready = Command::new(program("rabbitmqctl"))
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

    pub fn stop(&mut self) {
        let _ = Command::new(program("rabbitmqctl"))
            .args(["-n", &self.node, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Takes every message waiting in `queue`.
    pub fn drain(&self, queue: &str) -> Vec<String> {
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
            while let Some(message) = channel.basic_get(queue, options).await.unwrap() {
                messages.push(String::from_utf8(message.delivery.data.clone()).unwrap());
            }
            let _ = connection.close(0, "done").await;
            messages
        })
    }

    /// Messages from `queue`, waiting (bounded) until there are `count`.
    pub fn wait_for_messages(&self, queue: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut messages = Vec::new();
        while messages.len() < count && Instant::now() < deadline {
            messages.extend(self.drain(queue));
            std::thread::sleep(Duration::from_millis(50));
        }
        messages
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
