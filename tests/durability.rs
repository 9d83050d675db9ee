//! SPEC §9, proven by killing the collector at the worst moment: every crash answered
//! `CrashID=` is in storage afterwards, byte-identical to what the client sent.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::s3::S3Server;
use support::*;

/// Answered crash id → SHA-256 of the dump the client sent.
type Answered = Arc<Mutex<HashMap<String, String>>>;

/// 5xx answers seen by the load.
static SERVER_ERRORS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One row of `loadtest/faults.sh`'s table (it collects the `FAULTS|` lines).
fn report(scenario: &str, answered: usize, lost: usize, spooled: usize, drain: Duration) {
    let five_xx = SERVER_ERRORS.load(Ordering::Relaxed);
    eprintln!(
        "FAULTS|{scenario}|{answered}|{lost}|{five_xx}|{spooled}|{:.1}",
        drain.as_secs_f64()
    );
}

/// `threads` clients posting unique crashes until `stop` (or 400 each), recording every
/// `CrashID=` answer. A broken connection (the collector was killed) ends a client.
fn load(
    addr: SocketAddr,
    threads: usize,
    stop: &Arc<AtomicBool>,
) -> (Answered, Vec<std::thread::JoinHandle<()>>) {
    let answered: Answered = Arc::default();
    let handles = (0..threads)
        .map(|thread| {
            let (answered, stop) = (Arc::clone(&answered), Arc::clone(stop));
            std::thread::spawn(move || {
                for n in 0..MAX_PER_CLIENT {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut dump = format!("MDMP thread {thread} crash {n} ").into_bytes();
                    dump.resize(20_000 + n * 7, (thread * 31 + n) as u8);
                    let body = Multipart::new()
                        .field("ProductName", "Firefox")
                        .dump("upload_file_minidump", &dump)
                        .build();
                    let Some(mut client) = Client::try_connect(addr) else {
                        return;
                    };
                    let Some(response) = client.try_send(&post(&body, "")) else {
                        return;
                    };
                    if response.status == 200 {
                        answered
                            .lock()
                            .unwrap()
                            .insert(response.crash_id(), sha256_hex(&dump));
                    } else if response.status >= 500 {
                        SERVER_ERRORS.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    (answered, handles)
}

/// Crashes each load client sends at most (the load stops by itself).
const MAX_PER_CLIENT: usize = 20_000;

fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kill_9_during_an_s3_outage_loses_nothing_answered() {
    let mut server = S3Server::start();
    let spool = TempDir::new();
    let spool_dir = spool.0.display().to_string();
    let mut env = server.env();
    env.push(("CRASHMOVER_SPOOL_DIR", spool_dir));
    env.push(("CRASHMOVER_RETRY_SLEEP_SECONDS", "0.1".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut collector = Collector::start(&pairs);

    let stop = Arc::new(AtomicBool::new(false));
    let (answered, clients) = load(collector.addr, 6, &stop);
    wait_for("crashes before the outage", Duration::from_secs(20), || {
        answered.lock().unwrap().len() >= 30
    });
    server.stop();
    let before_outage = answered.lock().unwrap().len();
    wait_for(
        "crashes spooled during the outage",
        Duration::from_secs(20),
        || answered.lock().unwrap().len() >= before_outage + 40,
    );
    // The worst moment: storage down, crashes being spooled, clients mid-request.
    collector.child.kill().unwrap();
    collector.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let spooled = collector.logs().join("\n").matches(" spooled").count();
    assert!(spooled >= 40, "{spooled} spooled");

    server.restart();
    let restarted = Collector::start(&pairs);
    let answered = answered.lock().unwrap().clone();
    let drain = assert_all_in_bucket(&server, &answered);
    let logs = restarted.logs_with("unspooled");
    assert!(logs.contains("unspooled"), "{logs}");
    report(
        "kill -9 during S3 outage",
        answered.len(),
        0,
        spooled,
        drain,
    );
}

/// Every answered crash reaches the bucket with the bytes sent (waiting, bounded, for the
/// drainer); returns how long that took.
fn assert_all_in_bucket(server: &S3Server, answered: &HashMap<String, String>) -> Duration {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let mut lost = Vec::new();
    for (id, sha) in answered {
        let key = format!("v1/dump/{id}");
        let stored = loop {
            if let Some(stored) = server.object(&key) {
                break Some(stored);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        match stored {
            Some(stored) => assert_eq!(&sha256_hex(&stored), sha, "{id} stored with other bytes"),
            None => lost.push(id.clone()),
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} answered crashes lost",
        lost.len(),
        answered.len()
    );
    started.elapsed()
}

#[test]
fn s3_down_for_20_seconds_under_load_answers_no_5xx_and_loses_nothing() {
    let mut server = S3Server::start();
    let spool = TempDir::new();
    let mut env = server.env();
    env.push(("CRASHMOVER_SPOOL_DIR", spool.0.display().to_string()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let collector = Collector::start(&pairs);

    let stop = Arc::new(AtomicBool::new(false));
    let (answered, clients) = load(collector.addr, 4, &stop);
    std::thread::sleep(Duration::from_secs(2));
    server.stop();
    std::thread::sleep(Duration::from_secs(20));
    server.restart();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    let spooled = collector.logs().join("\n").matches(" spooled").count();
    assert!(
        spooled > 0,
        "nothing was spooled: the outage was not exercised"
    );
    let drain = assert_all_in_bucket(&server, &answered);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(spool.0.join("crashes")).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "spool never emptied");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        SERVER_ERRORS.load(Ordering::Relaxed),
        0,
        "5xx answers during the outage"
    );
    report("S3 down 20 s under load", answered.len(), 0, spooled, drain);
}

#[test]
fn kill_9_with_fs_storage_loses_nothing_answered() {
    let root = TempDir::new();
    let root_dir = root.0.display().to_string();
    let env = [("CRASHMOVER_CRASHSTORAGE_FS_ROOT", root_dir.as_str())];
    let mut collector = Collector::start(&env);
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, clients) = load(collector.addr, 6, &stop);
    wait_for("crashes", Duration::from_secs(20), || {
        answered.lock().unwrap().len() >= 100
    });
    collector.child.kill().unwrap();
    collector.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let layout = antenna::storage::fs::FsLayout::new(&root.0);
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= 100);
    report(
        "kill -9 with fs storage",
        answered.len(),
        0,
        0,
        Duration::ZERO,
    );
    for (id, sha) in &answered {
        let stored = std::fs::read(layout.dump("upload_file_minidump", id))
            .unwrap_or_else(|e| panic!("{id} lost: {e}"));
        assert_eq!(&sha256_hex(&stored), sha, "{id} stored with other bytes");
        assert!(layout.raw_crash(id).exists(), "{id} has no raw crash");
    }
}

#[test]
fn fs_saves_are_synced_before_the_answer() {
    use antenna::app;
    use antenna::config::Config;
    use antenna::metrics::Metrics;
    use antenna::publish::NonePublisher;
    use antenna::storage::fs::FsStorage;

    let dir = TempDir::new();
    for fsync in [true, false] {
        let root = dir.0.join(format!("fsync-{fsync}"));
        let env: HashMap<String, String> = [
            ("BREAKPAD_THROTTLER_RULES", "accept_all"),
            (
                "CRASHMOVER_SPOOL_DIR",
                &dir.0.join("spool").display().to_string(),
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::from(&env).unwrap();
        let storage = Arc::new(FsStorage::new(&root, fsync));
        let runtime = app::movers_runtime(&config).unwrap();
        let collector = app::build(
            &config,
            runtime,
            storage.clone(),
            Arc::new(NonePublisher),
            Metrics::disabled(),
        )
        .unwrap();
        let syncs_at_start = storage.syncs();
        let queue = collector.app.submitter.save_queue(0);
        let body = Multipart::new()
            .field("ProductName", "Firefox")
            .dump("upload_file_minidump", b"MDMP synced")
            .build();
        let request = http::Request::post("/submit")
            .header("content-type", content_type())
            .header("content-length", body.len())
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let answer = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(collector.app.submitter.handle(request, None, &queue));
        assert_eq!(answer.status(), 200);
        // The answer exists only now; a sync that covers the crash has already completed.
        let syncs = storage.syncs() - syncs_at_start;
        if fsync {
            assert!(syncs >= 1, "no sync before the answer");
        } else {
            assert_eq!(syncs, 0);
        }
        collector.shutdown();
    }
}
