//! Many clients at once, and hostile ones beside good ones.

mod support;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

fn crash_body(i: usize) -> (Vec<u8>, Vec<u8>) {
    let dump = format!("MDMP crash number {i} ")
        .repeat(50 + i)
        .into_bytes();
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .field("Sequence", &i.to_string())
        .dump("upload_file_minidump", &dump)
        .build();
    (body, dump)
}

#[test]
fn two_hundred_crashes_from_sixteen_connections() {
    let collector = Collector::start(&[]);
    let addr = collector.addr;
    let threads: Vec<_> = (0..16)
        .map(|connection| {
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                (0..200)
                    .filter(|i| i % 16 == connection)
                    .map(|i| {
                        let (body, dump) = crash_body(i);
                        let request = if i % 3 == 0 {
                            post(&gzip(&body), "Content-Encoding: gzip\r\n")
                        } else {
                            post(&body, "")
                        };
                        (client.send(&request).crash_id(), i, dump)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(results.len(), 200);
    let ids: HashSet<_> = results.iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(ids.len(), 200, "crash ids must be distinct");
    for (id, i, dump) in &results {
        let raw = collector.raw_crash(id);
        assert_eq!(raw["Sequence"], i.to_string());
        assert_eq!(collector.stored(id).len(), 3);
        assert_eq!(&collector.dump("upload_file_minidump", id), dump);
    }
    assert_eq!(collector.all_files().len(), 600);
}

#[test]
fn garbage_and_stalled_clients_do_not_disturb_others() {
    let collector = Collector::start(&[("ANTENNA_BODY_TIMEOUT_SECONDS", "2")]);
    let addr = collector.addr;

    // A client that stalls mid-body: it announces 100 KB, sends 10 KB, then goes silent.
    let mut staller = TcpStream::connect(addr).unwrap();
    let (body, _) = crash_body(1);
    let head = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: 100000\r\n\r\n",
        content_type()
    );
    staller.write_all(head.as_bytes()).unwrap();
    staller.write_all(&body[..body.len().min(10_000)]).unwrap();

    // A client that streams garbage without end (bounded here: 4 MB over a few seconds).
    let garbage = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
            content_type()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let chunk = [b'#'; 8192];
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut sent = 0;
        while Instant::now() < deadline && sent < 4 << 20 {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if stream.write_all(&frame).is_err() {
                break;
            }
            sent += chunk.len();
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    });

    // Meanwhile, valid crashes keep being accepted and stored.
    let mut client = collector.client();
    for i in 0..20 {
        let (body, dump) = crash_body(100 + i);
        let id = client.send(&post(&body, "")).crash_id();
        assert_eq!(collector.dump("upload_file_minidump", &id), dump);
        std::thread::sleep(Duration::from_millis(50));
    }

    let answer = garbage.join().unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400")
            && answer.ends_with("Discarded=malformed_invalid_payload_structure"),
        "{answer}"
    );

    // The staller is answered 408 once its body has been silent for the idle timeout.
    staller
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = staller.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
}

#[test]
fn slow_request_head_is_cut_off() {
    let collector = Collector::start(&[("ANTENNA_HEADER_TIMEOUT_SECONDS", "1")]);
    let mut slow = TcpStream::connect(collector.addr).unwrap();
    slow.write_all(b"POST /submit HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    assert!(started.elapsed() < Duration::from_secs(5));
    // The collector is still serving.
    let (body, _) = crash_body(7);
    collector.send(&post(&body, "")).crash_id();
}
