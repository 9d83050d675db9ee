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
    // HTTP/1.0 with a chunked body: hyper refuses it in its parser, before any handler.
    let refused = collector.send(&raw(
        "POST /submit HTTP/1.0\r\nContent-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked",
        b"0\r\n\r\n",
    ));
    assert_eq!(refused.status, 400);
    let logs = collector.logs_with("submit discarded: http:");
    assert!(logs.contains("submit discarded: http:"), "{logs}");
    // The collector keeps serving.
    collector.send(&raw("GET /__lbheartbeat__ HTTP/1.1\r\nHost: x", b""));

    let wanted = "socorro.collector.breakpad_resource.malformed:1|c|";
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
        if seen
            .iter()
            .any(|l| l.starts_with(wanted) && l.contains("reason:http"))
        {
            return;
        }
    }
    panic!("no malformed reason:http in {seen:#?}");
}
