//! statsd lines reach a UDP socket for a submitted crash.

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use support::*;

/// A UDP socket standing in for statsd, and its port.
fn statsd_socket() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    (socket, port)
}

#[test]
fn statsd_lines_for_a_submitted_crash() {
    let (socket, port) = statsd_socket();
    let collector = Collector::start(&[
        ("STATSD_HOST", "127.0.0.1"),
        ("STATSD_PORT", &port),
        ("HOSTNAME", "collector-7"),
    ]);
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", b"MDMP")
        .build();
    collector
        .send(&post(&gzip(&body), "Content-Encoding: gzip\r\n"))
        .crash_id();
    let bad = collector.send(&post(b"junk", ""));
    assert_eq!(bad.status, 400);
    collector.send(&raw("GET /__lbheartbeat__ HTTP/1.1\r\nHost: x", b""));

    let expected = [
        "socorro.collector.breakpad_resource.gzipped_crash:1|c|#host:collector-7",
        "socorro.collector.breakpad_resource.incoming_crash:1|c|#host:collector-7",
        "socorro.collector.breakpad_resource.throttle_rule:1|c|#host:collector-7,rule:accept_everything",
        "socorro.collector.breakpad_resource.throttle:1|c|#host:collector-7,result:accept",
        "socorro.collector.breakpad_resource.malformed:1|c|#host:collector-7,reason:invalid_payload_structure",
        "socorro.collector.crashmover.save_crash.count:1|c|#host:collector-7",
        "socorro.collector.health.lbheartbeat.count:1|c|#host:collector-7",
        "socorro.collector.breakpad_resource.crash_size:",
        "socorro.collector.breakpad_resource.gzipped_crash_decompress:",
        "socorro.collector.breakpad_resource.on_post.time:",
        "socorro.collector.crashmover.crash_save.time:",
        "socorro.collector.crashmover.crash_handling.time:",
        "socorro.collector.crashmover.save_queue_size:0|g|#host:collector-7",
    ];
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline
        && !expected
            .iter()
            .all(|e| lines.iter().any(|l: &String| l.starts_with(e)))
    {
        if let Ok(len) = socket.recv(&mut buf) {
            let packet = String::from_utf8_lossy(&buf[..len]).into_owned();
            lines.extend(packet.lines().map(str::to_owned));
        }
    }
    for e in expected {
        assert!(
            lines.iter().any(|l| l.starts_with(e)),
            "no {e:?} in {lines:#?}"
        );
    }
    let size = lines.iter().find(|l| l.contains("crash_size:")).unwrap();
    assert!(
        size.contains(&format!(":{}|h", body.len())) && size.contains("payload:compressed"),
        "{size}"
    );
    assert!(lines
        .iter()
        .any(|l| l.contains("on_post.time:") && l.contains("|ms")));
}

#[test]
fn http_layer_refusals_are_logged_and_counted() {
    let (socket, port) = statsd_socket();
    let collector = Collector::start(&[("STATSD_HOST", "127.0.0.1"), ("STATSD_PORT", &port)]);
    // A request line hyper cannot parse, and a 100 KB header: both are refused by the HTTP
    // layer itself, before any handler.
    let bad_line = collector.send(b"POST /submit HTTP/9.9 extra\r\n\r\n");
    assert_eq!(bad_line.status, 400);
    let huge_header = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let too_large = collector.send(huge_header.as_bytes());
    assert_eq!(too_large.status, 431);
    let logs = collector.logs_with("submit discarded: http:");
    assert_eq!(logs.matches("submit discarded: http:").count(), 2, "{logs}");
    // The collector keeps serving.
    let health = collector.send(&raw("GET /__lbheartbeat__ HTTP/1.1\r\nHost: x", b""));
    assert_eq!(health.status, 200);

    let wanted = "socorro.collector.breakpad_resource.malformed:1|c|";
    let mut counted = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 65536];
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(len) = socket.recv(&mut buf) {
            seen.extend(
                String::from_utf8_lossy(&buf[..len])
                    .lines()
                    .map(str::to_owned),
            );
        }
        counted = seen
            .iter()
            .filter(|l| l.starts_with(wanted) && l.contains("reason:http"))
            .count();
        if counted == 2 {
            return;
        }
    }
    panic!("{counted} of 2 malformed reason:http in {seen:#?}");
}
