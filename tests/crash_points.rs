//! Crash points (SPEC §9): the collector is aborted between each step of a spool write and
//! of a drain (the `fault-injection` build's `ANTENNA_FAULT_POINT`); after a restart nothing
//! answered is lost and no crash is stored with other bytes than the client sent.
//!
//! Needs the `fault-injection` feature, which `scripts/test.sh` (the README's test command)
//! turns on; without it these tests fail rather than pass without checking anything.

mod support;

use std::process::Child;
use std::time::{Duration, Instant};

use support::s3::S3Server;
use support::*;

fn require_fault_injection() {
    #[cfg(not(feature = "fault-injection"))]
    panic!("these tests need the fault-injection feature: run scripts/test.sh");
}

fn crash(dump: &[u8]) -> Vec<u8> {
    post(
        &Multipart::new()
            .field("ProductName", "Firefox")
            .dump("upload_file_minidump", dump)
            .build(),
        "",
    )
}

fn wait_for_exit(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "collector did not die at its fault point"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The dump stored for `id`, waiting (bounded) for the drainer.
fn stored_dump(server: &S3Server, id: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(bytes) = server.object(&format!("v1/dump/{id}")) {
            return bytes;
        }
        assert!(Instant::now() < deadline, "{id} lost");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn env_with(
    server: &S3Server,
    spool: &TempDir,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut env = server.env();
    env.push(("CRASHMOVER_SPOOL_DIR", spool.0.display().to_string()));
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn spool_writes_killed_at_each_step() {
    require_fault_injection();
    for point in ["spool.written", "spool.synced", "spool.renamed"] {
        let mut server = S3Server::start();
        let spool = TempDir::new();
        let faulty = env_with(&server, &spool, &[("ANTENNA_FAULT_POINT", point)]);
        let mut collector = Collector::start(&pairs(&faulty));
        let saved = collector
            .send(&crash(b"MDMP saved before the outage"))
            .crash_id();

        // S3 down: the next crash goes to the spool, and the process dies mid-write.
        server.stop();
        let dump = format!("MDMP spooled, killed at {point}").into_bytes();
        let answer = Client::connect(collector.addr).try_send(&crash(&dump));
        assert!(
            answer.is_none(),
            "{point}: answered {answer:?} before dying"
        );
        wait_for_exit(&mut collector.child);

        server.restart();
        let restarted = Collector::start(&pairs(&env_with(&server, &spool, &[])));
        assert_eq!(
            stored_dump(&server, &saved),
            b"MDMP saved before the outage"
        );
        let tmp_left = std::fs::read_dir(spool.0.join("tmp")).unwrap().count();
        assert_eq!(
            tmp_left, 0,
            "{point}: unfinished writes are removed at start-up"
        );
        // Never answered, so the client keeps it; if the entry was complete it is drained
        // anyway, and then with exactly the bytes sent.
        let drained = point == "spool.renamed";
        if drained {
            let logs = restarted.logs_with("unspooled");
            assert!(logs.contains("unspooled"), "{point}: {logs}");
        }
        std::thread::sleep(Duration::from_millis(300));
        for key in server.keys().iter().filter(|k| k.starts_with("v1/dump/")) {
            let bytes = server.object(key).unwrap();
            assert!(
                bytes == b"MDMP saved before the outage" || bytes == dump,
                "{point}: {key} stored with other bytes"
            );
        }
        let dumps = server
            .keys()
            .iter()
            .filter(|k| k.starts_with("v1/dump/"))
            .count();
        assert_eq!(dumps, if drained { 2 } else { 1 }, "{point}");
        // A row of loadtest/faults.sh's table: one crash answered (before the outage), none
        // lost; the unanswered one drained only when its entry was complete.
        eprintln!("FAULTS|killed at {point}|1|0|0|{}|-", u8::from(drained));
    }
}

#[test]
fn drains_killed_at_each_step() {
    require_fault_injection();
    for point in ["drain.saved", "drain.removed"] {
        let mut server = S3Server::start();
        let spool = TempDir::new();
        let plain = env_with(&server, &spool, &[]);
        let collector = Collector::start(&pairs(&plain));
        server.stop();
        let dumps: Vec<Vec<u8>> = (0..3)
            .map(|i| format!("MDMP spooled {i} before {point}").into_bytes())
            .collect();
        let ids: Vec<String> = dumps
            .iter()
            .map(|dump| collector.send(&crash(dump)).crash_id())
            .collect();
        drop(collector); // SIGKILL with three crashes in the spool

        // Restarted with S3 back, the drainer dies at `point` after its first save.
        server.restart();
        let data = TempDir::new();
        let faulty = env_with(&server, &spool, &[("ANTENNA_FAULT_POINT", point)]);
        let (mut child, _logs) = spawn(&pairs(&faulty), &data.0);
        wait_for_exit(&mut child);

        // Restarted again: everything answered is stored, with the bytes sent.
        let restarted = Collector::start(&pairs(&plain));
        let started = Instant::now();
        for (id, dump) in ids.iter().zip(&dumps) {
            assert_eq!(&stored_dump(&server, id), dump, "{point}: {id}");
        }
        let drain = started.elapsed().as_secs_f64();
        eprintln!(
            "FAULTS|killed at {point}|{}|0|0|{}|{drain:.1}",
            ids.len(),
            ids.len()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::read_dir(spool.0.join("crashes")).unwrap().count() > 0 {
            assert!(Instant::now() < deadline, "{point}: spool never emptied");
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(restarted);
    }
}
