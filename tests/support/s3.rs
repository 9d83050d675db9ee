//! A real S3-protocol server for tests: the `s3s-fs` binary (installed by `.ci/run`)
//! serving a temporary directory on a loopback port. Objects are plain files at
//! `<dir>/<bucket>/<key>`, so tests read what was stored directly.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

pub const BUCKET: &str = "crashes";
pub const ACCESS_KEY: &str = "antenna-test";
pub const SECRET_KEY: &str = "antenna-test-secret";

pub struct S3Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub dir: TempDir,
}

fn binary() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    let installed = Path::new(&home).join(".cargo/bin/s3s-fs");
    if installed.exists() {
        return installed;
    }
    PathBuf::from("s3s-fs")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl S3Server {
    /// Starts a server with the test bucket.
    pub fn start() -> S3Server {
        let dir = TempDir::new();
        std::fs::create_dir_all(dir.0.join(BUCKET)).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut server = S3Server {
            child: None,
            addr,
            dir,
        };
        server.restart();
        server
    }

    /// Starts (again) on the same port and directory.
    pub fn restart(&mut self) {
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &self.addr.port().to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&self.dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs must be installed: cargo install s3s-fs --version 0.14.1 --features binary --locked");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (S3 outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP / SIGCONT: the server accepts connections but answers nothing.
    pub fn pause(&self, paused: bool) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let signal = if paused { "-STOP" } else { "-CONT" };
        Command::new("kill").args([signal, &pid]).status().unwrap();
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Collector settings that store into this server's bucket.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CRASHMOVER_CRASHSTORAGE_CLASS", "s3".into()),
            ("CRASHMOVER_CRASHSTORAGE_BUCKET_NAME", BUCKET.into()),
            ("CRASHMOVER_CRASHSTORAGE_REGION", "us-east-1".into()),
            ("CRASHMOVER_CRASHSTORAGE_ENDPOINT_URL", self.endpoint()),
            ("CRASHMOVER_CRASHSTORAGE_ACCESS_KEY", ACCESS_KEY.into()),
            (
                "CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY",
                SECRET_KEY.into(),
            ),
        ]
    }

    /// The bytes of object `key`, if stored.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.0.join(BUCKET).join(key)).ok()
    }

    /// Every object key in the bucket, sorted.
    pub fn keys(&self) -> Vec<String> {
        let root = self.dir.0.join(BUCKET);
        let mut keys = Vec::new();
        super::walk(&root, &mut |path| {
            keys.push(path.strip_prefix(&root).unwrap().display().to_string())
        });
        keys.sort();
        keys
    }

    /// Files of the server outside the bucket (metadata, in-progress uploads).
    pub fn server_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir.0)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name != BUCKET)
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
    }
}
