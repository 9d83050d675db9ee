//! CI's performance gate: criterion measures pairs of things on the same input in the same
//! run, and the run fails when the ratio of a pair falls below its floor. A ratio survives a
//! noisy or slow machine (both sides slow down together); an absolute time would not.
//!
//! - `multipart_vs_memmem`: the time of a bare `memmem` scan for the delimiter over a
//!   400 KB crash body, divided by the time our parser takes over the same body (owned
//!   buffer, nothing copied). 1.0 would be a parser that costs no more than finding its
//!   delimiters.
//! - `sha256_vs_submit`: the time of the SHA-256 of the crash's dump (the one pass over the
//!   bytes no collector can skip), divided by an in-process `POST /submit` of that crash
//!   (noop storage: head checks, body, multipart, extraction, throttle, digest, raw crash,
//!   queue hand-off). 1.0 would be a request path that costs nothing but the digest.
//!
//!   cargo bench --bench gate -- --warm-up-time 1 --measurement-time 3
//!
//! Floors are set well under what was measured (see each constant) so that only a real
//! regression, not noise, fails CI.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use antenna::multipart::{Limits, Next, Parser, Part};
use antenna::storage::noop::NoopStorage;
use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion};

/// Measured 0.44–0.85 over 4 runs on this 2-core VM (2026-12-02: memmem 6–8 µs, parse
/// 10–14 µs over 400 KB; the parser also reads ~30 part headers): times this short are
/// noisy here. A parser that copied its part bodies (~25 µs more) falls to ~0.2.
const MULTIPART_VS_MEMMEM_FLOOR: f64 = 0.3;
/// Measured 0.61–0.68 over 9 runs (SHA-256 ~226 µs, submit 340–370 µs).
/// Request-path work grown by ~half a digest (~110 µs) falls under the floor.
const SHA256_VS_SUBMIT_FLOOR: f64 = 0.48;

const GROUP: &str = "gate";

/// The parts, returned so that criterion frees the buffer after timing, not during.
fn parse(body: BytesMut) -> Vec<Part> {
    let limits = Limits {
        max_body: 64 << 20,
        ..Limits::default()
    };
    let mut parser = Parser::new(support::BOUNDARY, limits);
    parser.feed_buffer(body).unwrap();
    parser.finish();
    let mut parts = Vec::new();
    while let Next::Part(part) = parser.next_part().unwrap() {
        parts.push(part);
    }
    parts
}

fn measure(criterion: &mut Criterion) {
    let body = Bytes::from(support::crash_body(400 * 1024));
    let delimiter = format!("\r\n--{}", support::BOUNDARY);
    let finder = memchr::memmem::Finder::new(delimiter.as_bytes());
    let dump = support::testdata("minidumps/breakpad__minidump_crashpad_annotation.dmp");
    let dump: Vec<u8> = dump.iter().copied().cycle().take(400 * 1024).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let noop = support::collector(Arc::new(NoopStorage));
    let queue = noop.app.submitter.save_queue(0);

    let mut group = criterion.benchmark_group(GROUP);
    // Both sides get the same fresh copy of the body (same cache state), freed after timing.
    group.bench_function("memmem", |b| {
        b.iter_batched(
            || BytesMut::from(&body[..]),
            |copy| (finder.find_iter(&copy).count(), copy),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("multipart", |b| {
        b.iter_batched(|| BytesMut::from(&body[..]), parse, BatchSize::LargeInput)
    });
    group.bench_function("sha256", |b| b.iter(|| antenna::digest::sha256(&dump)));
    let submit_body = Bytes::from(support::crash_body(dump.len()));
    group.bench_function("submit", |b| {
        b.iter(|| {
            let response = runtime.block_on(noop.app.submitter.handle(
                support::request(&submit_body, false),
                None,
                &queue,
            ));
            assert_eq!(response.status(), 200);
        })
    });
    group.finish();
    noop.shutdown();
}

/// The median time, in ns, criterion recorded for `function` under `root`.
fn median_ns(root: &Path, function: &str) -> f64 {
    let path = root.join(GROUP).join(function).join("new/estimates.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let estimates: serde_json::Value = serde_json::from_str(&text).unwrap();
    estimates["median"]["point_estimate"]
        .as_f64()
        .unwrap_or_else(|| panic!("no median in {}", path.display()))
}

fn main() {
    let root: PathBuf = std::env::temp_dir().join(format!("antenna-gate-{}", std::process::id()));
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .output_directory(&root)
        .configure_from_args();
    measure(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches` runs each bench once, as a test: nothing measured to judge.
    if !root.join(GROUP).join("memmem/new/estimates.json").exists() {
        return;
    }
    let ratios = [
        (
            "multipart_vs_memmem",
            median_ns(&root, "memmem") / median_ns(&root, "multipart"),
            MULTIPART_VS_MEMMEM_FLOOR,
        ),
        (
            "sha256_vs_submit",
            median_ns(&root, "sha256") / median_ns(&root, "submit"),
            SHA256_VS_SUBMIT_FLOOR,
        ),
    ];
    let _ = std::fs::remove_dir_all(&root);
    let mut failed = false;
    for (name, ratio, floor) in ratios {
        let verdict = if ratio >= floor { "ok" } else { "BELOW FLOOR" };
        println!("gate {name}: {ratio:.3} (floor {floor}) {verdict}");
        failed |= ratio < floor;
    }
    if failed {
        std::process::exit(1);
    }
}
