//! Running the real `antenna` binary: spawn it with a test environment, read its logs,
//! wait for it to listen or to refuse, stop it with real signals.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{post_crash, raw, Client, Response};

/// The path of an external program a test needs (nginx, rabbitmq-server, moto_server...).
/// A missing one fails the test with one line that says how to get it: tests never skip.
pub fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: run `scripts/test.sh` (the README's test command), \
                 which installs what the tests need"
            )
        })
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "antenna-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running collector process.
pub struct Collector {
    pub child: Child,
    pub addr: SocketAddr,
    pub data: TempDir,
    pub logs: Arc<Mutex<Vec<String>>>,
}

/// Settings every test run gets unless it overrides them.
fn base_env(root: &Path) -> Vec<(String, String)> {
    [
        ("ANTENNA_HOST", "127.0.0.1"),
        ("ANTENNA_PORT", "0"),
        ("ANTENNA_WORKERS", "2"),
        ("CRASHMOVER_RETRY_SLEEP_SECONDS", "0"),
        ("BREAKPAD_THROTTLER_RULES", "accept_all"),
        ("LOGGING_LEVEL", "INFO"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([(
        "CRASHMOVER_CRASHSTORAGE_FS_ROOT".to_string(),
        root.join("crashes").display().to_string(),
    )])
    .collect()
}

/// Spawns the binary with `env` on top of the test defaults; returns it with its logs.
pub fn spawn(env: &[(&str, &str)], root: &Path) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_antenna"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in base_env(root) {
        command.env(key, value);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn antenna");
    let logs = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let logs = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                logs.lock().unwrap().push(line);
            }
        });
    }
    (child, logs)
}

/// Starts the binary with `env` and expects it to refuse: non-zero exit and exactly one
/// `Unhandled startup exception:` line, which is returned.
pub fn refused_start(env: &[(&str, &str)]) -> String {
    let dir = TempDir::new();
    let (mut child, logs) = spawn(env, &dir.0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("collector started with {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    std::thread::sleep(Duration::from_millis(100)); // let the log readers finish
    let logs = logs.lock().unwrap().clone();
    let lines: Vec<_> = logs
        .iter()
        .filter(|line| line.contains("Unhandled startup exception:"))
        .collect();
    assert_eq!(lines.len(), 1, "{logs:?}");
    lines[0].clone()
}

impl Collector {
    pub fn start(env: &[(&str, &str)]) -> Collector {
        let data = TempDir::new();
        let (mut child, logs) = spawn(env, &data.0);
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let found = logs.lock().unwrap().iter().find_map(|line| {
                line.split("listening on ")
                    .nth(1)
                    .map(|a| a.trim().parse().unwrap())
            });
            if let Some(addr) = found {
                break addr;
            }
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                let _ = child.wait();
                panic!("collector did not start: {:?}", logs.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Collector {
            child,
            addr,
            data,
            logs,
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Sends one request on a fresh connection.
    pub fn send(&self, request: &[u8]) -> Response {
        self.client().send(request)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// The logs so far, once they contain `needle` (lines are read from the collector's
    /// pipes by another thread, so they can trail the HTTP answer a little).
    pub fn logs_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let logs = self.logs().join("\n");
            if logs.contains(needle) || Instant::now() > deadline {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process's resident memory (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// SIGTERM, then wait (bounded) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "collector did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// With the publisher's backend gone, a crash is still saved and answered, its id is
    /// kept in the spool to publish later, and `/__heartbeat__` reports `publisher` failing.
    /// Returns the crash's id.
    pub fn assert_survives_publish_outage(&self, publisher: &str) -> String {
        let annotations = serde_json::json!({"ProductName": "Firefox", "Throttleable": "0"});
        let during = self.send(&post_crash(&annotations)).crash_id();
        assert_eq!(self.raw_crash(&during)["uuid"], during);
        let kept = format!("{during}: publish failed; kept in the spool to publish later");
        let logs = self.logs_with(&kept);
        assert!(logs.contains(&kept), "{logs}");
        let heartbeat = self.send(&raw("GET /__heartbeat__ HTTP/1.1\r\nHost: x", b""));
        assert_eq!(heartbeat.status, 503);
        assert!(heartbeat.text().contains(publisher), "{}", heartbeat.text());
        during
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
