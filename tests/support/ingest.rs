//! A Sentry ingest endpoint on loopback: records every envelope the SDK sends (the DSN
//! points here), or, stalled, takes connections and never answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running ingest endpoint.
pub struct Ingest {
    port: u16,
    envelopes: Arc<Mutex<Vec<String>>>,
}

impl Ingest {
    /// Starts one; with `stalled`, it reads requests and never answers.
    pub fn start(stalled: bool) -> Ingest {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let envelopes = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&envelopes);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || serve(stream, &recorded, stalled));
            }
        });
        Ingest { port, envelopes }
    }

    /// The DSN that sends here.
    pub fn dsn(&self) -> String {
        format!("http://antennapublickey@127.0.0.1:{}/1", self.port)
    }

    /// Every envelope received so far, as text.
    pub fn envelopes(&self) -> Vec<String> {
        self.envelopes.lock().unwrap().clone()
    }

    /// Waits (bounded) for an envelope containing `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(found) = self.envelopes().into_iter().find(|e| e.contains(needle)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no envelope with {needle:?}: {:?}",
                self.envelopes()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, recorded: &Mutex<Vec<String>>, stalled: bool) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0;
        let mut gzip = false;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            gzip |= header.starts_with("content-encoding:") && header.contains("gzip");
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if gzip {
            body = gunzip(&body);
        }
        recorded
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&body).into_owned());
        if stalled {
            std::thread::sleep(Duration::from_secs(3600));
            return;
        }
        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
    }
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let size = data
        .get(data.len().saturating_sub(4)..)
        .map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize);
    let mut out = vec![0; size.max(1)];
    let mut decompressor = libdeflater::Decompressor::new();
    let len = decompressor.gzip_decompress(data, &mut out).unwrap();
    out.truncate(len);
    out
}
