//! Test helpers: start the real `antenna` binary on an ephemeral port, talk raw HTTP/1.1 to
//! it over TCP, build multipart bodies, read `testdata/`, find the external servers.
#![allow(dead_code)] // each test file uses its own subset

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod s3;

pub const BOUNDARY: &str = "------------------------c0ffee5eed";

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

    pub fn crash_root(&self) -> PathBuf {
        self.data.0.join("crashes")
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

    /// With the publisher's backend gone, a crash is still saved and answered, its publish
    /// is dropped and logged, and `/__heartbeat__` reports `publisher` failing.
    pub fn assert_survives_publish_outage(&self, publisher: &str) {
        let body = Multipart::new()
            .field("ProductName", "Firefox")
            .field("Throttleable", "0")
            .dump("upload_file_minidump", b"MDMP")
            .build();
        let during = self.send(&post(&body, "")).crash_id();
        assert_eq!(self.raw_crash(&during)["uuid"], during);
        let dropped = format!("{during}: too many errors trying to publish; dropped");
        let logs = self.logs_with(&dropped);
        assert!(logs.contains(&dropped), "{logs}");
        let heartbeat = self.send(&raw("GET /__heartbeat__ HTTP/1.1\r\nHost: x", b""));
        assert_eq!(heartbeat.status, 503);
        assert!(heartbeat.text().contains(publisher), "{}", heartbeat.text());
    }

    /// Every stored file of `crash_id`: relative path → bytes.
    pub fn stored(&self, crash_id: &str) -> HashMap<String, Vec<u8>> {
        let mut out = HashMap::new();
        walk(&self.crash_root(), &mut |path| {
            let name = path.file_name().unwrap().to_string_lossy();
            if name == crash_id || name == format!("{crash_id}.json") {
                let relative = path.strip_prefix(self.crash_root()).unwrap();
                out.insert(relative.display().to_string(), std::fs::read(path).unwrap());
            }
        });
        out
    }

    /// The stored raw crash of `crash_id`, parsed.
    pub fn raw_crash(&self, crash_id: &str) -> serde_json::Value {
        let date = format!("20{}", &crash_id[30..]);
        let path = self
            .crash_root()
            .join(date)
            .join("raw_crash")
            .join(format!("{crash_id}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    /// Every stored file, relative paths.
    pub fn all_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.crash_root(), &mut |path| {
            out.push(
                path.strip_prefix(self.crash_root())
                    .unwrap()
                    .display()
                    .to_string(),
            )
        });
        out.sort();
        out
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, visit);
        } else {
            visit(&path);
        }
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The crash id of a `CrashID=bp-<id>\n` answer.
    pub fn crash_id(&self) -> String {
        let text = self.text();
        assert_eq!(self.status, 200, "{text}");
        let id = text
            .strip_prefix("CrashID=bp-")
            .and_then(|rest| rest.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("not a CrashID answer: {text:?}"));
        assert_eq!(id.len(), 36, "{id}");
        id.to_owned()
    }
}

/// A keep-alive HTTP/1.1 connection speaking raw bytes.
pub struct Client {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { stream, reader }
    }

    pub fn send(&mut self, request: &[u8]) -> Response {
        self.stream.write_all(request).unwrap();
        self.read_response().expect("a response")
    }

    /// Reads one response; `None` if the server closed the connection first.
    pub fn read_response(&mut self) -> Option<Response> {
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line).ok()? == 0 {
            return None;
        }
        let status = status_line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (key, value) = line.split_once(':')?;
            headers.push((key.trim().to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).ok()?;
        Some(Response {
            status,
            headers,
            body,
        })
    }
}

/// A multipart/form-data body under construction.
#[derive(Default)]
pub struct Multipart {
    body: Vec<u8>,
}

impl Multipart {
    pub fn new() -> Multipart {
        Multipart::default()
    }

    pub fn part(mut self, headers: &str, data: &[u8]) -> Multipart {
        self.body
            .extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn field(self, name: &str, value: &str) -> Multipart {
        self.part(
            &format!("Content-Disposition: form-data; name=\"{name}\""),
            value.as_bytes(),
        )
    }

    pub fn fields(mut self, annotations: &serde_json::Value) -> Multipart {
        for (name, value) in annotations.as_object().unwrap() {
            self = self.field(name, value.as_str().unwrap());
        }
        self
    }

    pub fn dump(self, name: &str, data: &[u8]) -> Multipart {
        self.part(
            &format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}.dmp\"\r\nContent-Type: application/octet-stream"
            ),
            data,
        )
    }

    pub fn json(self, value: &serde_json::Value) -> Multipart {
        self.part(
            "Content-Disposition: form-data; name=\"extra\"; filename=\"extra.json\"\r\nContent-Type: application/json",
            value.to_string().as_bytes(),
        )
    }

    pub fn build(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.body
    }
}

pub fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// A `POST /submit` with `Content-Length`, and `extra` headers (`Name: value\r\n` lines).
pub fn post(body: &[u8], extra: &str) -> Vec<u8> {
    let mut request = format!(
        "POST /submit HTTP/1.1\r\nHost: localhost\r\nUser-Agent: antenna-tests/1.0\r\nContent-Type: {}\r\nContent-Length: {}\r\n{extra}\r\n",
        content_type(),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A raw request: `head` lines (without the final blank line) then `body`.
pub fn raw(head: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!("{head}\r\n\r\n").into_bytes();
    request.extend_from_slice(body);
    request
}

/// A `POST /submit` with `Transfer-Encoding: chunked`, in chunks of `chunk` bytes.
pub fn post_chunked(body: &[u8], chunk: usize, extra: &str) -> Vec<u8> {
    let mut request = format!(
        "POST /submit?guid=00000000000000000000000000000000 HTTP/1.1\r\nHost: localhost\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\n{extra}\r\n",
        content_type()
    )
    .into_bytes();
    for piece in body.chunks(chunk) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
    let mut out = vec![0; compressor.gzip_compress_bound(data.len())];
    let len = compressor.gzip_compress(data, &mut out).unwrap();
    out.truncate(len);
    out
}

/// A file from `testdata/` (see `testdata/README.md`).
pub fn corpus(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn corpus_annotations(name: &str) -> serde_json::Value {
    serde_json::from_slice(&corpus(&format!("annotations/{name}.json"))).unwrap()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
