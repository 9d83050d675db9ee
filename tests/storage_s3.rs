//! The s3 backend against a real S3-protocol server (s3s-fs) on loopback.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::Digest;
use support::s3::{S3Server, BUCKET};
use support::*;

fn start_with(server: &S3Server, extra: &[(&str, &str)]) -> Collector {
    let env = server.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    Collector::start(&all)
}

fn crash(annotations: &Value, dump: &[u8]) -> Vec<u8> {
    post(
        &Multipart::new()
            .fields(annotations)
            .dump("upload_file_minidump", dump)
            .build(),
        "",
    )
}

#[test]
fn one_hash_pass_per_dump_checked_by_s3() {
    // Each dump goes up with the digest computed at acceptance as its x-amz-checksum-sha256
    // (S3 checks it), an unsigned payload (no SigV4 hash of the body) and no SDK CRC.
    let server = S3Server::start();
    let collector = start_with(&server, &[]);
    let dump = corpus("minidumps/linux-mini.dmp");
    let browser = corpus("minidumps/test.dmp");
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &dump)
        .dump("upload_file_minidump_browser", &browser)
        .build();
    let id = collector.send(&post(&body, "")).crash_id();
    let seen = server.seen.lock().unwrap().clone();
    let put = |key: &str| {
        seen.iter()
            .find(|request| request.method == "PUT" && request.path == format!("/{BUCKET}/{key}"))
            .unwrap_or_else(|| panic!("no PUT of {key} in {seen:#?}"))
            .headers
            .clone()
    };
    for (key, bytes) in [
        (format!("v1/dump/{id}"), &dump),
        (format!("v1/upload_file_minidump_browser/{id}"), &browser),
    ] {
        let headers = put(&key);
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            header("x-amz-content-sha256").as_deref(),
            Some("UNSIGNED-PAYLOAD")
        );
        let digest = sha2::Sha256::digest(bytes);
        assert_eq!(
            header("x-amz-checksum-sha256"),
            Some(aws_smithy_types::base64::encode(digest)),
            "{key}"
        );
        assert!(
            !headers
                .keys()
                .any(|name| name.as_str().starts_with("x-amz-checksum-crc")),
            "{headers:?}"
        );
    }
    // The small objects are unsigned too, with no checksum at all.
    let names = put(&format!("v1/dump_names/{id}"));
    assert_eq!(names["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
    assert!(names.get("x-amz-checksum-sha256").is_none());
}

#[test]
fn crash_lands_under_the_exact_keys() {
    let server = S3Server::start();
    let collector = start_with(&server, &[("BREAKPAD_THROTTLER_RULES", "mozilla")]);
    let dump = corpus("minidumps/linux-mini.dmp");
    let browser = corpus("minidumps/test.dmp");
    let body = Multipart::new()
        .fields(&corpus_annotations("firefox_about_crashes"))
        .dump("upload_file_minidump", &dump)
        .dump("upload_file_minidump_browser", &browser)
        .build();
    let id = collector.send(&post(&body, "")).crash_id();
    let date = format!("20{}", &id[30..]);

    // Rejected and fake-accepted crashes leave nothing behind.
    let rejected = collector.send(&crash(&corpus_annotations("unsupported_product"), b"x"));
    assert_eq!(rejected.text(), "Discarded=rule_unsupported_product");
    let fake = collector
        .send(&crash(&corpus_annotations("b2g"), b"x"))
        .crash_id();

    assert_eq!(server.object(&format!("v1/dump/{id}")).unwrap(), dump);
    assert_eq!(
        server
            .object(&format!("v1/upload_file_minidump_browser/{id}"))
            .unwrap(),
        browser
    );
    assert_eq!(
        server.object(&format!("v1/dump_names/{id}")).unwrap(),
        br#"["upload_file_minidump", "upload_file_minidump_browser"]"#
    );
    let raw: Value =
        serde_json::from_slice(&server.object(&format!("v1/raw_crash/{date}/{id}")).unwrap())
            .unwrap();
    assert_eq!(raw["uuid"], id);
    assert_eq!(
        raw["metadata"]["dump_checksums"]["upload_file_minidump"],
        sha256_hex(&dump)
    );

    let keys = server.keys();
    let crash_keys: Vec<_> = keys.iter().filter(|k| !k.starts_with("test/")).collect();
    assert_eq!(crash_keys.len(), 4, "{keys:?}");
    assert!(crash_keys.iter().all(|k| k.ends_with(&id)), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains(&fake)));
    // The start-up check left its probe object.
    let probe = keys
        .iter()
        .find(|k| k.starts_with("test/testfile-"))
        .expect("probe object");
    assert_eq!(server.object(probe).unwrap(), b"test");
}

/// A real minidump header, then varied (incompressible) bytes up to `size`.
fn large_dump(size: usize) -> Vec<u8> {
    let mut dump = corpus("minidumps/test.dmp");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    while dump.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        dump.extend_from_slice(&state.to_le_bytes());
    }
    dump
}

#[test]
fn multipart_upload_completes_against_moto_too() {
    // moto 5 answers CompleteMultipartUpload with a root element the SDK cannot parse; the
    // object is there all the same, and HeadObject confirms it instead of an abort.
    let moto = support::moto::Moto::start();
    moto.create_bucket("crashes");
    let env = moto.s3_env("crashes");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let collector = Collector::start(&env);
    let dump = large_dump(12 << 20);
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &dump)
        .build();
    let id = collector.send(&post(&body, "")).crash_id();
    let stored = moto.object("crashes", &format!("v1/dump/{id}"));
    assert!(
        stored.as_deref() == Some(&dump[..]),
        "12 MiB dump stored through moto"
    );
    let date = format!("20{}", &id[30..]);
    assert!(moto
        .object("crashes", &format!("v1/raw_crash/{date}/{id}"))
        .is_some());
}

#[test]
fn thirty_mib_dump_round_trips_through_multipart_upload() {
    let server = S3Server::start();
    let collector = start_with(&server, &[("ANTENNA_MAX_CRASH_SIZE", "40MiB")]);
    let dump = large_dump(30 << 20);
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", &dump)
        .build();
    let id = collector
        .send(&post(&gzip(&body), "Content-Encoding: gzip\r\n"))
        .crash_id();
    let stored = server
        .object(&format!("v1/dump/{id}"))
        .expect("dump stored");
    assert!(stored == dump, "30 MiB dump differs after the round trip");
    // s3s-fs gives multipart objects an ETag with the part count: it went up in parts.
    let metadata: Vec<String> = server
        .server_files()
        .into_iter()
        .filter(|name| name.ends_with(".internal.json"))
        .map(|name| std::fs::read_to_string(server.dir.0.join(name)).unwrap())
        .collect();
    assert!(metadata.iter().any(|m| m.contains("-4\"")), "{metadata:?}");
    assert_eq!(
        collector.raw_crash_from(&server, &id)["metadata"]["dump_checksums"]
            ["upload_file_minidump"],
        sha256_hex(&dump)
    );
}

trait RawCrashFromS3 {
    fn raw_crash_from(&self, server: &S3Server, id: &str) -> Value;
}

impl RawCrashFromS3 for Collector {
    fn raw_crash_from(&self, server: &S3Server, id: &str) -> Value {
        let key = format!("v1/raw_crash/20{}/{id}", &id[30..]);
        serde_json::from_slice(&server.object(&key).unwrap()).unwrap()
    }
}

fn refused_line(env: &[(&str, String)]) -> String {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    refused_start(&pairs)
}

/// Every crash of `ids` reaches the bucket (waiting, bounded, for the drainer).
fn assert_in_bucket(server: &S3Server, ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for id in ids {
        let date = format!("20{}", &id[30..]);
        let key = format!("v1/raw_crash/{date}/{id}");
        while server.object(&key).is_none() {
            assert!(Instant::now() < deadline, "{id} missing");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn unreachable_s3_or_missing_bucket_refuses_to_start() {
    let mut server = S3Server::start();
    let mut env = server.env();
    env.push((
        "CRASHMOVER_CRASHSTORAGE_BUCKET_NAME",
        "no-such-bucket".into(),
    ));
    let line = refused_line(&env);
    assert!(
        line.contains("bucket no-such-bucket") && line.contains("region us-east-1"),
        "{line}"
    );
    assert!(line.contains(&server.endpoint()), "{line}");

    server.stop();
    let line = refused_line(&server.env());
    assert!(
        line.contains(&format!("bucket {BUCKET}")) && line.contains(&server.endpoint()),
        "{line}"
    );
}

/// Production S3 is HTTPS: both clients (ours for objects and the bucket check, the SDK's
/// for multipart uploads) verify the server against the trust store (`SSL_CERT_FILE`
/// here, the system's roots by default) and store through TLS.
#[test]
fn crashes_reach_s3_over_tls() {
    let server = S3Server::start();
    let certs = TempDir::new();
    support::tls::make_certificates(&certs.0);
    let (_nginx, port) = support::tls::Nginx::tls_in_front_of(&certs.0, server.addr.port());
    let endpoint = format!("https://localhost:{port}");
    let mut env = server.env();
    env.push(("CRASHMOVER_CRASHSTORAGE_ENDPOINT_URL", endpoint.clone()));
    env.push(("ANTENNA_S3_MULTIPART_THRESHOLD", "5242880".into()));

    // Without our CA the server is not trusted, and the collector says so.
    let line = refused_line(&env);
    assert!(
        line.contains(&endpoint) && line.contains("certificate"),
        "{line}"
    );

    env.push((
        "SSL_CERT_FILE",
        certs.0.join("ca.pem").display().to_string(),
    ));
    let all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let collector = Collector::start(&all);
    let small = corpus("minidumps/linux-mini.dmp");
    let large = large_dump(12 << 20);
    for dump in [&small, &large] {
        let id = collector
            .send(&crash(&json!({"ProductName": "Firefox"}), dump))
            .crash_id();
        collector.raw_crash_from(&server, &id);
        assert_eq!(&server.object(&format!("v1/dump/{id}")).unwrap(), dump);
    }
    let logs = collector.logs();
    assert!(
        !logs.iter().any(|line| line.contains("spooled")),
        "{logs:?}"
    );
}

/// A refusal from S3 reaches the start-up log as S3 answered it.
#[test]
fn wrong_credentials_refuse_start_with_s3s_answer() {
    let server = S3Server::start();
    let mut env = server.env();
    env.push((
        "CRASHMOVER_CRASHSTORAGE_SECRET_ACCESS_KEY",
        "not-the-secret".into(),
    ));
    let line = refused_line(&env);
    assert!(line.contains("HeadBucket: 403 Forbidden"), "{line}");
}

#[test]
fn s3_outage_is_ridden_out_in_the_spool() {
    let mut server = S3Server::start();
    let collector = start_with(
        &server,
        &[
            ("CRASHMOVER_MAX_ATTEMPTS", "3"),
            ("CRASHMOVER_RETRY_SLEEP_SECONDS", "0.1"),
        ],
    );
    let annotations = json!({"ProductName": "Firefox"});
    let mut answered = vec![collector.send(&crash(&annotations, b"before")).crash_id()];

    // S3 down: crashes are spooled and answered at once, never 500.
    server.stop();
    for i in 0..5 {
        let dump = format!("during {i}").into_bytes();
        let started = Instant::now();
        let id = collector.send(&crash(&annotations, &dump)).crash_id();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let spooled = format!("{id} spooled");
        assert!(collector.logs_with(&spooled).contains(&spooled));
        answered.push(id);
    }
    let heartbeat = collector.send(&raw("GET /__heartbeat__ HTTP/1.1\r\nHost: x", b""));
    assert_eq!(heartbeat.status, 503);
    assert!(
        heartbeat.text().contains("S3CrashStorage"),
        "{}",
        heartbeat.text()
    );
    let info: Value = serde_json::from_slice(&heartbeat.body).unwrap();
    assert_eq!(info["info"]["spool"]["crashes"], 5, "{info}");

    // S3 back: the drainer moves every spooled crash to the bucket; nothing was dropped.
    server.restart();
    answered.push(collector.send(&crash(&annotations, b"after")).crash_id());
    for id in &answered[1..6] {
        let unspooled = format!("{id} unspooled");
        assert!(
            collector.logs_with(&unspooled).contains(&unspooled),
            "{id} never drained"
        );
    }
    assert_in_bucket(&server, &answered);
    let logs = collector.logs().join("\n");
    assert!(!logs.contains("dropped"), "{logs}");
}

#[test]
fn full_queues_and_a_full_spool_answer_503_and_memory_stays_bounded() {
    let server = S3Server::start();
    let collector = start_with(
        &server,
        &[
            ("ANTENNA_WORKERS", "2"),
            ("CRASHMOVER_CONCURRENT_CRASHMOVERS", "2"),
            ("CRASHMOVER_QUEUE_CAPACITY", "4"),
            // Smaller than one crash: a full queue cannot spill into the spool.
            ("CRASHMOVER_SPOOL_MAX_BYTES", "64KiB"),
        ],
    );
    let dump = vec![0x5a; 400 * 1024];
    let request = crash(&json!({"ProductName": "Firefox"}), &dump);
    let baseline = collector.rss_kib();
    server.pause(true);

    let addr = collector.addr;
    let threads: Vec<_> = (0..24)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                for _ in 0..10 {
                    let response = Client::connect(addr).send(&request);
                    let waited = response.status != 503;
                    if response.status == 503 {
                        assert_eq!(response.header("retry-after"), Some("5"));
                    }
                    answers.push(response);
                    if waited {
                        break; // this one sat in a queue until storage came back
                    }
                }
                answers
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut peak = 0;
    while Instant::now() < deadline {
        peak = peak.max(collector.rss_kib());
        std::thread::sleep(Duration::from_millis(20));
    }
    server.pause(false);
    let answers: Vec<Response> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let rejected = answers.iter().filter(|r| r.status == 503).count();
    let accepted: Vec<String> = answers
        .iter()
        .filter(|r| r.status == 200)
        .map(Response::crash_id)
        .collect();
    assert!(rejected > 50, "{rejected} answered 503");
    assert!(accepted.len() >= 4, "{} accepted", accepted.len());
    // Movers + queues hold at most 2 + 2×4 crashes of 400 KB; nothing else piles up.
    let grown_mib = peak.saturating_sub(baseline) / 1024;
    assert!(
        grown_mib < 60,
        "RSS grew {grown_mib} MiB (baseline {baseline} KiB, peak {peak} KiB)"
    );
    assert_in_bucket(&server, &accepted);
}

#[test]
fn full_queues_spill_into_the_spool_and_every_crash_arrives() {
    let server = S3Server::start();
    let collector = start_with(
        &server,
        &[
            ("ANTENNA_WORKERS", "2"),
            ("CRASHMOVER_CONCURRENT_CRASHMOVERS", "2"),
            ("CRASHMOVER_QUEUE_CAPACITY", "2"),
        ],
    );
    // S3 takes requests and never answers: saves hang, the queues fill, the rest spills.
    server.pause(true);
    let addr = collector.addr;
    let threads: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                let dump = format!("spilled crash {i}").into_bytes();
                let request = crash(&json!({"ProductName": "Firefox"}), &dump);
                Client::connect(addr).send(&request)
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while collector.logs().join("\n").matches(" spooled").count() < 10 {
        assert!(Instant::now() < deadline, "{:?}", collector.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    server.pause(false);
    let ids: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().unwrap().crash_id())
        .collect();
    assert_eq!(ids.len(), 16);
    assert_in_bucket(&server, &ids);
}

#[test]
fn sigterm_saves_every_queued_crash_before_exit() {
    let server = S3Server::start();
    let mut collector = start_with(&server, &[("CRASHMOVER_CONCURRENT_CRASHMOVERS", "2")]);
    server.pause(true);
    let addr = collector.addr;
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let dump = format!("queued crash {i}").into_bytes();
                Client::connect(addr).send(&crash(&json!({"ProductName": "Firefox"}), &dump))
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while collector.logs().join("\n").matches(" received").count() < 8 {
        assert!(Instant::now() < deadline, "crashes did not arrive");
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &collector.child.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(300));
    server.pause(false);
    let ids: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().unwrap().crash_id())
        .collect();
    let status = collector.terminate();
    assert!(status.success(), "{status:?}");
    assert_in_bucket(&server, &ids);
}
