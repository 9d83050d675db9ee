//! The load generator: replays prepared requests over keep-alive connections, closed loop
//! (N connections, each sends as soon as it has its answer) or open loop (a fixed arrival
//! rate; latency counts from the intended send time, so a stalled server cannot hide behind
//! a slowed-down client). Every run is bounded by a request count and a duration.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::corpus::Recorded;

/// How to send.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where to.
    pub addr: SocketAddr,
    /// Request path (`/submit`).
    pub path: String,
    /// Connections (closed loop), or the connection pool (open loop).
    pub connections: usize,
    /// Open loop: requests per second. `None`: closed loop.
    pub rate: Option<f64>,
    /// Stop after this many requests...
    pub count: u64,
    /// ...or after this long, whichever comes first.
    pub duration: Duration,
    /// Gzip every body (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Send bodies chunked, without Content-Length.
    pub chunked: bool,
    /// Print progress to stderr every second.
    pub progress: bool,
}

/// What came back.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Requests answered.
    pub answered: u64,
    /// Connection errors (connect, write, read).
    pub errors: u64,
    /// Status code → count.
    pub statuses: BTreeMap<u16, u64>,
    /// Body bytes sent (as on the wire, after gzip).
    pub bytes_sent: u64,
    /// Latency in microseconds.
    pub latency: Option<Histogram<u64>>,
    /// Crash ids answered.
    pub crash_ids: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// A request ready to write: head and body bytes.
pub struct Prepared {
    wire: Bytes,
    body_len: u64,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::default());
    let mut out = vec![0; compressor.gzip_compress_bound(data.len())];
    let len = compressor.gzip_compress(data, &mut out).unwrap_or(0);
    out.truncate(len);
    out
}

/// Builds the wire bytes of every request once, before the clock starts.
pub fn prepare(corpus: &[Recorded], plan: &Plan) -> Vec<Prepared> {
    corpus
        .iter()
        .map(|recorded| {
            let body = if plan.gzip {
                gzip(&recorded.body)
            } else {
                recorded.body.clone()
            };
            let mut head = format!("POST {} HTTP/1.1\r\n", plan.path);
            for (name, value) in &recorded.headers {
                if name.eq_ignore_ascii_case("host") {
                    head.push_str(&format!("Host: {}\r\n", plan.addr));
                } else {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
            }
            if plan.gzip {
                head.push_str("Content-Encoding: gzip\r\n");
            }
            let mut wire = Vec::with_capacity(head.len() + body.len() + 64);
            if plan.chunked {
                head.push_str("Transfer-Encoding: chunked\r\n\r\n");
                wire.extend_from_slice(head.as_bytes());
                for piece in body.chunks(64 * 1024) {
                    wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    wire.extend_from_slice(piece);
                    wire.extend_from_slice(b"\r\n");
                }
                wire.extend_from_slice(b"0\r\n\r\n");
            } else {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                wire.extend_from_slice(head.as_bytes());
                wire.extend_from_slice(&body);
            }
            Prepared {
                wire: Bytes::from(wire),
                body_len: body.len() as u64,
            }
        })
        .collect()
}

struct Connection {
    reader: BufReader<TcpStream>,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

impl Connection {
    async fn open(addr: SocketAddr) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::with_capacity(16 * 1024, stream),
        })
    }

    async fn exchange(&mut self, wire: &[u8]) -> std::io::Result<Answer> {
        self.reader.get_mut().write_all(wire).await?;
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await?;
        Ok(Answer {
            status,
            body,
            close,
        })
    }
}

#[derive(Default)]
struct Shared {
    next: AtomicU64,
    answered: AtomicU64,
    errors: AtomicU64,
    bytes_sent: AtomicU64,
    results: Mutex<Vec<Outcome>>,
}

impl Shared {
    /// Hands in one connection's results at its end.
    fn keep(&self, local: Outcome) {
        self.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(local);
    }
}

/// One connection of the run: its socket and its own results.
struct Worker {
    plan: Plan,
    requests: Arc<Vec<Prepared>>,
    shared: Arc<Shared>,
    connection: Option<Connection>,
    local: Outcome,
}

impl Worker {
    fn new(plan: &Plan, requests: &Arc<Vec<Prepared>>, shared: &Arc<Shared>) -> Worker {
        Worker {
            plan: plan.clone(),
            requests: Arc::clone(requests),
            shared: Arc::clone(shared),
            connection: None,
            local: new_outcome(),
        }
    }

    /// Sends request `index` (round-robin over the corpus); latency counts from `started`.
    async fn send(&mut self, index: u64, started: Instant) {
        let request = &self.requests[index as usize % self.requests.len()];
        send(
            &mut self.connection,
            &self.plan,
            request,
            started,
            &mut self.local,
            &self.shared,
        )
        .await;
    }

    fn finish(self) {
        self.shared.keep(self.local);
    }
}

/// Sends one request on `connection` (reconnecting if needed) and records it in `local`.
async fn send(
    connection: &mut Option<Connection>,
    plan: &Plan,
    request: &Prepared,
    started: Instant,
    local: &mut Outcome,
    shared: &Shared,
) {
    if connection.is_none() {
        match Connection::open(plan.addr).await {
            Ok(opened) => *connection = Some(opened),
            Err(_) => {
                local.errors += 1;
                shared.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
                return;
            }
        }
    }
    let Some(open) = connection.as_mut() else {
        return;
    };
    match open.exchange(&request.wire).await {
        Ok(answer) => {
            let micros = started.elapsed().as_micros() as u64;
            if let Some(histogram) = local.latency.as_mut() {
                let _ = histogram.record(micros.max(1));
            }
            *local.statuses.entry(answer.status).or_default() += 1;
            local.answered += 1;
            local.bytes_sent += request.body_len;
            shared.answered.fetch_add(1, Ordering::Relaxed);
            shared
                .bytes_sent
                .fetch_add(request.body_len, Ordering::Relaxed);
            if let Some(id) = answer.body.strip_prefix(b"CrashID=bp-") {
                local
                    .crash_ids
                    .push(String::from_utf8_lossy(id).trim().to_owned());
            }
            if answer.close {
                *connection = None;
            }
        }
        Err(_) => {
            local.errors += 1;
            shared.errors.fetch_add(1, Ordering::Relaxed);
            *connection = None;
        }
    }
}

fn new_outcome() -> Outcome {
    Outcome {
        latency: Histogram::new_with_bounds(1, 600_000_000, 3).ok(),
        ..Outcome::default()
    }
}

/// Runs `plan` over `requests` (used round-robin) and returns the merged outcome.
pub async fn run(plan: &Plan, requests: Arc<Vec<Prepared>>) -> Outcome {
    let shared = Arc::new(Shared::default());
    let start = Instant::now();
    let deadline = start + plan.duration;
    let progress = plan.progress.then(|| {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut last = 0;
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let answered = shared.answered.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>4.0}s] answered {answered:>8}  errors {:>5}  {:>7}/s  {:>8.1} MB/s sent",
                    start.elapsed().as_secs_f64(),
                    shared.errors.load(Ordering::Relaxed),
                    answered - last,
                    shared.bytes_sent.load(Ordering::Relaxed) as f64
                        / start.elapsed().as_secs_f64()
                        / 1e6,
                );
                last = answered;
            }
        })
    });

    let mut workers = Vec::new();
    match plan.rate {
        None => {
            for _ in 0..plan.connections {
                let mut worker = Worker::new(plan, &requests, &shared);
                workers.push(tokio::spawn(async move {
                    loop {
                        let index = worker.shared.next.fetch_add(1, Ordering::Relaxed);
                        if index >= worker.plan.count || Instant::now() >= deadline {
                            break;
                        }
                        worker.send(index, Instant::now()).await;
                    }
                    worker.finish();
                }));
            }
        }
        Some(rate) => {
            // A dispatcher releases request i at start + i/rate; idle connections take them.
            let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
            let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
            let interval = Duration::from_secs_f64(1.0 / rate);
            let count = plan.count;
            workers.push(tokio::spawn(async move {
                for index in 0..count {
                    let intended = start + interval.mul_f64(index as f64);
                    if intended >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(intended.into()).await;
                    if sender.send((index, intended)).is_err() {
                        break;
                    }
                }
            }));
            for _ in 0..plan.connections {
                let mut worker = Worker::new(plan, &requests, &shared);
                let receiver = Arc::clone(&receiver);
                workers.push(tokio::spawn(async move {
                    loop {
                        let next = receiver.lock().await.recv().await;
                        let Some((index, intended)) = next else { break };
                        if Instant::now() >= deadline + Duration::from_secs(5) {
                            break;
                        }
                        worker.send(index, intended).await;
                    }
                    worker.finish();
                }));
            }
        }
    }
    for worker in workers {
        let _ = worker.await;
    }
    if let Some(progress) = progress {
        progress.abort();
    }
    let mut merged = new_outcome();
    merged.elapsed = start.elapsed();
    for local in std::mem::take(&mut *shared.results.lock().unwrap_or_else(|p| p.into_inner())) {
        merged.answered += local.answered;
        merged.errors += local.errors;
        merged.bytes_sent += local.bytes_sent;
        for (status, count) in local.statuses {
            *merged.statuses.entry(status).or_default() += count;
        }
        if let (Some(total), Some(part)) = (merged.latency.as_mut(), local.latency.as_ref()) {
            let _ = total.add(part);
        }
        merged.crash_ids.extend(local.crash_ids);
    }
    merged
}
