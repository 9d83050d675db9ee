//! What real crash reporters send beyond Antenna (SPEC §2 "What real reporters send"), over
//! real sockets: Crashpad's socket transport replayed byte for byte, bare minidump bodies,
//! compressed dump parts, Electron's nested form, and what the HTTP layer refuses.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;
use support::*;

const DUMP: &str = "minidumps/breakpad__minidump_crashpad_annotation.dmp";

#[test]
fn crashpad_socket_transport_replayed_byte_for_byte() {
    let collector = Collector::start(&[]);
    let dump = corpus(DUMP);
    assert!(dump.len() > 64 * 1024, "several 32 KiB chunks");
    let form = crashpad::form(&dump);
    let content_type = format!("multipart/form-data; boundary={}", crashpad::BOUNDARY);
    let compressed = gzip(&form);
    for (body, headers) in [
        (&form, vec![("Content-Type", content_type.as_str())]),
        (
            &compressed,
            vec![
                ("Content-Type", content_type.as_str()),
                ("Content-Encoding", "gzip"),
            ],
        ),
    ] {
        let mut stream = TcpStream::connect(collector.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .write_all(&crashpad::socket_transport_request(body, &headers))
            .unwrap();
        let (answer, closed) = crashpad::read_answer(stream);
        assert!(closed, "the connection closes after the answer");
        let id = answer
            .strip_prefix("CrashID=bp-")
            .and_then(|rest| rest.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("{answer:?}"));
        assert!(
            collector.dump("upload_file_minidump", id) == dump,
            "stored byte-identical"
        );
        let raw = collector.raw_crash(id);
        assert_eq!(raw["ProductName"], "Chrome_Android");
        assert_eq!(
            raw["metadata"]["dump_checksums"]["upload_file_minidump"],
            sha256_hex(&dump)
        );
    }
    // Other HTTP/1.0 requests behave as before: answered, then closed.
    let mut client = collector.client();
    let health = client.send(b"GET /__lbheartbeat__ HTTP/1.0\r\n\r\n");
    assert_eq!(health.status, 200);
    assert!(client.read_response().is_none(), "HTTP/1.0 closes");
}

/// A `POST /submit{query}` whose whole body is `body`, with `extra` header lines.
fn post_raw(query: &str, content_type: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut request = format!(
        "POST /submit{query} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

#[test]
fn bare_minidump_bodies_take_annotations_from_the_query() {
    let collector = Collector::start(&[]);
    let dump = corpus(DUMP);
    let query = "?ProductName=Firefox&Version=133.0&Comments=it%20crashed+again&Version=134.0";
    for (content_type, body, extra, compressed) in [
        ("application/octet-stream", dump.clone(), "", "0"),
        (
            "application/x-dmp",
            gzip(&dump),
            "Content-Encoding: gzip\r\n",
            "1",
        ),
        ("application/x-minidump", dump.clone(), "", "0"),
    ] {
        let id = collector
            .send(&post_raw(query, content_type, &body, extra))
            .crash_id();
        assert!(collector.dump("upload_file_minidump", &id) == dump);
        let raw = collector.raw_crash(&id);
        assert_eq!(raw["ProductName"], "Firefox");
        assert_eq!(raw["Version"], "134.0", "the last of repeated names wins");
        assert_eq!(raw["Comments"], "it crashed again");
        assert_eq!(raw["metadata"]["payload"], "raw");
        assert_eq!(raw["metadata"]["payload_compressed"], compressed);
        assert_eq!(
            raw["metadata"]["dump_checksums"]["upload_file_minidump"],
            sha256_hex(&dump)
        );
    }
    // Not a minidump, or no annotations: refused with the usual reasons.
    let not_a_dump = collector.send(&post_raw(
        query,
        "application/octet-stream",
        b"PK\x03\x04",
        "",
    ));
    assert_eq!(not_a_dump.status, 400);
    assert_eq!(not_a_dump.text(), "Discarded=malformed_wrong_content_type");
    let no_query = collector.send(&post_raw("", "application/octet-stream", &dump, ""));
    assert_eq!(no_query.text(), "Discarded=malformed_no_annotations");
}

fn form_with_dump(dump_part: &[u8]) -> Vec<u8> {
    Multipart::new()
        .fields(&json!({"ProductName": "Firefox", "Version": "133.0"}))
        .dump("upload_file_minidump", dump_part)
        .build()
}

#[test]
fn compressed_dump_parts_are_stored_decompressed() {
    let collector = Collector::start(&[("ANTENNA_MAX_CRASH_SIZE", "2000000")]);
    let dump = corpus(DUMP);
    for codec in ["gzip", "zstd", "xz", "bzip2"] {
        let body = form_with_dump(&compress(codec, &dump));
        let id = collector.send(&post(&body, "")).crash_id();
        assert!(
            collector.dump("upload_file_minidump", &id) == dump,
            "{codec}: stored bytes are the original minidump"
        );
        let raw = collector.raw_crash(&id);
        let metadata = &raw["metadata"];
        assert_eq!(
            metadata["dump_checksums"]["upload_file_minidump"],
            sha256_hex(&dump)
        );
        assert_eq!(
            metadata["collector_notes"],
            json!([format!("upload_file_minidump was {codec}-compressed")])
        );
    }
    // Inflating past the cap: 413, for every codec.
    let zeros = vec![0u8; 3_000_000];
    for codec in ["gzip", "zstd", "xz", "bzip2"] {
        let response = collector.send(&post(&form_with_dump(&compress(codec, &zeros)), ""));
        assert_eq!(response.status, 413, "{codec}");
        assert_eq!(response.text(), "Discarded=malformed_too_large");
    }
    // The magic, then garbage: stored as received, with a note.
    let fake = b"\x28\xb5\x2f\xfd garbage that is not zstd".to_vec();
    let id = collector.send(&post(&form_with_dump(&fake), "")).crash_id();
    assert_eq!(collector.dump("upload_file_minidump", &id), fake);
    let raw = collector.raw_crash(&id);
    assert_eq!(
        raw["metadata"]["collector_notes"],
        json!(["upload_file_minidump looked zstd-compressed but did not decompress"])
    );
    assert_eq!(
        raw["metadata"]["dump_checksums"]["upload_file_minidump"],
        sha256_hex(&fake)
    );
}

#[test]
fn electrons_nested_form_is_unwrapped() {
    let collector = Collector::start(&[]);
    let dump = corpus(DUMP);
    let inner = Multipart::with_boundary("----ElectronInnerBoundary7MA4YWxk")
        .field("ProductName", "Inner")
        .field("_version", "22.3.1")
        .field("platform", "linux")
        .dump("upload_file_minidump", &dump)
        .build();
    let outer = Multipart::new()
        .field("ProductName", "MyElectronApp")
        .part(
            "Content-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"blob\"\r\nContent-Type: application/octet-stream",
            &inner,
        )
        .build();
    let id = collector.send(&post(&outer, "")).crash_id();
    let raw = collector.raw_crash(&id);
    assert_eq!(raw["ProductName"], "MyElectronApp", "outer parts win");
    assert_eq!(raw["_version"], "22.3.1");
    assert_eq!(raw["platform"], "linux");
    assert!(collector.dump("upload_file_minidump", &id) == dump);
    assert_eq!(
        raw["metadata"]["collector_notes"],
        json!(["upload_file_minidump held a nested multipart form"])
    );
    assert_eq!(
        raw["metadata"]["dump_checksums"]["upload_file_minidump"],
        sha256_hex(&dump)
    );
}
