//! Accepted crashes over real sockets: what is answered and what lands on disk.

mod support;

use serde_json::{json, Value};
use support::*;

const DUMP: &str = "minidumps/breakpad__minidump_crashpad_annotation.dmp";

fn annotations() -> Value {
    json!({"ProductName": "Firefox", "Version": "133.0", "ReleaseChannel": "nightly"})
}

/// The stored dump and raw crash of one submission, checked against what was sent.
fn assert_stored(
    collector: &Collector,
    crash_id: &str,
    dump: &[u8],
    wire_size: usize,
    compressed: &str,
) {
    // The paths are spelled out here (not asked of `FsLayout`): this is the check that the
    // layout is Antenna's (SPEC §4).
    let files = collector.stored(crash_id);
    let date = format!("20{}", &crash_id[30..]);
    let dump_path = format!("{date}/upload_file_minidump/{crash_id}");
    assert_eq!(files.len(), 3, "{:?}", files.keys());
    assert!(
        files[&dump_path] == dump,
        "stored dump differs from the file sent"
    );
    assert_eq!(
        files[&format!("{date}/dump_names/{crash_id}.json")],
        br#"["upload_file_minidump"]"#
    );
    let raw = collector.raw_crash(crash_id);
    assert_eq!(raw["uuid"], crash_id);
    assert_eq!(raw["version"], 2);
    assert_eq!(raw["ProductName"], "Firefox");
    let metadata = &raw["metadata"];
    assert_eq!(
        metadata["dump_checksums"]["upload_file_minidump"],
        sha256_hex(dump)
    );
    assert_eq!(metadata["payload_size"], wire_size);
    assert_eq!(metadata["payload_compressed"], compressed);
    assert_eq!(metadata["payload"], "multipart");
    assert_eq!(metadata["throttle_rule"], "accept_everything");
    let timestamp = raw["submitted_timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with("+00:00") && timestamp.len() >= 25,
        "{timestamp}"
    );
    assert_eq!(
        &timestamp[2..4],
        &crash_id[30..32],
        "id date is the submission date"
    );
}

#[test]
fn real_minidump_plain_gzip_and_chunked_round_trip() {
    let collector = Collector::start(&[]);
    let dump = corpus(DUMP);
    let body = Multipart::new()
        .fields(&annotations())
        .dump("upload_file_minidump", &dump)
        .build();
    let compressed = gzip(&body);

    let plain = collector.send(&post(&body, "")).crash_id();
    assert_stored(&collector, &plain, &dump, body.len(), "0");

    let gzipped = collector
        .send(&post(&compressed, "Content-Encoding: gzip\r\n"))
        .crash_id();
    assert_stored(&collector, &gzipped, &dump, compressed.len(), "1");

    let chunked = collector.send(&post_chunked(&body, 4000, "")).crash_id();
    assert_stored(&collector, &chunked, &dump, body.len(), "0");

    let chunked_gzip = collector
        .send(&post_chunked(
            &compressed,
            1000,
            "Content-Encoding: GZIP\r\n",
        ))
        .crash_id();
    assert_stored(&collector, &chunked_gzip, &dump, compressed.len(), "1");

    let logs = collector.logs_with(&format!("{chunked_gzip} saved"));
    for id in [&plain, &gzipped, &chunked, &chunked_gzip] {
        assert!(logs.contains(&format!("{id} received")), "{logs}");
        assert!(logs.contains(&format!("{id} saved")), "{logs}");
    }
}

#[test]
fn raw_crash_bytes_are_python_json_dumps_compatible() {
    let collector = Collector::start(&[]);
    let unicode = corpus_annotations("unicode_and_long");
    let body = Multipart::new()
        .fields(&unicode)
        .dump("upload_file_minidump", b"abcd1234")
        .build();
    let id = collector.send(&post(&body, "")).crash_id();
    let bytes = &collector.raw_crash_bytes(&id);
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.is_ascii(), "non-ASCII must be escaped");
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(antenna::pyjson::to_string(&parsed), text);
    assert!(text.starts_with("{\"") && text.contains("\", \"") && text.contains("\": "));
    for (key, value) in unicode.as_object().unwrap() {
        assert_eq!(&parsed[key], value, "{key}");
    }
    assert_eq!(
        parsed["metadata"]["dump_checksums"]["upload_file_minidump"],
        "e9cee71ab932fde863338d08be4de9dfe39ea049bdafb342ce659ec5450b69ae"
    );
}

#[test]
fn extra_json_style_keeps_json_types() {
    let collector = Collector::start(&[]);
    let extra =
        json!({"ProductName": "Firefox", "Version": "1", "Count": 3, "Nested": {"a": [1.5, null]}});
    let body = Multipart::new()
        .json(&extra)
        .dump("upload_file_minidump", b"MDMP")
        .build();
    let id = collector.send(&post(&body, "")).crash_id();
    let raw = collector.raw_crash(&id);
    assert_eq!(raw["Count"], 3);
    assert_eq!(raw["Nested"], json!({"a": [1.5, null]}));
    assert_eq!(raw["metadata"]["payload"], "json");
    assert_eq!(raw["metadata"]["collector_notes"], json!([]));

    let mixed = Multipart::new().json(&extra).field("Version", "2").build();
    let id = collector.send(&post(&mixed, "")).crash_id();
    let raw = collector.raw_crash(&id);
    assert_eq!(raw["Version"], "2");
    assert_eq!(
        raw["metadata"]["collector_notes"],
        json!(["includes annotations in both json-encoded extra and formdata parts"])
    );
}

#[test]
fn several_dumps_in_one_report() {
    let collector = Collector::start(&[]);
    let main = corpus("minidumps/linux-mini.dmp");
    let browser = corpus("minidumps/simple-crashpad.dmp");
    let body = Multipart::new()
        .fields(&annotations())
        .dump("upload_file_minidump", &main)
        .dump("upload_file_minidump_browser", &browser)
        .part(
            "Content-Disposition: form-data; name=\"memory_report\"; filename=\"memory-report.json.gz\"\r\nContent-Type: application/x-gzip",
            b"\x1f\x8bnot really",
        )
        .build();
    let id = collector.send(&post(&body, "")).crash_id();
    assert_eq!(collector.dump("upload_file_minidump", &id), main);
    assert_eq!(collector.dump("upload_file_minidump_browser", &id), browser);
    assert_eq!(collector.dump("memory_report", &id), b"\x1f\x8bnot really");
    assert_eq!(
        std::fs::read(collector.layout().dump_names(&id)).unwrap(),
        br#"["memory_report", "upload_file_minidump", "upload_file_minidump_browser"]"#
    );
    let raw = collector.raw_crash(&id);
    let checksums = raw["metadata"]["dump_checksums"].as_object().unwrap();
    assert_eq!(checksums.len(), 3);
    assert_eq!(
        checksums["upload_file_minidump_browser"],
        sha256_hex(&browser)
    );
    assert_eq!(
        raw["metadata"]["collector_notes"],
        json!(["unknown content type: memory_report application/x-gzip"])
    );
}

#[test]
fn personal_fields_are_removed_with_notes() {
    let collector = Collector::start(&[]);
    let mut fields = corpus_annotations("firefox_desktop_release");
    fields["TelemetrySessionId"] = json!("s-1");
    let body = Multipart::new()
        .fields(&fields)
        .dump("upload_file_minidump", b"MDMP")
        .build();
    let id = collector.send(&post(&body, "")).crash_id();
    let raw = collector.raw_crash(&id);
    for field in ["Email", "TelemetryClientId", "TelemetrySessionId"] {
        assert!(raw.get(field).is_none(), "{field} stored");
    }
    assert_eq!(
        raw["metadata"]["collector_notes"],
        json!([
            "Removed Email from raw crash.",
            "Removed TelemetryClientId from raw crash.",
            "Removed TelemetrySessionId from raw crash."
        ])
    );
    let stored = String::from_utf8(collector.raw_crash_bytes(&id)).unwrap();
    assert!(!stored.contains("someone@example.com"));
}

#[test]
fn crashpad_style_request_is_taken_as_is() {
    // What a real Crashpad handler sends: gzip, chunked, no Content-Length, a `guid` query
    // and field, and a dump part with a filename but no Content-Type.
    let collector = Collector::start(&[]);
    let dump = corpus("minidumps/simple-crashpad.dmp");
    let body = Multipart::new()
        .fields(&annotations())
        .field("guid", "8e0b26c1-5c3b-4c1e-9f35-d2e1e8a2c0de")
        .part(
            "Content-Disposition: form-data; name=\"upload_file_minidump\"; filename=\"8e0b26c1.dmp\"",
            &dump,
        )
        .build();
    let compressed = gzip(&body);
    let request = post_chunked(
        &compressed,
        8192,
        "Content-Encoding: gzip\r\nUser-Agent: Crashpad/0.8.0\r\n",
    );
    let id = collector.send(&request).crash_id();
    let raw = collector.raw_crash(&id);
    assert_eq!(raw["guid"], "8e0b26c1-5c3b-4c1e-9f35-d2e1e8a2c0de");
    assert_eq!(raw["metadata"]["user_agent"], "Crashpad/0.8.0");
    assert_eq!(
        raw["metadata"]["collector_notes"],
        json!(["unknown content type: upload_file_minidump text/plain"])
    );
    assert_eq!(collector.dump("upload_file_minidump", &id), dump);
}

#[test]
fn mozilla_rules_fake_accept_and_reject() {
    let collector = Collector::start(&[("BREAKPAD_THROTTLER_RULES", "mozilla")]);
    let b2g = Multipart::new()
        .fields(&corpus_annotations("b2g"))
        .dump("upload_file_minidump", b"x")
        .build();
    let id = collector.send(&post(&b2g, "")).crash_id();
    assert_eq!(&id[29..30], "3", "FAKEACCEPT digit");

    let unsupported = Multipart::new()
        .fields(&corpus_annotations("unsupported_product"))
        .dump("upload_file_minidump", b"x")
        .build();
    let response = collector.send(&post(&unsupported, ""));
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "Discarded=rule_unsupported_product");

    let old = Multipart::new()
        .fields(&corpus_annotations("old_buildid"))
        .build();
    assert_eq!(
        collector.send(&post(&old, "")).text(),
        "Discarded=rule_has_old_buildid"
    );

    let always = Multipart::new()
        .fields(&corpus_annotations("firefox_about_crashes"))
        .dump("upload_file_minidump", b"x")
        .build();
    let kept = collector.send(&post(&always, "")).crash_id();
    assert_eq!(&kept[29..30], "0");
    assert_eq!(
        collector.raw_crash(&kept)["metadata"]["throttle_rule"],
        "throttleable_0"
    );

    // Only the accepted crash is on disk.
    let files = collector.all_files();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().all(|f| f.contains(&kept)));
}

#[test]
fn submitter_may_choose_the_crash_id_with_its_token() {
    let collector = Collector::start(&[("BREAKPAD_STAGE_SUBMITTER_BEARER_TOKEN", "s3cret")]);
    let chosen = "de1bb258-cbbf-4589-a673-34f801241124";
    let body = Multipart::new()
        .fields(&annotations())
        .field("uuid", chosen)
        .build();
    let id = collector
        .send(&post(&body, "Authorization: Bearer s3cret\r\n"))
        .crash_id();
    assert_eq!(id, chosen);
    let raw = collector.raw_crash(chosen);
    assert_eq!(raw["uuid"], chosen);
    assert!(collector.crash_root().join("20241124/raw_crash").exists());
}

#[test]
fn operator_rule_file_decides() {
    let dir = TempDir::new();
    let rules = dir.0.join("rules.toml");
    std::fs::write(
        &rules,
        r#"
[[rule]]
name = "drop_netscape"
when = [{ key = "ProductName", equals = "Netscape" }]
result = "REJECT"

[[rule]]
name = "defer_nightly"
when = [{ key = "ReleaseChannel", starts_with = "nightly" }]
result = "DEFER"

[[rule]]
name = "keep_the_rest"
result = "ACCEPT"
"#,
    )
    .unwrap();
    let collector = Collector::start(&[("BREAKPAD_THROTTLER_RULES", rules.to_str().unwrap())]);
    let rejected = collector.send(&post(
        &Multipart::new().field("ProductName", "Netscape").build(),
        "",
    ));
    assert_eq!(rejected.text(), "Discarded=rule_drop_netscape");
    let deferred = collector
        .send(&post(&Multipart::new().fields(&annotations()).build(), ""))
        .crash_id();
    assert_eq!(&deferred[29..30], "1", "DEFER digit");
    assert_eq!(
        collector.raw_crash(&deferred)["metadata"]["throttle_rule"],
        "defer_nightly"
    );
    let kept = collector
        .send(&post(
            &Multipart::new().field("ProductName", "Firefox").build(),
            "",
        ))
        .crash_id();
    assert_eq!(&kept[29..30], "0");
    assert!(collector
        .logs()
        .join("\n")
        .contains(&format!("BREAKPAD_THROTTLER_RULES={}", rules.display())));
}

#[test]
fn expect_100_continue_is_honoured() {
    // libcurl-based reporters send `Expect: 100-continue` for large uploads and wait for the
    // interim answer before sending the body.
    use std::io::{BufRead, BufReader, Write};
    let collector = Collector::start(&[("ANTENNA_MAX_CRASH_SIZE", "4MiB")]);
    let dump = vec![0x42; 2 << 20];
    let body = Multipart::new()
        .fields(&annotations())
        .dump("upload_file_minidump", &dump)
        .build();
    let head = |length: usize| {
        format!(
            "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {}\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n",
            content_type()
        )
    };
    let mut client = collector.client();
    client
        .stream
        .write_all(head(body.len()).as_bytes())
        .unwrap();
    let mut interim = String::new();
    let mut reader = BufReader::new(client.stream.try_clone().unwrap());
    reader.read_line(&mut interim).unwrap();
    assert_eq!(interim.trim_end(), "HTTP/1.1 100 Continue");
    let mut blank = String::new();
    reader.read_line(&mut blank).unwrap();
    drop(reader);
    client.stream.write_all(&body).unwrap();
    let id = client.read_response().unwrap().crash_id();
    assert_eq!(collector.dump("upload_file_minidump", &id), dump);

    // Too large by its Content-Length: refused at once, before any body is sent.
    let mut client = collector.client();
    client.stream.write_all(head(5 << 20).as_bytes()).unwrap();
    let refused = client.read_response().unwrap();
    assert_eq!(
        (refused.status, refused.text().as_str()),
        (413, "Discarded=malformed_too_large")
    );
}

#[test]
fn answer_headers_are_title_case() {
    use std::io::{Read, Write};
    let collector = Collector::start(&[]);
    let mut stream = std::net::TcpStream::connect(collector.addr).unwrap();
    let body = Multipart::new()
        .field("ProductName", "Firefox")
        .dump("upload_file_minidump", b"MDMP")
        .build();
    stream
        .write_all(&post(&body, "Connection: close\r\n"))
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    // Crashpad's socket transport finds the length by this exact spelling.
    assert!(answer.contains("\r\nContent-Length: "), "{answer}");
    assert!(answer.contains("\r\nContent-Type: text/plain"), "{answer}");
}
