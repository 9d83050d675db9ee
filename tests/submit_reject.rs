//! Every row of the SPEC answer table, over real sockets: exact status and body, and
//! nothing stored.

mod support;

use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

fn valid_body() -> Vec<u8> {
    Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", b"MDMP")
        .build()
}

fn post_with_type(content_type: &str, body: &[u8]) -> Vec<u8> {
    raw(
        &format!(
            "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}",
            body.len()
        ),
        body,
    )
}

fn assert_answer(response: &Response, status: u16, body: &str) {
    assert_eq!((response.status, response.text().as_str()), (status, body));
    assert_eq!(response.header("content-type"), Some("text/plain"));
}

#[test]
fn malformed_requests_get_their_reason_code() {
    let collector = Collector::start(&[("ANTENNA_MAX_CRASH_SIZE", "64KiB")]);
    let body = valid_body();
    let bad = "Discarded=malformed_";
    let cases: Vec<(Vec<u8>, u16, String)> = vec![
        (
            raw(&format!("POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: {}", body.len()), &body),
            400,
            format!("{bad}no_content_type"),
        ),
        (post_with_type("application/json", &body), 400, format!("{bad}wrong_content_type")),
        (post_with_type("multipart/form-data", &body), 400, format!("{bad}no_boundary")),
        (post_with_type("multipart/form-data; boundary=", &body), 400, format!("{bad}no_boundary")),
        (
            post_with_type(&format!("multipart/form-data; boundary={}", "x".repeat(71)), &body),
            400,
            format!("{bad}no_boundary"),
        ),
        (post(b"", ""), 400, format!("{bad}no_content_length")),
        (
            raw(&format!("POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {}", content_type()), b""),
            400,
            format!("{bad}no_content_length"),
        ),
        (post_chunked(b"", 10, ""), 400, format!("{bad}no_content_length")),
        (post(&body, "Content-Encoding: gzip\r\n"), 400, format!("{bad}bad_gzip")),
        (post(&gzip(&body), ""), 400, format!("{bad}invalid_payload_structure")),
        (
            post_with_type("multipart/form-data; boundary=not-the-one", &body),
            400,
            format!("{bad}invalid_payload_structure"),
        ),
        (post(b"this is not multipart at all", ""), 400, format!("{bad}invalid_payload_structure")),
        (post(&body[..body.len() - 12], ""), 400, format!("{bad}invalid_payload_structure")),
        (
            post(&Multipart::new().json(&json!({})).part("Content-Disposition: form-data; name=\"extra\"\r\nContent-Type: application/json", b"{not json").build(), ""),
            400,
            format!("{bad}invalid_json"),
        ),
        (
            post(&Multipart::new().json(&json!([1, 2])).build(), ""),
            400,
            format!("{bad}invalid_json_value"),
        ),
        (
            post(&Multipart::new().dump("upload_file_minidump", b"MDMP").build(), ""),
            400,
            format!("{bad}no_annotations"),
        ),
        (
            post(&Multipart::new().field("A", "1").dump("raw_crash", b"x").build(), ""),
            400,
            format!("{bad}invalid_dump_name"),
        ),
        (
            post(&Multipart::new().field("A", "1").field("uuid", "de1bb258-cbbf-4589-a673-34f801241124").build(), ""),
            401,
            "Discarded=unauthorized_uuid".to_owned(),
        ),
        (
            post(&Multipart::new().field("A", "1").dump("upload_file_minidump", &[7; 70 * 1024]).build(), ""),
            413,
            format!("{bad}too_large"),
        ),
        (
            post_chunked(&Multipart::new().field("A", "1").dump("upload_file_minidump", &[7; 70 * 1024]).build(), 1000, ""),
            413,
            format!("{bad}too_large"),
        ),
        (
            // A small gzip body that inflates past the cap: a decompression bomb.
            post(&gzip(&Multipart::new().field("A", "1").dump("upload_file_minidump", &[0; 200 * 1024]).build()), "Content-Encoding: gzip\r\n"),
            413,
            format!("{bad}too_large"),
        ),
    ];
    for (request, status, expected) in cases {
        let response = collector.send(&request);
        assert_answer(&response, status, &expected);
    }
    assert!(
        collector.all_files().is_empty(),
        "{:?}",
        collector.all_files()
    );
}

#[test]
fn submitter_uuid_must_be_valid() {
    let collector = Collector::start(&[("BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN", "tok")]);
    let body = Multipart::new()
        .field("A", "1")
        .field("uuid", "not-a-crash-id")
        .build();
    let response = collector.send(&post(&body, "Authorization: Bearer tok\r\n"));
    assert_answer(&response, 400, "Discarded=malformed_invalid_uuid");
    let response = collector.send(&post(&body, "Authorization: Bearer wrong\r\n"));
    assert_answer(&response, 401, "Discarded=unauthorized_uuid");
}

#[test]
fn body_shorter_than_content_length_ends_without_a_5xx() {
    let collector = Collector::start(&[]);
    let body = valid_body();
    let mut request = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        content_type(),
        body.len() + 100
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let mut client = collector.client();
    client.stream.write_all(&request).unwrap();
    client.stream.shutdown(Shutdown::Write).unwrap();
    let response = client.read_response().expect("an answer");
    assert_answer(
        &response,
        400,
        "Discarded=malformed_invalid_payload_structure",
    );
}

#[test]
fn storage_failure_answers_500_after_retries() {
    let collector = Collector::start(&[("CRASHMOVER_MAX_ATTEMPTS", "3")]);
    // A file where today's directory should be makes every save fail, even for root.
    let probe = collector.send(&post(&valid_body(), "")).crash_id();
    let day = collector.layout().day(&probe);
    std::fs::remove_dir_all(&day).unwrap();
    std::fs::write(&day, b"in the way").unwrap();

    let response = collector.send(&post(&valid_body(), ""));
    assert_answer(&response, 500, "");
    let logs = collector.logs_with("dropped");
    assert_eq!(logs.matches("retry attempt").count(), 3, "{logs}");
    assert!(
        logs.contains("too many errors trying to save; dropped"),
        "{logs}"
    );

    // The backend comes back: saving resumes without a restart.
    std::fs::remove_file(&day).unwrap();
    let id = collector.send(&post(&valid_body(), "")).crash_id();
    assert_eq!(collector.raw_crash(&id)["uuid"], id);
}

#[test]
fn full_queue_answers_503_with_retry_after() {
    let collector = Collector::start(&[
        ("ANTENNA_WORKERS", "1"),
        ("CRASHMOVER_CONCURRENT_CRASHMOVERS", "1"),
        ("CRASHMOVER_QUEUE_CAPACITY", "1"),
        ("CRASHMOVER_MAX_ATTEMPTS", "3"),
        ("CRASHMOVER_RETRY_SLEEP_SECONDS", "1"),
    ]);
    let probe = collector.send(&post(&valid_body(), "")).crash_id();
    let day = collector.layout().day(&probe);
    std::fs::remove_dir_all(&day).unwrap();
    std::fs::write(&day, b"in the way").unwrap();

    let wait_for_log = |needle: &str, count: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while collector.logs().join("\n").matches(needle).count() < count {
            assert!(Instant::now() < deadline, "no {needle:?} in logs");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let addr = collector.addr;
    let busy = std::thread::spawn(move || Client::connect(addr).send(&post(&valid_body(), "")));
    wait_for_log("retry attempt 0", 1); // the only mover is busy retrying
    let queued = std::thread::spawn(move || Client::connect(addr).send(&post(&valid_body(), "")));
    wait_for_log(" received", 3); // probe, busy, queued

    let response = collector.send(&post(&valid_body(), ""));
    assert_answer(&response, 503, "");
    assert_eq!(response.header("retry-after"), Some("5"));

    std::fs::remove_file(&day).unwrap();
    // The busy crash may have used up its attempts; the queued one is saved once the
    // backend is back.
    let busy = busy.join().unwrap();
    assert!(busy.status == 200 || busy.status == 500, "{busy:?}");
    let queued = queued.join().unwrap().crash_id();
    assert_eq!(collector.raw_crash(&queued)["uuid"], queued);
}

/// Writes all of `request` before reading anything, as Python's `http.client` and most HTTP
/// libraries do, then reads the answer.
fn write_everything_then_read(addr: std::net::SocketAddr, request: &[u8]) -> Response {
    let mut client = Client::connect(addr);
    client
        .stream
        .write_all(request)
        .expect("the collector reads the whole body, even after answering early");
    client
        .read_response()
        .expect("an answer after the whole body was written")
}

#[test]
fn clients_that_write_everything_first_read_early_answers() {
    let collector = Collector::start(&[("ANTENNA_MAX_CRASH_SIZE", "2MiB")]);
    let baseline = collector.rss_kib();

    // 30 MB against a 2 MB limit: refused by its Content-Length before any body is read.
    let huge = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &vec![0x5a; 30 << 20])
        .build();
    let answer = write_everything_then_read(collector.addr, &post(&huge, ""));
    assert_answer(&answer, 413, "Discarded=malformed_too_large");

    // 5 MB with the wrong Content-Type: refused by its head, body still arriving.
    let body = vec![b'x'; 5 << 20];
    let answer =
        write_everything_then_read(collector.addr, &post_with_type("application/json", &body));
    assert_answer(&answer, 400, "Discarded=malformed_wrong_content_type");

    // Twenty such clients at once: memory stays flat while their bodies are thrown away.
    let addr = collector.addr;
    let request = post(&vec![0x5a; 8 << 20], "");
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || write_everything_then_read(addr, &request).status)
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), 413);
    }
    let grown_mib = collector.rss_kib().saturating_sub(baseline) / 1024;
    assert!(
        grown_mib < 32,
        "RSS grew {grown_mib} MiB while discarding bodies"
    );
}

#[test]
fn a_full_inflight_budget_answers_503_that_write_everything_clients_read() {
    // The budget holds one crash; a stalled upload holds nearly all of it. The next client
    // writes its whole body before reading: it reads the 503 + Retry-After given mid-body.
    let collector = Collector::start(&[
        ("ANTENNA_MAX_CRASH_SIZE", "2MiB"),
        ("ANTENNA_MAX_INFLIGHT_BYTES", "2MiB"),
    ]);
    let mut stalled = collector.client();
    let declared = 2 << 20;
    let head = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: {declared}\r\n\r\n",
        content_type()
    );
    stalled.stream.write_all(head.as_bytes()).unwrap();
    stalled
        .stream
        .write_all(&vec![b'-'; declared - 1000])
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &vec![0x5a; 1 << 20])
        .build();
    let answer = write_everything_then_read(collector.addr, &post(&body, ""));
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(
        answer.header("Retry-After").is_some(),
        "{:?}",
        answer.headers
    );
    drop(stalled);
}
