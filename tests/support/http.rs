//! Raw HTTP/1.1 over TCP: requests written byte for byte, responses parsed by hand, so
//! the tests see exactly what a client sees.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::BOUNDARY;

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
        Client::try_connect(addr).expect("connect to the collector")
    }

    /// A connection, or `None` when nothing listens (a killed collector).
    pub fn try_connect(addr: SocketAddr) -> Option<Client> {
        let stream = TcpStream::connect(addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok()?;
        let reader = BufReader::new(stream.try_clone().ok()?);
        Some(Client { stream, reader })
    }

    /// Sends `request` and reads the answer; `None` when the connection broke first.
    pub fn try_send(&mut self, request: &[u8]) -> Option<Response> {
        self.stream.write_all(request).ok()?;
        self.read_response()
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

/// The `Content-Type` of bodies built with `Multipart::new()`.
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
