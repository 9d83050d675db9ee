//! Error reporting to Sentry (SPEC §10), against a loopback ingest endpoint that records
//! what the SDK sends.

mod support;

use std::time::{Duration, Instant};

use support::ingest::Ingest;
use support::*;

fn require_fault_injection() {
    #[cfg(not(feature = "fault-injection"))]
    panic!("this test needs the fault-injection feature: run scripts/test.sh");
}

const BROKEN: &str = "GET /__broken__ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic b3BzOnNlY3JldA==";

#[test]
fn broken_sends_one_event_with_release_and_server_name() {
    let ingest = Ingest::start(false);
    let dsn = ingest.dsn();
    let collector = Collector::start(&[
        ("SECRET_SENTRY_DSN", dsn.as_str()),
        ("ANTENNA_BROKEN_CREDENTIALS", "ops:secret"),
        ("HOSTNAME", "collector-7"),
        ("SENTRY_ENVIRONMENT", "staging"),
    ]);
    assert_eq!(collector.send(&raw(BROKEN, b"")).status, 500);
    let envelope = ingest.wait_for("intentional exception");
    assert!(
        envelope.contains("\"server_name\":\"collector-7\""),
        "{envelope}"
    );
    assert!(envelope.contains("\"release\":\""), "{envelope}");
    assert!(
        envelope.contains("\"environment\":\"staging\""),
        "{envelope}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let events = ingest
        .envelopes()
        .iter()
        .filter(|e| e.contains("intentional exception"))
        .count();
    assert_eq!(events, 1);
}

#[test]
fn the_startup_exception_arrives_before_the_process_exits() {
    let ingest = Ingest::start(false);
    let dsn = ingest.dsn();
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let line = refused_start(&[
        ("SECRET_SENTRY_DSN", dsn.as_str()),
        ("CRASHMOVER_CRASHSTORAGE_CLASS", "s3"),
        ("CRASHMOVER_CRASHSTORAGE_BUCKET_NAME", "crashes"),
        ("CRASHMOVER_CRASHSTORAGE_ENDPOINT_URL", endpoint.as_str()),
        ("CRASHMOVER_CRASHSTORAGE_ACCESS_KEY", "k"),
        ("CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY", "s"),
    ]);
    assert!(line.contains("Unhandled startup exception"), "{line}");
    // The process has exited: whatever it sent is already here.
    let sent = ingest.envelopes();
    assert!(
        sent.iter()
            .any(|e| e.contains("Unhandled startup exception")),
        "{sent:?}"
    );
}

#[test]
fn a_storage_failure_is_reported_without_the_crash_contents() {
    let ingest = Ingest::start(false);
    let dsn = ingest.dsn();
    let collector = Collector::start(&[
        ("SECRET_SENTRY_DSN", dsn.as_str()),
        ("CRASHMOVER_MAX_ATTEMPTS", "2"),
    ]);
    // A file where today's directory should be makes every save fail.
    let probe = collector
        .send(&post_crash(&serde_json::json!({"ProductName": "Firefox"})))
        .crash_id();
    let day = collector.layout().day(&probe);
    std::fs::remove_dir_all(&day).unwrap();
    std::fs::write(&day, b"in the way").unwrap();

    let secret = format!("Zebra{:x}", std::process::id() as u64 * 7919);
    let body = Multipart::new()
        .field("ProductName", &secret)
        .field("Comments", &format!("my email is {secret}@example.com"))
        .dump("upload_file_minidump", format!("MDMP {secret}").as_bytes())
        .build();
    let response = collector.send(&post(&body, "X-Forwarded-For: 203.0.113.77\r\n"));
    assert_eq!(response.status, 500);
    ingest.wait_for("too many errors trying to save");
    std::thread::sleep(Duration::from_millis(500));
    for envelope in ingest.envelopes() {
        assert!(
            !envelope.contains(&secret),
            "crash contents sent: {envelope}"
        );
        assert!(
            !envelope.contains("203.0.113.77"),
            "client address sent: {envelope}"
        );
        assert!(
            !envelope.contains("127.0.0.1"),
            "an address sent: {envelope}"
        );
    }
}

/// p99 of `count` crash submissions while another client keeps hitting `/__broken__`
/// (every hit is an ERROR event for Sentry).
fn submit_p99_under_errors(collector: &Collector, count: usize) -> Duration {
    let addr = collector.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let breaker = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut client = Client::connect(addr);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(client.send(&raw(BROKEN, b"")).status, 500);
            }
        })
    };
    let request = post_crash(&serde_json::json!({"ProductName": "Firefox"}));
    let mut client = collector.client();
    let mut latencies: Vec<Duration> = (0..count)
        .map(|_| {
            let started = Instant::now();
            client.send(&request).crash_id();
            started.elapsed()
        })
        .collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    breaker.join().unwrap();
    latencies.sort();
    latencies[count * 99 / 100]
}

#[test]
fn a_stalled_ingest_endpoint_does_not_slow_answers() {
    let env = [
        ("ANTENNA_BROKEN_CREDENTIALS", "ops:secret"),
        ("CRASHMOVER_CRASHSTORAGE_FS_FSYNC", "false"),
    ];
    let without = Collector::start(&env);
    let baseline = submit_p99_under_errors(&without, 400);
    drop(without);

    let stalled = Ingest::start(true);
    let dsn = stalled.dsn();
    let mut with_env = env.to_vec();
    with_env.push(("SECRET_SENTRY_DSN", dsn.as_str()));
    let with = Collector::start(&with_env);
    let reporting = submit_p99_under_errors(&with, 400);
    eprintln!("submit p99: {baseline:?} without Sentry, {reporting:?} with a stalled endpoint");
    // Below a few milliseconds p99 is scheduler noise.
    let allowed = (baseline * 2).max(Duration::from_millis(10));
    assert!(reporting <= allowed, "{reporting:?} vs {baseline:?}");
}

#[test]
fn a_panic_on_a_request_thread_is_reported() {
    require_fault_injection();
    let ingest = Ingest::start(false);
    let dsn = ingest.dsn();
    let collector = Collector::start(&[
        ("SECRET_SENTRY_DSN", dsn.as_str()),
        ("ANTENNA_FAULT_PANIC", "route"),
    ]);
    // The request's task panics: no answer, the connection is cut, the process lives on.
    let answer = Client::connect(collector.addr)
        .try_send(&raw("GET /__lbheartbeat__ HTTP/1.1\r\nHost: x", b""));
    assert!(answer.is_none(), "{answer:?}");
    let envelope = ingest.wait_for("fault point route: panicking");
    assert!(envelope.contains("\"release\":\""), "{envelope}");
    assert!(
        Client::try_connect(collector.addr).is_some(),
        "the process died"
    );
}
