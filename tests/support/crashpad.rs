//! Crashpad's socket transport (`util/net/http_transport_socket.cc`, used where Crashpad is
//! built without libcurl), byte for byte: how it writes a request and how it reads the answer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use super::Multipart;

/// The boundary Crashpad's `HTTPMultipartBuilder` writes: dashes, a fixed word, random
/// alphanumerics.
pub const BOUNDARY: &str = "---MultipartBoundary-vp5j9HdSRYK8DvX2DhtpqEbMNjSN4wQq---";

/// A request exactly as Crashpad's socket transport (`http_transport_socket.cc`) writes it:
/// `HTTP/1.0`, no Host, the headers in `std::map` order then `Transfer-Encoding: chunked`,
/// chunks of at most 32 KiB with unpadded lowercase hex sizes, no Content-Length.
pub fn socket_transport_request(body: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = headers.to_vec();
    sorted.sort();
    let mut request = b"POST /submit?guid=8e0b26c15c3b4c1e9f35d2e1e8a2c0de HTTP/1.0\r\n".to_vec();
    for (name, value) in sorted {
        request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    for chunk in body.chunks(32 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

/// Reads an answer the way that transport does: the status line must start with
/// `HTTP/1.0 200 ` or `HTTP/1.1 200 `; headers go into a map by their exact names; the body
/// is exactly `Content-Length` bytes, looked up by that exact spelling. Returns the body, and
/// whether the server then closed the connection.
pub fn read_answer(stream: impl Read) -> (String, bool) {
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(
        status.starts_with("HTTP/1.0 200 ") || status.starts_with("HTTP/1.1 200 "),
        "{status:?}"
    );
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header line");
        let value = value.strip_suffix("\r\n").expect("CRLF");
        let value = value.strip_prefix(' ').expect("one space after the colon");
        headers.insert(name.to_owned(), value.to_owned());
    }
    let length: usize = headers
        .get("Content-Length")
        .unwrap_or_else(|| panic!("no `Content-Length` by that exact name in {headers:?}"))
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let mut rest = Vec::new();
    let closed = matches!(reader.read_to_end(&mut rest), Ok(0));
    (String::from_utf8(body).unwrap(), closed)
}

/// The form Crashpad's upload thread builds around a dump.
pub fn form(dump: &[u8]) -> Vec<u8> {
    Multipart::with_boundary(BOUNDARY)
        .field("prod", "Chrome_Android")
        .field("ProductName", "Chrome_Android")
        .field("Version", "131.0.6778.39")
        .field("guid", "8e0b26c15c3b4c1e9f35d2e1e8a2c0de")
        .part(
            "Content-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"8e0b26c1.dmp\"\r\nContent-Type: application/octet-stream",
            dump,
        )
        .build()
}
