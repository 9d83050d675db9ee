//! SIGTERM: stop accepting, finish what is in flight, save what is queued, exit 0.

mod support;

use std::io::Write;
use std::time::Duration;

use support::*;

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let mut collector = Collector::start(&[]);
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &corpus("minidumps/test.dmp"))
        .build();
    let request = post(&body, "");
    let (first, rest) = request.split_at(request.len() / 2);

    // Half a request is on the wire when SIGTERM arrives.
    let mut client = collector.client();
    client.stream.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &collector.child.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(200));
    client.stream.write_all(rest).unwrap();
    let id = client
        .read_response()
        .expect("in-flight request answered")
        .crash_id();

    let status = collector.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(collector.raw_crash(&id)["uuid"], id);
    let logs = collector.logs_with("stopped");
    assert!(
        logs.contains("SIGTERM: shutting down") && logs.contains("stopped"),
        "{logs}"
    );
    // No new connections after the stop.
    assert!(std::net::TcpStream::connect(collector.addr).is_err());
}
