//! Memory follows bytes received (SPEC §9): clients that declare huge bodies and stall
//! cost the collector almost nothing, and do not slow the crashes of everyone else.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

/// Crashes stored per second by one keep-alive client over `span`.
fn crash_rate(collector: &Collector, span: Duration) -> f64 {
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &vec![0x4d; 50_000])
        .build();
    let request = post(&body, "");
    let mut client = collector.client();
    let started = Instant::now();
    let mut stored = 0;
    while started.elapsed() < span {
        client.send(&request).crash_id();
        stored += 1;
    }
    stored as f64 / started.elapsed().as_secs_f64()
}

#[test]
fn a_thousand_stalled_uploads_cost_little_and_slow_nobody() {
    let collector = Collector::start(&[
        ("ANTENNA_WORKERS", "2"),
        ("CRASHMOVER_CRASHSTORAGE_FS_FSYNC", "false"),
    ]);
    let without = crash_rate(&collector, Duration::from_secs(2));
    let baseline = collector.rss_kib();

    // Each declares 20 MB, sends 40 bytes of it, and stalls.
    let head = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: 20000000\r\n\r\n",
        content_type()
    );
    let stalled: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut stream = TcpStream::connect(collector.addr).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&[b'-'; 40]).unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let with = crash_rate(&collector, Duration::from_secs(2));
    let peak = collector.rss_kib();
    drop(stalled);

    assert!(
        with >= 0.8 * without,
        "{with:.0} crashes/s with 1,000 stalled uploads, {without:.0} without"
    );
    let grown_mib = peak.saturating_sub(baseline) / 1024;
    assert!(
        grown_mib < 64,
        "RSS grew {grown_mib} MiB for 1,000 stalled uploads (baseline {baseline} KiB)"
    );
    eprintln!("stalled uploads: {with:.0} vs {without:.0} crashes/s; RSS {baseline} -> {peak} KiB");
}
